using System.Net;
using System.Text;
using ContainerOps.Core.Api;

namespace ContainerOps.Network.Dns;

/// <summary>
/// A container's /etc/hosts and /etc/resolv.conf for its network mode, as Docker writes them, and the upstreams of the
/// user networks' DNS servers; all from the host's files named in <see cref="NetworkOptions"/>. A `container:` mode
/// container has no files of its own: it shares those of the container it joins.
/// </summary>
public sealed class ContainerResolution(NetworkOptions options)
{
    private const string Localhost = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

    /// <summary>The files of a container in network mode host, none, or on bridge networks (<paramref name="endpoints"/>).</summary>
    /// <param name="hostGateway">What `host-gateway` in --add-host stands for off bridge networks: the default network's
    /// gateway, as dockerd's default host-gateway-ip is its bridge's address.</param>
    public (string Hosts, string ResolvConf) Files(HostConfig hc, string hostname, IReadOnlyList<ContainerEndpoint> endpoints, string? hostGateway)
    {
        if (hc.NetworkMode == "host")
        {
            var hostHosts = File.Exists(options.HostsPath) ? File.ReadAllText(options.HostsPath) : Localhost;
            if (hostHosts.Length > 0 && !hostHosts.EndsWith('\n')) hostHosts += "\n";
            // The host's resolver as it is (its loopback servers work in its namespace), unless the container names its own.
            var custom = hc.Dns.Count > 0 || hc.DnsSearch.Count > 0 || hc.DnsOptions.Count > 0;
            var resolv = custom ? ResolvConf.Load(options.ResolvConfPath).Override(hc.Dns, hc.DnsSearch, hc.DnsOptions).Render()
                : File.Exists(options.ResolvConfPath) ? File.ReadAllText(options.ResolvConfPath) : "";
            return (hostHosts + ExtraHosts(hc, hostGateway ?? "127.0.0.1"), resolv);
        }
        var primary = endpoints.FirstOrDefault(e => e.Endpoint.DefaultRoute) ?? endpoints.FirstOrDefault();
        var hosts = new StringBuilder(Localhost);
        if (endpoints.Count == 0) hosts.Append($"127.0.1.1\t{hostname}\n");
        foreach (var e in endpoints) hosts.Append($"{e.Endpoint.IPv4Address}\t{hostname}\n");
        hosts.Append(ExtraHosts(hc, primary?.Gateway ?? hostGateway ?? "127.0.0.1"));
        return (hosts.ToString(), ContainerResolvConf(hc, primary).Render());
    }

    private static string ExtraHosts(HostConfig hc, string hostGateway)
    {
        var text = new StringBuilder();
        foreach (var h in hc.ExtraHosts)
        {
            var (name, ip) = (h.Split(':', 2)[0], h.Split(':', 2)[1]);
            text.Append($"{(ip == "host-gateway" ? hostGateway : ip)}\t{name}\n");
        }
        return text.ToString();
    }

    private ResolvConf ContainerResolvConf(HostConfig hc, ContainerEndpoint? primary)
    {
        var source = ContainerSource();
        // On a user network the network's server answers, for the names of its containers, and passes the rest on to
        // the container's --dns servers (or the host's).
        if (primary is { IsDefault: false }) return new ResolvConf([primary.Gateway], source.Search, source.Options).Override([], hc.DnsSearch, hc.DnsOptions);
        // Elsewhere (the default network, none) --dns servers are the container's own, else the host's but those on its
        // loopback, which is not the container's; and when that leaves none, Docker's fallback, Google's public DNS.
        var reachable = source.Nameservers.Where(n => !ResolvConf.IsLoopback(n)).ToList();
        return new ResolvConf(reachable.Count > 0 ? reachable : ResolvConf.FallbackNameservers, source.Search, source.Options)
            .Override(hc.Dns, hc.DnsSearch, hc.DnsOptions);
    }

    /// <summary>The host's resolv.conf as a container outside the host's namespace starts from: /etc/resolv.conf, or,
    /// when that names loopback servers only (systemd-resolved's 127.0.0.53 stub), systemd-resolved's list of the real
    /// upstreams, as dockerd reads it.</summary>
    public ResolvConf ContainerSource()
    {
        var etc = ResolvConf.Load(options.ResolvConfPath);
        if (etc.Nameservers.Count > 0 && etc.Nameservers.All(ResolvConf.IsLoopback) && File.Exists(options.SystemdResolvConfPath))
            return ResolvConf.Load(options.SystemdResolvConfPath);
        return etc;
    }

    /// <summary>Where user networks' DNS servers send the names they do not know: the host's name servers, and in place
    /// of systemd-resolved's stub alone its real upstreams, as Docker's resolver does. The servers run in the host's
    /// namespace, so other loopback servers (a local dnsmasq) are kept.</summary>
    public List<IPEndPoint> HostUpstreams()
    {
        var etc = ResolvConf.Load(options.ResolvConfPath);
        var source = etc.NamesOnlyTheSystemdStub && ResolvConf.Load(options.SystemdResolvConfPath) is { Nameservers.Count: > 0 } real ? real : etc;
        return source.Nameservers.Select(n => new IPEndPoint(IPAddress.Parse(n), 53)).ToList();
    }
}
