namespace ContainerOps.Cluster.Node;

/// <summary>
/// What the node agent needs of the container engine, and all it knows of it: pod sandboxes (the namespaces and
/// the address a pod's containers share) and labelled containers in them. The daemon implements it over its
/// container engine; the agent finds its containers again by their labels (<see cref="PodLabels"/>).
/// </summary>
public interface INodeRuntime
{
    /// <summary>Makes the pod's sandbox if it is not there (idempotent): its network, IPC and UTS namespaces (and pid
    /// namespace when shared), its address on the pod network (none with host networking), /etc/hosts and
    /// /etc/resolv.conf.</summary>
    Task<SandboxStatus> RunSandboxAsync(SandboxRequest request, CancellationToken ct);

    /// <summary>Removes the sandbox: its address, veth, namespaces and files, and the pod's cgroup. Idempotent.</summary>
    Task RemoveSandboxAsync(string podUid);

    /// <summary>The sandboxes that exist, by pod uid.</summary>
    IReadOnlyList<SandboxStatus> ListSandboxes();

    /// <summary>Makes sure the image is there, as the pull policy says (Always, IfNotPresent, Never); a pull uses the
    /// credentials of <paramref name="pullSecrets"/> (Docker config documents, <see cref="ImagePullSecrets"/>) before
    /// the node's own. Throws <see cref="ImageUnavailableException"/> when it is not there and cannot be pulled.</summary>
    Task EnsureImageAsync(string image, string pullPolicy, IReadOnlyList<string> pullSecrets, CancellationToken ct);

    /// <summary>Creates (does not start) a container in a pod's sandbox; returns its id. Throws
    /// <see cref="ContainerConfigException"/> when the request cannot become a container (no command, bad user…).</summary>
    Task<string> CreateContainerAsync(PodContainerRequest request, CancellationToken ct);

    Task StartContainerAsync(string id);

    /// <summary>The stop signal, then SIGKILL after <paramref name="graceSeconds"/>.</summary>
    Task StopContainerAsync(string id, int graceSeconds);

    /// <summary>Removes a container (killing it first if it runs). Idempotent.</summary>
    Task RemoveContainerAsync(string id);

    /// <summary>Every container of a pod on this node (those with a pod uid label).</summary>
    IReadOnlyList<RuntimeContainer> ListPodContainers();

    /// <summary>A running container's cgroup counters now (cumulative CPU time, memory in use), or null if it does not
    /// run.</summary>
    ContainerUsageSample? ReadUsage(string id);

    /// <summary>Makes (or refreshes) a pod volume on the node and returns its host path: an empty directory (on tmpfs
    /// for medium Memory), a checked host path, or a directory of files (ConfigMap, Secret, downward API). Throws
    /// <see cref="ContainerConfigException"/> when it cannot be made (a hostPath whose type does not match).</summary>
    Task<string> PrepareVolumeAsync(string podUid, PodVolume volume, CancellationToken ct);

    /// <summary>Runs one probe: a command in the container, an HTTP GET or a TCP connect to the pod's address. Never throws
    /// for the container's sake: a probe that cannot run is a failure with the reason.</summary>
    Task<(bool Success, string Output)> ProbeAsync(ProbeRequest request, CancellationToken ct);

    /// <summary>The user an image's config runs as ("" for root by default); the image must be there.</summary>
    string ImageUser(string image);

    /// <summary>Completes when the container's current run ends (at once if it does not run).</summary>
    Task WaitForExitAsync(string id, CancellationToken ct);

    /// <summary>The container's log from its start (or its last <paramref name="tail"/> lines, or those since a time);
    /// with <paramref name="follow"/>, the lines to come until the container stops.</summary>
    IAsyncEnumerable<ContainerOps.Core.Api.LogEntry> ReadLogAsync(string id, bool follow, int? tail, DateTimeOffset? since, CancellationToken ct);

    /// <summary>Starts a command in a running container, as `kubectl exec` asks: with a terminal, or with pipes.
    /// Throws <see cref="ContainerConfigException"/> when it cannot (the container does not run).</summary>
    IPodExecProcess StartExec(string id, IReadOnlyList<string> command, bool tty);

    /// <summary>Connects to a running container's own process, as `kubectl attach` asks: its output from now on, and
    /// its stdin when <paramref name="stdin"/> (the container must have been made with stdin open). The end of the
    /// client's input closes the container's stdin only when it was made with stdinOnce (and no terminal).</summary>
    Task<IPodExecProcess> AttachAsync(string id, bool stdin, CancellationToken ct);

    /// <summary>A TCP connection to <paramref name="port"/> on the pod's own loopback address — inside its network
    /// namespace, or the host's with host networking — as `kubectl port-forward` asks. Throws a SocketException when
    /// nothing listens there, <see cref="ContainerConfigException"/> when the pod has no sandbox on this node.</summary>
    Task<System.Net.Sockets.Socket> ConnectPortAsync(string podUid, bool hostNetwork, int port, CancellationToken ct);
}

/// <summary>A process a client is connected to: one started in a container (exec), or the container's own (attach).
/// With a terminal, <see cref="Terminal"/> carries both directions and Stdin/Stdout/Stderr are null.</summary>
public interface IPodExecProcess : IDisposable
{
    Stream? Stdin { get; }
    Stream? Stdout { get; }
    Stream? Stderr { get; }
    Stream? Terminal { get; }
    void Resize(int rows, int columns);
    /// <summary>The client went away before the process ended: an exec's process is killed, an attached container
    /// keeps running.</summary>
    void ClientGone();
    Task<int> WaitForExitAsync(CancellationToken ct = default);
    /// <summary>Whether its output still holds bytes nobody has read (<see cref="ContainerOps.Core.IO.OutputDrain"/>).</summary>
    bool OutputPending => false;
}

/// <summary>The labels the agent puts on a pod's containers, as the kubelet does.</summary>
public static class PodLabels
{
    public const string PodName = "io.kubernetes.pod.name";
    public const string PodNamespace = "io.kubernetes.pod.namespace";
    public const string PodUid = "io.kubernetes.pod.uid";
    public const string ContainerName = "io.kubernetes.container.name";
    /// <summary>Which run of the container this is (0 first): the restart count survives the daemon.</summary>
    public const string Attempt = "io.kubernetes.container.restartCount";
}

/// <param name="SharePid">shareProcessNamespace: the pod's containers share one pid namespace, whose pid 1 is the
/// sandbox's (not any container's).</param>
/// <param name="Cgroup">The pod's cgroup, made with the sandbox (with host networking too) and removed with it.</param>
public sealed record SandboxRequest(string PodUid, string Namespace, string Name, string Hostname, bool HostNetwork, string ResolvConf,
    IReadOnlyList<(string Ip, IReadOnlyList<string> Names)> HostAliases, bool SharePid = false, PodCgroup? Cgroup = null);

/// <summary>A pod's sandbox: its address on the pod network (null with host networking) and the host's.</summary>
public sealed record SandboxStatus(string PodUid, string? Ip);

public sealed class PodContainerRequest
{
    public required string PodUid { get; init; }
    public required string Image { get; init; }
    /// <summary>The container's entrypoint (Kubernetes' command), null: the image's.</summary>
    public IReadOnlyList<string>? Command { get; init; }
    /// <summary>Kubernetes' args, null: the image's CMD (unless a command is given).</summary>
    public IReadOnlyList<string>? Args { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public string? WorkingDir { get; init; }
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
    public bool HostNetwork { get; init; }
    public bool Tty { get; init; }
    public bool Stdin { get; init; }
    /// <summary>Kubernetes' stdinOnce: the end of the first attached client's input closes the container's stdin.</summary>
    public bool StdinOnce { get; init; }
    /// <summary>Host paths bound into the container (the pod's volumes).</summary>
    public IReadOnlyList<PodMount> Mounts { get; init; } = [];
    /// <summary>Bytes; 0: no limit.</summary>
    public long MemoryLimit { get; init; }
    /// <summary>CPU limit in billionths of a CPU; 0: none.</summary>
    public long NanoCpus { get; init; }
    /// <summary>Relative CPU weight from the cpu request (1024 per CPU, 2 for none, as the kubelet sets it).</summary>
    public long CpuShares { get; init; }
    /// <summary>The container's securityContext in the engine's terms (<see cref="PodSecurity"/>).</summary>
    public ContainerSecurity Security { get; init; } = new();
    /// <summary>The pod's cgroup (<see cref="PodCgroup.Parent"/>), the container's parent; null: the node's own.</summary>
    public string? CgroupParent { get; init; }
}

public enum ProbeAction { Exec, HttpGet, TcpSocket, Grpc }

public sealed record ProbeRequest(string ContainerId, ProbeAction Action, TimeSpan Timeout, IReadOnlyList<string>? Command = null,
    string Host = "", int Port = 0, string Path = "/", string Scheme = "HTTP", IReadOnlyList<(string Name, string Value)>? Headers = null,
    string? GrpcService = null);

public sealed record PodMount(string HostPath, string ContainerPath, bool ReadOnly);

public enum PodVolumeKind { EmptyDir, HostPath, Files }

/// <summary>A volume as the engine makes it: <see cref="Files"/> (relative path → content, mode) for Files kinds;
/// <see cref="Memory"/> puts an EmptyDir (and always a Secret's files) on tmpfs. With <see cref="FsGroup"/> (the pod's
/// fsGroup) an EmptyDir or Files volume is given to that group (group read-write, read-only for Files, set-gid
/// directories) before its files are seen; <see cref="FsGroupOnRootMismatch"/> skips one whose directory already fits.</summary>
public sealed record PodVolume(string Name, PodVolumeKind Kind, bool Memory = false, long SizeLimit = 0, string? Path = null, string? HostPathType = null,
    IReadOnlyList<(string Path, byte[] Content, int Mode)>? Files = null, long? FsGroup = null, bool FsGroupOnRootMismatch = false);

/// <summary>One container as the engine sees it.</summary>
/// <summary>A container's cgroup counters at one moment: CPU time used since it started, and memory in use.</summary>
public sealed record ContainerUsageSample(long CpuUsageNanos, long MemoryBytes);

public sealed record RuntimeContainer(string Id, IReadOnlyDictionary<string, string> Labels, string Image, string ImageId,
    bool Running, bool Created, int ExitCode, bool OomKilled, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Error)
{
    public string PodUid => Labels.TryGetValue(PodLabels.PodUid, out var v) ? v : "";
    public string ContainerName => Labels.TryGetValue(PodLabels.ContainerName, out var v) ? v : "";
    public int Attempt => Labels.TryGetValue(PodLabels.Attempt, out var v) && int.TryParse(v, out var n) ? n : 0;
}

/// <summary>The image is not there and could not be pulled (the reason is for ErrImagePull's message).</summary>
public sealed class ImageUnavailableException(string message, bool neverPull = false) : Exception(message)
{
    /// <summary>The policy is Never: Kubernetes says ErrImageNeverPull.</summary>
    public bool NeverPull { get; } = neverPull;
}

/// <summary>The container cannot be made from its spec: CreateContainerError, or with <see cref="ConfigError"/>
/// CreateContainerConfigError (the spec asks for what the node must refuse, e.g. runAsNonRoot with a root image).</summary>
public sealed class ContainerConfigException(string message, bool configError = false) : Exception(message)
{
    public bool ConfigError { get; } = configError;
}
