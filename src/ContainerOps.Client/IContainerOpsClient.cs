using ContainerOps.Core.Api;

namespace ContainerOps.Client;

/// <summary>
/// The typed API of one node's daemon. The CLI and the cmdlets use only this; they never touch the kernel.
/// Every method throws <see cref="ContainerOpsException"/> with the daemon's <see cref="ApiError"/> on failure.
/// <paramref name="idOrName"/> accepts a full id, a unique id prefix, or a name.
/// </summary>
public interface IContainerOpsClient : IDisposable
{
    /// <summary>Where the client talks to (socket path or ssh target), for messages.</summary>
    string Endpoint { get; }

    Task PingAsync(CancellationToken ct = default);

    // Containers
    Task<ContainerCreateResponse> CreateContainerAsync(ContainerCreateRequest request, CancellationToken ct = default);
    Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(bool all = false, IDictionary<string, string>? filters = null, CancellationToken ct = default);
    Task<ContainerDetails> InspectContainerAsync(string idOrName, CancellationToken ct = default);
    Task StartContainerAsync(string idOrName, CancellationToken ct = default);
    /// <summary>Signal (the image's STOPSIGNAL or SIGTERM), wait <paramref name="timeoutSeconds"/> (null: the container's or 10), then SIGKILL.</summary>
    Task StopContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default);
    Task RestartContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default);
    /// <summary><paramref name="signal"/> by name ("KILL", "SIGHUP") or number ("9").</summary>
    Task KillContainerAsync(string idOrName, string signal = "KILL", CancellationToken ct = default);
    Task PauseContainerAsync(string idOrName, CancellationToken ct = default);
    Task UnpauseContainerAsync(string idOrName, CancellationToken ct = default);
    /// <summary>Blocks until the container is not running; returns its exit status.</summary>
    Task<ContainerWaitResponse> WaitContainerAsync(string idOrName, CancellationToken ct = default);
    /// <summary>Has the daemon wait for <paramref name="condition"/> (not-running, next-exit, removed) and returns once it
    /// does, with the task of the exit status; registered before a start, it cannot miss the exit or the removal.</summary>
    Task<Task<ContainerWaitResponse>> RegisterWaitAsync(string idOrName, string condition, CancellationToken ct = default);
    /// <summary>The output of the container's current or next run, followed from before it starts (`run`): returns once
    /// the daemon follows it; the entries end with the run, and an automatic removal waits until they are read.</summary>
    Task<IAsyncEnumerable<LogEntry>> AttachOutputAsync(string idOrName, bool stdout = true, bool stderr = true, CancellationToken ct = default);
    Task RemoveContainerAsync(string idOrName, bool force = false, CancellationToken ct = default);
    Task RenameContainerAsync(string idOrName, string newName, CancellationToken ct = default);
    /// <summary>Log lines; with <paramref name="follow"/> the sequence ends when the container stops or <paramref name="ct"/> fires.
    /// <paramref name="tail"/>: last N lines (null: all). <paramref name="since"/>: only entries at or after.</summary>
    IAsyncEnumerable<LogEntry> GetLogsAsync(string idOrName, bool follow = false, int? tail = null, DateTimeOffset? since = null,
        bool stdout = true, bool stderr = true, CancellationToken ct = default);
    Task<ContainerProcessList> TopContainerAsync(string idOrName, CancellationToken ct = default);
    /// <summary>The daemon's events (Docker's `/events`): with <paramref name="since"/> the kept ones from then first;
    /// the sequence ends at <paramref name="until"/> (at once when it is past), else when <paramref name="ct"/> fires.
    /// <paramref name="filters"/>: type, event, container, image, label, volume, network, each with alternatives.</summary>
    IAsyncEnumerable<EventMessage> GetEventsAsync(DateTimeOffset? since = null, DateTimeOffset? until = null,
        IReadOnlyDictionary<string, List<string>>? filters = null, CancellationToken ct = default);
    Task<ContainerStats> StatsContainerAsync(string idOrName, CancellationToken ct = default);
    /// <summary>Runs a command in a running container without a terminal; output arrives as frames, the last one has Stream "exit" and ExitCode.
    /// <paramref name="stdin"/>, when given, is copied to the command's standard input and then closed.</summary>
    IAsyncEnumerable<StreamFrame> ExecAsync(string idOrName, ExecCreateRequest request, Stream? stdin = null, CancellationToken ct = default);
    /// <summary>Interactive session (exec with a terminal, or attach to a container's terminal/stdin): a raw duplex byte stream
    /// (HTTP upgrade). Dispose to detach. <see cref="InteractiveSession.ExitCode"/> resolves when the process ends.</summary>
    Task<InteractiveSession> ExecInteractiveAsync(string idOrName, ExecCreateRequest request, CancellationToken ct = default);
    Task<InteractiveSession> AttachAsync(string idOrName, CancellationToken ct = default);

    // Images
    Task<IReadOnlyList<ImageSummary>> ListImagesAsync(bool all = false, CancellationToken ct = default);
    Task<ImageDetails> InspectImageAsync(string nameOrId, CancellationToken ct = default);
    /// <summary>`docker import`: a root filesystem tarball (optionally gzip) becomes a one-layer image.
    /// <paramref name="changes"/> are Dockerfile lines: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME.</summary>
    Task<ImageLoadResponse> ImportImageAsync(Stream rootfsTar, string? reference, IEnumerable<string>? changes = null,
        IProgress<long>? bytesSent = null, CancellationToken ct = default);
    /// <summary>`docker load`: a docker-save archive or an OCI image layout archive (tar, optionally gzip).</summary>
    Task<ImageLoadResponse> LoadImageAsync(Stream archive, IProgress<long>? bytesSent = null, CancellationToken ct = default);
    Task TagImageAsync(string source, string target, CancellationToken ct = default);
    Task<ImageRemoveResponse> RemoveImageAsync(string nameOrId, bool force = false, CancellationToken ct = default);

    /// <summary>`docker build`: <paramref name="contextTar"/> is the build context as a tar (the daemon applies .dockerignore).
    /// Progress frames arrive through <paramref name="progress"/>; returns the last frame (ImageId set). A failed build throws.</summary>
    Task<ProgressFrame> BuildImageAsync(Stream contextTar, ImageBuildRequest request, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default);
    /// <summary>`docker pull`. <paramref name="insecure"/> lets a loopback registry be reached over plain HTTP.</summary>
    Task<ProgressFrame> PullImageAsync(string reference, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default);
    /// <summary>`docker push` of <paramref name="reference"/>, to <paramref name="target"/> when given (else its own name).</summary>
    Task<ProgressFrame> PushImageAsync(string reference, string? target = null, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default);
    /// <summary>Checks the credentials against the registry and stores them in the daemon host's ~/.docker/config.json.</summary>
    Task<RegistryLoginResponse> LoginAsync(RegistryLoginRequest request, CancellationToken ct = default);
    Task<RegistryLoginResponse> LogoutAsync(string server, CancellationToken ct = default);
    /// <summary>`docker save`: writes a docker-save archive (or an OCI archive with <paramref name="format"/> "oci") of the images to <paramref name="output"/>.</summary>
    Task SaveImagesAsync(IEnumerable<string> names, Stream output, string format = "docker", IProgress<long>? bytesReceived = null, CancellationToken ct = default);
    /// <summary>`docker export`: the container's root filesystem as a tar.</summary>
    Task ExportContainerAsync(string idOrName, Stream output, IProgress<long>? bytesReceived = null, CancellationToken ct = default);
    /// <summary>`docker commit`: the container's changes become a new image.</summary>
    Task<ImageSummary> CommitContainerAsync(CommitRequest request, CancellationToken ct = default);
    /// <summary>`docker diff`.</summary>
    Task<IReadOnlyList<ContainerChange>> GetContainerChangesAsync(string idOrName, CancellationToken ct = default);
    /// <summary>`docker history`, newest first.</summary>
    Task<IReadOnlyList<ImageHistoryEntry>> GetImageHistoryAsync(string nameOrId, CancellationToken ct = default);
    /// <summary>`docker image prune`: untagged images, or with <paramref name="all"/> every image no container uses.</summary>
    Task<PruneResponse> PruneImagesAsync(bool all = false, CancellationToken ct = default);
    /// <summary>`docker container prune`: every container that is not running.</summary>
    Task<PruneResponse> PruneContainersAsync(CancellationToken ct = default);
    /// <summary>`docker builder prune`: forgets the build cache and the layers only it kept.</summary>
    Task<PruneResponse> PruneBuildCacheAsync(CancellationToken ct = default);
    /// <summary>`docker system df`.</summary>
    Task<DiskUsage> GetDiskUsageAsync(CancellationToken ct = default);
    /// <summary>`docker system df -v`: with <paramref name="verbose"/> every volume with its size and references.</summary>
    Task<DiskUsage> GetDiskUsageAsync(bool verbose, CancellationToken ct = default);

    // Networks
    Task<IReadOnlyList<NetworkResource>> ListNetworksAsync(IDictionary<string, string>? filters = null, CancellationToken ct = default);
    Task<NetworkResource> InspectNetworkAsync(string idOrName, CancellationToken ct = default);
    Task<NetworkCreateResponse> CreateNetworkAsync(NetworkCreateRequest request, CancellationToken ct = default);
    /// <summary>Fails with NetworkInUse while containers are connected.</summary>
    Task RemoveNetworkAsync(string idOrName, CancellationToken ct = default);
    /// <summary>Connects a container (running or not) to a network; <paramref name="settings"/> carries a fixed address and aliases.</summary>
    Task ConnectNetworkAsync(string network, string container, EndpointSettings? settings = null, CancellationToken ct = default);
    Task DisconnectNetworkAsync(string network, string container, bool force = false, CancellationToken ct = default);
    /// <summary>Removes every user-defined network no container is connected to; returns their names.</summary>
    Task<NetworkPruneResponse> PruneNetworksAsync(CancellationToken ct = default);

    // Volumes
    /// <summary>Filters: name, driver, label (several), dangling.</summary>
    Task<IReadOnlyList<Volume>> ListVolumesAsync(IDictionary<string, List<string>>? filters = null, CancellationToken ct = default);
    Task<Volume> InspectVolumeAsync(string name, CancellationToken ct = default);
    Task<Volume> CreateVolumeAsync(VolumeCreateRequest request, CancellationToken ct = default);
    /// <summary>Fails with VolumeInUse while a container references it; <paramref name="force"/> ignores a missing one.</summary>
    Task RemoveVolumeAsync(string name, bool force = false, CancellationToken ct = default);
    /// <summary>Unused volumes: anonymous ones only unless <paramref name="all"/>; filters label, label!.</summary>
    Task<VolumePruneResponse> PruneVolumesAsync(bool all = false, IDictionary<string, List<string>>? filters = null, CancellationToken ct = default);
    /// <summary>`rm -v`: with <paramref name="removeVolumes"/> the container's anonymous volumes go too.</summary>
    Task RemoveContainerAsync(string idOrName, bool force, bool removeVolumes, CancellationToken ct = default);
    /// <summary>A text answer line by line as it arrives (a pod's log): a GET of <paramref name="path"/>.</summary>
    IAsyncEnumerable<string> ReadLinesAsync(string path, CancellationToken ct = default);
    /// <summary>Any Docker Engine API call by path, as JSON in and out (null for an empty answer): for the parts of the
    /// API that have no typed method here yet, read as Docker documents them (e.g. State.Health in container inspect).
    /// Fails as the typed methods do.</summary>
    /// <param name="mediaType">The body's media type: JSON, or a patch type (application/merge-patch+json,
    /// application/apply-patch+yaml…).</param>
    Task<System.Text.Json.Nodes.JsonNode?> SendJsonAsync(HttpMethod method, string path, System.Text.Json.Nodes.JsonNode? body = null, CancellationToken ct = default, string mediaType = "application/json");
    // Cluster
    /// <summary>A kubeconfig (YAML) for the daemon's cluster API: its TLS address, its CA and an administrator's client
    /// certificate. kubectl and other Kubernetes clients use it; the cmdlets and the CLI reach the API on the socket.</summary>
    Task<string> GetKubeconfigAsync(CancellationToken ct = default);
}

/// <summary>A live interactive stream to a process's terminal or stdio.</summary>
public abstract class InteractiveSession : IAsyncDisposable
{
    /// <summary>Bytes to and from the process (terminal bytes when it has a terminal).</summary>
    public abstract Stream Stream { get; }
    /// <summary>Tell the process's terminal its new size.</summary>
    public abstract Task ResizeAsync(int rows, int columns, CancellationToken ct = default);
    /// <summary>The process's exit code (Docker conventions), when it ends.</summary>
    public abstract Task<int> ExitCode { get; }
    public abstract ValueTask DisposeAsync();
}
