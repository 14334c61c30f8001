using System.Net;
using ContainerOps.Core.Events;

namespace ContainerOps.Network;

public sealed class NetworkOptions
{
    /// <summary>Where network records live (ROOT/networks).</summary>
    public required string StateDirectory { get; init; }
    /// <summary>Kernel name of the default `bridge` network's bridge.</summary>
    public string DefaultBridgeName { get; init; } = "containerops0";
    /// <summary>Subnet of the default network when it is first made (null: the first free one of the pool).</summary>
    public string? DefaultSubnet { get; init; }
    /// <summary>The daemon's nftables table (inet family).</summary>
    public string NftTable { get; init; } = "containerops";
    /// <summary>Where names unknown to a network's DNS server go (null: the host's name servers, see
    /// <see cref="Dns.ContainerResolution.HostUpstreams"/>).</summary>
    public IReadOnlyList<IPEndPoint>? DnsUpstreams { get; init; }
    /// <summary>The DNS port on gateways (53; tests may pick another).</summary>
    public int DnsPort { get; init; } = 53;
    /// <summary>Prefix of user networks' bridge names, followed by the network id cut to 15 characters in all.</summary>
    public string BridgePrefix { get; init; } = "co-";
    /// <summary>The host's resolver configuration, which containers' resolv.conf and the DNS servers' upstreams derive from.</summary>
    public string ResolvConfPath { get; init; } = "/etc/resolv.conf";
    /// <summary>systemd-resolved's list of its real upstreams, read where /etc/resolv.conf names only its stub.</summary>
    public string SystemdResolvConfPath { get; init; } = "/run/systemd/resolve/resolv.conf";
    /// <summary>The host's hosts file, which containers with host networking get, with their --add-host entries.</summary>
    public string HostsPath { get; init; } = "/etc/hosts";
    /// <summary>Where network events go (the daemon's bus); none when the engine is used alone.</summary>
    public EventBus? Events { get; init; }
}
