using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ContainerOps.Core.Api;
using ContainerOps.Core.Events;
using ContainerOps.Network.Dns;
using ContainerOps.Network.Ipam;
using ContainerOps.Network.Nat;
using ContainerOps.Network.Netlink;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Network;

/// <summary>
/// Bridge networks of one daemon: records (with their address assignments) on disk, a Linux bridge per network, veth
/// pairs into containers' network namespaces, the nftables table and one DNS server per user-defined network.
/// Every change is made under one lock; records are written before what they describe is used, so after a crash
/// the records are the truth the kernel state is rebuilt from.
/// </summary>
public sealed partial class NetworkManager : IDisposable
{
    public const string DefaultNetworkName = "bridge";
    public const string HostNetworkName = "host", NoneNetworkName = "none", HostDriver = "host", NullDriver = "null";
    private readonly NetworkOptions _options;
    private readonly ILogger _log;
    private readonly object _lock = new();
    private readonly Dictionary<string, NetworkRecord> _networks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DnsResponder> _dns = new(StringComparer.Ordinal);
    private readonly Nftables _nft;
    private readonly HashSet<string> _materialized = new(StringComparer.Ordinal);
    private bool _tableWritten;
    private RtNetlink? _host;
    private LinkReaper? _reaper;

    public NetworkManager(NetworkOptions options, ILogger? log = null)
    {
        _options = options;
        _log = log ?? NullLogger.Instance;
        _nft = new Nftables(options.NftTable);
        Resolution = new ContainerResolution(options);
        Directory.CreateDirectory(options.StateDirectory);
        foreach (var file in Directory.GetFiles(options.StateDirectory, "*.json"))
        {
            if (NetworkRecord.Load(file) is { } r) _networks[r.Id] = r;
            else _log.LogError("network record {File} cannot be read; it is ignored", file);
        }
    }

    private RtNetlink Host => _host ??= RtNetlink.Open();
    private LinkReaper Reaper => _reaper ??= new LinkReaper(_log);

    /// <summary>Waits until the links of detached endpoints, deleted in the background, are gone (shutdown, tests);
    /// false when <paramref name="timeout"/> passed first.</summary>
    public bool WaitForRemovedLinks(TimeSpan timeout) => _reaper?.WaitIdle(timeout) ?? true;

    public string NftTable => _options.NftTable;

    /// <summary>Containers' /etc/hosts and /etc/resolv.conf, from the host's files.</summary>
    public ContainerResolution Resolution { get; }

    /// <summary>The default network's gateway (what `host-gateway` stands for off bridge networks), once it exists.</summary>
    public string? DefaultGateway
    {
        get { lock (_lock) return _networks.Values.FirstOrDefault(n => n.IsDefault)?.Gateway; }
    }

    /// <summary>Makes the default network's record when there is none, then brings the kernel in line with the records:
    /// user networks' bridges and DNS servers, and the nftables table, in one transaction. <paramref name="containers"/>
    /// tells which containers exist and which run: addresses of containers that no longer exist are freed, endpoints of
    /// stopped ones are detached.</summary>
    public void Recover(IReadOnlyDictionary<string, bool> containers)
    {
        lock (_lock)
        {
            if (!_networks.Values.Any(n => n.IsDefault)) CreateDefaultLocked();
            foreach (var n in _networks.Values)
            {
                var changed = false;
                foreach (var (id, e) in n.Endpoints.ToList())
                {
                    if (!containers.TryGetValue(id, out var running)) { n.Endpoints.Remove(id); changed = true; }
                    else if (!running && e.HostVeth is not null) { TryDeleteLink(e.HostVeth); e.HostVeth = null; changed = true; }
                }
                if (changed) Save(n);
            }
            DeleteStrayVeths();
            foreach (var n in _networks.Values)
            {
                var needed = !n.IsDefault || n.Endpoints.Values.Any(e => e.HostVeth is not null) || Host.GetLink(n.BridgeName) is not null;
                if (!needed) continue;
                try { MaterializeLocked(n, rebuild: false); }
                catch (Exception e) { _log.LogError("network {Name}: cannot set up bridge {Bridge}: {Message}", n.Name, n.BridgeName, e.Message); }
            }
            try { if (_materialized.Count > 0 || _nft.Exists()) RebuildLocked(); }
            catch (InvalidOperationException e) { _log.LogError("cannot write the nftables table {Table}: {Message}", _nft.Table, e.Message); }
        }
    }

    // ================================================================== network objects

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NamePattern();

    public NetworkCreateResponse Create(NetworkCreateRequest request)
    {
        if (string.IsNullOrEmpty(request.Name) || !NamePattern().IsMatch(request.Name) || request.Name.Length > 128)
            throw Invalid("InvalidNetworkName", $"network name '{request.Name}' is invalid: use letters, digits, '_', '.', '-', starting with a letter or digit", request.Name, "Name");
        if (request.Name is HostNetworkName or NoneNetworkName)
            throw new ContainerOpsException(ErrorKind.Conflict, "PredefinedNetwork", $"operation is not permitted on predefined {request.Name} network", request.Name, "Name");
        if (request.Driver is { Length: > 0 } d && d != "bridge")
            throw Invalid("UnsupportedNetworkDriver", $"network driver '{d}' is not supported (bridge)", request.Name, "Driver");
        if (request.EnableIPv6)
            throw Invalid("IPv6NotSupported", "IPv6 networks are not supported yet", request.Name, "EnableIPv6");
        if (request.IPAM is { } ipam && ipam.Driver is { Length: > 0 } drv && drv != "default")
            throw Invalid("UnsupportedIpamDriver", $"IPAM driver '{drv}' is not supported (default)", request.Name, "IPAM.Driver");
        var configs = request.IPAM?.Config ?? new();
        if (configs.Count > 1)
            throw Invalid("TooManySubnets", "a network has one IPv4 subnet in this release", request.Name, "IPAM.Config");
        var config = configs.FirstOrDefault() ?? new IPAMConfig();
        lock (_lock)
        {
            if (_networks.Values.Any(n => n.Name == request.Name))
                throw new ContainerOpsException(ErrorKind.Conflict, "NetworkNameInUse", $"network with name {request.Name} already exists", request.Name, "Name");
            var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
            var record = new NetworkRecord
            {
                Id = id, Name = request.Name, Created = DateTimeOffset.UtcNow, Internal = request.Internal, Attachable = request.Attachable,
                Labels = new(request.Labels), Options = new(request.Options),
                BridgeName = request.Options.TryGetValue("com.docker.network.bridge.name", out var bn) ? bn : _options.BridgePrefix + id[..Math.Max(1, 15 - _options.BridgePrefix.Length)],
            };
            if (record.BridgeName.Length is 0 or > 15 || record.BridgeName.Contains('/') || record.BridgeName.Contains('"') || record.BridgeName.Any(char.IsWhiteSpace))
                throw Invalid("InvalidBridgeName", $"bridge name '{record.BridgeName}' is invalid: 1 to 15 characters, no '/', quotes or spaces", request.Name, "Options");
            if (_networks.Values.Any(n => n.BridgeName == record.BridgeName))
                throw new ContainerOpsException(ErrorKind.Conflict, "BridgeNameInUse", $"bridge {record.BridgeName} is used by another network", request.Name, "Options");
            ConfigureAddressing(record, config);
            record.Mtu = request.Options.TryGetValue("com.docker.network.driver.mtu", out var mtuText)
                ? (int.TryParse(mtuText, out var mtu) && mtu is >= 68 and <= 65535 ? mtu : throw Invalid("InvalidMtu", $"MTU '{mtuText}' is not a number from 68 to 65535", request.Name, "Options"))
                : HostMtu();
            Save(record);
            _networks[id] = record;
            try { MaterializeLocked(record, rebuild: true); }
            catch (Exception e)
            {
                RemoveLocked(record);
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NetworkSetupFailed", $"network {record.Name}: {e.Message}", record.Name, inner: e);
            }
            _log.LogInformation("created network {Name} ({Id}) on {Bridge}, subnet {Subnet}", record.Name, id[..12], record.BridgeName, record.Subnet);
            Emit("create", record);
            return new NetworkCreateResponse { Id = id };
        }
    }

    private void CreateDefaultLocked()
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        var record = new NetworkRecord
        {
            Id = id, Name = DefaultNetworkName, Created = DateTimeOffset.UtcNow, IsDefault = true, BridgeName = _options.DefaultBridgeName,
            Options = new() { ["com.docker.network.bridge.default_bridge"] = "true", ["com.docker.network.bridge.name"] = _options.DefaultBridgeName },
        };
        ConfigureAddressing(record, new IPAMConfig { Subnet = _options.DefaultSubnet });
        record.Mtu = HostMtu();
        Save(record);
        _networks[id] = record;
    }

    /// <summary>Subnet (given, or the first free one of the pool), gateway (given, or the first address) and range.</summary>
    private void ConfigureAddressing(NetworkRecord record, IPAMConfig config)
    {
        Ipv4Subnet subnet;
        try
        {
            if (config.Subnet is { Length: > 0 } s)
            {
                subnet = Ipv4Subnet.Parse(s, "IPAM.Config.Subnet");
                if (subnet.PrefixLength > 30) throw new ArgumentException($"subnet {s} is too small (at most /30)", "IPAM.Config.Subnet");
                if (_networks.Values.FirstOrDefault(n => Ipv4Subnet.TryParse(n.Subnet, out var other) && other.Overlaps(subnet)) is { } clash)
                    throw new ContainerOpsException(ErrorKind.Conflict, "SubnetOverlaps", $"subnet {subnet} overlaps network {clash.Name} ({clash.Subnet})", record.Name, "IPAM.Config.Subnet");
            }
            else subnet = PickSubnet(record.Name);
            var gateway = config.Gateway is { Length: > 0 } g ? Ipv4Subnet.ParseAddress(g, "IPAM.Config.Gateway") : Ipv4Subnet.ToAddress(subnet.First + 1);
            var gw = Ipv4Subnet.ToUInt(gateway);
            if (!subnet.Contains(gw) || gw == subnet.First || gw == subnet.Last)
                throw new ArgumentException($"gateway {gateway} is not a host address of subnet {subnet}", "IPAM.Config.Gateway");
            if (config.IPRange is { Length: > 0 } r)
            {
                var range = Ipv4Subnet.Parse(r, "IPAM.Config.IPRange");
                if (!subnet.Contains(range)) throw new ArgumentException($"ip range {range} is not inside subnet {subnet}", "IPAM.Config.IPRange");
                record.IPRange = range.ToString();
            }
            record.Subnet = subnet.ToString();
            record.Gateway = gateway.ToString();
        }
        catch (ArgumentException e)
        {
            throw Invalid("InvalidIpamConfig", e.Message.Split(" (Parameter")[0], record.Name, e.ParamName);
        }
    }

    /// <summary>The first of 172.17-31.0.0/16, then 192.168.x.0/20, that overlaps neither a route of the host nor
    /// another network.</summary>
    private Ipv4Subnet PickSubnet(string name)
    {
        var taken = _networks.Values.Select(n => Ipv4Subnet.TryParse(n.Subnet, out var s) ? s : (Ipv4Subnet?)null).OfType<Ipv4Subnet>().ToList();
        foreach (var route in Host.Routes())
            if (route.PrefixLength > 0) taken.Add(new Ipv4Subnet(Ipv4Subnet.ToUInt(route.Destination), route.PrefixLength) is var rs ? rs with { Network = rs.First } : default);
        var candidates = Enumerable.Range(17, 15).Select(i => new Ipv4Subnet((172u << 24) | ((uint)i << 16), 16))
            .Concat(Enumerable.Range(0, 16).Select(i => new Ipv4Subnet((192u << 24) | (168u << 16) | ((uint)i << 12), 20)));
        foreach (var c in candidates)
            if (!taken.Any(t => t.Overlaps(c))) return c;
        throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NoFreeSubnet", "no free subnet is left in the default pools; give one with --subnet", name, "IPAM.Config.Subnet");
    }

    /// <summary>The MTU of the interface the host's default route leaves through (1500 when there is none).</summary>
    private int HostMtu()
    {
        try
        {
            var route = Host.Routes().Where(r => r.PrefixLength == 0 && r.OutputIndex > 0).FirstOrDefault();
            if (route is not null && Host.Links().FirstOrDefault(l => l.Index == route.OutputIndex) is { Mtu: > 0 } link) return link.Mtu;
        }
        catch (NetlinkException e) { _log.LogWarning("cannot read the default route's MTU: {Message}", e.Message); }
        return 1500;
    }

    /// <summary>The networks that pass Docker's list filters.</summary>
    public List<NetworkResource> List(IReadOnlyDictionary<string, List<string>>? filters)
    {
        lock (_lock)
        {
            var result = new List<NetworkResource>();
            foreach (var n in _networks.Values.Concat(PredefinedLocked()).OrderBy(n => n.Name, StringComparer.Ordinal))
            {
                if (filters is not null && !Matches(n, filters)) continue;
                result.Add(Resource(n));
            }
            return result;
        }
    }

    private static bool Matches(NetworkRecord n, IReadOnlyDictionary<string, List<string>> filters) =>
        DockerFilters.Pass(filters, n.Labels, (key, value) => key switch
            {
                "name" => n.Name.Contains(value, StringComparison.Ordinal),
                "id" => n.Id.StartsWith(value, StringComparison.Ordinal),
                "driver" => n.Driver == value,
                "type" => value == (n.Predefined ? "builtin" : "custom"),
                "dangling" => (value is "true" or "1") == (!n.Predefined && n.Endpoints.Count == 0),
                _ => throw Invalid("InvalidFilter", $"unknown filter '{key}' (name, id, driver, type, label, dangling)", key, "filters"),
            });

    public NetworkResource Inspect(string idOrName)
    {
        lock (_lock) return Resource(FindLocked(idOrName));
    }

    private static NetworkResource Resource(NetworkRecord n)
    {
        var prefix = Ipv4Subnet.TryParse(n.Subnet, out var s) ? s.PrefixLength : 0;
        return new NetworkResource
        {
            Name = n.Name, Id = n.Id, Created = n.Created, Driver = n.Driver, Internal = n.Internal, Attachable = n.Attachable,
            IPAM = new IPAM { Config = n.Subnet.Length > 0 ? [new IPAMConfig { Subnet = n.Subnet, Gateway = n.Gateway, IPRange = n.IPRange }] : [] },
            Containers = n.Endpoints.Values.ToDictionary(e => e.ContainerId, e => new NetworkContainer
            {
                Name = e.ContainerName, EndpointID = e.EndpointId, MacAddress = e.MacAddress, IPv4Address = $"{e.IPv4Address}/{prefix}",
            }),
            Options = n.BridgeName.Length > 0 ? new(n.Options) { ["com.docker.network.bridge.name"] = n.BridgeName, ["com.docker.network.driver.mtu"] = n.Mtu.ToString() } : new(n.Options),
            Labels = new(n.Labels),
        };
    }

    private NetworkRecord FindLocked(string idOrName)
    {
        if (_networks.TryGetValue(idOrName, out var byId)) return byId;
        var all = _networks.Values.Concat(PredefinedLocked()).ToList();
        if (all.FirstOrDefault(n => n.Name == idOrName || n.Id == idOrName) is { } byName) return byName;
        var matches = all.Where(n => idOrName.Length > 0 && n.Id.StartsWith(idOrName, StringComparison.Ordinal)).Take(2).ToList();
        if (matches.Count == 1) return matches[0];
        if (matches.Count > 1) throw Invalid("AmbiguousNetwork", $"network id prefix '{idOrName}' matches several networks", idOrName, null);
        throw new ContainerOpsException(ErrorKind.NotFound, "NetworkNotFound", $"network {idOrName} not found", idOrName);
    }

    /// <summary>Whether <paramref name="mode"/> (a HostConfig.NetworkMode) names one of our networks.</summary>
    public bool IsNetwork(string mode)
    {
        if (mode is "none" or "host" || mode.StartsWith("container:", StringComparison.Ordinal)) return false;
        return true;
    }

    public string ResolveName(string idOrName)
    {
        lock (_lock) return FindLocked(idOrName is "default" ? DefaultNetworkName : idOrName).Name;
    }

    public void Remove(string idOrName)
    {
        lock (_lock)
        {
            var n = FindLocked(idOrName);
            if (n.Predefined)
                throw new ContainerOpsException(ErrorKind.Conflict, "PredefinedNetwork", $"{n.Name} is a pre-defined network and cannot be removed", n.Name);
            if (n.Endpoints.Count > 0)
                throw new ContainerOpsException(ErrorKind.Conflict, "NetworkInUse",
                    $"network {n.Name} has active endpoints ({string.Join(", ", n.Endpoints.Values.Select(e => e.ContainerName))})", n.Name);
            RemoveLocked(n);
            _log.LogInformation("removed network {Name} ({Id})", n.Name, n.Id[..12]);
            Emit("destroy", n);
        }
    }

    /// <summary>`host` and `none`, listed as Docker lists them (drivers host and null) though nothing of theirs is made:
    /// their containers are in the host's network namespace, or in one with loopback alone. Their ids derive from the
    /// default network's, so they stay what they are as long as it does.</summary>
    private IEnumerable<NetworkRecord> PredefinedLocked()
    {
        var bridge = _networks.Values.FirstOrDefault(n => n.IsDefault);
        foreach (var (name, driver) in new[] { (HostNetworkName, HostDriver), (NoneNetworkName, NullDriver) })
            yield return new NetworkRecord
            {
                Id = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{bridge?.Id}/{name}"))).ToLowerInvariant(),
                Name = name, Driver = driver, Created = bridge?.Created ?? default,
            };
    }

    /// <summary>A network event as dockerd's: the network's id, its name and type, and the container when one joins or leaves.</summary>
    private void Emit(string action, NetworkRecord n, string? containerId = null)
    {
        if (_options.Events is not { } events) return;
        var attributes = new Dictionary<string, string> { ["name"] = n.Name, ["type"] = "bridge" };
        if (containerId is not null) attributes["container"] = containerId;
        events.Publish(EventTypes.Network, action, n.Id, attributes);
    }

    private void RemoveLocked(NetworkRecord n)
    {
        if (_dns.Remove(n.Id, out var dns)) dns.Dispose();
        TryDeleteLink(n.BridgeName);
        _materialized.Remove(n.Id);
        _networks.Remove(n.Id);
        File.Delete(Path.Combine(_options.StateDirectory, n.Id + ".json"));
        if (_tableWritten) RebuildLocked();
    }

    public List<string> Prune()
    {
        lock (_lock)
        {
            var removed = new List<string>();
            foreach (var n in _networks.Values.Where(n => !n.IsDefault && n.Endpoints.Count == 0).ToList())
            {
                RemoveLocked(n);
                removed.Add(n.Name);
                Emit("destroy", n);
            }
            return removed;
        }
    }

    /// <summary>Removes the default network's bridge and the nftables table (tests and uninstall; containers must be gone).</summary>
    public void TearDown()
    {
        lock (_lock)
        {
            foreach (var n in _networks.Values.ToList()) { if (_dns.Remove(n.Id, out var d)) d.Dispose(); TryDeleteLink(n.BridgeName); }
            _materialized.Clear();
            _nft.Delete();
            _tableWritten = false;
        }
    }

    // ================================================================== kernel state

    /// <summary>The bridge with its gateway address, up; the DNS server of a user network. Rebuilds the rules the
    /// first time a network comes up in this daemon's life when asked.</summary>
    private void MaterializeLocked(NetworkRecord n, bool rebuild)
    {
        var first = !_materialized.Contains(n.Id);
        var link = Host.GetLink(n.BridgeName);
        if (link is null)
        {
            Host.CreateBridge(n.BridgeName, n.Mtu);
            link = Host.GetLink(n.BridgeName) ?? throw new InvalidOperationException($"bridge {n.BridgeName} vanished after its creation");
        }
        var subnet = Ipv4Subnet.Parse(n.Subnet, "Subnet");
        // A bridge takes the lowest MAC among its ports unless one is set: each container joining could change the
        // gateway's MAC under its neighbours' ARP entries, and they would lose the gateway (DNS, egress, published
        // ports) until those expire. A set address stays.
        if (first) Host.SetMacAddress(link.Index, MacBytes(IPAddress.Parse(n.Gateway)));
        Host.AddAddress(link.Index, IPAddress.Parse(n.Gateway), subnet.PrefixLength);
        if ((link.Flags & RtNetlink.IFF_UP) == 0) Host.SetUp(link.Index);
        // Published ports are reachable on 127.0.0.1: packets DNATed from loopback may leave through this bridge.
        WriteSysctl($"/proc/sys/net/ipv4/conf/{n.BridgeName}/route_localnet", "1");
        if (!n.Internal) WriteSysctl("/proc/sys/net/ipv4/ip_forward", "1");
        _materialized.Add(n.Id);
        if (!n.IsDefault && !_dns.ContainsKey(n.Id))
        {
            try
            {
                var upstreams = _options.DnsUpstreams ?? Resolution.HostUpstreams();
                var dns = new DnsResponder(new IPEndPoint(IPAddress.Parse(n.Gateway), _options.DnsPort), upstreams, forward: !n.Internal);
                dns.UpstreamsFor = client => UpstreamsOf(n, client);
                if (_zones.TryGetValue(n.Name, out var zone)) dns.Zone = zone;
                _dns[n.Id] = dns;
                UpdateNamesLocked(n);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                _log.LogWarning("network {Name}: no name server on {Gateway}:{Port}: {Message}", n.Name, n.Gateway, _options.DnsPort, e.Message);
            }
        }
        if (rebuild && (first || !_tableWritten)) RebuildLocked();
    }

    /// <summary>The `--dns` servers of the container that has <paramref name="client"/> on network <paramref name="n"/>.</summary>
    private IReadOnlyList<IPEndPoint>? UpstreamsOf(NetworkRecord n, IPAddress client)
    {
        lock (_lock)
        {
            var text = client.ToString();
            var e = n.Endpoints.Values.FirstOrDefault(e => e.IPv4Address == text && e.HostVeth is not null);
            return e is { Dns.Count: > 0 } ? e.Dns.Select(d => new IPEndPoint(IPAddress.Parse(d), 53)).ToList() : null;
        }
    }

    private void RebuildLocked()
    {
        _nft.Apply(_nft.Render(_networks.Values));
        _tableWritten = true;
    }

    private static void WriteSysctl(string path, string value)
    {
        if (File.Exists(path) && File.ReadAllText(path).Trim() == value) return;
        File.WriteAllText(path, value);
    }

    private void TryDeleteLink(string name)
    {
        try { Host.DeleteLink(name); }
        catch (NetlinkException e) { _log.LogWarning("cannot delete link {Name}: {Message}", name, e.Message); }
    }

    /// <summary>Reservations are written durably; what only describes the running state (veth, ports) need not survive a
    /// power loss, as the containers do not either, and skips the fsyncs.</summary>
    private void Save(NetworkRecord n, bool durable = true) => n.Save(_options.StateDirectory, durable);

    private static ContainerOpsException Invalid(string id, string message, string? target, string? field) =>
        new(ErrorKind.InvalidArgument, id, message, target, field);
}
