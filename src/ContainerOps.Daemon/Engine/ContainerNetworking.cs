using System.Net;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Network;
using ContainerOps.Network.Ipam;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Where containers meet bridge networks: which networks a create asks for, the addresses reserved for it, its
/// /etc/hosts and /etc/resolv.conf, attaching between the runtime's create and start, detaching when it exits,
/// releasing when it is removed, and NetworkSettings for inspect. The network engine itself is ContainerOps.Network.
/// </summary>
public sealed class ContainerNetworking : IDisposable
{
    public NetworkManager Networks { get; }

    public ContainerNetworking(DaemonOptions options, ILogger<ContainerNetworking> log, Core.Events.EventBus? events = null)
    {
        Networks = new NetworkManager(new NetworkOptions
        {
            StateDirectory = Path.Combine(options.Root, "networks"),
            DefaultBridgeName = options.BridgeName,
            DefaultSubnet = options.BridgeSubnet,
            NftTable = options.NftTable,
            DnsUpstreams = options.DnsUpstreams.Count > 0 ? options.DnsUpstreams.Select(ParseUpstream).ToList() : null,
            DnsPort = options.DnsPort,
            BridgePrefix = options.BridgePrefix,
            Events = events,
        }, log);
    }

    private static IPEndPoint ParseUpstream(string s) =>
        IPEndPoint.TryParse(s, out var ep) ? (ep.Port == 0 ? new IPEndPoint(ep.Address, 53) : ep) : throw new ArgumentException($"--dns-upstream {s} is not an address[:port]");

    /// <summary>Whether the network mode is a bridge network (the default one, or a user-defined one by name or id).</summary>
    public static bool IsBridge(HostConfig hc) =>
        hc.NetworkMode is not ("none" or "host" or "") && !hc.NetworkMode.StartsWith("container:", StringComparison.Ordinal);

    /// <summary>Validates the request's network settings and reserves the container's addresses (rolled back by
    /// <see cref="Release"/> when the create fails later).</summary>
    public void Reserve(ContainerRecord r, ContainerCreateRequest request)
    {
        var hc = r.HostConfig;
        foreach (var h in hc.ExtraHosts)
            if (h.Split(':', 2) is not [{ Length: > 0 }, { Length: > 0 } ip] || (ip != "host-gateway" && !IPAddress.TryParse(ip, out _)))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidExtraHost", $"extra host '{h}' is not name:ip (or name:host-gateway)", r.Name, "HostConfig.ExtraHosts");
        foreach (var d in hc.Dns)
            if (!IPAddress.TryParse(d, out _))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidDns", $"DNS server '{d}' is not an IP address", r.Name, "HostConfig.Dns");
        if (!IsBridge(hc))
        {
            if (hc.PortBindings is { Count: > 0 } || hc.PublishAllPorts)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "PortsNeedBridge",
                    $"ports can only be published on a bridge network, not with network mode '{hc.NetworkMode}'", r.Name, "HostConfig.PortBindings");
            return;
        }
        if (hc.Runtime is { Length: > 0 } rt && rt != "builtin")
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "NetworkNeedsBuiltinRuntime",
                $"bridge networks need the built-in runtime in this release (not {rt})", r.Name, "HostConfig.Runtime");
        _ = PortRequests(r); // validates the bindings now
        var primary = Networks.ResolveName(hc.NetworkMode);
        var wanted = new List<(string Network, EndpointSettings? Settings)>();
        var configs = request.NetworkingConfig?.EndpointsConfig ?? new();
        EndpointSettings? SettingsFor(string name) =>
            configs.FirstOrDefault(kv => kv.Key == name || kv.Key == hc.NetworkMode || (name == NetworkManager.DefaultNetworkName && kv.Key == "default")).Value;
        wanted.Add((primary, SettingsFor(primary)));
        foreach (var (key, settings) in configs)
        {
            var name = Networks.ResolveName(key);
            if (wanted.All(w => w.Network != name)) wanted.Add((name, settings));
        }
        try
        {
            foreach (var (network, settings) in wanted)
            {
                RefuseAliasOnDefaultNetwork(network, settings, r.Name);
                Networks.Reserve(r.Id, r.Name, network, settings, hc.Dns);
            }
        }
        catch
        {
            Networks.Release(r.Id);
            throw;
        }
    }

    /// <summary>As Docker: the default network has no names of its own, so no aliases either.</summary>
    public static void RefuseAliasOnDefaultNetwork(string network, EndpointSettings? settings, string target)
    {
        if (network == NetworkManager.DefaultNetworkName && settings?.Aliases is { Count: > 0 })
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "AliasOnDefaultNetwork",
                "network-scoped alias is supported only for containers in user defined networks", target, "Aliases");
    }

    /// <summary>`network connect`: the container's address on the network, attached at once when it runs.</summary>
    public void Connect(string network, ContainerDetails c, EndpointSettings? settings)
    {
        var name = c.Name.TrimStart('/');
        if (!IsBridge(c.HostConfig))
            throw new ContainerOpsException(ErrorKind.Conflict, "NotOnBridgeNetwork",
                $"container {name} uses network mode {c.HostConfig.NetworkMode} and cannot join a bridge network", name);
        network = Networks.ResolveName(network);
        RefuseAliasOnDefaultNetwork(network, settings, name);
        Networks.Reserve(c.Id, name, network, settings, c.HostConfig.Dns);
        if (c.State.Running && c.State.Pid > 0)
        {
            try { Networks.Attach(c.Id, c.State.Pid, [], network); }
            catch { Networks.Release(c.Id, network); throw; }
        }
    }

    /// <summary>`network disconnect`; with <paramref name="force"/> as Docker's: the endpoint goes whatever its state,
    /// even when its container is gone (then it is found by the name or id given), and one already gone is no error.</summary>
    /// <param name="containerId">The id of the container named by the request (throws NotFound).</param>
    public void Disconnect(string network, string container, bool force, Func<string, string> containerId)
    {
        if (!force)
        {
            Networks.Release(containerId(container), network);
            return;
        }
        string id;
        try { id = containerId(container); }
        catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { id = container; }
        Networks.ForceRelease(network, id);
    }

    public void Release(string containerId) => Networks.Release(containerId);

    /// <summary>The endpoint ids of the pod sandboxes that exist (set by <see cref="PodSandboxes"/>): their addresses
    /// are kept at recovery, as a running container's are.</summary>
    public Func<IEnumerable<string>>? SandboxEndpoints { get; set; }

    public IReadOnlyDictionary<string, bool> WithSandboxes(IReadOnlyDictionary<string, bool> containers)
    {
        if (SandboxEndpoints?.Invoke().ToList() is not { Count: > 0 } sandboxes) return containers;
        var all = new Dictionary<string, bool>(containers);
        foreach (var id in sandboxes) all[id] = true;
        return all;
    }

    public bool HasEndpoints(string containerId) => Networks.EndpointsOf(containerId).Count > 0;

    /// <summary>Connects a created container (its init waits on the exec fifo) to its networks and publishes its ports.</summary>
    public void Attach(ContainerRecord r, int pid) => Networks.Attach(r.Id, pid, PortRequests(r));

    public void Detach(string containerId) => Networks.Detach(containerId);

    /// <summary>The ports to publish: HostConfig.PortBindings, and with PublishAllPorts every exposed port on a free host port.</summary>
    public static List<PortRequest> PortRequests(ContainerRecord r)
    {
        var list = new List<PortRequest>();
        var hc = r.HostConfig;
        foreach (var (key, bindings) in hc.PortBindings ?? new())
        {
            var (port, proto) = ParsePortKey(key, r.Name);
            foreach (var b in bindings is { Count: > 0 } ? bindings : [new PortBinding()])
            {
                var hostIp = b.HostIp is "" or "0.0.0.0" ? "" : b.HostIp;
                if (hostIp.Length > 0 && (!IPAddress.TryParse(hostIp, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork))
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidPortBinding", $"host address '{b.HostIp}' of port {key} is not an IPv4 address", r.Name, "HostConfig.PortBindings");
                var hostPort = 0;
                if (b.HostPort is { Length: > 0 } hp && (!int.TryParse(hp, out hostPort) || hostPort is < 1 or > 65535))
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidPortBinding", $"host port '{hp}' of port {key} is not a port number", r.Name, "HostConfig.PortBindings");
                list.Add(new PortRequest(proto, hostIp, hostPort, port));
            }
        }
        if (hc.PublishAllPorts)
            foreach (var key in (IEnumerable<string>?)r.Config.ExposedPorts?.Keys ?? [])
            {
                var (port, proto) = ParsePortKey(key, r.Name);
                if (!list.Any(p => p.ContainerPort == port && p.Protocol == proto)) list.Add(new PortRequest(proto, "", 0, port));
            }
        return list;
    }

    /// <summary>"80", "80/tcp", "53/udp".</summary>
    public static (int Port, string Protocol) ParsePortKey(string key, string? target)
    {
        var parts = key.Split('/');
        var proto = parts.Length > 1 ? parts[1].ToLowerInvariant() : "tcp";
        if (parts.Length > 2 || !int.TryParse(parts[0], out var port) || port is < 1 or > 65535 || proto is not ("tcp" or "udp"))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidPort", $"port '{key}' is not PORT[/tcp|udp]", target, "HostConfig.PortBindings");
        return (port, proto);
    }

    /// <summary>/etc/hosts and /etc/resolv.conf of a container on bridge networks (null for other modes).</summary>
    public (string Hosts, string ResolvConf)? Files(ContainerRecord r)
    {
        if (!IsBridge(r.HostConfig)) return null;
        var endpoints = Networks.EndpointsOf(r.Id);
        var primary = endpoints.FirstOrDefault(e => e.Endpoint.DefaultRoute) ?? endpoints.FirstOrDefault();
        var hosts = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        foreach (var e in endpoints) hosts.Append($"{e.Endpoint.IPv4Address}\t{r.Config.Hostname}\n");
        foreach (var h in r.HostConfig.ExtraHosts)
        {
            var (name, ip) = (h.Split(':', 2)[0], h.Split(':', 2)[1]);
            hosts.Append($"{(ip == "host-gateway" ? primary?.Gateway ?? "127.0.0.1" : ip)}\t{name}\n");
        }
        var resolv = new StringBuilder();
        var hostResolv = File.Exists("/etc/resolv.conf") ? File.ReadAllLines("/etc/resolv.conf") : [];
        var hc = r.HostConfig;
        // On a user network the network's server answers, for the names of its containers, and passes the rest on to
        // the container's --dns servers (or the host's); elsewhere --dns servers are the container's own.
        if (primary is { IsDefault: false }) resolv.Append($"nameserver {primary.Gateway}\n");
        else if (hc.Dns.Count > 0) foreach (var d in hc.Dns) resolv.Append($"nameserver {d}\n");
        else
            // The default network has no name server of ours: the host's, except those on its loopback.
            foreach (var line in hostResolv.Where(l => l.StartsWith("nameserver", StringComparison.Ordinal)))
                if (line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is [_, var a, ..] && IPAddress.TryParse(a, out var ip) && !IPAddress.IsLoopback(ip))
                    resolv.Append(line.Trim()).Append('\n');
        var search = hc.DnsSearch.Count > 0 ? hc.DnsSearch
            : hostResolv.Where(l => l.StartsWith("search ", StringComparison.Ordinal)).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)).ToList();
        if (search.Count > 0) resolv.Append("search ").AppendJoin(' ', search).Append('\n');
        var options = hc.DnsOptions.Count > 0 ? hc.DnsOptions
            : hostResolv.Where(l => l.StartsWith("options ", StringComparison.Ordinal)).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)).ToList();
        if (options.Count > 0) resolv.Append("options ").AppendJoin(' ', options).Append('\n');
        return (hosts.ToString(), resolv.ToString());
    }

    /// <summary>Container inspect's NetworkSettings: addresses per network and the published ports.</summary>
    public NetworkSettings Settings(ContainerRecord r)
    {
        var s = new NetworkSettings();
        foreach (var e in Networks.EndpointsOf(r.Id))
        {
            s.Networks[e.NetworkName] = new EndpointSettings
            {
                NetworkID = e.NetworkId, EndpointID = e.Endpoint.EndpointId, Gateway = e.Gateway, IPAddress = e.Endpoint.IPv4Address,
                IPPrefixLen = e.PrefixLength, MacAddress = e.Endpoint.MacAddress, Aliases = e.Endpoint.Aliases.Count > 0 ? e.Endpoint.Aliases : null,
                IPAMConfig = e.Endpoint.FixedAddress ? new EndpointIPAMConfig { IPv4Address = e.Endpoint.IPv4Address } : null,
                DNSNames = e.IsDefault ? null : NetworkManager.DnsNames(e.Endpoint).ToList(),
            };
            if (e.Endpoint.DefaultRoute)
                (s.IPAddress, s.Gateway, s.IPPrefixLen, s.MacAddress) = (e.Endpoint.IPv4Address, e.Gateway, e.PrefixLength, e.Endpoint.MacAddress);
            foreach (var p in e.Endpoint.Ports)
            {
                var key = $"{p.ContainerPort}/{p.Protocol}";
                if (!s.Ports.TryGetValue(key, out var list) || list is null) s.Ports[key] = list = new();
                list.Add(new PortBinding { HostIp = p.HostIp.Length > 0 ? p.HostIp : "0.0.0.0", HostPort = p.HostPort.ToString() });
            }
        }
        foreach (var key in (IEnumerable<string>?)r.Config.ExposedPorts?.Keys ?? [])
            s.Ports.TryAdd(key.Contains('/') ? key : key + "/tcp", null);
        return s;
    }

    public void Dispose() => Networks.Dispose();
}
