using System.Globalization;
using System.Text;

namespace ContainerOps.Network.Services;

/// <summary>One port of a service as the proxy sees it: where it is reached (cluster IP and port, node port,
/// external IPs) and the ready endpoints behind it (address and target port, already resolved per pod).</summary>
public sealed record ProxyPort(string Protocol, int Port, int NodePort, IReadOnlyList<ProxyEndpoint> Endpoints);

public sealed record ProxyEndpoint(string Address, int Port);

/// <summary>A service as the proxy sees it. <see cref="ClusterIp"/> is null for services without one (headless,
/// ExternalName); <see cref="AffinitySeconds"/> > 0 keeps a client on one endpoint that long (sessionAffinity
/// ClientIP); <see cref="LocalOnly"/> is externalTrafficPolicy Local (node ports keep the client's address).</summary>
public sealed record ProxyService(string Namespace, string Name, string? ClusterIp, IReadOnlyList<ProxyPort> Ports,
    int AffinitySeconds = 0, bool LocalOnly = false, IReadOnlyList<string>? ExternalIps = null);

/// <summary>
/// The service proxy's nftables table as text, a pure function of the services and of what the table already holds:
/// one `nft -f` run rewrites it in one transaction, so there is never a moment without rules. The table is not deleted
/// and made again but flushed (its chains and its shared maps and sets) and declared again, stale chains and sets
/// deleted: the ClientIP affinity sets of the endpoints that stay keep their clients across every change, as
/// kube-proxy keeps them (a new table per change would send every client of every service to a new pod whenever
/// any endpoint anywhere came or went). The shape is kube-proxy's nftables mode: the NAT hooks jump to `services`, two verdict-map
/// lookups there (`service-ips`: address . protocol . port, `service-nodeports`: protocol . port on local addresses),
/// one chain per service port that DNATs to an endpoint picked with `numgen random mod N` (with sessionAffinity
/// ClientIP: a chain per endpoint that records the client in a timeout set), and a `hairpin` set of endpoint
/// address pairs whose traffic (a pod reaching itself through its service) is masqueraded. Traffic to a cluster IP that was not DNATed (no ready endpoint, or a
/// port the service does not have) and node ports without endpoints are rejected at once (TCP reset, else ICMP port
/// unreachable), never black-holed. Node port traffic and traffic from the host itself are masqueraded, so the answer
/// comes back through this host (and 127.0.0.1 works, with route_localnet on the pod bridge).
/// </summary>
public static class ServiceRules
{
    private const string MasqueradeMark = "0x4000";

    /// <summary>The whole table as one script: its shared maps and sets declared, then flushed with the table's
    /// chains, the chains and sets no longer wanted deleted, and everything declared again. Used when the proxy does
    /// not know what the table holds (its first sync, after a restart, after a failed change).</summary>
    /// <param name="hairpinSource">The address hairpin connections are given (the pod bridge's gateway). With
    /// br_netfilter a connection DNATed back onto the bridge it came from is bridged, not routed, so it leaves through a
    /// bridge port, which has no address to masquerade to. Null: masquerade.</param>
    /// <param name="existing">The chains and sets the table holds now (<see cref="Objects"/> of the kernel's
    /// listing); empty when there is no table yet.</param>
    public static string Render(string table, IEnumerable<ProxyService> services, string? hairpinSource = null, IReadOnlySet<string>? existing = null) =>
        Render(table, Build(services, hairpinSource), existing);

    public static string Render(string table, ProxyTable wanted, IReadOnlySet<string>? existing = null)
    {
        var sb = new StringBuilder(4096 + wanted.Objects.Sum(o => o.Value.Length) + wanted.Elements.Sum(e => e.Value.Count * 48));
        // The shared maps and sets are declared before they are flushed (flushing one that does not exist fails);
        // `flush table` empties every chain but leaves set elements alone.
        sb.Append($"table inet {table} {{\n");
        foreach (var (shared, type) in Shared) sb.Append($"  {shared} {{\n    type {type}\n  }}\n");
        sb.Append("}\n");
        sb.Append($"flush table inet {table}\n");
        foreach (var (shared, _) in Shared) sb.Append(Command("flush", table, shared));
        // Nothing refers to a stale chain or set any more: the rules and the verdict maps were flushed above.
        foreach (var stale in (existing ?? EmptySet).Where(o => !wanted.Objects.ContainsKey(o) && !SharedNames.Contains(o)).Order(StringComparer.Ordinal))
            sb.Append(Command("delete", table, stale));
        sb.Append($"table inet {table} {{\n");
        foreach (var (shared, type) in Shared)
        {
            sb.Append($"  {shared} {{\n    type {type}\n");
            Elements(sb, wanted.Elements[shared]);
            sb.Append("  }\n");
        }
        foreach (var declaration in wanted.Objects.Values) sb.Append(declaration);
        return sb.Append("}\n").ToString();
    }

    /// <summary>
    /// Only what differs between the table as it is (<paramref name="current"/>, what the last script made) and as it
    /// is wanted, as one script (one transaction), or "" when nothing does: with 1 000 services a change of one
    /// endpoint is a few lines for nft to read instead of the whole table. In an order the kernel accepts: map
    /// elements that lead to a chain leave before the chain; changed and stale chains are flushed before the chains
    /// and sets their rules name are deleted; sets are declared before the chains that name them, chains before the
    /// map elements that lead to them. A changed chain is flushed and filled again; an affinity set whose declaration
    /// did not change is left alone, with the clients it holds.
    /// </summary>
    public static string RenderChanges(string table, ProxyTable current, ProxyTable wanted)
    {
        var sb = new StringBuilder();
        var added = new Dictionary<string, List<string>>();
        foreach (var (shared, _) in Shared)
        {
            var before = current.Elements[shared];
            var after = wanted.Elements[shared];
            var gone = before.Where(e => !after.Contains(e)).ToList();
            if (gone.Count > 0)
                sb.Append(Command("delete element", table, shared).TrimEnd('\n')).Append(" { ")
                    .AppendJoin(", ", gone.Select(KeyOf)).Append(" }\n");
            added[shared] = after.Where(e => !before.Contains(e)).ToList();
        }
        var changed = wanted.Objects.Where(o => current.Objects.TryGetValue(o.Key, out var was) && was != o.Value).Select(o => o.Key).ToList();
        var stale = current.Objects.Keys.Where(o => !wanted.Objects.ContainsKey(o)).ToList();
        // A set declared again with other flags or timeout would be refused: it goes and comes back. The chains whose
        // rules name a set that goes are emptied first (the kernel keeps a set in use) and filled again if they stay.
        var setsGoing = stale.Concat(changed).Where(o => !IsChain(o)).Select(o => "@" + o[(o.IndexOf(' ') + 1)..] + " ").ToList();
        var naming = current.Objects.Where(o => IsChain(o.Key) && setsGoing.Any(set => o.Value.Contains(set, StringComparison.Ordinal))).Select(o => o.Key);
        var emptied = changed.Concat(stale).Where(IsChain).Concat(naming).Distinct().ToList();
        foreach (var chain in emptied) sb.Append(Command("flush", table, chain));
        foreach (var chain in stale.Where(IsChain)) sb.Append(Command("delete", table, chain));
        foreach (var set in stale.Concat(changed).Where(o => !IsChain(o))) sb.Append(Command("delete", table, set));
        var declared = wanted.Objects.Where(o => !current.Objects.TryGetValue(o.Key, out var was) || was != o.Value || emptied.Contains(o.Key)).ToList();
        if (declared.Count > 0)
        {
            sb.Append($"table inet {table} {{\n");
            foreach (var (_, declaration) in declared.Where(o => !IsChain(o.Key))) sb.Append(declaration);
            foreach (var (_, declaration) in declared.Where(o => IsChain(o.Key))) sb.Append(declaration);
            sb.Append("}\n");
        }
        foreach (var (shared, elements) in added)
            if (elements.Count > 0)
                sb.Append(Command("add element", table, shared).TrimEnd('\n')).Append(" { ").AppendJoin(", ", elements).Append(" }\n");
        return sb.ToString();
    }

    private static bool IsChain(string obj) => obj.StartsWith("chain ", StringComparison.Ordinal);

    /// <summary>A map element's key ("10.96.0.20 . tcp . 80" of "10.96.0.20 . tcp . 80 : goto svc_…"), which is
    /// what deleting it takes; a set element is its own key.</summary>
    private static string KeyOf(string element) => element.IndexOf(" : ", StringComparison.Ordinal) is >= 0 and var i ? element[..i] : element;

    /// <summary>"flush map inet T NAME" for the object "map NAME" (the verb may be two words: "delete element").</summary>
    private static string Command(string verb, string table, string obj)
    {
        var space = obj.IndexOf(' ');
        return verb.EndsWith(" element", StringComparison.Ordinal)
            ? $"{verb} inet {table} {obj[(space + 1)..]}\n"
            : $"{verb} {obj[..space]} inet {table} {obj[(space + 1)..]}\n";
    }

    private static readonly IReadOnlySet<string> EmptySet = new HashSet<string>();

    /// <summary>The maps and sets every service shares, with their types; their elements are the services'.</summary>
    private static readonly (string Name, string Type)[] Shared =
    [
        ("map service-ips", "ipv4_addr . inet_proto . inet_service : verdict"),
        ("map service-nodeports", "inet_proto . inet_service : verdict"),
        ("set cluster-ips", "ipv4_addr"),
        ("set no-endpoint-nodeports", "inet_proto . inet_service"),
        ("set hairpin", "ipv4_addr . ipv4_addr"),
    ];

    private static readonly HashSet<string> SharedNames = Shared.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The chains, sets and maps an nft text declares ("chain NAME", "set NAME", "map NAME"): of a script
    /// rendered here, or of `nft list table`, which prints the same shape.</summary>
    public static IReadOnlySet<string> Objects(string nftText)
    {
        var objects = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in nftText.Split('\n'))
        {
            var words = line.Trim().Split(' ');
            if (words is [("chain" or "set" or "map") and var kind, var name, "{", ..]) objects.Add($"{kind} {name}");
        }
        return objects;
    }

    /// <summary>The table as wanted for these services: every chain's and affinity set's declaration, and the
    /// elements of the shared maps and sets.</summary>
    public static ProxyTable Build(IEnumerable<ProxyService> services, string? hairpinSource = null)
    {
        var list = services.OrderBy(s => s.Namespace, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
        var ipElements = new List<string>();
        var nodePortElements = new List<string>();
        var noEndpointNodePorts = new List<string>();
        var clusterIps = new SortedSet<string>(StringComparer.Ordinal);
        var endpointIps = new SortedSet<string>(StringComparer.Ordinal);
        var objects = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        AppendFixedChains(objects, hairpinSource);
        foreach (var s in list)
            foreach (var p in s.Ports)
            {
                var proto = Protocol(p.Protocol);
                var chain = ServiceChain(s, p);
                var hasEndpoints = p.Endpoints.Count > 0;
                if (s.ClusterIp is { } ip)
                {
                    clusterIps.Add(ip);
                    if (hasEndpoints) ipElements.Add($"{ip} . {proto} . {p.Port} : goto {chain}");
                }
                foreach (var external in s.ExternalIps ?? [])
                    if (hasEndpoints) ipElements.Add($"{external} . {proto} . {p.Port} : goto {ExternalChain(s, p)}");
                if (p.NodePort > 0)
                {
                    if (hasEndpoints) nodePortElements.Add($"{proto} . {p.NodePort} : goto {NodePortChain(s, p)}");
                    else noEndpointNodePorts.Add($"{proto} . {p.NodePort}");
                }
                if (hasEndpoints) AppendServiceChains(objects, s, p, proto);
                foreach (var e in p.Endpoints) endpointIps.Add(e.Address);
            }
        var elements = new Dictionary<string, OrderedElements>(StringComparer.Ordinal)
        {
            ["map service-ips"] = new OrderedElements(ipElements),
            ["map service-nodeports"] = new OrderedElements(nodePortElements),
            ["set cluster-ips"] = new OrderedElements(clusterIps),
            ["set no-endpoint-nodeports"] = new OrderedElements(noEndpointNodePorts),
            ["set hairpin"] = new OrderedElements(endpointIps.Select(ip => $"{ip} . {ip}")),
        };
        return new ProxyTable(objects, elements);
    }

    private static void AppendFixedChains(OrderedDictionary<string, string> objects, string? hairpinSource)
    {
        // NAT: connections to a service are DNATed where they enter (prerouting) or leave the host (output).
        objects["chain nat-prerouting"] = "  chain nat-prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    jump services\n  }\n";
        objects["chain nat-output"] = "  chain nat-output {\n    type nat hook output priority -100; policy accept;\n    jump services\n  }\n";
        // Hairpin: a pod reaching itself through a service; the answer must come back through the host.
        objects["chain nat-postrouting"] = "  chain nat-postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n"
            + $"    meta mark & {MasqueradeMark} == {MasqueradeMark} masquerade\n"
            + (hairpinSource is null ? "    ip saddr . ip daddr @hairpin masquerade\n  }\n" : $"    ip saddr . ip daddr @hairpin snat ip to {hairpinSource}\n  }}\n");
        objects["chain services"] = "  chain services {\n    ip daddr . meta l4proto . th dport vmap @service-ips\n"
            + "    fib daddr type local meta l4proto . th dport vmap @service-nodeports\n  }\n";
        objects["chain mark-for-masquerade"] = $"  chain mark-for-masquerade {{\n    meta mark set meta mark | {MasqueradeMark}\n  }}\n";
        // Rejections, in the filter hooks after NAT: what still goes to a cluster IP was not DNATed.
        objects["chain reject-connection"] = "  chain reject-connection {\n    meta l4proto tcp reject with tcp reset\n    reject\n  }\n";
        objects["chain filter-forward"] = "  chain filter-forward {\n    type filter hook forward priority filter; policy accept;\n"
            + "    ip daddr @cluster-ips goto reject-connection\n  }\n";
        objects["chain filter-output"] = "  chain filter-output {\n    type filter hook output priority filter; policy accept;\n"
            + "    ip daddr @cluster-ips goto reject-connection\n"
            + "    fib daddr type local meta l4proto . th dport @no-endpoint-nodeports goto reject-connection\n  }\n";
        objects["chain filter-input"] = "  chain filter-input {\n    type filter hook input priority filter; policy accept;\n"
            + "    fib daddr type local meta l4proto . th dport @no-endpoint-nodeports goto reject-connection\n  }\n";
    }

    /// <summary>A service port's chains (and affinity sets), each under its object name: the declarations follow one
    /// another in this order in a full script, sets before the chains that name them.</summary>
    private static void AppendServiceChains(OrderedDictionary<string, string> objects, ProxyService s, ProxyPort p, string proto)
    {
        var endpoints = p.Endpoints.OrderBy(e => e.Address, StringComparer.Ordinal).ThenBy(e => e.Port).ToList();
        if (s.AffinitySeconds > 0)
            foreach (var e in endpoints)
                objects[$"set {AffinitySet(s, p, e)}"] =
                    $"  set {AffinitySet(s, p, e)} {{\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout {s.AffinitySeconds}s\n  }}\n";

        // From the host itself (its own addresses, incl. 127.0.0.1): masquerade, so the answer comes back through it.
        Chain(objects, ServiceChain(s, p), "    fib saddr type local jump mark-for-masquerade\n", s, p, endpoints);
        // Node ports: from elsewhere too, unless externalTrafficPolicy Local keeps the client's address.
        if (p.NodePort > 0)
            Chain(objects, NodePortChain(s, p), s.LocalOnly ? "    fib saddr type local jump mark-for-masquerade\n" : "    jump mark-for-masquerade\n", s, p, endpoints);
        if (s.ExternalIps is { Count: > 0 })
            Chain(objects, ExternalChain(s, p), "    jump mark-for-masquerade\n", s, p, endpoints);
        if (s.AffinitySeconds == 0) return;
        foreach (var e in endpoints)
            objects[$"chain {EndpointChain(s, p, e)}"] =
                $"  chain {EndpointChain(s, p, e)} {{\n    update @{AffinitySet(s, p, e)} {{ ip saddr }}\n    {Dnat(proto, e)}\n  }}\n";
    }

    private static void Chain(OrderedDictionary<string, string> objects, string name, string first, ProxyService s, ProxyPort p, List<ProxyEndpoint> endpoints)
    {
        var sb = new StringBuilder($"  chain {name} {{\n").Append(first);
        AppendPick(sb, s, p, endpoints);
        objects[$"chain {name}"] = sb.Append("  }\n").ToString();
    }

    private static string Dnat(string proto, ProxyEndpoint e) => $"meta l4proto {proto} dnat ip to {e.Address}:{e.Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>A client seen within the affinity timeout goes back to its endpoint (a chain per endpoint that
    /// records it); without affinity the endpoint is picked in the DNAT itself, from an inline map, so a service costs
    /// one chain however many endpoints it has.</summary>
    private static void AppendPick(StringBuilder sb, ProxyService s, ProxyPort p, List<ProxyEndpoint> endpoints)
    {
        var proto = Protocol(p.Protocol);
        if (s.AffinitySeconds > 0)
        {
            foreach (var e in endpoints)
                sb.Append($"    ip saddr @{AffinitySet(s, p, e)} goto {EndpointChain(s, p, e)}\n");
            if (endpoints.Count == 1) sb.Append($"    goto {EndpointChain(s, p, endpoints[0])}\n");
            else sb.Append($"    numgen random mod {endpoints.Count} vmap {{ ")
                .AppendJoin(", ", endpoints.Select((e, i) => $"{i} : goto {EndpointChain(s, p, e)}")).Append(" }\n");
            return;
        }
        if (endpoints.Count == 1)
        {
            sb.Append($"    {Dnat(proto, endpoints[0])}\n");
            return;
        }
        sb.Append($"    meta l4proto {proto} dnat ip to numgen random mod {endpoints.Count} map {{ ");
        sb.AppendJoin(", ", endpoints.Select((e, i) => $"{i} : {e.Address} . {e.Port.ToString(CultureInfo.InvariantCulture)}"));
        sb.Append(" }\n");
    }

    private static void Elements(StringBuilder sb, IEnumerable<string> elements)
    {
        var first = true;
        foreach (var e in elements)
        {
            sb.Append(first ? "    elements = { " : ",\n      ").Append(e);
            first = false;
        }
        if (!first) sb.Append(" }\n");
    }

    private static string Protocol(string protocol) => protocol.ToLowerInvariant() switch
    {
        "tcp" => "tcp",
        "udp" => "udp",
        "sctp" => "sctp",
        _ => throw new ArgumentException($"protocol {protocol} is not TCP, UDP or SCTP"),
    };

    // Kubernetes names have no '_' and no '/', so these names cannot collide; they are nft identifiers as they are
    // (letters, digits, '/', '-', '_', '.'), which nft 1.0 also needs in verdicts, where it takes no quoted names.
    private static string Base(ProxyService s, ProxyPort p) => $"{s.Namespace}/{s.Name}/{Protocol(p.Protocol)}/{p.Port}";
    public static string ServiceChain(ProxyService s, ProxyPort p) => $"svc_{Base(s, p)}";
    private static string NodePortChain(ProxyService s, ProxyPort p) => $"nodeport_{Base(s, p)}";
    private static string ExternalChain(ProxyService s, ProxyPort p) => $"external_{Base(s, p)}";
    private static string EndpointChain(ProxyService s, ProxyPort p, ProxyEndpoint e) => $"ep_{Base(s, p)}/{e.Address}/{e.Port}";
    private static string AffinitySet(ProxyService s, ProxyPort p, ProxyEndpoint e) => $"affinity_{Base(s, p)}/{e.Address}/{e.Port}";
}

/// <summary>The proxy's table as wanted: each chain's and affinity set's declaration under its object name ("chain
/// NAME", "set NAME", in the order a full script declares them), and the elements of each shared map and set.</summary>
public sealed record ProxyTable(OrderedDictionary<string, string> Objects, IReadOnlyDictionary<string, OrderedElements> Elements);

/// <summary>Elements in the order they were given (a script lists them so) that answer Contains in constant time.</summary>
public sealed class OrderedElements(IEnumerable<string> items) : IReadOnlyCollection<string>
{
    private readonly List<string> _items = items.Distinct(StringComparer.Ordinal).ToList();
    private HashSet<string>? _lookup;
    public int Count => _items.Count;
    public bool Contains(string item) => (_lookup ??= new HashSet<string>(_items, StringComparer.Ordinal)).Contains(item);
    public IEnumerator<string> GetEnumerator() => _items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
