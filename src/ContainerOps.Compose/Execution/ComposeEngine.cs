using System.Net;
using ContainerOps.Client;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Execution;

/// <summary>Runs a loaded project against the daemon through its API, as docker compose does against dockerd: every
/// object it makes carries the project's labels, so the project is found again from the daemon alone.</summary>
public sealed partial class ComposeEngine
{
    private readonly IContainerOpsClient _client;
    private readonly IProgress<ComposeEvent>? _progress;

    public ComposeEngine(IContainerOpsClient client, ComposeProject project, IProgress<ComposeEvent>? progress = null)
    {
        _client = client;
        Project = project;
        _progress = progress;
    }

    public ComposeProject Project { get; }

    /// <summary>Problems met that did not stop the operation.</summary>
    public List<string> Warnings { get; } = new();

    /// <summary>Health polling interval (tests shorten it).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    private void Report(string kind, string name, string status, bool done = true, string? detail = null) =>
        _progress?.Report(new ComposeEvent(kind, name, status, done, detail));

    private Dictionary<string, string> ProjectFilter => new() { ["label"] = $"{ComposeLabels.Project}={Project.Name}" };

    /// <summary>The project's containers (one labelled listing), one-off `run` containers included.</summary>
    public async Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(bool all = true, CancellationToken ct = default) =>
        (await _client.ListContainersAsync(all, ProjectFilter, ct)).OrderBy(c => c.Name, StringComparer.Ordinal).ToList();

    /// <summary>The containers of <paramref name="services"/> (all when empty), one-offs left out.</summary>
    public async Task<List<ContainerSummary>> ServiceContainersAsync(IReadOnlyCollection<string> services, bool all = true, CancellationToken ct = default)
    {
        foreach (var s in services)
            if (!Project.Services.ContainsKey(s)) throw new ComposeOperationException($"no such service: {s}", s);
        return (await ListContainersAsync(all, ct))
            .Where(c => ComposePlanner.Label(c, ComposeLabels.OneOff) != "True")
            .Where(c => services.Count == 0 || services.Contains(ComposePlanner.Label(c, ComposeLabels.Service) ?? ""))
            .ToList();
    }

    /// <summary>State.Health.Status of Docker's inspect JSON ("starting", "healthy", "unhealthy"), or null when the
    /// container has no health check.</summary>
    public async Task<string?> HealthStatusAsync(string container, CancellationToken ct = default) =>
        (await _client.InspectContainerAsync(container, ct)).State.Health?.Status;

    private static bool IsNotFound(ContainerOpsException e) => e.Error.Kind == ErrorKind.NotFound;
}
