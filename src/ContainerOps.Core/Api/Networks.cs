namespace ContainerOps.Core.Api;

// Networks in the Docker Engine API's shapes (`/networks`, NetworkSettings in container inspect).

/// <summary>POST /networks/create.</summary>
public sealed class NetworkCreateRequest
{
    public string Name { get; set; } = "";
    /// <summary>bridge (the only driver for now).</summary>
    public string? Driver { get; set; }
    /// <summary>No traffic leaves the network (no masquerade, no forwarding to other interfaces).</summary>
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool EnableIPv6 { get; set; }
    public IPAM? IPAM { get; set; }
    /// <summary>com.docker.network.bridge.name (the Linux bridge's name), com.docker.network.driver.mtu.</summary>
    public Dictionary<string, string> Options { get; set; } = new();
    public Dictionary<string, string> Labels { get; set; } = new();
}

public sealed class NetworkCreateResponse
{
    public string Id { get; set; } = "";
    public string Warning { get; set; } = "";
}

public sealed class IPAM
{
    public string Driver { get; set; } = "default";
    public List<IPAMConfig> Config { get; set; } = new();
    public Dictionary<string, string> Options { get; set; } = new();
}

public sealed class IPAMConfig
{
    public string? Subnet { get; set; }
    public string? IPRange { get; set; }
    public string? Gateway { get; set; }
}

/// <summary>GET /networks, GET /networks/{id}.</summary>
public sealed class NetworkResource
{
    public string Name { get; set; } = "";
    public string Id { get; set; } = "";
    public DateTimeOffset Created { get; set; }
    public string Scope { get; set; } = "local";
    public string Driver { get; set; } = "bridge";
    public bool EnableIPv6 { get; set; }
    public IPAM IPAM { get; set; } = new();
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool Ingress { get; set; }
    /// <summary>By container id.</summary>
    public Dictionary<string, NetworkContainer> Containers { get; set; } = new();
    public Dictionary<string, string> Options { get; set; } = new();
    public Dictionary<string, string> Labels { get; set; } = new();
}

public sealed class NetworkContainer
{
    public string Name { get; set; } = "";
    public string EndpointID { get; set; } = "";
    public string MacAddress { get; set; } = "";
    /// <summary>a.b.c.d/len</summary>
    public string IPv4Address { get; set; } = "";
    public string IPv6Address { get; set; } = "";
}

/// <summary>POST /networks/{id}/connect.</summary>
public sealed class NetworkConnectRequest
{
    public string Container { get; set; } = "";
    public EndpointSettings? EndpointConfig { get; set; }
}

/// <summary>POST /networks/{id}/disconnect.</summary>
public sealed class NetworkDisconnectRequest
{
    public string Container { get; set; } = "";
    public bool Force { get; set; }
}

public sealed class NetworkPruneResponse
{
    public List<string> NetworksDeleted { get; set; } = new();
}

/// <summary>A container's settings on one network (request: IPAMConfig and Aliases; inspect: all of it).</summary>
public sealed class EndpointSettings
{
    public EndpointIPAMConfig? IPAMConfig { get; set; }
    public List<string>? Aliases { get; set; }
    public string NetworkID { get; set; } = "";
    public string EndpointID { get; set; } = "";
    public string Gateway { get; set; } = "";
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string MacAddress { get; set; } = "";
    /// <summary>Names the container answers to on this network (name, short id, aliases).</summary>
    public List<string>? DNSNames { get; set; }
}

public sealed class EndpointIPAMConfig
{
    public string? IPv4Address { get; set; }
}

/// <summary>Create request's per-network settings, by network name.</summary>
public sealed class NetworkingConfig
{
    public Dictionary<string, EndpointSettings> EndpointsConfig { get; set; } = new();
}

public sealed class PortBinding
{
    public string HostIp { get; set; } = "";
    public string HostPort { get; set; } = "";
}

/// <summary>Container inspect's NetworkSettings.</summary>
public sealed class NetworkSettings
{
    /// <summary>"80/tcp" → bindings (null for an exposed port that is not published).</summary>
    public Dictionary<string, List<PortBinding>?> Ports { get; set; } = new();
    public Dictionary<string, EndpointSettings> Networks { get; set; } = new();
    public string IPAddress { get; set; } = "";
    public string Gateway { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string MacAddress { get; set; } = "";
}
