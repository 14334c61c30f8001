namespace ContainerOps.Compose.Model;

/// <summary>One service in its canonical form: every short syntax expanded to the long one (ports, volumes,
/// depends_on, networks, environment). A property left null was not set, which matters when files are merged.</summary>
public sealed class ServiceConfig
{
    public string Name { get; set; } = "";
    public string? Image { get; set; }
    public BuildConfig? Build { get; set; }
    public string? ContainerName { get; set; }
    /// <summary>The command as a list; a string in the file is split as a shell would split it (no shell is run).</summary>
    public List<string>? Command { get; set; }
    public List<string>? Entrypoint { get; set; }
    /// <summary>Values after env_file and environment are merged; null means "take it from the environment" (`- KEY`).</summary>
    public SortedDictionary<string, string?> Environment { get; set; } = new(StringComparer.Ordinal);
    public List<EnvFileReference> EnvFiles { get; set; } = new();
    public List<ServicePort> Ports { get; set; } = new();
    public List<string> Expose { get; set; } = new();
    public List<ServiceVolume> Volumes { get; set; } = new();
    /// <summary>Networks by key in the file's `networks:`; null when the service has none listed (it then joins `default`).</summary>
    public SortedDictionary<string, ServiceNetwork>? Networks { get; set; }
    public string? NetworkMode { get; set; }
    public SortedDictionary<string, ServiceDependency> DependsOn { get; set; } = new(StringComparer.Ordinal);
    public HealthcheckConfig? Healthcheck { get; set; }
    public string? Restart { get; set; }
    public DeployConfig? Deploy { get; set; }
    public SortedDictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
    public string? User { get; set; }
    public string? WorkingDir { get; set; }
    public string? Hostname { get; set; }
    public string? DomainName { get; set; }
    public List<string> ExtraHosts { get; set; } = new();
    public List<string> Dns { get; set; } = new();
    public List<string> DnsSearch { get; set; } = new();
    public List<string> DnsOpt { get; set; } = new();
    public List<string> Tmpfs { get; set; } = new();
    public SortedDictionary<string, Ulimit> Ulimits { get; set; } = new(StringComparer.Ordinal);
    public string? StopSignal { get; set; }
    public TimeSpan? StopGracePeriod { get; set; }
    public bool? Init { get; set; }
    public bool? ReadOnly { get; set; }
    public bool? Privileged { get; set; }
    public bool? Tty { get; set; }
    public bool? StdinOpen { get; set; }
    public List<string> CapAdd { get; set; } = new();
    public List<string> CapDrop { get; set; } = new();
    public List<string> SecurityOpt { get; set; } = new();
    public SortedDictionary<string, string> Sysctls { get; set; } = new(StringComparer.Ordinal);
    public List<FileReference> Secrets { get; set; } = new();
    public List<FileReference> Configs { get; set; } = new();
    public List<string> Profiles { get; set; } = new();
    public string? PullPolicy { get; set; }
    public string? Platform { get; set; }
    /// <summary>`mem_limit` (bytes), `cpus`, `pids_limit`: the version-2 spellings of deploy.resources.limits.</summary>
    public long? MemLimit { get; set; }
    public double? Cpus { get; set; }
    public long? PidsLimit { get; set; }
    /// <summary>`scale:` (the older spelling of deploy.replicas).</summary>
    public int? Scale { get; set; }
    /// <summary>`cpu_shares`, `cpu_quota` and `cpu_period` (microseconds), `cpuset`.</summary>
    public long? CpuShares { get; set; }
    public long? CpuQuota { get; set; }
    public long? CpuPeriod { get; set; }
    public string? Cpuset { get; set; }
    /// <summary>`mem_reservation` and `memswap_limit` in bytes (-1: unlimited swap).</summary>
    public long? MemReservation { get; set; }
    public long? MemswapLimit { get; set; }
    public bool? OomKillDisable { get; set; }
    public int? OomScoreAdj { get; set; }
    /// <summary>`shm_size` in bytes.</summary>
    public long? ShmSize { get; set; }
    /// <summary>`pid` and `ipc`: host, or `service:NAME` / `container:NAME` (and `shareable` for ipc).</summary>
    public string? Pid { get; set; }
    public string? Ipc { get; set; }
    public string? CgroupParent { get; set; }
    public List<string> GroupAdd { get; set; } = new();
    /// <summary>`devices` as docker's `--device` takes them: /host[:/container[:rwm]].</summary>
    public List<string> Devices { get; set; } = new();
    public List<string> DeviceCgroupRules { get; set; } = new();
    /// <summary>`volumes_from`: a service's name or `container:NAME`, with `:ro` or `:rw`.</summary>
    public List<string> VolumesFrom { get; set; } = new();
    public BlkioConfig? BlkioConfig { get; set; }
    /// <summary>Where the service ("") and each of its attributes were written, so that checks across the project can
    /// name the file, line and column as the syntax errors do.</summary>
    public SortedDictionary<string, SourcePosition> Positions { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How many containers `up` runs: deploy.replicas, else scale, else 1.</summary>
    public int Replicas => Deploy?.Replicas ?? Scale ?? 1;

    /// <summary>Services whose containers this one uses, so they run first: named by `service:` in network_mode, pid
    /// or ipc, or in volumes_from (without `container:`). depends_on is apart: it may name optional services.</summary>
    public IEnumerable<(string Field, string Service)> ServicesUsed()
    {
        foreach (var (field, mode) in new[] { ("network_mode", NetworkMode), ("pid", Pid), ("ipc", Ipc) })
            if (mode is not null && mode.StartsWith("service:", StringComparison.Ordinal)) yield return (field, mode[8..]);
        foreach (var from in VolumesFrom)
            if (!from.StartsWith("container:", StringComparison.Ordinal)) yield return ("volumes_from", from.Split(':')[0]);
    }
}

/// <summary>A place in a compose file: the file as messages show it, line and column (1-based).</summary>
public sealed record SourcePosition(string File, int Line, int Column);

/// <summary>`blkio_config`: the service's block I/O weight and per-device weights and throttles.</summary>
public sealed class BlkioConfig
{
    public ushort? Weight { get; set; }
    public List<(string Path, ushort Weight)> WeightDevice { get; set; } = new();
    public List<(string Path, ulong Rate)> DeviceReadBps { get; set; } = new();
    public List<(string Path, ulong Rate)> DeviceWriteBps { get; set; } = new();
    public List<(string Path, ulong Rate)> DeviceReadIops { get; set; } = new();
    public List<(string Path, ulong Rate)> DeviceWriteIops { get; set; } = new();
}

public sealed class BuildConfig
{
    /// <summary>Absolute path of the build context.</summary>
    public string Context { get; set; } = ".";
    public string? Dockerfile { get; set; }
    public SortedDictionary<string, string?> Args { get; set; } = new(StringComparer.Ordinal);
    public string? Target { get; set; }
    public SortedDictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
    public List<string> Tags { get; set; } = new();
    public bool? NoCache { get; set; }
}

public sealed class EnvFileReference
{
    public string Path { get; set; } = "";
    public bool Required { get; set; } = true;
    public SourcePosition? Position { get; set; }
}

/// <summary>A published or exposed port in the long syntax.</summary>
public sealed class ServicePort
{
    public string? Name { get; set; }
    public int Target { get; set; }
    /// <summary>A host port or range ("8080", "8000-8010"); null lets the daemon choose.</summary>
    public string? Published { get; set; }
    public string? HostIp { get; set; }
    public string Protocol { get; set; } = "tcp";
    public string Mode { get; set; } = "ingress";
    public string? AppProtocol { get; set; }

    /// <summary>What makes two entries the same port when files are merged (the spec's unique key).</summary>
    internal string MergeKey => $"{HostIp}:{Published}:{Target}/{Protocol}";
}

/// <summary>A mount in the long syntax: volume (named or anonymous), bind or tmpfs.</summary>
public sealed class ServiceVolume
{
    /// <summary>volume | bind | tmpfs</summary>
    public string Type { get; set; } = "volume";
    /// <summary>The volume's key, the absolute host path, or null (anonymous volume, tmpfs).</summary>
    public string? Source { get; set; }
    public string Target { get; set; } = "";
    public bool ReadOnly { get; set; }
    /// <summary>bind: create the host directory when missing (the short syntax's behaviour).</summary>
    public bool? CreateHostPath { get; set; }
    public string? Propagation { get; set; }
    public bool? NoCopy { get; set; }
    public string? Subpath { get; set; }
    /// <summary>tmpfs size in bytes.</summary>
    public long? TmpfsSize { get; set; }
    public int? TmpfsMode { get; set; }
    public string? Consistency { get; set; }
    public SourcePosition? Position { get; set; }
}

public sealed class ServiceNetwork
{
    public List<string> Aliases { get; set; } = new();
    public string? Ipv4Address { get; set; }
    public string? Ipv6Address { get; set; }
    public int? Priority { get; set; }
    public SourcePosition? Position { get; set; }
}

public sealed class ServiceDependency
{
    /// <summary>service_started | service_healthy | service_completed_successfully</summary>
    public string Condition { get; set; } = ServiceConditions.Started;
    /// <summary>Restart this service when the dependency is restarted by compose.</summary>
    public bool Restart { get; set; }
    /// <summary>false: a missing or disabled dependency is only a warning.</summary>
    public bool Required { get; set; } = true;
    public SourcePosition? Position { get; set; }
}

public static class ServiceConditions
{
    public const string Started = "service_started";
    public const string Healthy = "service_healthy";
    public const string CompletedSuccessfully = "service_completed_successfully";
}

public sealed class HealthcheckConfig
{
    /// <summary>["CMD", …], ["CMD-SHELL", "…"] or ["NONE"]; a string in the file becomes CMD-SHELL.</summary>
    public List<string>? Test { get; set; }
    public TimeSpan? Interval { get; set; }
    public TimeSpan? Timeout { get; set; }
    public int? Retries { get; set; }
    public TimeSpan? StartPeriod { get; set; }
    public TimeSpan? StartInterval { get; set; }
    public bool Disable { get; set; }
}

public sealed class DeployConfig
{
    public int? Replicas { get; set; }
    public ResourceLimits? Limits { get; set; }
    public ResourceLimits? Reservations { get; set; }
}

public sealed class ResourceLimits
{
    public double? Cpus { get; set; }
    /// <summary>Bytes.</summary>
    public long? Memory { get; set; }
    public long? Pids { get; set; }
}

public sealed class Ulimit
{
    public long Soft { get; set; }
    public long Hard { get; set; }
}

/// <summary>A service's use of a secret or config.</summary>
public sealed class FileReference
{
    public string Source { get; set; } = "";
    public string? Target { get; set; }
    public string? Uid { get; set; }
    public string? Gid { get; set; }
    public int? Mode { get; set; }
    public SourcePosition? Position { get; set; }
}
