using ContainerOps.Client;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Execution;

/// <summary>A project as the daemon knows it (`docker compose ls`): found from its containers' labels alone.</summary>
public sealed class ComposeProjectSummary
{
    public string Name { get; set; } = "";
    /// <summary>docker compose ls's STATUS: "running(2), exited(1)".</summary>
    public string Status { get; set; } = "";
    public string WorkingDirectory { get; set; } = "";
    public List<string> ConfigFiles { get; set; } = new();
    public int Running { get; set; }
    public List<ContainerSummary> Containers { get; set; } = new();
}

/// <summary>One service of a loaded project with its containers on the daemon.</summary>
public sealed class ComposeServiceStatus
{
    public string Project { get; set; } = "";
    public string Name { get; set; } = "";
    public string Image { get; set; } = "";
    /// <summary>Containers wanted (deploy.replicas / scale).</summary>
    public int Replicas { get; set; }
    public int Running { get; set; }
    /// <summary>"running", "exited", "partial" (some running), "not created".</summary>
    public string State { get; set; } = "";
    public string Ports { get; set; } = "";
    public List<string> DependsOn { get; set; } = new();
    public List<string> Profiles { get; set; } = new();
    public ServiceConfig Config { get; set; } = new();
    public List<ContainerSummary> Containers { get; set; } = new();
}

public static class ProjectStatus
{
    public static async Task<List<ComposeProjectSummary>> ListProjectsAsync(IContainerOpsClient client, bool all, CancellationToken ct = default)
    {
        var containers = await client.ListContainersAsync(true, new Dictionary<string, string> { ["label"] = ComposeLabels.Project }, ct);
        var result = new List<ComposeProjectSummary>();
        foreach (var g in containers.GroupBy(c => ComposePlanner.Label(c, ComposeLabels.Project) ?? "").Where(g => g.Key.Length > 0).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var list = g.OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
            var running = list.Count(c => c.State == "running");
            if (!all && running == 0) continue;
            var first = list[0];
            result.Add(new ComposeProjectSummary
            {
                Name = g.Key,
                Status = string.Join(", ", list.GroupBy(c => c.State).OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}({s.Count()})")),
                WorkingDirectory = ComposePlanner.Label(first, ComposeLabels.WorkingDir) ?? "",
                ConfigFiles = (ComposePlanner.Label(first, ComposeLabels.ConfigFiles) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToList(),
                Running = running,
                Containers = list,
            });
        }
        return result;
    }

    public static async Task<List<ComposeServiceStatus>> ServicesAsync(ComposeEngine engine, CancellationToken ct = default)
    {
        var containers = await engine.ServiceContainersAsync(Array.Empty<string>(), true, ct);
        var project = engine.Project;
        return project.Services.Values.Select(s =>
        {
            var mine = containers.Where(c => ComposePlanner.Label(c, ComposeLabels.Service) == s.Name).OrderBy(ComposePlanner.Number).ToList();
            var running = mine.Count(c => c.State == "running");
            return new ComposeServiceStatus
            {
                Project = project.Name,
                Name = s.Name,
                Image = ContainerRequestBuilder.ImageName(project, s),
                Replicas = s.Replicas,
                Running = running,
                State = mine.Count == 0 ? "not created" : running == mine.Count ? "running" : running == 0 ? mine[0].State : "partial",
                Ports = string.Join(", ", s.Ports.Select(p => $"{(p.HostIp is null ? "" : p.HostIp + ":")}{(p.Published is null ? "" : p.Published + "->")}{p.Target}/{p.Protocol}")),
                DependsOn = s.DependsOn.Keys.ToList(),
                Profiles = s.Profiles,
                Config = s,
                Containers = mine,
            };
        }).ToList();
    }
}
