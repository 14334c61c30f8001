using System.Net;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Network;
using ContainerOps.Network.Ipam;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Where containers meet networks: which networks a create asks for, the addresses reserved for it, its /etc/hostname,
/// /etc/hosts and /etc/resolv.conf in every network mode, attaching between the runtime's create and start, detaching
/// when it exits, releasing when it is removed, connect and disconnect, and NetworkSettings for inspect. The network
/// engine itself is ContainerOps.Network.
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
        hc.NetworkMode is not ("none" or "host" or "") && JoinedContainer(hc) is null;

    /// <summary>The container whose network a `container:NAME` mode joins; null in other modes.</summary>
    public static string? JoinedContainer(HostConfig hc) =>
        hc.NetworkMode.StartsWith("container:", StringComparison.Ordinal) ? hc.NetworkMode["container:".Length..] : null;

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
        RefuseJoinConflicts(request, hc, r.Name);
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

    /// <summary>Docker's refusals for `container:NAME`: the joined container's network, host name, /etc/hosts and
    /// /etc/resolv.conf are used as they are, so options that would change them conflict instead of being dropped.</summary>
    public static void RefuseJoinConflicts(ContainerCreateRequest request, HostConfig hc, string target)
    {
        if (JoinedContainer(hc) is not { } joined) return;
        if (joined.Length == 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidNetworkMode",
                "invalid network mode: invalid container format container:<name|id>", target, "HostConfig.NetworkMode");
        (bool Given, string Option, string Field, string Why)[] conflicts =
        [
            (request.Hostname is { Length: > 0 }, "--hostname", "Hostname", $"the container takes the host name of {joined}"),
            (hc.ExtraHosts.Count > 0, "--add-host", "HostConfig.ExtraHosts", $"the container shares /etc/hosts with {joined}"),
            (hc.Dns.Count > 0, "--dns", "HostConfig.Dns", $"the container shares /etc/resolv.conf with {joined}"),
            (hc.DnsSearch.Count > 0, "--dns-search", "HostConfig.DnsSearch", $"the container shares /etc/resolv.conf with {joined}"),
            (hc.DnsOptions.Count > 0, "--dns-option", "HostConfig.DnsOptions", $"the container shares /etc/resolv.conf with {joined}"),
            (request.NetworkingConfig?.EndpointsConfig?.Values.Any(e => e.MacAddress is { Length: > 0 }) == true, "--mac-address", "NetworkingConfig",
                $"the container has the network interfaces of {joined}"),
            (hc.PortBindings is { Count: > 0 } || hc.PublishAllPorts, "--publish", "HostConfig.PortBindings",
                $"the container is in the network namespace of {joined}: publish the ports there"),
            (request.ExposedPorts is { Count: > 0 }, "--expose", "ExposedPorts", $"the container is in the network namespace of {joined}: expose the ports there"),
        ];
        foreach (var c in conflicts)
            if (c.Given)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "ConflictingOptions",
                    $"conflicting options: {c.Option} and the network mode container:{joined}: {c.Why}", target, c.Field);
    }

    /// <summary>For `container:NAME`, which must run: the network namespace to join, and the folder whose hostname, hosts
    /// and resolv.conf the container shares, bind-mounting the same files as Docker does (those of the container at the
    /// end of a chain of such joins, the one that has them). The container takes the joined one's host name too.</summary>
    public static (string NetworkNamespace, string FilesDir) Join(ContainerRecord r, Func<string, (ContainerRecord Record, string Dir)> find)
    {
        var (target, dir) = find(JoinedContainer(r.HostConfig)!);
        if (!target.State.Running)
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"cannot join the network of {target.Name}: it is not running", target.Name, "HostConfig.NetworkMode");
        var (owner, filesDir) = (target, dir);
        var seen = new HashSet<string> { r.Id };
        while (JoinedContainer(owner.HostConfig) is { } next && seen.Add(owner.Id)) (owner, filesDir) = find(next);
        r.Config.Hostname = owner.HostConfig.NetworkMode == "host" ? Environment.MachineName : owner.Config.Hostname;
        r.Config.Domainname = owner.Config.Domainname;
        return ($"/proc/{target.State.Pid}/ns/net", filesDir);
    }

    /// <summary>Writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf into its folder (again at each
    /// start, when something changed). Not for `container:` mode, which shares another's (<see cref="Join"/>).</summary>
    public void WriteFiles(ContainerRecord r, string dir)
    {
        var (hosts, resolv) = Files(r);
        SmallFile.WriteIfChanged(Path.Combine(dir, "hostname"), (r.HostConfig.NetworkMode == "host" ? Environment.MachineName : r.Config.Hostname) + "\n");
        SmallFile.WriteIfChanged(Path.Combine(dir, "hosts"), hosts);
        SmallFile.WriteIfChanged(Path.Combine(dir, "resolv.conf"), resolv);
    }

    /// <summary>/etc/hosts and /etc/resolv.conf of a container in network mode host or none, or on bridge networks.</summary>
    public (string Hosts, string ResolvConf) Files(ContainerRecord r) =>
        Networks.Resolution.Files(r.HostConfig, r.Config.Hostname, IsBridge(r.HostConfig) ? Networks.EndpointsOf(r.Id) : [], Networks.DefaultGateway);

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
