namespace ContainerOps.Core.Api;

// Volumes in the Docker Engine API's shapes (`/volumes`, HostConfig.Mounts, Mounts in container inspect).

/// <summary>POST /volumes/create.</summary>
public sealed class VolumeCreateRequest
{
    /// <summary>Empty: a generated name (an anonymous volume).</summary>
    public string? Name { get; set; }
    /// <summary>local (the only driver).</summary>
    public string? Driver { get; set; }
    /// <summary>The local driver's `type`, `device` and `o`: what is mounted at the volume's mount point.</summary>
    public Dictionary<string, string> DriverOpts { get; set; } = new();
    public Dictionary<string, string> Labels { get; set; } = new();
}

/// <summary>GET /volumes/{name}, and each entry of GET /volumes.</summary>
public sealed class Volume
{
    public string Name { get; set; } = "";
    public string Driver { get; set; } = "local";
    /// <summary>The volume's data directory on the host.</summary>
    public string Mountpoint { get; set; } = "";
    /// <summary>RFC 3339, as Docker writes it.</summary>
    public string CreatedAt { get; set; } = "";
    public Dictionary<string, string>? Status { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
    public string Scope { get; set; } = "local";
    public Dictionary<string, string> Options { get; set; } = new();
    /// <summary>Only where asked for (`system df -v`); -1 when not computed.</summary>
    public VolumeUsageData? UsageData { get; set; }
}

public sealed class VolumeUsageData
{
    /// <summary>Bytes used by the volume's data (-1: not known).</summary>
    public long Size { get; set; } = -1;
    /// <summary>Containers that reference the volume (-1: not known).</summary>
    public long RefCount { get; set; } = -1;
}

/// <summary>GET /volumes.</summary>
public sealed class VolumeListResponse
{
    public List<Volume> Volumes { get; set; } = new();
    public List<string> Warnings { get; set; } = new();
}

/// <summary>POST /volumes/prune.</summary>
public sealed class VolumePruneResponse
{
    public List<string> VolumesDeleted { get; set; } = new();
    public long SpaceReclaimed { get; set; }
}

/// <summary>One entry of HostConfig.Mounts (`--mount`), as Docker's API has it.</summary>
public sealed class Mount
{
    /// <summary>bind | volume | tmpfs</summary>
    public string Type { get; set; } = "volume";
    /// <summary>Host path (bind), volume name (volume; empty for an anonymous one), unused for tmpfs.</summary>
    public string? Source { get; set; }
    public string Target { get; set; } = "";
    public bool ReadOnly { get; set; }
    public MountBindOptions? BindOptions { get; set; }
    public MountVolumeOptions? VolumeOptions { get; set; }
    public MountTmpfsOptions? TmpfsOptions { get; set; }
}

public sealed class MountBindOptions
{
    /// <summary>private | rprivate | shared | rshared | slave | rslave</summary>
    public string? Propagation { get; set; }
    /// <summary>Create a missing source (Docker's `-v` behaviour; `--mount` refuses one).</summary>
    public bool CreateMountpoint { get; set; }
}

public sealed class MountVolumeOptions
{
    /// <summary>Do not populate an empty volume from the image.</summary>
    public bool NoCopy { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public MountDriverConfig? DriverConfig { get; set; }
}

public sealed class MountDriverConfig
{
    public string? Name { get; set; }
    public Dictionary<string, string>? Options { get; set; }
}

public sealed class MountTmpfsOptions
{
    /// <summary>0: the kernel's default (half of RAM).</summary>
    public long SizeBytes { get; set; }
    /// <summary>Permission bits of the tmpfs root (0: 1777).</summary>
    public int Mode { get; set; }
}
