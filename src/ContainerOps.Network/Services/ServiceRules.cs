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

    /// <param name="hairpinSource">The address hairpin connections are given (the pod bridge's gateway). With
    /// br_netfilter a connection DNATed back onto the bridge it came from is bridged, not routed, so it leaves through a
    /// bridge port, which has no address to masquerade to. Null: masquerade.</param>
    /// <param name="existing">The chains and sets the table holds now (<see cref="Objects"/> of the last script
    /// applied, or of the kernel's listing); empty when there is no table yet.</param>
    public static string Render(string table, IEnumerable<ProxyService> services, string? hairpinSource = null, IReadOnlySet<string>? existing = null)
    {
        var list = services.OrderBy(s => s.Namespace, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
        var body = new StringBuilder(4096 + list.Count * 512);
        RenderBody(body, table, list, hairpinSource);
        var sb = new StringBuilder(body.Length + 1024);
        // The shared maps and sets are declared before they are flushed (flushing one that does not exist fails);
        // `flush table` empties every chain but leaves set elements alone.
        sb.Append($"table inet {table} {{\n").Append(SharedSets).Append("}\n");
        sb.Append($"flush table inet {table}\n");
        foreach (var shared in SharedSetNames) sb.Append(Command("flush", table, shared));
        var wanted = Objects(body.ToString());
        // Nothing refers to a stale chain or set any more: the rules and the verdict maps were flushed above.
        foreach (var stale in (existing ?? EmptySet).Where(o => !wanted.Contains(o)).Order(StringComparer.Ordinal))
            sb.Append(Command("delete", table, stale));
        return sb.Append(body).ToString();
    }

    /// <summary>"flush map inet T NAME" for the object "map NAME".</summary>
    private static string Command(string verb, string table, string obj)
    {
        var space = obj.IndexOf(' ');
        return $"{verb} {obj[..space]} inet {table} {obj[(space + 1)..]}\n";
    }

    private static readonly IReadOnlySet<string> EmptySet = new HashSet<string>();

    private const string SharedSets = """
          map service-ips {
            type ipv4_addr . inet_proto . inet_service : verdict
          }
          map service-nodeports {
            type inet_proto . inet_service : verdict
          }
          set cluster-ips {
            type ipv4_addr
          }
          set no-endpoint-nodeports {
            type inet_proto . inet_service
          }
          set hairpin {
            type ipv4_addr . ipv4_addr
          }

        """;

    private static readonly string[] SharedSetNames = ["map service-ips", "map service-nodeports", "set cluster-ips", "set no-endpoint-nodeports", "set hairpin"];

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

    private static void RenderBody(StringBuilder sb, string table, List<ProxyService> list, string? hairpinSource)
    {
        sb.Append($"table inet {table} {{\n");

        var ipElements = new List<string>();
        var nodePortElements = new List<string>();
        var noEndpointNodePorts = new List<string>();
        var clusterIps = new SortedSet<string>(StringComparer.Ordinal);
        var endpointIps = new SortedSet<string>(StringComparer.Ordinal);
        var chains = new StringBuilder();
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
                if (hasEndpoints) AppendServiceChains(chains, s, p, proto);
                foreach (var e in p.Endpoints) endpointIps.Add(e.Address);
            }

        sb.Append("  map service-ips {\n    type ipv4_addr . inet_proto . inet_service : verdict\n");
        Elements(sb, ipElements);
        sb.Append("  }\n  map service-nodeports {\n    type inet_proto . inet_service : verdict\n");
        Elements(sb, nodePortElements);
        sb.Append("  }\n  set cluster-ips {\n    type ipv4_addr\n");
        Elements(sb, clusterIps);
        sb.Append("  }\n  set no-endpoint-nodeports {\n    type inet_proto . inet_service\n");
        Elements(sb, noEndpointNodePorts);
        sb.Append("  }\n  set hairpin {\n    type ipv4_addr . ipv4_addr\n");
        Elements(sb, endpointIps.Select(ip => $"{ip} . {ip}"));
        sb.Append("  }\n");

        // NAT: connections to a service are DNATed where they enter (prerouting) or leave the host (output).
        sb.Append("  chain nat-prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    jump services\n  }\n");
        sb.Append("  chain nat-output {\n    type nat hook output priority -100; policy accept;\n    jump services\n  }\n");
        sb.Append("  chain nat-postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        sb.Append($"    meta mark & {MasqueradeMark} == {MasqueradeMark} masquerade\n");
        // Hairpin: a pod reaching itself through a service; the answer must come back through the host.
        sb.Append(hairpinSource is null ? "    ip saddr . ip daddr @hairpin masquerade\n  }\n" : $"    ip saddr . ip daddr @hairpin snat ip to {hairpinSource}\n  }}\n");
        sb.Append("  chain services {\n    ip daddr . meta l4proto . th dport vmap @service-ips\n");
        sb.Append("    fib daddr type local meta l4proto . th dport vmap @service-nodeports\n  }\n");
        sb.Append($"  chain mark-for-masquerade {{\n    meta mark set meta mark | {MasqueradeMark}\n  }}\n");
        // Rejections, in the filter hooks after NAT: what still goes to a cluster IP was not DNATed.
        sb.Append("  chain reject-connection {\n    meta l4proto tcp reject with tcp reset\n    reject\n  }\n");
        sb.Append("  chain filter-forward {\n    type filter hook forward priority filter; policy accept;\n");
        sb.Append("    ip daddr @cluster-ips goto reject-connection\n  }\n");
        sb.Append("  chain filter-output {\n    type filter hook output priority filter; policy accept;\n");
        sb.Append("    ip daddr @cluster-ips goto reject-connection\n");
        sb.Append("    fib daddr type local meta l4proto . th dport @no-endpoint-nodeports goto reject-connection\n  }\n");
        sb.Append("  chain filter-input {\n    type filter hook input priority filter; policy accept;\n");
        sb.Append("    fib daddr type local meta l4proto . th dport @no-endpoint-nodeports goto reject-connection\n  }\n");
        sb.Append(chains);
        sb.Append("}\n");
    }

    private static void AppendServiceChains(StringBuilder sb, ProxyService s, ProxyPort p, string proto)
    {
        var chain = ServiceChain(s, p);
        var endpoints = p.Endpoints.OrderBy(e => e.Address, StringComparer.Ordinal).ThenBy(e => e.Port).ToList();
        if (s.AffinitySeconds > 0)
            foreach (var e in endpoints)
                sb.Append($"  set {AffinitySet(s, p, e)} {{\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout {s.AffinitySeconds}s\n  }}\n");

        // From the host itself (its own addresses, incl. 127.0.0.1): masquerade, so the answer comes back through it.
        sb.Append($"  chain {chain} {{\n    fib saddr type local jump mark-for-masquerade\n");
        AppendPick(sb, s, p, endpoints);
        sb.Append("  }\n");
        if (p.NodePort > 0)
        {
            // Node ports: from elsewhere too, unless externalTrafficPolicy Local keeps the client's address.
            sb.Append($"  chain {NodePortChain(s, p)} {{\n");
            sb.Append(s.LocalOnly ? "    fib saddr type local jump mark-for-masquerade\n" : "    jump mark-for-masquerade\n");
            AppendPick(sb, s, p, endpoints);
            sb.Append("  }\n");
        }
        if (s.ExternalIps is { Count: > 0 })
        {
            sb.Append($"  chain {ExternalChain(s, p)} {{\n    jump mark-for-masquerade\n");
            AppendPick(sb, s, p, endpoints);
            sb.Append("  }\n");
        }
        if (s.AffinitySeconds == 0) return;
        foreach (var e in endpoints)
        {
            sb.Append($"  chain {EndpointChain(s, p, e)} {{\n");
            sb.Append($"    update @{AffinitySet(s, p, e)} {{ ip saddr }}\n");
            sb.Append($"    {Dnat(proto, e)}\n  }}\n");
        }
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
