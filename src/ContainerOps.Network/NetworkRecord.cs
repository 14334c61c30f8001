using System.Text.Json;
using System.Text.Json.Serialization;
using ContainerOps.Core.IO;

namespace ContainerOps.Network;

/// <summary>One network as the daemon keeps it in ROOT/networks/&lt;id&gt;.json (written atomically), including its
/// address assignments: what is in the file is handed out, so a restarted daemon never gives an address twice.</summary>
public sealed class NetworkRecord
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTimeOffset Created { get; set; }
    public string Driver { get; set; } = "bridge";
    /// <summary>The kernel name of the network's Linux bridge (≤ 15 characters).</summary>
    public string BridgeName { get; set; } = "";
    public string Subnet { get; set; } = "";
    public string Gateway { get; set; } = "";
    /// <summary>The sub-range containers' addresses come from (default: the whole subnet).</summary>
    public string? IPRange { get; set; }
    public int Mtu { get; set; }
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    /// <summary>The default `bridge` network: no name resolution between containers (as Docker's), and never removed.</summary>
    public bool IsDefault { get; set; }
    /// <summary>`bridge`, `host` or `none`: made by the daemon, never removed.</summary>
    [JsonIgnore] public bool Predefined => IsDefault || Driver is NetworkManager.HostDriver or NetworkManager.NullDriver;
    public Dictionary<string, string> Labels { get; set; } = new();
    public Dictionary<string, string> Options { get; set; } = new();
    /// <summary>By container id.</summary>
    public Dictionary<string, EndpointRecord> Endpoints { get; set; } = new();

    public static NetworkRecord? Load(string path)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(path), NetworkJsonContext.Default.NetworkRecord); }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    public void Save(string dir, bool durable = true) =>
        AtomicFile.WriteAllBytes(Path.Combine(dir, Id + ".json"), JsonSerializer.SerializeToUtf8Bytes(this, NetworkJsonContext.Default.NetworkRecord), durable);
}

/// <summary>A container's place on a network: its address (reserved from create to removal) and, while it runs,
/// its host-side veth and published ports.</summary>
public sealed class EndpointRecord
{
    public string ContainerId { get; set; } = "";
    public string ContainerName { get; set; } = "";
    public string EndpointId { get; set; } = "";
    public string IPv4Address { get; set; } = "";
    public string MacAddress { get; set; } = "";
    /// <summary>Given by the user (`--ip`): kept as it is, never chosen again for another container.</summary>
    public bool FixedAddress { get; set; }
    public List<string> Aliases { get; set; } = new();
    /// <summary>The interface name inside the container (eth0, eth1…).</summary>
    public string Interface { get; set; } = "eth0";
    /// <summary>The host end of the veth pair while the container runs; null when detached.</summary>
    public string? HostVeth { get; set; }
    /// <summary>Published ports, DNATed to this endpoint's address while it is attached.</summary>
    public List<PortMapping> Ports { get; set; } = new();
    /// <summary>The container's own name servers (`--dns`): the network's DNS server passes its other queries to them.</summary>
    public List<string> Dns { get; set; } = new();
    /// <summary>Whether this endpoint carries the container's default route.</summary>
    public bool DefaultRoute { get; set; }
}

/// <summary>One published port: HostIp:HostPort/Protocol → the container's ContainerPort.</summary>
public sealed class PortMapping
{
    public string Protocol { get; set; } = "tcp";
    /// <summary>Empty for every host address.</summary>
    public string HostIp { get; set; } = "";
    public int HostPort { get; set; }
    public int ContainerPort { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NetworkRecord))]
internal sealed partial class NetworkJsonContext : JsonSerializerContext
{
}
