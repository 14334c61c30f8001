namespace ContainerOps.Compose.Model;

/// <summary>A loaded, merged and validated compose application: what `config` prints and `up` creates.
/// Relative paths are already resolved against the project directory.</summary>
public sealed class ComposeProject
{
    /// <summary>The project name: `-p`, COMPOSE_PROJECT_NAME, the file's `name:` or the folder's name, normalised.</summary>
    public string Name { get; set; } = "";
    public string WorkingDirectory { get; set; } = "";
    /// <summary>The files read, in order (absolute paths).</summary>
    public List<string> ConfigFiles { get; set; } = new();
    /// <summary>Services by name, in name order. Services of inactive profiles are left out.</summary>
    public SortedDictionary<string, ServiceConfig> Services { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Services whose profiles are not enabled: known (so `depends_on` on them is not an error) but not created.</summary>
    public SortedDictionary<string, ServiceConfig> DisabledServices { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, NetworkConfig> Networks { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, VolumeConfig> Volumes { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, FileObjectConfig> Secrets { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, FileObjectConfig> Configs { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Problems that do not stop the project (keys accepted but not applied).</summary>
    public List<string> Warnings { get; set; } = new();
}

/// <summary>A top-level `networks:` entry.</summary>
public sealed class NetworkConfig
{
    /// <summary>The name the network has on the daemon: `name:`, or `&lt;project&gt;_&lt;key&gt;`.</summary>
    public string? Name { get; set; }
    public string? Driver { get; set; }
    public bool External { get; set; }
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool EnableIpv6 { get; set; }
    public List<IpamPool> IpamConfig { get; set; } = new();
    public SortedDictionary<string, string> DriverOpts { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
}

public sealed class IpamPool
{
    public string? Subnet { get; set; }
    public string? IpRange { get; set; }
    public string? Gateway { get; set; }
}

/// <summary>A top-level `volumes:` entry.</summary>
public sealed class VolumeConfig
{
    public string? Name { get; set; }
    public string? Driver { get; set; }
    public bool External { get; set; }
    public SortedDictionary<string, string> DriverOpts { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>A top-level `secrets:` or `configs:` entry (file-based, or from the environment or inline content).</summary>
public sealed class FileObjectConfig
{
    public string? Name { get; set; }
    /// <summary>Absolute path of the file.</summary>
    public string? File { get; set; }
    /// <summary>The name of an environment variable whose value is the content.</summary>
    public string? Environment { get; set; }
    /// <summary>Inline content (configs only).</summary>
    public string? Content { get; set; }
    public bool External { get; set; }
}
