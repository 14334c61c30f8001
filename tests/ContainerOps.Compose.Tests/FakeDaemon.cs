using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Tests;

/// <summary>An in-memory daemon with just the calls the compose engine makes: containers, images, networks and
/// volumes kept in lists, every change recorded in <see cref="Calls"/> in order. What a test needs to go wrong is set
/// beforehand (a start that fails, a health status, an exit code).</summary>
internal sealed class FakeDaemon : IContainerOpsClient
{
    public List<ContainerSummary> Containers { get; } = new();
    /// <summary>Image ID by reference.</summary>
    public Dictionary<string, string> Images { get; } = new(StringComparer.Ordinal);
    public List<string> Networks { get; } = new();
    public List<string> Volumes { get; } = new();
    public List<string> Calls { get; } = new();
    public List<ContainerCreateRequest> Created { get; } = new();
    public List<ImageBuildRequest> Builds { get; } = new();
    /// <summary>Containers whose start fails.</summary>
    public HashSet<string> FailingStarts { get; } = new(StringComparer.Ordinal);
    /// <summary>Health status by container name; a container listed here has a health check.</summary>
    public Dictionary<string, string> Health { get; } = new(StringComparer.Ordinal);
    /// <summary>Exit code by container name, for a wait (0 when not listed).</summary>
    public Dictionary<string, int> ExitCodes { get; } = new(StringComparer.Ordinal);
    /// <summary>The image ID a pull or a build of a reference gives.</summary>
    public Dictionary<string, string> NextImageIds { get; } = new(StringComparer.Ordinal);
    private int _next = 1;

    public string Endpoint => "fake";
    public void Dispose() { }

    public ContainerSummary AddContainer(string name, Dictionary<string, string> labels, string state = "running", string imageId = "")
    {
        lock (Calls)
        {
            var c = new ContainerSummary { Id = (_next++).ToString("x4") + new string('c', 60), Name = name, State = state, Labels = labels, ImageId = imageId };
            Containers.Add(c);
            return c;
        }
    }

    // Services run in parallel: every call holds the one lock (reentrant), as the daemon serialises its state.
    private ContainerSummary Find(string idOrName)
    {
        lock (Calls)
            return Containers.FirstOrDefault(c => c.Id == idOrName || c.Name == idOrName)
                ?? throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"No such container: {idOrName}", idOrName);
    }

    private string Record(string call, string idOrName)
    {
        var c = Find(idOrName);
        lock (Calls) Calls.Add($"{call} {c.Name}");
        return c.Name;
    }

    private static ContainerOpsException NotFound(string what, string name) => new(ErrorKind.NotFound, "NotFound", $"No such {what}: {name}", name);

    public Task PingAsync(CancellationToken ct = default) => Task.CompletedTask;

    public Task<ContainerCreateResponse> CreateContainerAsync(ContainerCreateRequest request, CancellationToken ct = default)
    {
        lock (Calls)
        {
            if (!Images.TryGetValue(request.Image, out var imageId)) throw NotFound("image", request.Image);
            Created.Add(request);
            var c = AddContainer(request.Name!, new Dictionary<string, string>(request.Labels), "created", imageId);
            Calls.Add($"create {c.Name}");
            return Task.FromResult(new ContainerCreateResponse { Id = c.Id });
        }
    }

    public Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(bool all = false, IDictionary<string, string>? filters = null, CancellationToken ct = default)
    {
        lock (Calls)
        {
            var label = filters?.TryGetValue("label", out var l) == true ? l.Split('=', 2) : null;
            return Task.FromResult<IReadOnlyList<ContainerSummary>>(Containers
                .Where(c => all || c.State == "running")
                .Where(c => label is null || c.Labels.GetValueOrDefault(label[0]) == label[1])
                .ToList());
        }
    }

    public Task<ContainerDetails> InspectContainerAsync(string idOrName, CancellationToken ct = default)
    {
        lock (Calls)
        {
            var c = Find(idOrName);
            var health = Health.GetValueOrDefault(c.Name);
            return Task.FromResult(new ContainerDetails
            {
                Id = c.Id, Name = "/" + c.Name,
                State = new ContainerState
                {
                    Status = c.State, Running = c.State == "running", ExitCode = ExitCodes.GetValueOrDefault(c.Name),
                    Health = health is null ? null : new ContainerHealth { Status = health },
                },
            });
        }
    }

    public Task StartContainerAsync(string idOrName, CancellationToken ct = default)
    {
        lock (Calls)
        {
            var name = Record("start", idOrName);
            if (FailingStarts.Contains(name))
                throw new ContainerOpsException(ErrorKind.CommandNotFound, "CommandNotFound", "exec: \"nope\": not found", name);
            Find(idOrName).State = "running";
            return Task.CompletedTask;
        }
    }

    public Task StopContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default)
    {
        lock (Calls) Find(Record("stop", idOrName)).State = "exited";
        return Task.CompletedTask;
    }

    public Task RestartContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default)
    {
        lock (Calls) Find(Record("restart", idOrName)).State = "running";
        return Task.CompletedTask;
    }

    public Task<ContainerWaitResponse> WaitContainerAsync(string idOrName, CancellationToken ct = default)
    {
        var name = Record("wait", idOrName);
        return Task.FromResult(new ContainerWaitResponse { StatusCode = ExitCodes.GetValueOrDefault(name) });
    }

    public Task RemoveContainerAsync(string idOrName, bool force = false, CancellationToken ct = default)
    {
        lock (Calls) Containers.Remove(Find(Record("remove", idOrName)));
        return Task.CompletedTask;
    }

    public Task RemoveContainerAsync(string idOrName, bool force, bool removeVolumes, CancellationToken ct = default) => RemoveContainerAsync(idOrName, force, ct);

    public Task RenameContainerAsync(string idOrName, string newName, CancellationToken ct = default)
    {
        lock (Calls) Find(Record("rename", idOrName)).Name = newName;
        return Task.CompletedTask;
    }

    public Task<ImageDetails> InspectImageAsync(string nameOrId, CancellationToken ct = default)
    {
        lock (Calls) return Images.TryGetValue(nameOrId, out var id) ? Task.FromResult(new ImageDetails { Id = id, RepoTags = [nameOrId] }) : throw NotFound("image", nameOrId);
    }

    private string NewImage(string reference)
    {
        lock (Calls)
        {
            var id = NextImageIds.GetValueOrDefault(reference) ?? "sha256:" + (_next++).ToString("x4") + new string('1', 60);
            Images[reference] = id;
            return id;
        }
    }

    public Task<ProgressFrame> PullImageAsync(string reference, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default)
    {
        lock (Calls) Calls.Add($"pull {reference}");
        return Task.FromResult(new ProgressFrame { ImageId = NewImage(reference) });
    }

    public Task<ProgressFrame> BuildImageAsync(Stream contextTar, ImageBuildRequest request, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default)
    {
        lock (Calls)
        {
            Calls.Add($"build {request.Tags[0]}");
            Builds.Add(request);
        }
        string id = "";
        foreach (var tag in request.Tags) id = NewImage(tag);
        return Task.FromResult(new ProgressFrame { ImageId = id });
    }

    public Task<IReadOnlyList<NetworkResource>> ListNetworksAsync(IDictionary<string, string>? filters = null, CancellationToken ct = default)
    {
        lock (Calls) return Task.FromResult<IReadOnlyList<NetworkResource>>(Networks.Select(n => new NetworkResource { Name = n }).ToList());
    }

    public Task<NetworkResource> InspectNetworkAsync(string idOrName, CancellationToken ct = default)
    {
        lock (Calls) return Networks.Contains(idOrName) ? Task.FromResult(new NetworkResource { Name = idOrName }) : throw NotFound("network", idOrName);
    }

    public Task<NetworkCreateResponse> CreateNetworkAsync(NetworkCreateRequest request, CancellationToken ct = default)
    {
        lock (Calls)
        {
            Networks.Add(request.Name);
            Calls.Add($"network {request.Name}");
        }
        return Task.FromResult(new NetworkCreateResponse { Id = request.Name });
    }

    public Task<Volume> InspectVolumeAsync(string name, CancellationToken ct = default)
    {
        lock (Calls) return Volumes.Contains(name) ? Task.FromResult(new Volume { Name = name }) : throw NotFound("volume", name);
    }

    public Task<Volume> CreateVolumeAsync(VolumeCreateRequest request, CancellationToken ct = default)
    {
        lock (Calls)
        {
            Volumes.Add(request.Name!);
            Calls.Add($"volume {request.Name}");
        }
        return Task.FromResult(new Volume { Name = request.Name! });
    }

    // Not used by the compose engine.
    public Task KillContainerAsync(string idOrName, string signal = "KILL", CancellationToken ct = default) => throw new NotSupportedException();
    public Task PauseContainerAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();
    public Task UnpauseContainerAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<Task<ContainerWaitResponse>> RegisterWaitAsync(string idOrName, string condition, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<IAsyncEnumerable<LogEntry>> AttachOutputAsync(string idOrName, bool stdout = true, bool stderr = true, CancellationToken ct = default) => throw new NotSupportedException();
    public IAsyncEnumerable<LogEntry> GetLogsAsync(string idOrName, bool follow = false, int? tail = null, DateTimeOffset? since = null, bool stdout = true, bool stderr = true, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<ContainerProcessList> TopContainerAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();
    public IAsyncEnumerable<EventMessage> GetEventsAsync(DateTimeOffset? since = null, DateTimeOffset? until = null, IReadOnlyDictionary<string, List<string>>? filters = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<ContainerStats> StatsContainerAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();
    public IAsyncEnumerable<StreamFrame> ExecAsync(string idOrName, ExecCreateRequest request, Stream? stdin = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<InteractiveSession> ExecInteractiveAsync(string idOrName, ExecCreateRequest request, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<InteractiveSession> AttachAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<IReadOnlyList<ImageSummary>> ListImagesAsync(bool all = false, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<ImageLoadResponse> ImportImageAsync(Stream rootfsTar, string? reference, IEnumerable<string>? changes = null, IProgress<long>? bytesSent = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<ImageLoadResponse> LoadImageAsync(Stream archive, IProgress<long>? bytesSent = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task TagImageAsync(string source, string target, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<ImageRemoveResponse> RemoveImageAsync(string nameOrId, bool force = false, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<ProgressFrame> PushImageAsync(string reference, string? target = null, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<RegistryLoginResponse> LoginAsync(RegistryLoginRequest request, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<RegistryLoginResponse> LogoutAsync(string server, CancellationToken ct = default) => throw new NotSupportedException();
    public Task SaveImagesAsync(IEnumerable<string> names, Stream output, string format = "docker", IProgress<long>? bytesReceived = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task ExportContainerAsync(string idOrName, Stream output, IProgress<long>? bytesReceived = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<ImageSummary> CommitContainerAsync(CommitRequest request, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<IReadOnlyList<ContainerChange>> GetContainerChangesAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<IReadOnlyList<ImageHistoryEntry>> GetImageHistoryAsync(string nameOrId, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<PruneResponse> PruneImagesAsync(bool all = false, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<PruneResponse> PruneContainersAsync(CancellationToken ct = default) => throw new NotSupportedException();
    public Task<PruneResponse> PruneBuildCacheAsync(CancellationToken ct = default) => throw new NotSupportedException();
    public Task<DiskUsage> GetDiskUsageAsync(CancellationToken ct = default) => throw new NotSupportedException();
    public Task<DiskUsage> GetDiskUsageAsync(bool verbose, CancellationToken ct = default) => throw new NotSupportedException();
    public Task RemoveNetworkAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();
    public Task ConnectNetworkAsync(string network, string container, EndpointSettings? settings = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task DisconnectNetworkAsync(string network, string container, bool force = false, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<NetworkPruneResponse> PruneNetworksAsync(CancellationToken ct = default) => throw new NotSupportedException();
    public Task<IReadOnlyList<Volume>> ListVolumesAsync(IDictionary<string, List<string>>? filters = null, CancellationToken ct = default) => throw new NotSupportedException();
    public Task RemoveVolumeAsync(string name, bool force = false, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<VolumePruneResponse> PruneVolumesAsync(bool all = false, IDictionary<string, List<string>>? filters = null, CancellationToken ct = default) => throw new NotSupportedException();
    public IAsyncEnumerable<string> ReadLinesAsync(string path, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<System.Text.Json.Nodes.JsonNode?> SendJsonAsync(HttpMethod method, string path, System.Text.Json.Nodes.JsonNode? body = null, CancellationToken ct = default, string mediaType = "application/json") => throw new NotSupportedException();
    public Task<string> GetKubeconfigAsync(CancellationToken ct = default) => throw new NotSupportedException();
}
