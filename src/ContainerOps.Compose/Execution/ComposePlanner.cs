using System.Globalization;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Execution;

public enum ContainerActionKind
{
    /// <summary>Running with the service's current configuration: nothing to do.</summary>
    Keep,
    /// <summary>Exists with the current configuration but is not running.</summary>
    Start,
    /// <summary>Its config hash or its image differs (or --force-recreate): remove and create again under the same name.</summary>
    Recreate,
    Create,
    /// <summary>Beyond the wanted scale.</summary>
    Remove,
    /// <summary>Running as it should, but a dependency it names with `restart: true` is recreated: stopped before that
    /// and started again after it.</summary>
    Restart,
}

public sealed record ContainerAction(ContainerActionKind Kind, int Number, string Name, ContainerSummary? Existing);

public sealed record ServicePlan(ServiceConfig Service, IReadOnlyList<ContainerAction> Actions);

public sealed class ComposePlan
{
    /// <summary>Services to bring up, dependencies before their dependents.</summary>
    public List<ServicePlan> Services { get; } = new();
    /// <summary>Containers of the project whose service is no longer in the files.</summary>
    public List<ContainerSummary> Orphans { get; } = new();
}

public sealed class UpOptions
{
    /// <summary>Services named on the command line; empty: all.</summary>
    public List<string> Services { get; set; } = new();
    public bool NoDeps { get; set; }
    public bool ForceRecreate { get; set; }
    public bool NoRecreate { get; set; }
    public bool Build { get; set; }
    public bool NoBuild { get; set; }
    public bool RemoveOrphans { get; set; }
    /// <summary>`--wait`: return once every service is running (and healthy where it has a health check).</summary>
    public bool Wait { get; set; }
    public TimeSpan? WaitTimeout { get; set; }
    public Dictionary<string, int> Scale { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Compares what the files want with what the daemon has (one labelled listing) and decides, per container,
/// what to do. Pure: the executor applies the plan.</summary>
public static class ComposePlanner
{
    /// <param name="imageIds">The ID of the image each service resolves to now (after builds and pulls), when known: a
    /// container made from another image is recreated, as docker compose compares the image as well as the config hash.</param>
    public static ComposePlan Plan(ComposeProject project, IReadOnlyList<ContainerSummary> observed, UpOptions options,
        IReadOnlyDictionary<string, string>? imageIds = null)
    {
        foreach (var name in options.Scale.Keys.Concat(options.Services))
            if (!project.Services.ContainsKey(name)) throw new ComposeOperationException($"no such service: {name}");
        var plan = new ComposePlan();
        foreach (var service in Order(project, Selected(project, options.Services, options.NoDeps)))
        {
            var wanted = options.Scale.TryGetValue(service.Name, out var s) ? s : service.Replicas;
            var hash = ServiceHash.Compute(service);
            var existing = observed
                .Where(c => Label(c, ComposeLabels.Service) == service.Name && Label(c, ComposeLabels.OneOff) != "True")
                .OrderBy(c => Number(c)).ToList();
            var actions = new List<ContainerAction>();
            var taken = new HashSet<int>();
            foreach (var c in existing)
            {
                var number = Number(c);
                if (number < 1 || number > wanted || !taken.Add(number)) { actions.Add(new(ContainerActionKind.Remove, number, c.Name, c)); continue; }
                var changed = Label(c, ComposeLabels.ConfigHash) != hash || ImageChanged(c, imageIds?.GetValueOrDefault(service.Name));
                var kind = options.ForceRecreate || changed && !options.NoRecreate ? ContainerActionKind.Recreate
                    : c.State == "running" ? ContainerActionKind.Keep : ContainerActionKind.Start;
                actions.Add(new(kind, number, c.Name, c));
            }
            for (var n = 1; n <= wanted; n++)
                if (!taken.Contains(n)) actions.Add(new(ContainerActionKind.Create, n, ContainerRequestBuilder.ContainerName(project, service, n), null));
            plan.Services.Add(new ServicePlan(service, actions.OrderBy(a => a.Number).ToList()));
        }
        RestartDependentsOfRecreated(plan);
        foreach (var c in observed)
        {
            var service = Label(c, ComposeLabels.Service);
            if (Label(c, ComposeLabels.OneOff) != "True" && service is not null && !project.Services.ContainsKey(service) && !project.DisabledServices.ContainsKey(service))
                plan.Orphans.Add(c);
        }
        return plan;
    }

    /// <summary>depends_on with `restart: true`: when the dependency is recreated, its dependent's running containers
    /// restart around it, as docker compose stops them before the recreate and starts them after.</summary>
    private static void RestartDependentsOfRecreated(ComposePlan plan)
    {
        var recreated = plan.Services.Where(sp => sp.Actions.Any(a => a.Kind == ContainerActionKind.Recreate))
            .Select(sp => sp.Service.Name).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < plan.Services.Count; i++)
        {
            var sp = plan.Services[i];
            if (!sp.Service.DependsOn.Any(d => d.Value.Restart && recreated.Contains(d.Key))) continue;
            plan.Services[i] = sp with { Actions = sp.Actions.Select(a => a.Kind == ContainerActionKind.Keep ? a with { Kind = ContainerActionKind.Restart } : a).ToList() };
        }
    }

    /// <summary>The named services and, transitively, those whose depends_on on one of them says `restart: true`:
    /// what `restart` restarts unless --no-deps.</summary>
    public static HashSet<string> WithRestartDependents(ComposeProject project, IEnumerable<string> named)
    {
        var result = new HashSet<string>(named, StringComparer.Ordinal);
        var stack = new Stack<string>(result);
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            foreach (var s in project.Services.Values)
                if (s.DependsOn.TryGetValue(name, out var d) && d.Restart && result.Add(s.Name)) stack.Push(s.Name);
        }
        return result;
    }

    /// <summary>The named services (all when none) and, unless <paramref name="noDeps"/>, everything they depend on.</summary>
    public static HashSet<string> Selected(ComposeProject project, IEnumerable<string> named, bool noDeps)
    {
        var roots = named.ToList();
        if (roots.Count == 0) return new HashSet<string>(project.Services.Keys, StringComparer.Ordinal);
        var result = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(roots);
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (!result.Add(name) || noDeps) continue;
            if (!project.Services.TryGetValue(name, out var s)) continue;
            foreach (var dep in DependenciesOf(s)) if (project.Services.ContainsKey(dep)) stack.Push(dep);
        }
        return result;
    }

    /// <summary>depends_on and the services whose containers it uses (network_mode, pid, ipc, volumes_from), which must
    /// run first too.</summary>
    public static IEnumerable<string> DependenciesOf(ServiceConfig s)
    {
        foreach (var d in s.DependsOn.Keys) yield return d;
        foreach (var (_, used) in s.ServicesUsed()) yield return used;
    }

    /// <summary>Dependencies before dependents, otherwise by name.</summary>
    public static List<ServiceConfig> Order(ComposeProject project, ISet<string> names)
    {
        var result = new List<ServiceConfig>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names.OrderBy(n => n, StringComparer.Ordinal)) Visit(name);
        return result;

        void Visit(string name)
        {
            if (!names.Contains(name) || !done.Add(name)) return;
            var s = project.Services[name];
            foreach (var d in DependenciesOf(s)) Visit(d);
            result.Add(s);
        }
    }

    private static bool ImageChanged(ContainerSummary c, string? wanted) =>
        wanted is not null && c.ImageId.Length > 0 && BareId(c.ImageId) != BareId(wanted);

    private static string BareId(string id) => id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..] : id;

    public static string? Label(ContainerSummary c, string key) => c.Labels.TryGetValue(key, out var v) ? v : null;

    public static int Number(ContainerSummary c) =>
        int.TryParse(Label(c, ComposeLabels.ContainerNumber), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
}

/// <summary>An operation on a project that failed: names the service (and container) and why.</summary>
public sealed class ComposeOperationException : Exception
{
    public ComposeOperationException(string message, string? service = null, Exception? inner = null) : base(message, inner) => Service = service;
    public string? Service { get; }
}
