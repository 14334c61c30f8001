using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

// Wire shapes of the daemon API. Property names follow Docker's Engine API where Docker has the concept,
// so `inspect` output reads the same and scripts can move over.

/// <summary>Everything `docker create` takes, flattened. The daemon validates it and turns it into an OCI spec.</summary>
public sealed class ContainerCreateRequest
{
    public string? Name { get; set; }
    public string Image { get; set; } = "";
    /// <summary>Overrides the image's ENTRYPOINT when not null (empty list clears it).</summary>
    public List<string>? Entrypoint { get; set; }
    /// <summary>Overrides the image's CMD when not null.</summary>
    public List<string>? Cmd { get; set; }
    /// <summary>KEY=VALUE entries, added over the image's ENV.</summary>
    public List<string> Env { get; set; } = new();
    public string? WorkingDir { get; set; }
    /// <summary>uid[:gid] or user[:group], resolved from the image's /etc/passwd and /etc/group.</summary>
    public string? User { get; set; }
    public string? Hostname { get; set; }
    /// <summary>The NIS domain name in the container's UTS namespace (`--domainname`).</summary>
    public string? Domainname { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    /// <summary>The end of an attached client's input closes the container's stdin (`docker run -i` without a
    /// terminal); otherwise it only ends that attach.</summary>
    public bool StdinOnce { get; set; }
    public string? StopSignal { get; set; }
    /// <summary>Seconds; null means the default of 10.</summary>
    public int? StopTimeout { get; set; }
    public HostConfig HostConfig { get; set; } = new();
    /// <summary>Per-network settings (fixed address, aliases), by network name.</summary>
    public NetworkingConfig? NetworkingConfig { get; set; }
    /// <summary>"80/tcp" → {} (Docker's shape): the ports `-P` publishes, besides the image's EXPOSE.</summary>
    public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    /// <summary>Merged over the image's HEALTHCHECK field by field; Test ["NONE"] turns it off (`--no-healthcheck`).</summary>
    public HealthConfig? Healthcheck { get; set; }
    /// <summary>Overrides the image's SHELL (Docker's Config.Shell).</summary>
    public List<string>? Shell { get; set; }
    /// <summary>"/path" → {}: anonymous volumes, as the docker CLI sends `-v /path` (taken as binds of the path alone).</summary>
    public Dictionary<string, EmptyObject>? Volumes { get; set; }

    /// <summary>Go clients send null for empty lists and maps (`"Env": null`): they mean empty; a body without a network
    /// mode means the default network, as for dockerd. Call after reading a body.</summary>
    public ContainerCreateRequest WithoutNulls()
    {
        Env ??= new();
        Labels ??= new();
        HostConfig ??= new();
        var h = HostConfig;
        if (!h.NetworkModeGiven || string.IsNullOrEmpty(h.NetworkMode)) h.NetworkMode = "default";
        h.ExtraHosts ??= new();
        h.Dns ??= new();
        h.DnsSearch ??= new();
        h.DnsOptions ??= new();
        h.CapAdd ??= new();
        h.CapDrop ??= new();
        h.SecurityOpt ??= new();
        h.RestartPolicy ??= new();
        h.Binds ??= new();
        h.Tmpfs ??= new();
        h.Mounts ??= new();
        h.VolumesFrom ??= new();
        h.Sysctls ??= new();
        h.Ulimits ??= new();
        h.GroupAdd ??= new();
        h.Devices ??= new();
        h.DeviceCgroupRules ??= new();
        // Docker's anonymous volumes (Config.Volumes) are binds of a container path alone here.
        foreach (var path in Volumes?.Keys ?? Enumerable.Empty<string>())
            if (!h.Binds.Any(b => b == path || b.Split(':').ElementAtOrDefault(1) == path) && !h.Mounts.Any(m => m.Target == path))
                h.Binds.Add(path);
        Volumes = null;
        return this;
    }
}

/// <summary>Docker's `{}` values (ExposedPorts).</summary>
public sealed class EmptyObject
{
}

public sealed class HostConfig
{
    /// <summary>none | host | container:&lt;id&gt; | bridge or default (the default bridge network) | the name or id of a
    /// network. Default: none for a request made in code; a create body that names no mode (or "") gets "default", as
    /// dockerd gives it the default bridge (<see cref="ContainerCreateRequest.WithoutNulls"/>).</summary>
    public string NetworkMode
    {
        get => _networkMode;
        set { _networkMode = value; NetworkModeGiven = true; }
    }
    private string _networkMode = "none";

    /// <summary>Whether <see cref="NetworkMode"/> was set (by a body that names it, or in code).</summary>
    [JsonIgnore] public bool NetworkModeGiven { get; private set; }
    /// <summary>"80/tcp" → host bindings (`-p [ip:]host:container[/proto]`).</summary>
    public Dictionary<string, List<PortBinding>>? PortBindings { get; set; }
    /// <summary>Publishes every exposed port on a free host port (`-P`).</summary>
    public bool PublishAllPorts { get; set; }
    /// <summary>"name:ip" lines added to /etc/hosts; the ip "host-gateway" means the network's gateway (`--add-host`).</summary>
    public List<string> ExtraHosts { get; set; } = new();
    public List<string> Dns { get; set; } = new();
    public List<string> DnsSearch { get; set; } = new();
    public List<string> DnsOptions { get; set; } = new();
    public bool AutoRemove { get; set; }
    public bool Privileged { get; set; }
    /// <summary>`--init`: an init (this platform's docker-init) runs as the container's pid 1, starts the command,
    /// forwards signals to it and reaps orphans. Null: not asked (as false).</summary>
    public bool? Init { get; set; }
    public bool ReadonlyRootfs { get; set; }
    public List<string> CapAdd { get; set; } = new();
    public List<string> CapDrop { get; set; } = new();
    /// <summary>"no-new-privileges" (or "no-new-privileges:true") is honoured.</summary>
    public List<string> SecurityOpt { get; set; } = new();
    /// <summary>Bytes; 0 = unlimited.</summary>
    public long Memory { get; set; }
    /// <summary>Bytes of memory+swap; 0 = default (twice Memory), -1 = unlimited swap.</summary>
    public long MemorySwap { get; set; }
    /// <summary>CPUs × 1e9, as Docker's NanoCpus.</summary>
    public long NanoCpus { get; set; }
    public long CpuShares { get; set; }
    /// <summary>0 = default limit, -1 = unlimited.</summary>
    public long PidsLimit { get; set; }
    public string? CpusetCpus { get; set; }
    public RestartPolicy RestartPolicy { get; set; } = new();
    /// <summary>"builtin" (default), "crun" or "runc".</summary>
    public string? Runtime { get; set; }
    /// <summary>`-v`: /host:/ctr[:opts] binds (a missing source is created) and name:/ctr[:ro|rw][,nocopy] volumes.</summary>
    public List<string> Binds { get; set; } = new();
    /// <summary>`--mount`: bind (the source must exist), volume and tmpfs mounts.</summary>
    public List<Mount> Mounts { get; set; } = new();
    /// <summary>`--tmpfs path[:options]`.</summary>
    public TmpfsList Tmpfs { get; set; } = new();
    /// <summary>`--volumes-from container[:ro|rw]`: that container's volumes and binds at the same paths.</summary>
    public List<string> VolumesFrom { get; set; } = new();
    /// <summary>Bytes of /dev/shm (0: 64 MB).</summary>
    public long ShmSize { get; set; }
    /// <summary>private (default) | shareable | container:&lt;name|id&gt; | host.</summary>
    public string? IpcMode { get; set; }
    public Dictionary<string, string> Sysctls { get; set; } = new();
    /// <summary>`--ulimit name=soft[:hard]`: the container process's resource limits (process.rlimits).</summary>
    public List<Ulimit> Ulimits { get; set; } = new();
    /// <summary>`--group-add`: more groups (names from the image's /etc/group, or numbers) for the container's process.</summary>
    public List<string> GroupAdd { get; set; } = new();
    /// <summary>"" (a pid namespace of its own) | host | container:&lt;name|id&gt;.</summary>
    public string? PidMode { get; set; }
    /// <summary>The cgroup the container's cgroup is made under, instead of the daemon's.</summary>
    public string? CgroupParent { get; set; }
    /// <summary>Microseconds of CPU per <see cref="CpuPeriod"/> (CFS quota).</summary>
    public long CpuQuota { get; set; }
    /// <summary>Microseconds (CFS period); 0 = the kernel's 100000.</summary>
    public long CpuPeriod { get; set; }
    /// <summary>Bytes: the soft limit (v1) or protection (v2).</summary>
    public long MemoryReservation { get; set; }
    /// <summary>-1000..1000.</summary>
    public int OomScoreAdj { get; set; }
    /// <summary>The OOM killer is not used on this container (cgroup v1 only).</summary>
    public bool? OomKillDisable { get; set; }
    /// <summary>`--device /host[:/container[:rwm]]`: device nodes made in the container and allowed by its device cgroup.</summary>
    public List<DeviceMapping> Devices { get; set; } = new();
    /// <summary>`--device-cgroup-rule 'c 1:3 rwm'`: more rules for the device cgroup.</summary>
    public List<string> DeviceCgroupRules { get; set; } = new();
    /// <summary>`--blkio-weight`: 10..1000 (0: the default), the container's share of block I/O.</summary>
    public ushort BlkioWeight { get; set; }
    /// <summary>`--blkio-weight-device /dev/vda:300`: a weight on one device.</summary>
    public List<WeightDevice>? BlkioWeightDevice { get; set; }
    /// <summary>`--device-read-bps /dev/vda:1mb`: bytes per second read from a device, at most.</summary>
    public List<ThrottleDevice>? BlkioDeviceReadBps { get; set; }
    /// <summary>`--device-write-bps`: bytes per second written to a device, at most.</summary>
    public List<ThrottleDevice>? BlkioDeviceWriteBps { get; set; }
    /// <summary>`--device-read-iops`: read operations per second on a device, at most.</summary>
    public List<ThrottleDevice>? BlkioDeviceReadIOps { get; set; }
    /// <summary>`--device-write-iops`: write operations per second on a device, at most.</summary>
    public List<ThrottleDevice>? BlkioDeviceWriteIOps { get; set; }
    /// <summary>json-file (the default) with max-size and max-file; other drivers are refused.</summary>
    public LogConfig? LogConfig { get; set; }
}

public sealed class Ulimit
{
    public string Name { get; set; } = "";
    public long Soft { get; set; }
    public long Hard { get; set; }
}

/// <summary>A block device named by its host path and a weight (Docker's WeightDevice).</summary>
public sealed class WeightDevice
{
    public string Path { get; set; } = "";
    public ushort Weight { get; set; }
}

/// <summary>A block device named by its host path and a rate (Docker's ThrottleDevice).</summary>
public sealed class ThrottleDevice
{
    public string Path { get; set; } = "";
    public ulong Rate { get; set; }
}

public sealed class DeviceMapping
{
    public string PathOnHost { get; set; } = "";
    public string PathInContainer { get; set; } = "";
    public string CgroupPermissions { get; set; } = "rwm";
}

public sealed class LogConfig
{
    public string Type { get; set; } = "";
    public Dictionary<string, string> Config { get; set; } = new();
}

public sealed class RestartPolicy
{
    /// <summary>"no" | "on-failure" | "always" | "unless-stopped"</summary>
    public string Name { get; set; } = "no";
    public int MaximumRetryCount { get; set; }
}

public sealed class ContainerCreateResponse
{
    public string Id { get; set; } = "";
    public List<string> Warnings { get; set; } = new();
}

/// <summary>One row of `ps`.</summary>
public sealed class ContainerSummary
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Image { get; set; } = "";
    public string ImageId { get; set; } = "";
    public string Command { get; set; } = "";
    [JsonConverter(typeof(UnixTimeConverter))]
    public DateTimeOffset Created { get; set; }
    /// <summary>Docker's form of the name: ["/name"].</summary>
    public List<string> Names => [Name.StartsWith('/') ? Name : "/" + Name];
    /// <summary>created | running | paused | restarting | removing | exited | dead</summary>
    public string State { get; set; } = "";
    /// <summary>Docker's human text: "Up 5 minutes", "Exited (0) 3 seconds ago".</summary>
    public string Status { get; set; } = "";
    public int ExitCode { get; set; }
    public int RestartCount { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
}

/// <summary>`inspect`: Docker-shaped.</summary>
public sealed class ContainerDetails
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTimeOffset Created { get; set; }
    public string Path { get; set; } = "";
    public List<string> Args { get; set; } = new();
    public ContainerState State { get; set; } = new();
    public string Image { get; set; } = "";
    public string ImageName { get; set; } = "";
    public int RestartCount { get; set; }
    public string Driver { get; set; } = "overlay";
    public string LogPath { get; set; } = "";
    public ContainerConfig Config { get; set; } = new();
    public HostConfig HostConfig { get; set; } = new();
    public List<MountPoint> Mounts { get; set; } = new();
    public string? RootfsPath { get; set; }
    public NetworkSettings NetworkSettings { get; set; } = new();
}

public sealed class ContainerState
{
    public string Status { get; set; } = "created";
    public bool Running { get; set; }
    public bool Paused { get; set; }
    public bool Restarting { get; set; }
    public bool OOMKilled { get; set; }
    public bool Dead { get; set; }
    public int Pid { get; set; }
    public int ExitCode { get; set; }
    public string Error { get; set; } = "";
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    /// <summary>Present when the container has a health check.</summary>
    public ContainerHealth? Health { get; set; }

    public ContainerState Copy() => (ContainerState)MemberwiseClone();
}

/// <summary>The container's effective configuration (request merged over the image's config).</summary>
public sealed class ContainerConfig
{
    public string Hostname { get; set; } = "";
    public string User { get; set; } = "";
    public List<string> Env { get; set; } = new();
    public List<string> Cmd { get; set; } = new();
    public List<string> Entrypoint { get; set; } = new();
    public string Image { get; set; } = "";
    public string WorkingDir { get; set; } = "";
    public Dictionary<string, string> Labels { get; set; } = new();
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    public string? StopSignal { get; set; }
    public int? StopTimeout { get; set; }
    /// <summary>The image's EXPOSE merged with the request's: what `-P` publishes.</summary>
    public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    /// <summary>The health check in effect (request merged over the image's); Test ["NONE"] when turned off.</summary>
    public HealthConfig? Healthcheck { get; set; }
    public List<string>? OnBuild { get; set; }
    /// <summary>The image's SHELL (or the request's): runs CMD-SHELL health checks.</summary>
    public List<string>? Shell { get; set; }
    public bool? ArgsEscaped { get; set; }
    public string Domainname { get; set; } = "";
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public bool StdinOnce { get; set; }
    public Dictionary<string, EmptyObject>? Volumes { get; set; }
}

/// <summary>One entry of Mounts in container inspect, as Docker shows it.</summary>
public sealed class MountPoint
{
    /// <summary>bind | volume | tmpfs</summary>
    public string Type { get; set; } = "bind";
    /// <summary>The volume's name (volumes only).</summary>
    public string? Name { get; set; }
    public string Source { get; set; } = "";
    public string Destination { get; set; } = "";
    /// <summary>The volume's driver (volumes only).</summary>
    public string? Driver { get; set; }
    /// <summary>The mode as given (`ro`, `z`, `nocopy`…), "" when none.</summary>
    public string Mode { get; set; } = "";
    public bool RW { get; set; } = true;
    /// <summary>Bind propagation (binds only).</summary>
    public string Propagation { get; set; } = "";
}

public sealed class ContainerWaitResponse
{
    public int StatusCode { get; set; }
    public bool OOMKilled { get; set; }
    public string? Error { get; set; }
}

/// <summary>One log line as the shim wrote it (Docker json-file shape on disk: log/stream/time).</summary>
public sealed class LogEntry
{
    /// <summary>stdout | stderr</summary>
    public string Stream { get; set; } = "stdout";
    public DateTimeOffset Time { get; set; }
    /// <summary>The text, including its trailing newline when it had one.</summary>
    public string Log { get; set; } = "";
}

public sealed class ContainerProcessList
{
    public List<string> Titles { get; set; } = new();
    public List<List<string>> Processes { get; set; } = new();
}

public sealed class ContainerStats
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTimeOffset Read { get; set; }
    /// <summary>Total CPU time used, nanoseconds.</summary>
    public long CpuUsageNanos { get; set; }
    /// <summary>Percent of one CPU over the sampling interval (100 = one full core).</summary>
    public double CpuPercent { get; set; }
    public long MemoryUsage { get; set; }
    /// <summary>0 when unlimited.</summary>
    public long MemoryLimit { get; set; }
    public double MemoryPercent { get; set; }
    public long Pids { get; set; }
    public long PidsLimit { get; set; }
}

public sealed class ExecCreateRequest
{
    public List<string> Cmd { get; set; } = new();
    public List<string> Env { get; set; } = new();
    public string? User { get; set; }
    public string? WorkingDir { get; set; }
    public bool Tty { get; set; }
    public bool AttachStdin { get; set; }
    public bool Privileged { get; set; }
    /// <summary>[height, width] of the terminal with <see cref="Tty"/>, set before the process starts (Docker's ConsoleSize).</summary>
    public List<int>? ConsoleSize { get; set; }
    /// <summary>Docker clients say which output they attach; absent means both (our own sessions always take both).</summary>
    public bool? AttachStdout { get; set; }
    public bool? AttachStderr { get; set; }
    public string? DetachKeys { get; set; }
}

/// <summary>`POST /exec/{id}/start` (Docker Engine API).</summary>
public sealed class ExecStartRequest
{
    public bool Detach { get; set; }
    public bool Tty { get; set; }
    public List<int>? ConsoleSize { get; set; }
}

/// <summary>`GET /exec/{id}/json` (Docker Engine API): an exec's configuration and, once it ended, its exit code.</summary>
public sealed class ExecInspectResponse
{
    public string ID { get; set; } = "";
    public string ContainerID { get; set; } = "";
    public bool Running { get; set; }
    /// <summary>Null until the process has ended, as Docker's.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? ExitCode { get; set; }
    public int Pid { get; set; }
    public bool CanRemove { get; set; }
    public string DetachKeys { get; set; } = "";
    public bool OpenStdin { get; set; }
    public bool OpenStdout { get; set; }
    public bool OpenStderr { get; set; }
    public ExecProcessConfig ProcessConfig { get; set; } = new();
}

public sealed class ExecProcessConfig
{
    [JsonPropertyName("tty")] public bool Tty { get; set; }
    [JsonPropertyName("entrypoint")] public string Entrypoint { get; set; } = "";
    [JsonPropertyName("arguments")] public List<string> Arguments { get; set; } = new();
    [JsonPropertyName("privileged")] public bool Privileged { get; set; }
    [JsonPropertyName("user")] public string User { get; set; } = "";
}

/// <summary>Frames of a streamed, non-interactive exec or attach (NDJSON): output chunks, then one exit frame.</summary>
public sealed class StreamFrame
{
    /// <summary>stdout | stderr | exit | error</summary>
    public string Stream { get; set; } = "stdout";
    /// <summary>Output text (UTF-8) for stdout/stderr frames; the message for error frames.</summary>
    public string? Data { get; set; }
    public int? ExitCode { get; set; }
}
