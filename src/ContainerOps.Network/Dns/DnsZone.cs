using System.Net;

namespace ContainerOps.Network.Dns;

/// <summary>One resource record of a zone's answer (the owner is the name asked).</summary>
public abstract record DnsRecord(ushort Type);
public sealed record ARecord(IPAddress Address) : DnsRecord(1);
public sealed record CnameRecord(string Target) : DnsRecord(5);
public sealed record PtrRecord(string Target) : DnsRecord(12);
public sealed record SrvRecord(ushort Priority, ushort Weight, ushort Port, string Target) : DnsRecord(33);

/// <summary>What a zone says about a name: NXDOMAIN, or its records of the asked type (none: "no data").</summary>
public sealed record DnsZoneAnswer(bool NameExists, IReadOnlyList<DnsRecord> Records);

/// <summary>
/// An immutable set of names a <see cref="DnsResponder"/> answers with authority: the cluster domain (services, their
/// endpoints, SRV records of named ports, pods) and the reverse names of the addresses it knows. A new zone is built
/// whole and swapped in (one reference write), as aardvark-dns swaps its backend: a query sees the old zone or the
/// new one, never half of each. Names are lower case, without the trailing dot.
/// </summary>
public sealed class DnsZone(IReadOnlyCollection<string> domains, IReadOnlyDictionary<string, IReadOnlyList<DnsRecord>> names)
{
    public static readonly DnsZone Empty = new([], new Dictionary<string, IReadOnlyList<DnsRecord>>());

    public IReadOnlyDictionary<string, IReadOnlyList<DnsRecord>> Names => names;

    /// <summary>The answer for <paramref name="name"/>, or null when the name is outside the zone's domains and not one of
    /// its names (then the responder goes on as before: container names, then upstream).</summary>
    public DnsZoneAnswer? Lookup(string name, ushort type)
    {
        if (names.TryGetValue(name, out var records))
        {
            // A CNAME answers every type, as the owner has no other data.
            var matching = records.Where(r => r.Type == type || r is CnameRecord).ToList();
            return new DnsZoneAnswer(true, matching);
        }
        foreach (var domain in domains)
            if (name == domain || name.EndsWith("." + domain, StringComparison.Ordinal))
                return new DnsZoneAnswer(IsEmptyNonTerminal(name), []);
        return null;
    }

    /// <summary>A name above existing ones (svc.cluster.local, ns.svc.cluster.local) exists with no data of its own.</summary>
    private bool IsEmptyNonTerminal(string name) => names.Keys.Any(k => k.EndsWith("." + name, StringComparison.Ordinal));

    /// <summary>The reverse-lookup name of an IPv4 address (d.c.b.a.in-addr.arpa).</summary>
    public static string ReverseName(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return $"{b[3]}.{b[2]}.{b[1]}.{b[0]}.in-addr.arpa";
    }
}
