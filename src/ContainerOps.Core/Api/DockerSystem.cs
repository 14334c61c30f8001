namespace ContainerOps.Core.Api;

/// <summary>The Engine API versions the daemon speaks: what `/_ping` and `/version` tell clients to negotiate with.</summary>
public static class DockerApiVersions
{
    /// <summary>The newest API version whose shapes the daemon serves (Docker 27.x).</summary>
    public const string Current = "1.47";
    /// <summary>The oldest a client may use (docker 1.12, as dockerd's minimum).</summary>
    public const string Minimum = "1.24";
    /// <summary>The user agent of our own client: the daemon answers it in its own shapes, and any other client that
    /// names itself but no API version (Docker.DotNet, curl) as dockerd would.</summary>
    public const string OwnClientUserAgent = "containerops-client";
}

/// <summary>`GET /version` (Docker's types.Version).</summary>
public sealed class SystemVersion
{
    public VersionPlatform Platform { get; set; } = new();
    public List<VersionComponent> Components { get; set; } = new();
    public string Version { get; set; } = "";
    public string ApiVersion { get; set; } = DockerApiVersions.Current;
    public string MinAPIVersion { get; set; } = DockerApiVersions.Minimum;
    public string GitCommit { get; set; } = "";
    public string GoVersion { get; set; } = "";
    public string Os { get; set; } = "linux";
    public string Arch { get; set; } = "";
    public string KernelVersion { get; set; } = "";
    public bool Experimental { get; set; }
    public string BuildTime { get; set; } = "";
}

public sealed class VersionPlatform
{
    public string Name { get; set; } = "";
}

public sealed class VersionComponent
{
    public string Name { get; set; } = "";
    public string Version { get; set; } = "";
    public Dictionary<string, string> Details { get; set; } = new();
}

/// <summary>`GET /info`: the fields of Docker's types.Info that clients read.</summary>
public sealed class SystemInfo
{
    public string ID { get; set; } = "";
    public int Containers { get; set; }
    public int ContainersRunning { get; set; }
    public int ContainersPaused { get; set; }
    public int ContainersStopped { get; set; }
    public int Images { get; set; }
    public string Driver { get; set; } = "overlay2";
    public List<List<string>> DriverStatus { get; set; } = new();
    public InfoPlugins Plugins { get; set; } = new();
    public bool MemoryLimit { get; set; } = true;
    public bool SwapLimit { get; set; } = true;
    public bool CpuCfsPeriod { get; set; } = true;
    public bool CpuCfsQuota { get; set; } = true;
    public bool CPUShares { get; set; } = true;
    public bool CPUSet { get; set; } = true;
    public bool PidsLimit { get; set; } = true;
    public bool IPv4Forwarding { get; set; } = true;
    public bool Debug { get; set; }
    public int NFd { get; set; }
    public bool OomKillDisable { get; set; }
    public int NGoroutines { get; set; }
    public string SystemTime { get; set; } = "";
    public string LoggingDriver { get; set; } = "json-file";
    public string CgroupDriver { get; set; } = "cgroupfs";
    public string CgroupVersion { get; set; } = "1";
    public int NEventsListener { get; set; }
    public string KernelVersion { get; set; } = "";
    public string OperatingSystem { get; set; } = "";
    public string OSVersion { get; set; } = "";
    public string OSType { get; set; } = "linux";
    public string Architecture { get; set; } = "";
    public string IndexServerAddress { get; set; } = "https://index.docker.io/v1/";
    public int NCPU { get; set; }
    public long MemTotal { get; set; }
    public string DockerRootDir { get; set; } = "";
    public string Name { get; set; } = "";
    public List<string> Labels { get; set; } = new();
    public bool ExperimentalBuild { get; set; }
    public string ServerVersion { get; set; } = "";
    public Dictionary<string, InfoRuntime> Runtimes { get; set; } = new();
    public string DefaultRuntime { get; set; } = "builtin";
    public InfoSwarm Swarm { get; set; } = new();
    public bool LiveRestoreEnabled { get; set; } = true;
    public string Isolation { get; set; } = "";
    public string InitBinary { get; set; } = "";
    public InfoCommit ContainerdCommit { get; set; } = new();
    public InfoCommit RuncCommit { get; set; } = new();
    public InfoCommit InitCommit { get; set; } = new();
    public List<string> SecurityOptions { get; set; } = new();
    public List<string> Warnings { get; set; } = new();
}

public sealed class InfoPlugins
{
    public List<string> Volume { get; set; } = new();
    public List<string> Network { get; set; } = new();
    public List<string>? Authorization { get; set; }
    public List<string> Log { get; set; } = new();
}

public sealed class InfoRuntime
{
    public string Path { get; set; } = "";
}

public sealed class InfoSwarm
{
    public string NodeID { get; set; } = "";
    public string NodeAddr { get; set; } = "";
    public string LocalNodeState { get; set; } = "inactive";
    public bool ControlAvailable { get; set; }
    public string Error { get; set; } = "";
}

public sealed class InfoCommit
{
    public string ID { get; set; } = "";
}
