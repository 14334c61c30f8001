using System.Net;
using System.Net.Sockets;
using ContainerOps.Core.Api;
using ContainerOps.Network.Dns;
using ContainerOps.Network.Ipam;
using ContainerOps.Network.Netlink;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Network;

/// <summary>A port to publish: HostPort 0 takes a free one from the ephemeral range.</summary>
public sealed record PortRequest(string Protocol, string HostIp, int HostPort, int ContainerPort);

/// <summary>A container's endpoint on one network, for inspect, /etc/hosts and /etc/resolv.conf.</summary>
public sealed record ContainerEndpoint(string NetworkId, string NetworkName, bool IsDefault, bool Internal, string Gateway, int PrefixLength,
    EndpointRecord Endpoint);

public sealed partial class NetworkManager
{
    private const int EphemeralFirst = 32768, EphemeralLast = 60999;

    /// <summary>Reserves an address for a container on a network (at create, or connect): recorded before it is used.</summary>
    public ContainerEndpoint Reserve(string containerId, string containerName, string network, EndpointSettings? settings, IReadOnlyList<string>? dns = null)
    {
        lock (_lock)
        {
            var n = FindLocked(network is "default" ? DefaultNetworkName : network);
            if (n.Driver is HostDriver or NullDriver)
                throw new ContainerOpsException(ErrorKind.Conflict, "NetworkModeOnly",
                    $"container {containerName} cannot be connected to network {n.Name}: {n.Name} is a network mode, chosen when a container is created (--network {n.Name})", containerName);
            if (n.Endpoints.ContainsKey(containerId))
                throw new ContainerOpsException(ErrorKind.Conflict, "AlreadyConnected", $"container {containerName} is already connected to network {n.Name}", containerName);
            var subnet = Ipv4Subnet.Parse(n.Subnet, "Subnet");
            uint address;
            var fixedAddress = settings?.IPAMConfig?.IPv4Address is { Length: > 0 };
            if (fixedAddress)
            {
                if (n.IsDefault)
                    throw Invalid("FixedAddressOnDefaultNetwork", "a fixed address (--ip) is only possible on user-defined networks", containerName, "NetworkingConfig");
                IPAddress a;
                try { a = Ipv4Subnet.ParseAddress(settings!.IPAMConfig!.IPv4Address!, "IPv4Address"); }
                catch (ArgumentException ae) { throw Invalid("InvalidAddress", ae.Message.Split(" (Parameter")[0], containerName, "NetworkingConfig"); }
                address = Ipv4Subnet.ToUInt(a);
                if (!subnet.Contains(address) || address == subnet.First || address == subnet.Last || a.ToString() == n.Gateway)
                    throw Invalid("InvalidAddress", $"address {a} is not a free host address of network {n.Name} ({n.Subnet})", containerName, "NetworkingConfig");
                if (n.Endpoints.Values.FirstOrDefault(e => e.IPv4Address == a.ToString()) is { } holder)
                    throw new ContainerOpsException(ErrorKind.Conflict, "AddressInUse", $"address {a} is already used by container {holder.ContainerName} on network {n.Name}", containerName, "NetworkingConfig");
            }
            else address = NextFree(n, subnet, containerName);
            var others = EndpointsLocked(containerId).Select(e => e.Endpoint.Interface).ToHashSet();
            var ifname = Enumerable.Range(0, 64).Select(i => "eth" + i).First(i => !others.Contains(i));
            var ip = Ipv4Subnet.ToAddress(address);
            var e = new EndpointRecord
            {
                ContainerId = containerId, ContainerName = containerName, EndpointId = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToLowerInvariant(),
                IPv4Address = ip.ToString(), MacAddress = MacFor(ip), FixedAddress = fixedAddress, Interface = ifname,
                Aliases = settings?.Aliases?.Where(a => a.Length > 0).Distinct().ToList() ?? new(), DefaultRoute = others.Count == 0,
                Dns = dns?.ToList() ?? new(),
            };
            n.Endpoints[containerId] = e;
            Save(n);
            return new ContainerEndpoint(n.Id, n.Name, n.IsDefault, n.Internal, n.Gateway, subnet.PrefixLength, e);
        }
    }

    /// <summary>The lowest free address of the network's range, skipping network, broadcast and gateway addresses.</summary>
    private static uint NextFree(NetworkRecord n, Ipv4Subnet subnet, string containerName)
    {
        var range = n.IPRange is { } r ? Ipv4Subnet.Parse(r, "IPRange") : subnet;
        var used = n.Endpoints.Values.Select(e => Ipv4Subnet.ToUInt(IPAddress.Parse(e.IPv4Address))).ToHashSet();
        used.Add(Ipv4Subnet.ToUInt(IPAddress.Parse(n.Gateway)));
        for (var a = range.First; a <= range.Last && a >= range.First; a++)
        {
            if (a == subnet.First || a == subnet.Last || used.Contains(a)) continue;
            return a;
        }
        throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NoFreeAddress", $"network {n.Name} has no free address left in {range}", containerName);
    }

    /// <summary>02:42 followed by the IPv4 address: stable across restarts, so neighbours' ARP entries stay right.</summary>
    private static string MacFor(IPAddress ip) => string.Join(':', MacBytes(ip).Select(x => x.ToString("x2")));

    private static byte[] MacBytes(IPAddress ip) => [0x02, 0x42, .. ip.GetAddressBytes()];

    /// <summary>Frees the container's addresses (on every network, or one), detaching first where attached.</summary>
    public void Release(string containerId, string? network = null)
    {
        lock (_lock)
        {
            foreach (var n in NetworksOf(containerId, network))
            {
                var e = n.Endpoints[containerId];
                if (e.HostVeth is not null) DetachLocked(n, e);
                n.Endpoints.Remove(containerId);
                Save(n);
                if (_dns.ContainsKey(n.Id)) UpdateNamesLocked(n);
            }
        }
    }

    /// <summary>`network disconnect --force`: frees the endpoint on <paramref name="network"/> of the container with that
    /// id (or id prefix, or name: its container may be gone) whatever its state; a veth or ports that cannot be removed
    /// are left to the kernel and the next rebuild. Nothing to free is no error.</summary>
    public void ForceRelease(string network, string container)
    {
        lock (_lock)
        {
            var n = FindLocked(network);
            var name = container.TrimStart('/');
            var stale = n.Endpoints.Values.Where(e => e.ContainerId == container || e.ContainerName == name).ToList();
            if (stale.Count == 0 && container.Length > 0)
                stale = n.Endpoints.Values.Where(e => e.ContainerId.StartsWith(container, StringComparison.Ordinal)).Take(2).ToList() is [var one] ? [one] : [];
            var failed = false;
            foreach (var e in stale)
            {
                try { if (e.HostVeth is not null) DetachLocked(n, e); }
                catch (Exception ex) when (ex is InvalidOperationException or NetlinkException or IOException)
                {
                    _log.LogWarning("forced disconnect of {Name} from {Network}: {Message}", e.ContainerName, n.Name, ex.Message);
                    failed = true;
                }
                n.Endpoints.Remove(e.ContainerId);
            }
            if (stale.Count == 0) return;
            Save(n);
            if (_dns.ContainsKey(n.Id)) UpdateNamesLocked(n);
            // Ports left in the maps would take the freed address's next holder's traffic: the table is written anew
            // from the records, which no longer have them.
            if (failed && _tableWritten)
                try { RebuildLocked(); }
                catch (InvalidOperationException ex) { _log.LogWarning("rebuilding table {Table}: {Message}", _nft.Table, ex.Message); }
        }
    }

    private List<NetworkRecord> NetworksOf(string containerId, string? network)
    {
        if (network is not null)
        {
            var n = FindLocked(network);
            if (!n.Endpoints.ContainsKey(containerId))
                throw new ContainerOpsException(ErrorKind.NotFound, "NotConnected", $"container {containerId[..Math.Min(12, containerId.Length)]} is not connected to network {n.Name}", containerId);
            return [n];
        }
        return _networks.Values.Where(n => n.Endpoints.ContainsKey(containerId)).ToList();
    }

    public List<ContainerEndpoint> EndpointsOf(string containerId)
    {
        lock (_lock) return EndpointsLocked(containerId);
    }

    private List<ContainerEndpoint> EndpointsLocked(string containerId) =>
        _networks.Values.Where(n => n.Endpoints.ContainsKey(containerId))
            .Select(n => new ContainerEndpoint(n.Id, n.Name, n.IsDefault, n.Internal, n.Gateway, Ipv4Subnet.Parse(n.Subnet, "Subnet").PrefixLength, n.Endpoints[containerId]))
            .OrderBy(e => e.Endpoint.Interface.Length).ThenBy(e => e.Endpoint.Interface, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Connects the container whose init is <paramref name="pid"/> (created, not yet started) to its networks: per
    /// endpoint a veth pair whose peer is created inside the container's namespace, its address, the default route
    /// and loopback; then its names in the network's DNS and its published ports in one nftables transaction.
    /// </summary>
    public void Attach(string containerId, int pid, IReadOnlyList<PortRequest> ports, string? onlyNetwork = null) =>
        AttachNamespace(containerId, $"/proc/{pid}/ns/net", ports, onlyNetwork);

    /// <summary>As <see cref="Attach"/>, for a network namespace named by a file (/proc/PID/ns/net, or a bind-mounted
    /// namespace such as a pod sandbox's, which no process holds).</summary>
    public void AttachNamespace(string containerId, string netnsPath, IReadOnlyList<PortRequest> ports, string? onlyNetwork = null)
    {
        lock (_lock)
        {
            var targets = NetworksOf(containerId, onlyNetwork)
                .OrderBy(n => n.Endpoints[containerId].Interface.Length).ThenBy(n => n.Endpoints[containerId].Interface, StringComparer.Ordinal).ToList();
            if (targets.Count == 0) return;
            var nsFd = Native.OpenNamespace(netnsPath);
            var done = new List<(NetworkRecord, EndpointRecord)>();
            try
            {
                using var inner = RtNetlink.OpenIn(nsFd);
                foreach (var n in targets)
                {
                    var e = n.Endpoints[containerId];
                    if (!_materialized.Contains(n.Id) || Host.GetLink(n.BridgeName) is null) MaterializeLocked(n, rebuild: true);
                    var bridge = Host.GetLink(n.BridgeName)!;
                    var veth = VethName(containerId, n.Id);
                    Host.DeleteLink(veth); // a leftover of a run the daemon did not see end
                    var mac = e.MacAddress.Split(':').Select(x => Convert.ToByte(x, 16)).ToArray();
                    Host.CreateVeth(veth, bridge.Index, n.Mtu, e.Interface, nsFd, mac);
                    e.HostVeth = veth;
                    // A connection DNATed back to its own sender (a pod through its service, a container through its
                    // published port) is bridged back out of the port it came in by: the bridge allows that only in
                    // hairpin mode.
                    Host.SetHairpin(Host.GetLink(veth)?.Index ?? throw new InvalidOperationException($"{veth} did not appear"));
                    done.Add((n, e));
                    var link = inner.GetLink(e.Interface) ?? throw new InvalidOperationException($"{e.Interface} did not appear in the container");
                    inner.AddAddress(link.Index, IPAddress.Parse(e.IPv4Address), Ipv4Subnet.Parse(n.Subnet, "Subnet").PrefixLength);
                    inner.SetUp(link.Index);
                    if (e.DefaultRoute) inner.AddDefaultRoute(IPAddress.Parse(n.Gateway), link.Index);
                }
                if (inner.GetLink("lo") is { } lo && (lo.Flags & RtNetlink.IFF_UP) == 0) inner.SetUp(lo.Index);

                var primary = done.Select(d => d.Item2).FirstOrDefault(e => e.DefaultRoute) ?? done[0].Item2;
                if (ports.Count > 0 && onlyNetwork is null)
                {
                    primary.Ports = AllocatePorts(ports, primary.ContainerName);
                    _nft.Apply(_nft.RenderPorts(primary.IPv4Address, primary.Ports, add: true));
                }
                foreach (var (n, _) in done)
                {
                    Save(n, durable: false);
                    if (_dns.ContainsKey(n.Id)) UpdateNamesLocked(n);
                    Emit("connect", n, containerId);
                }
            }
            catch (Exception ex)
            {
                foreach (var (n, e) in done)
                {
                    TryDeleteLink(e.HostVeth!);
                    e.HostVeth = null;
                    e.Ports.Clear();
                    Save(n, durable: false);
                }
                if (ex is ContainerOpsException) throw;
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NetworkAttachFailed",
                    $"container {containerId[..Math.Min(12, containerId.Length)]}: cannot connect it to its networks: {ex.Message}", containerId, inner: ex);
            }
            finally { Native.close(nsFd); }
        }
    }

    /// <summary>Host-side veth name: "veth", 7 characters of the container id, 4 of the network id (15 in all).</summary>
    public static string VethName(string containerId, string networkId) => "veth" + containerId[..7] + networkId[..4];

    private List<PortMapping> AllocatePorts(IReadOnlyList<PortRequest> requests, string containerName)
    {
        var inUse = _networks.Values.SelectMany(n => n.Endpoints.Values).Where(e => e.HostVeth is not null).SelectMany(e => e.Ports).ToList();
        bool Clashes(string proto, string hostIp, int port) =>
            inUse.Any(p => p.Protocol == proto && p.HostPort == port && (p.HostIp.Length == 0 || hostIp.Length == 0 || p.HostIp == hostIp));
        var result = new List<PortMapping>();
        var next = EphemeralFirst + Random.Shared.Next(EphemeralLast - EphemeralFirst);
        foreach (var r in requests)
        {
            var port = r.HostPort;
            if (port == 0)
            {
                for (var tries = 0; ; tries++)
                {
                    if (tries > EphemeralLast - EphemeralFirst)
                        throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NoFreePort", "no free host port is left in the ephemeral range", containerName);
                    var candidate = next;
                    next = next >= EphemeralLast ? EphemeralFirst : next + 1;
                    if (!Clashes(r.Protocol, r.HostIp, candidate) && HostPortFree(r.Protocol, r.HostIp, candidate)) { port = candidate; break; }
                }
            }
            else if (Clashes(r.Protocol, r.HostIp, port))
                throw new ContainerOpsException(ErrorKind.Conflict, "PortAllocated",
                    $"cannot publish {(r.HostIp.Length > 0 ? r.HostIp + ":" : "")}{port}/{r.Protocol}: the port is already allocated", containerName, "HostConfig.PortBindings");
            var m = new PortMapping { Protocol = r.Protocol, HostIp = r.HostIp, HostPort = port, ContainerPort = r.ContainerPort };
            result.Add(m);
            inUse.Add(m);
        }
        return result;
    }

    /// <summary>Whether nothing on the host listens on the port (a bind that succeeds).</summary>
    private static bool HostPortFree(string protocol, string hostIp, int port)
    {
        try
        {
            using var s = protocol == "udp"
                ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
                : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(hostIp.Length > 0 ? IPAddress.Parse(hostIp) : IPAddress.Any, port));
            return true;
        }
        catch (SocketException) { return false; }
    }

    /// <summary>Disconnects a stopped (or stopping) container: its host-side veths go (and with them their peers),
    /// its names leave the DNS, its published ports the maps. Its addresses stay reserved until removal.</summary>
    public void Detach(string containerId, string? network = null)
    {
        lock (_lock)
        {
            foreach (var n in NetworksOf(containerId, network))
            {
                var e = n.Endpoints[containerId];
                if (e.HostVeth is null) continue;
                DetachLocked(n, e);
                Save(n, durable: false);
                if (_dns.ContainsKey(n.Id)) UpdateNamesLocked(n);
            }
        }
    }

    private void DetachLocked(NetworkRecord n, EndpointRecord e)
    {
        if (e.Ports.Count > 0)
        {
            try { _nft.Apply(_nft.RenderPorts(e.IPv4Address, e.Ports, add: false)); }
            catch (InvalidOperationException ex)
            {
                _log.LogWarning("removing published ports of {Name}: {Message}; rebuilding the table", e.ContainerName, ex.Message);
                e.Ports.Clear();
                e.HostVeth = null;
                RebuildLocked();
            }
            e.Ports.Clear();
        }
        // The pair goes in the background (LinkReaper says why); a container whose namespace is gone already took
        // it with it.
        if (e.HostVeth is not null && Host.GetLink(e.HostVeth) is { } link) Reaper.Delete(link.Index);
        e.HostVeth = null;
        Emit("disconnect", n, e.ContainerId);
    }

    /// <summary>At daemon start: veths on this daemon's bridges that no endpoint holds (a daemon killed before its
    /// background deletions ran, or before it wrote a removal down) are deleted.</summary>
    private void DeleteStrayVeths()
    {
        var links = Host.Links();
        var bridges = _networks.Values.Select(n => n.BridgeName).ToHashSet(StringComparer.Ordinal);
        var bridgeIndexes = links.Where(l => bridges.Contains(l.Name)).Select(l => l.Index).ToHashSet();
        var held = _networks.Values.SelectMany(n => n.Endpoints.Values).Select(e => e.HostVeth).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var l in links)
            if (l.Name.StartsWith("veth", StringComparison.Ordinal) && bridgeIndexes.Contains(l.Master) && !held.Contains(l.Name))
                TryDeleteLink(l.Name);
    }

    /// <summary>A renamed container answers to its new name.</summary>
    public void Rename(string containerId, string newName)
    {
        lock (_lock)
        {
            foreach (var n in NetworksOf(containerId, null))
            {
                n.Endpoints[containerId].ContainerName = newName;
                Save(n);
                if (_dns.ContainsKey(n.Id)) UpdateNamesLocked(n);
            }
        }
    }

    /// <summary>The names of a network's attached containers: name, short id, aliases.</summary>
    private void UpdateNamesLocked(NetworkRecord n)
    {
        if (!_dns.TryGetValue(n.Id, out var dns)) return;
        var names = new Dictionary<string, List<IPAddress>>(StringComparer.Ordinal);
        foreach (var e in n.Endpoints.Values.Where(e => e.HostVeth is not null))
        {
            var ip = IPAddress.Parse(e.IPv4Address);
            foreach (var name in DnsNames(e))
            {
                if (!names.TryGetValue(name.ToLowerInvariant(), out var list)) names[name.ToLowerInvariant()] = list = new();
                list.Add(ip);
            }
        }
        dns.SetNames(names.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray()));
    }

    public static IEnumerable<string> DnsNames(EndpointRecord e) =>
        new[] { e.ContainerName, e.ContainerId[..Math.Min(12, e.ContainerId.Length)] }.Concat(e.Aliases).Where(x => x.Length > 0).Distinct();

    private readonly Dictionary<string, DnsZone> _zones = new(StringComparer.Ordinal);

    /// <summary>Names the DNS server of network <paramref name="networkName"/> answers with authority (the cluster
    /// domain, on the pod network), from now on and whenever that server starts again.</summary>
    public void SetZone(string networkName, DnsZone zone)
    {
        lock (_lock)
        {
            _zones[networkName] = zone;
            foreach (var n in _networks.Values.Where(n => n.Name == networkName))
                if (_dns.TryGetValue(n.Id, out var dns)) dns.Zone = zone;
        }
    }

    /// <summary>The names the DNS server of a network answers for now (tests, diagnostics).</summary>
    public IReadOnlyCollection<string> ResolvableNames(string network)
    {
        lock (_lock) return _dns.TryGetValue(FindLocked(network).Id, out var d) ? d.Names : [];
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var d in _dns.Values) d.Dispose();
            _dns.Clear();
            _reaper?.Dispose();
            _reaper = null;
            _host?.Dispose();
            _host = null;
        }
    }
}
