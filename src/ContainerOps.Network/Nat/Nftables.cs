using System.Diagnostics;
using System.Text;

namespace ContainerOps.Network.Nat;

/// <summary>
/// The daemon's nftables table (inet family, name configurable so tests use private ones): masquerade for egress,
/// isolation between networks, no forwarding at all for internal networks, and published ports as DNAT through two
/// maps (one keyed by protocol and port, one also by host address). The table is written whole by one `nft -f -`
/// run, which the kernel applies as one transaction: the old rules are replaced without a moment without rules.
/// Published ports of one container are added or removed as map elements, again in one transaction, so the cost
/// does not grow with the number of rules.
/// </summary>
public sealed class Nftables(string table)
{
    public string Table { get; } = table;
    public string NftPath { get; init; } = "nft";

    /// <summary>Whether the table exists (nothing is created by asking).</summary>
    public bool Exists()
    {
        try { return Run($"list table inet {Table}\n", check: false, args: "-f -") == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; } // no nft on this host: nothing of ours can exist
    }

    /// <summary>The whole table for these networks and published ports, replacing what is there.</summary>
    public string Render(IEnumerable<NetworkRecord> networks)
    {
        var nets = networks.Where(n => n.BridgeName.Length > 0).OrderBy(n => n.BridgeName, StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        // Creating first makes the delete valid when the table does not exist yet; all of it is one transaction.
        sb.Append($"table inet {Table} {{}}\ndelete table inet {Table}\ntable inet {Table} {{\n");
        sb.Append("  map pub_any {\n    type inet_proto . inet_service : ipv4_addr . inet_service\n");
        AppendElements(sb, nets.SelectMany(Published).Where(p => p.HostIp.Length == 0).Select(AnyElement));
        sb.Append("  }\n  map pub_ip {\n    type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service\n");
        AppendElements(sb, nets.SelectMany(Published).Where(p => p.HostIp.Length > 0).Select(IpElement));
        sb.Append("  }\n  set bridges {\n    type ifname\n");
        AppendElements(sb, nets.Select(n => Quote(n.BridgeName)));
        sb.Append("  }\n");
        sb.Append("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump published\n  }\n");
        sb.Append("  chain output {\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump published\n  }\n");
        sb.Append("  chain published {\n");
        sb.Append("    meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport map @pub_ip\n");
        sb.Append("    meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @pub_any\n  }\n");
        sb.Append("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        foreach (var n in nets)
        {
            var br = Quote(n.BridgeName);
            if (!n.Internal) sb.Append($"    ip saddr {n.Subnet} oifname != {br} masquerade\n");
            // Published ports reached from the host's loopback or from the network itself (hairpin): the answer must
            // come back through the host, so the source becomes the gateway. With br_netfilter a hairpin connection is
            // bridged, not routed, after the DNAT (its out interface is a bridge port), hence no interface match there
            // and an explicit address rather than masquerade (a bridge port has no address of its own).
            sb.Append($"    ct status dnat ip saddr {n.Subnet} ip daddr {n.Subnet} snat ip to {n.Gateway}\n");
            sb.Append($"    oifname {br} ct status dnat ip saddr 127.0.0.0/8 snat ip to {n.Gateway}\n");
        }
        sb.Append("  }\n");
        sb.Append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        foreach (var n in nets.Where(n => n.Internal))
        {
            var br = Quote(n.BridgeName);
            sb.Append($"    iifname {br} oifname != {br} drop\n    oifname {br} iifname != {br} drop\n");
        }
        sb.Append("    ct status dnat accept\n");
        foreach (var n in nets)
        {
            var br = Quote(n.BridgeName);
            sb.Append($"    iifname {br} oifname != {br} oifname @bridges drop\n");
        }
        sb.Append("  }\n}\n");
        return sb.ToString();
    }

    private static IEnumerable<(string Protocol, string HostIp, int HostPort, string Ip, int ContainerPort)> Published(NetworkRecord n) =>
        n.Endpoints.Values.Where(e => e.HostVeth is not null)
            .SelectMany(e => e.Ports.Select(p => (p.Protocol, p.HostIp, p.HostPort, e.IPv4Address, p.ContainerPort)));

    private static string AnyElement((string Protocol, string HostIp, int HostPort, string Ip, int ContainerPort) p) =>
        $"{p.Protocol} . {p.HostPort} : {p.Ip} . {p.ContainerPort}";

    private static string IpElement((string Protocol, string HostIp, int HostPort, string Ip, int ContainerPort) p) =>
        $"{p.HostIp} . {p.Protocol} . {p.HostPort} : {p.Ip} . {p.ContainerPort}";

    private static void AppendElements(StringBuilder sb, IEnumerable<string> elements)
    {
        var list = elements.ToList();
        if (list.Count > 0) sb.Append("    elements = { ").AppendJoin(", ", list).Append(" }\n");
    }

    private static string Quote(string ifname) => "\"" + ifname + "\"";

    /// <summary>The map elements of one container's published ports, added or deleted in one transaction.</summary>
    public string RenderPorts(string containerIp, IEnumerable<PortMapping> ports, bool add)
    {
        var list = ports.ToList();
        var any = list.Where(p => p.HostIp.Length == 0).ToList();
        var ip = list.Where(p => p.HostIp.Length > 0).ToList();
        var verb = add ? "add" : "delete";
        var sb = new StringBuilder();
        if (any.Count > 0)
            sb.Append($"{verb} element inet {Table} pub_any {{ ").AppendJoin(", ", any.Select(p => add
                ? AnyElement((p.Protocol, p.HostIp, p.HostPort, containerIp, p.ContainerPort)) : $"{p.Protocol} . {p.HostPort}")).Append(" }\n");
        if (ip.Count > 0)
            sb.Append($"{verb} element inet {Table} pub_ip {{ ").AppendJoin(", ", ip.Select(p => add
                ? IpElement((p.Protocol, p.HostIp, p.HostPort, containerIp, p.ContainerPort)) : $"{p.HostIp} . {p.Protocol} . {p.HostPort}")).Append(" }\n");
        return sb.ToString();
    }

    public void Apply(string script)
    {
        if (script.Length == 0) return;
        Run(script, check: true, args: "-f -");
    }

    /// <summary>The table as `nft list table` prints it; null when there is none.</summary>
    public string? List()
    {
        try { return Run($"list table inet {Table}\n", check: false, args: "-f -", out var listing) == 0 ? listing : null; }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }

    /// <summary>Removes the table (nothing when there is none).</summary>
    public void Delete() => Run($"table inet {Table} {{}}\ndelete table inet {Table}\n", check: true, args: "-f -");

    private int Run(string stdin, bool check, string args) => Run(stdin, check, args, out _);

    private int Run(string stdin, bool check, string args, out string stdout)
    {
        var psi = new ProcessStartInfo(NftPath, args)
        {
            RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        Process p;
        try { p = Process.Start(psi) ?? throw new InvalidOperationException("cannot run nft"); }
        catch (System.ComponentModel.Win32Exception e) when (check)
        {
            throw new InvalidOperationException($"cannot run {NftPath} (install nftables): {e.Message}", e);
        }
        using var owned = p;
        var stderr = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        p.WaitForExit();
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"nft rejected the rules of table {Table}: {stderr.Result.Trim()}");
        stdout = output.Result;
        return p.ExitCode;
    }
}
