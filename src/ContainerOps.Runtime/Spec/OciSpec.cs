using System.Text.Json.Serialization;
using ContainerOps.Core.Security;

namespace ContainerOps.Runtime.Spec;

// The OCI runtime spec's config.json (the subset the runtimes here act on; unknown fields are kept in
// ExtensionData so a bundle written by another tool survives a read-modify-write).

public sealed class OciSpec
{
    public string OciVersion { get; set; } = "1.0.2";
    public OciProcess? Process { get; set; }
    public OciRoot? Root { get; set; }
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public List<OciMount> Mounts { get; set; } = new();
    public OciLinux? Linux { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
    public OciHooks? Hooks { get; set; }
    [JsonExtensionData] public Dictionary<string, object>? Extra { get; set; }
}

/// <summary>The spec's lifecycle hooks, by phase.</summary>
public sealed class OciHooks
{
    public List<OciHook>? Prestart { get; set; }
    public List<OciHook>? CreateRuntime { get; set; }
    public List<OciHook>? CreateContainer { get; set; }
    public List<OciHook>? StartContainer { get; set; }
    public List<OciHook>? Poststart { get; set; }
    public List<OciHook>? Poststop { get; set; }
}

public sealed class OciHook
{
    public string Path { get; set; } = "";
    public List<string>? Args { get; set; }
    public List<string>? Env { get; set; }
    public int? Timeout { get; set; }
}

public sealed class OciProcess
{
    public bool Terminal { get; set; }
    public OciUser User { get; set; } = new();
    public List<string> Args { get; set; } = new();
    public List<string> Env { get; set; } = new();
    public string Cwd { get; set; } = "/";
    public OciCapabilities? Capabilities { get; set; }
    public List<OciRlimit>? Rlimits { get; set; }
    public bool NoNewPrivileges { get; set; }
    public int? OomScoreAdj { get; set; }
}

public sealed class OciUser
{
    public uint Uid { get; set; }
    public uint Gid { get; set; }
    public uint? Umask { get; set; }
    public List<uint>? AdditionalGids { get; set; }
}

public sealed class OciCapabilities
{
    public List<string>? Bounding { get; set; }
    public List<string>? Effective { get; set; }
    public List<string>? Inheritable { get; set; }
    public List<string>? Permitted { get; set; }
    public List<string>? Ambient { get; set; }
}

public sealed class OciRlimit
{
    public string Type { get; set; } = "";
    public ulong Hard { get; set; }
    public ulong Soft { get; set; }
}

public sealed class OciRoot
{
    public string Path { get; set; } = "rootfs";
    public bool Readonly { get; set; }
}

public sealed class OciMount
{
    public string Destination { get; set; } = "";
    public string? Type { get; set; }
    public string? Source { get; set; }
    public List<string>? Options { get; set; }
}

public sealed class OciLinux
{
    public List<OciNamespace> Namespaces { get; set; } = new();
    /// <summary>The new user namespace's uid and gid ranges (container id → host id, size).</summary>
    public List<OciIdMapping>? UidMappings { get; set; }
    public List<OciIdMapping>? GidMappings { get; set; }
    public List<OciDevice>? Devices { get; set; }
    public string? CgroupsPath { get; set; }
    public OciResources? Resources { get; set; }
    public Dictionary<string, string>? Sysctl { get; set; }
    public List<string>? MaskedPaths { get; set; }
    public List<string>? ReadonlyPaths { get; set; }
    public string? RootfsPropagation { get; set; }
    /// <summary>The system call filter (OCI form: no archMap, includes or excludes; see <see cref="SeccompProfile.Resolve"/>).</summary>
    public SeccompProfile? Seccomp { get; set; }
    [JsonExtensionData] public Dictionary<string, object>? Extra { get; set; }
}

public sealed class OciNamespace
{
    public string Type { get; set; } = "";
    public string? Path { get; set; }
}

public sealed class OciIdMapping
{
    [JsonPropertyName("containerID")] public uint ContainerId { get; set; }
    [JsonPropertyName("hostID")] public uint HostId { get; set; }
    public uint Size { get; set; }
}

public sealed class OciDevice
{
    public string Path { get; set; } = "";
    public string Type { get; set; } = "c";
    public long Major { get; set; }
    public long Minor { get; set; }
    public uint? FileMode { get; set; }
    public uint? Uid { get; set; }
    public uint? Gid { get; set; }
}

public sealed class OciResources
{
    public List<OciDeviceRule>? Devices { get; set; }
    public OciMemory? Memory { get; set; }
    public OciCpu? Cpu { get; set; }
    public OciPids? Pids { get; set; }
    [JsonPropertyName("blockIO")] public OciBlockIo? BlockIo { get; set; }
    public List<OciHugepageLimit>? HugepageLimits { get; set; }
    public OciNetwork? Network { get; set; }
    /// <summary>cgroup v2 files and their values, written as they are (v2 hosts only).</summary>
    public Dictionary<string, string>? Unified { get; set; }
}

public sealed class OciBlockIo
{
    public ushort? Weight { get; set; }
    public ushort? LeafWeight { get; set; }
    public List<OciWeightDevice>? WeightDevice { get; set; }
    public List<OciThrottleDevice>? ThrottleReadBpsDevice { get; set; }
    public List<OciThrottleDevice>? ThrottleWriteBpsDevice { get; set; }
    [JsonPropertyName("throttleReadIOPSDevice")] public List<OciThrottleDevice>? ThrottleReadIopsDevice { get; set; }
    [JsonPropertyName("throttleWriteIOPSDevice")] public List<OciThrottleDevice>? ThrottleWriteIopsDevice { get; set; }
}

public sealed class OciWeightDevice
{
    public long Major { get; set; }
    public long Minor { get; set; }
    public ushort? Weight { get; set; }
    public ushort? LeafWeight { get; set; }
}

public sealed class OciThrottleDevice
{
    public long Major { get; set; }
    public long Minor { get; set; }
    public ulong Rate { get; set; }
}

public sealed class OciHugepageLimit
{
    public string PageSize { get; set; } = "";
    public ulong Limit { get; set; }
}

public sealed class OciNetwork
{
    [JsonPropertyName("classID")] public uint? ClassId { get; set; }
    public List<OciInterfacePriority>? Priorities { get; set; }
}

public sealed class OciInterfacePriority
{
    public string Name { get; set; } = "";
    public uint Priority { get; set; }
}

public sealed class OciDeviceRule
{
    public bool Allow { get; set; }
    public string? Type { get; set; }
    public long? Major { get; set; }
    public long? Minor { get; set; }
    public string? Access { get; set; }
}

public sealed class OciMemory
{
    public long? Limit { get; set; }
    public long? Reservation { get; set; }
    public long? Swap { get; set; }
    public ulong? Swappiness { get; set; }
    [JsonPropertyName("disableOOMKiller")] public bool? DisableOomKiller { get; set; }
    /// <summary>The kernel memory limit, which Linux no longer enforces (it is refused, not dropped).</summary>
    public long? Kernel { get; set; }
    [JsonPropertyName("kernelTCP")] public long? KernelTcp { get; set; }
}

public sealed class OciCpu
{
    public ulong? Shares { get; set; }
    public long? Quota { get; set; }
    public ulong? Period { get; set; }
    public string? Cpus { get; set; }
    public string? Mems { get; set; }
}

public sealed class OciPids
{
    public long Limit { get; set; }
}

/// <summary>State as `runtime state` prints it (OCI runtime spec "state").</summary>
public sealed class OciState
{
    public string OciVersion { get; set; } = "1.0.2";
    public string Id { get; set; } = "";
    public string Status { get; set; } = "";
    public int Pid { get; set; }
    public string Bundle { get; set; } = "";
    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>As `state` prints it. Written directly rather than through the serializer, which the runtime command
    /// line does not load at all (see OciSpecReader).</summary>
    public string ToJson() => System.Text.Encoding.UTF8.GetString(IndentedJson.Object(json => WriteMembers(json, withStatusAndPid: true)));

    /// <summary>The state's members; without status and pid for the shim's setup hooks, whose shim adds them
    /// (PlanWriter's hook_state line).</summary>
    public void WriteMembers(System.Text.Json.Utf8JsonWriter json, bool withStatusAndPid)
    {
        json.WriteString("ociVersion", OciVersion);
        json.WriteString("id", Id);
        if (withStatusAndPid)
        {
            json.WriteString("status", Status);
            json.WriteNumber("pid", Pid);
        }
        json.WriteString("bundle", Bundle);
        if (Annotations is null) return;
        json.WriteStartObject("annotations");
        foreach (var (key, value) in Annotations) json.WriteString(key, value);
        json.WriteEndObject();
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(OciSpec))]
[JsonSerializable(typeof(OciProcess))]
[JsonSerializable(typeof(System.Text.Json.JsonElement))]
public sealed partial class OciJsonContext : JsonSerializerContext
{
}
