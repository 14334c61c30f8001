using ContainerOps.Client;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Execution;

public sealed partial class ComposeEngine
{
    /// <summary>`up`: plan against the observed containers, check everything that can be checked before creating
    /// anything, then images, networks, volumes, and the services — each as soon as its dependencies meet their
    /// conditions, independent ones in parallel. A failure stops only the services that depend on the failed one;
    /// what started keeps running, and the error names the service and why. Returns the containers of the project's
    /// services that were brought up.</summary>
    public async Task<IReadOnlyList<ContainerSummary>> UpAsync(UpOptions options, CancellationToken ct = default)
    {
        var (plan, failures) = await ConvergeAsync(options, ct);
        if (failures.Count > 0) throw Failure(failures);
        if (options.Wait) await WaitServicesAsync(plan.Services.Select(s => s.Service), options.WaitTimeout, ct);
        var names = plan.Services.Select(s => s.Service.Name).ToHashSet(StringComparer.Ordinal);
        return (await ListContainersAsync(true, ct)).Where(c => names.Contains(ComposePlanner.Label(c, ComposeLabels.Service) ?? "")
                                                             && ComposePlanner.Label(c, ComposeLabels.OneOff) != "True").ToList();
    }

    /// <summary>What `run` needs before its one-off container, on a project brought up or not: the service's
    /// dependencies up (unless <paramref name="noDeps"/>) and meeting their conditions, then its image, its networks
    /// and its volumes. As in `up`, a dependency declared `required: false` that fails is only a warning.</summary>
    public async Task PrepareRunAsync(ServiceConfig service, string containerName, bool noDeps, CancellationToken ct = default)
    {
        await PreflightAsync([service], ct);
        var failedOptional = new HashSet<string>(StringComparer.Ordinal);
        var dependencies = ComposePlanner.DependenciesOf(service).Where(Project.Services.ContainsKey).Distinct().ToList();
        if (!noDeps && dependencies.Count > 0)
        {
            var (_, failures) = await ConvergeAsync(new UpOptions { Services = dependencies }, ct);
            if (failures.Any(f => f.Service is not { } failed || dependencies.Contains(failed) && !IsOptional(service, failed))) throw Failure(failures);
            foreach (var f in failures)
            {
                Warn(f.Message);
                failedOptional.Add(f.Service!);
            }
        }
        await EnsureImageAsync(service, build: false, noBuild: false, ct);
        await EnsureNetworksAsync([service], ct);
        await EnsureVolumesAsync([(service, containerName)], ct);
        if (!noDeps) await WaitDependenciesAsync(service, dep => Project.Services.ContainsKey(dep) && !failedOptional.Contains(dep), ct);
    }

    /// <summary>One exception for the services that failed, the first by name carrying the others' messages.</summary>
    private static ComposeOperationException Failure(List<ComposeOperationException> failures)
    {
        var first = failures.OrderBy(f => f.Service, StringComparer.Ordinal).First();
        return failures.Count == 1 ? first : new ComposeOperationException(string.Join("\n", failures.Select(f => f.Message)), first.Service, first);
    }

    /// <summary>`up` until its services are started: returns the plan and the services that failed (each failure
    /// having stopped only what depends on it).</summary>
    private async Task<(ComposePlan Plan, List<ComposeOperationException> Failures)> ConvergeAsync(UpOptions options, CancellationToken ct)
    {
        var observed = await ListContainersAsync(true, ct);
        var plan = ComposePlanner.Plan(Project, observed, options);
        await PreflightAsync(plan.Services.Select(sp => sp.Service), ct);

        // Images first (built with --build, pulled when missing or by policy): a container whose image is no longer
        // the one its service resolves to is recreated, as one whose configuration changed.
        var imageIds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var sp in plan.Services)
            if (await EnsureImageAsync(sp.Service, options.Build, options.NoBuild, ct) is { } imageId) imageIds[sp.Service.Name] = imageId;
        plan = ComposePlanner.Plan(Project, observed, options, imageIds);
        await EnsureNetworksAsync(plan.Services.Select(sp => sp.Service), ct);
        await EnsureVolumesAsync(plan.Services.SelectMany(sp => sp.Actions
            .Where(a => a.Kind is ContainerActionKind.Create or ContainerActionKind.Recreate).Select(a => (sp.Service, a.Name))), ct);

        foreach (var orphan in plan.Orphans)
        {
            if (options.RemoveOrphans) await RemoveContainerAsync(orphan.Name, null, ct);
            else Warnings.Add($"Found orphan containers ({string.Join(", ", plan.Orphans.Select(o => o.Name))}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.");
            if (!options.RemoveOrphans) break;
        }

        // Dependents that restart around a recreated dependency stop before anything is recreated.
        await Task.WhenAll(plan.Services.SelectMany(sp => sp.Actions.Where(a => a.Kind == ContainerActionKind.Restart).Select(async a =>
        {
            Report("Container", a.Name, "Stopping", false);
            await _client.StopContainerAsync(a.Existing!.Id, StopTimeout(sp.Service), ct);
            Report("Container", a.Name, "Stopped");
        })));

        var tasks = new Dictionary<string, Task>(StringComparer.Ordinal);
        var failures = new List<ComposeOperationException>();
        // The plan lists dependencies first, so each service's task is given its dependencies' tasks as it starts.
        foreach (var sp in plan.Services)
        {
            var deps = ComposePlanner.DependenciesOf(sp.Service).Distinct().Where(tasks.ContainsKey).ToDictionary(k => k, k => tasks[k], StringComparer.Ordinal);
            tasks[sp.Service.Name] = RunServiceAsync(sp, deps, failures, ct);
        }
        try { await Task.WhenAll(tasks.Values); }
        catch when (failures.Count > 0 && !ct.IsCancellationRequested) { }
        return (plan, failures);
    }

    /// <summary>What can fail before anything exists: the daemon's support for what the files ask, host paths,
    /// external networks.</summary>
    private async Task PreflightAsync(IEnumerable<ServiceConfig> services, CancellationToken ct)
    {
        services = services.ToList();
        foreach (var s in services)
        {
            for (var i = 0; i < s.Volumes.Count; i++)
            {
                var v = s.Volumes[i];
                if (v.Type == "bind" && v.CreateHostPath != true && !Path.Exists(v.Source))
                    throw new ComposeOperationException($"services.{s.Name}.volumes[{i}]: the bind source {v.Source} does not exist", s.Name);
            }
            foreach (var r in s.Secrets.Select(x => (x.Source, Project.Secrets[x.Source], "secrets")).Concat(s.Configs.Select(x => (x.Source, Project.Configs[x.Source], "configs"))))
            {
                var (key, obj, kind) = r;
                if (obj.File is null)
                    throw new ComposeOperationException($"{kind}.{key}: only file-based {kind} are supported by containerops", s.Name);
                if (!File.Exists(obj.File))
                    throw new ComposeOperationException($"{kind}.{key}: the file {obj.File} does not exist", s.Name);
            }
        }
        foreach (var key in UsedNetworks(services))
        {
            var n = Project.Networks[key];
            if (!n.External) continue;
            try { await _client.InspectNetworkAsync(n.Name!, ct); }
            catch (ContainerOpsException e) when (IsNotFound(e))
            {
                throw new ComposeOperationException($"network {n.Name} declared as external, but could not be found");
            }
        }
    }

    private static IEnumerable<string> UsedNetworks(IEnumerable<ServiceConfig> services) =>
        services.SelectMany(s => s.Networks?.Keys ?? Enumerable.Empty<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    private async Task EnsureNetworksAsync(IEnumerable<ServiceConfig> services, CancellationToken ct)
    {
        var existing = (await _client.ListNetworksAsync(null, ct)).Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var key in UsedNetworks(services))
        {
            var n = Project.Networks[key];
            if (n.External || existing.Contains(n.Name!)) continue;
            Report("Network", n.Name!, "Creating", false);
            var request = new NetworkCreateRequest
            {
                Name = n.Name!,
                Driver = n.Driver ?? "bridge",
                Internal = n.Internal,
                Attachable = n.Attachable,
                EnableIPv6 = n.EnableIpv6,
                Options = new Dictionary<string, string>(n.DriverOpts),
                Labels = new Dictionary<string, string>(n.Labels)
                {
                    [ComposeLabels.Project] = Project.Name,
                    [ComposeLabels.Network] = key,
                    [ComposeLabels.Version] = ComposeLabels.VersionValue,
                },
            };
            if (n.IpamConfig.Count > 0)
                request.IPAM = new IPAM { Config = n.IpamConfig.Select(p => new IPAMConfig { Subnet = p.Subnet, IPRange = p.IpRange, Gateway = p.Gateway }).ToList() };
            await _client.CreateNetworkAsync(request, ct);
            Report("Network", n.Name!, "Created");
        }
    }

    /// <summary>The volumes of the containers about to be created: named ones, and anonymous ones under their container's name.</summary>
    private async Task EnsureVolumesAsync(IEnumerable<(ServiceConfig Service, string Container)> containers, CancellationToken ct)
    {
        foreach (var (service, container) in containers)
            foreach (var v in service.Volumes.Where(v => v.Type == "volume"))
            {
                var name = ContainerRequestBuilder.VolumeName(Project, service, v, container);
                if (v.Source is { } key && Project.Volumes[key].External) continue;
                try
                {
                    await _client.InspectVolumeAsync(name, ct);
                    continue;
                }
                catch (ContainerOpsException e) when (IsNotFound(e)) { }
                Report("Volume", name, "Creating", false);
                var labels = new Dictionary<string, string> { [ComposeLabels.Project] = Project.Name, [ComposeLabels.Version] = ComposeLabels.VersionValue };
                if (v.Source is { } source)
                {
                    labels[ComposeLabels.Volume] = source;
                    foreach (var (k, l) in Project.Volumes[source].Labels) labels[k] = l;
                }
                await _client.CreateVolumeAsync(new VolumeCreateRequest { Name = name, Driver = "local", Labels = labels }, ct);
                Report("Volume", name, "Created");
            }
    }

    private async Task RunServiceAsync(ServicePlan sp, IReadOnlyDictionary<string, Task> dependencies, List<ComposeOperationException> failures, CancellationToken ct)
    {
        await Task.Yield();
        var s = sp.Service;
        try
        {
            // A dependency declared `required: false` that fails, or never meets its condition, is only a warning.
            var failedOptional = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (dep, depTask) in dependencies)
            {
                try { await depTask; }
                catch (Exception) when (IsOptional(s, dep))
                {
                    failedOptional.Add(dep);
                    Warn($"service \"{s.Name}\": optional dependency \"{dep}\" failed to start, ignored");
                }
                catch (Exception) { throw new ComposeOperationException($"service \"{s.Name}\" was not started: its dependency \"{dep}\" failed", s.Name); }
            }
            // Only the dependencies this up brings up are waited for: with --no-deps they are left as they are.
            await WaitDependenciesAsync(s, dep => dependencies.ContainsKey(dep) && !failedOptional.Contains(dep), ct);
            // A service's containers are independent of each other: its replicas are created and started together.
            await Task.WhenAll(sp.Actions.Select(action => ApplyAsync(s, action, ct)));
        }
        catch (ComposeOperationException e)
        {
            lock (failures) failures.Add(e);
            throw;
        }
        catch (ContainerOpsException e)
        {
            var failure = new ComposeOperationException($"service \"{s.Name}\": {e.Error.Message}", s.Name, e);
            lock (failures) failures.Add(failure);
            throw failure;
        }
    }

    /// <summary>depends_on with `required: false`; a service whose containers this one uses (network_mode, pid, ipc,
    /// volumes_from) is needed whatever depends_on says.</summary>
    private static bool IsOptional(ServiceConfig s, string dependency) =>
        s.DependsOn.TryGetValue(dependency, out var d) && !d.Required && !s.ServicesUsed().Any(u => u.Service == dependency);

    private void Warn(string warning)
    {
        lock (Warnings) if (!Warnings.Contains(warning)) Warnings.Add(warning);
    }

    /// <summary>Waits for the dependencies <paramref name="waitFor"/> picks to meet their depends_on conditions; an
    /// optional one that does not is a warning.</summary>
    private async Task WaitDependenciesAsync(ServiceConfig s, Func<string, bool> waitFor, CancellationToken ct)
    {
        foreach (var (dep, d) in s.DependsOn)
        {
            if (!waitFor(dep)) continue;
            try { await WaitConditionAsync(s.Name, dep, d.Condition, ct); }
            catch (Exception e) when (e is ComposeOperationException or ContainerOpsException && IsOptional(s, dep))
            {
                Warn($"service \"{s.Name}\": optional dependency \"{dep}\" did not meet {d.Condition}, ignored: {e.Message}");
            }
        }
    }

    private async Task WaitConditionAsync(string service, string dependency, string condition, CancellationToken ct)
    {
        if (condition == ServiceConditions.Started) return;
        var containers = await ServiceContainersAsync(new[] { dependency }, true, ct);
        foreach (var c in containers)
        {
            if (condition == ServiceConditions.Healthy)
            {
                Report("Container", c.Name, "Waiting", false);
                await WaitHealthyAsync(c.Name, dependency, ct);
                Report("Container", c.Name, "Healthy");
            }
            else
            {
                Report("Container", c.Name, "Waiting", false);
                var exit = await _client.WaitContainerAsync(c.Name, ct);
                if (exit.StatusCode != 0)
                    throw new ComposeOperationException($"service \"{dependency}\" didn't complete successfully: exit {exit.StatusCode} (needed by \"{service}\")", dependency);
                Report("Container", c.Name, "Exited");
            }
        }
    }

    private async Task WaitHealthyAsync(string container, string service, CancellationToken ct)
    {
        while (true)
        {
            var state = (await _client.InspectContainerAsync(container, ct)).State;
            var health = state.Health?.Status;
            switch (health)
            {
                case "healthy": return;
                case "unhealthy": throw new ComposeOperationException($"dependency failed to start: container {container} is unhealthy", service);
                case null:
                    throw new ComposeOperationException(
                        $"container {container} has no health status: service_healthy needs a healthcheck that the daemon runs (services.{service}.healthcheck)", service);
            }
            if (!state.Running)
                throw new ComposeOperationException($"dependency failed to start: container {container} exited ({state.ExitCode}) before it was healthy", service);
            await Task.Delay(PollInterval, ct);
        }
    }

    private async Task ApplyAsync(ServiceConfig s, ContainerAction action, CancellationToken ct)
    {
        switch (action.Kind)
        {
            case ContainerActionKind.Keep:
                Report("Container", action.Name, "Running");
                break;
            case ContainerActionKind.Start or ContainerActionKind.Restart:
                Report("Container", action.Name, "Starting", false);
                await _client.StartContainerAsync(action.Name, ct);
                Report("Container", action.Name, "Started");
                break;
            case ContainerActionKind.Remove:
                await RemoveContainerAsync(action.Name, StopTimeout(s), ct);
                break;
            case ContainerActionKind.Create:
                await CreateAndStartAsync(s, action, ct);
                break;
            case ContainerActionKind.Recreate:
                await RecreateAsync(s, action, ct);
                break;
        }
    }

    private async Task CreateAndStartAsync(ServiceConfig s, ContainerAction action, CancellationToken ct)
    {
        Report("Container", action.Name, "Creating", false);
        var warnings = new List<string>();
        var request = ContainerRequestBuilder.Build(Project, s, action.Number, action.Name, oneOff: false, warnings);
        foreach (var w in warnings) Warn(w);
        foreach (var v in s.Volumes.Where(v => v.Type == "bind" && v.CreateHostPath == true && v.Source is not null))
            Directory.CreateDirectory(v.Source!); // the short syntax creates a missing host folder, as docker compose does
        await _client.CreateContainerAsync(request, ct);
        Report("Container", action.Name, "Created");
        Report("Container", action.Name, "Starting", false);
        await _client.StartContainerAsync(action.Name, ct);
        Report("Container", action.Name, "Started");
    }

    /// <summary>The old container is stopped and set aside under another name until its replacement is created, so a
    /// create that fails gives the old one back.</summary>
    private async Task RecreateAsync(ServiceConfig s, ContainerAction action, CancellationToken ct)
    {
        var old = action.Existing!;
        Report("Container", action.Name, "Recreate", false);
        var wasRunning = old.State == "running";
        if (wasRunning) await _client.StopContainerAsync(old.Id, StopTimeout(s), ct);
        var aside = $"{old.Id[..12]}_{old.Name}";
        await _client.RenameContainerAsync(old.Id, aside, ct);
        try
        {
            await CreateAndStartAsync(s, action, ct);
        }
        catch
        {
            try { await _client.RemoveContainerAsync(action.Name, force: true, CancellationToken.None); } catch (ContainerOpsException) { }
            await _client.RenameContainerAsync(old.Id, old.Name, CancellationToken.None);
            if (wasRunning) await _client.StartContainerAsync(old.Id, CancellationToken.None);
            throw;
        }
        await _client.RemoveContainerAsync(old.Id, force: true, ct);
        Report("Container", action.Name, "Recreated");
    }

    private static int? StopTimeout(ServiceConfig? s) => s?.StopGracePeriod is TimeSpan g ? (int)Math.Ceiling(g.TotalSeconds) : null;

    private async Task RemoveContainerAsync(string name, int? timeout, CancellationToken ct)
    {
        Report("Container", name, "Stopping", false);
        try { await _client.StopContainerAsync(name, timeout, ct); }
        catch (ContainerOpsException e) when (IsNotFound(e)) { return; }
        Report("Container", name, "Stopped");
        Report("Container", name, "Removing", false);
        try { await _client.RemoveContainerAsync(name, force: true, ct); }
        catch (ContainerOpsException e) when (IsNotFound(e)) { }
        Report("Container", name, "Removed");
    }

    /// <summary>`--wait`: every container of the services running, and healthy where the daemon reports a health status.</summary>
    private async Task WaitServicesAsync(IEnumerable<ServiceConfig> services, TimeSpan? timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeout is TimeSpan t) cts.CancelAfter(t);
        var names = services.Select(s => s.Name).ToList();
        try
        {
            foreach (var c in await ServiceContainersAsync(names, true, cts.Token))
            {
                var service = ComposePlanner.Label(c, ComposeLabels.Service)!;
                while (true)
                {
                    var state = (await _client.InspectContainerAsync(c.Name, cts.Token)).State;
                    if (!state.Running)
                    {
                        // A one-shot service that finished well is done; anything else that is not running failed.
                        if (state.ExitCode == 0 && state.Status == "exited") break;
                        throw new ComposeOperationException($"container {c.Name} is not running ({state.Status}, exit {state.ExitCode})", service);
                    }
                    var health = state.Health?.Status;
                    if (health is null or "healthy") break;
                    if (health == "unhealthy") throw new ComposeOperationException($"container {c.Name} is unhealthy", service);
                    await Task.Delay(PollInterval, cts.Token);
                }
                Report("Container", c.Name, "Healthy");
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ComposeOperationException($"timeout waiting for the services to be running and healthy ({timeout})");
        }
    }
}
