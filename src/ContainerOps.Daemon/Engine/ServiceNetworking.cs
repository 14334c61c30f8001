using System.Net;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Network.Dns;
using ContainerOps.Network.Ipam;
using ContainerOps.Network.Services;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// This node's part of services: the nftables service proxy (table `NFT-TABLE_svc`; its rules live in the kernel, so
/// they outlast the daemon and are rebuilt from the API at start) and the cluster DNS on the pod network's name server.
/// Both run as controllers on the control plane's informers; ClusterFirst pods get the kube-dns service's address.
/// </summary>
public static class ServiceNetworking
{
    public static IReadOnlyList<Func<ControllerContext, IController>> NodeControllers(DaemonOptions options, ContainerNetworking networking)
    {
        var dns = new PodNetworkDns(options, networking.Networks);
        var proxy = new ServiceProxy(options.NftTable + "_svc", hairpinSource: dns.Server.Address.ToString());
        options.Node.Agent.ClusterDns = options.ServiceNetwork.DnsServiceIp.ToString();
        return [_ => new ServiceProxyController(proxy), _ => new ClusterDnsController(dns, options.Node.Agent.ClusterDomain)];
    }

    /// <summary>The pod network's name server: its gateway (the subnet's first address, which is also the source of
    /// hairpin connections) on the daemon's DNS port.</summary>
    private sealed class PodNetworkDns(DaemonOptions options, Network.NetworkManager networks) : IClusterDns
    {
        public IPEndPoint Server { get; } = new(Ipv4Subnet.ToAddress(Ipv4Subnet.Parse(options.Node.PodSubnet, "--pod-subnet").First + 1), options.DnsPort);

        public void Publish(DnsZone zone) => networks.SetZone(options.Node.PodNetworkName, zone);
    }
}
