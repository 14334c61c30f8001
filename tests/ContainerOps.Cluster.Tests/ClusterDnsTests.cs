using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Cluster.Node;
using ContainerOps.Network.Dns;

namespace ContainerOps.Cluster.Tests;

/// <summary>The cluster zone as the Kubernetes DNS specification has it, answered over UDP by the network's responder.</summary>
public sealed class ClusterDnsTests : IDisposable
{
    private readonly DnsResponder _dns = new(new IPEndPoint(IPAddress.Loopback, 0), [new IPEndPoint(IPAddress.Loopback, 9)], forward: false);

    public void Dispose() => _dns.Dispose();

    private static JsonObject O(string json) => JsonNode.Parse(json)!.AsObject();

    private static readonly JsonObject[] Services =
    [
        O("""{"metadata":{"name":"web","namespace":"shop"},"spec":{"type":"ClusterIP","clusterIP":"10.96.3.4","ports":[{"name":"http","port":80,"protocol":"TCP"}]}}"""),
        O("""{"metadata":{"name":"db","namespace":"shop"},"spec":{"clusterIP":"None","ports":[{"name":"pg","port":5432,"protocol":"TCP"}]}}"""),
        O("""{"metadata":{"name":"ext","namespace":"shop"},"spec":{"type":"ExternalName","externalName":"Example.COM."}}"""),
    ];

    private static readonly JsonObject[] Slices =
    [
        O("""
          {"metadata":{"name":"db-1","namespace":"shop","labels":{"kubernetes.io/service-name":"db"}},"addressType":"IPv4",
           "endpoints":[{"addresses":["10.42.0.7"],"hostname":"db-0","conditions":{"ready":true}},
                        {"addresses":["10.42.0.8"],"conditions":{"ready":true}},
                        {"addresses":["10.42.0.9"],"hostname":"db-2","conditions":{"ready":false}}],
           "ports":[{"name":"pg","port":5432,"protocol":"TCP"}]}
          """),
    ];

    private static readonly JsonObject[] Pods = [O("""{"metadata":{"name":"p","namespace":"shop"},"status":{"podIP":"10.42.0.7"}}""")];

    /// <summary>The answer's rcode and records as "TYPE data" lines (A: address, CNAME/PTR: name, SRV: port target).</summary>
    private (int Rcode, List<string> Records) Query(string name, ushort type)
    {
        var q = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (var label in name.Split('.')) { q.Add((byte)label.Length); q.AddRange(Encoding.ASCII.GetBytes(label)); }
        q.AddRange(new byte[] { 0, (byte)(type >> 8), (byte)type, 0, 1 });
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 3000 };
        s.Connect(_dns.Endpoint);
        s.Send(q.ToArray());
        var buf = new byte[1500];
        var n = s.Receive(buf);
        var records = new List<string>();
        var at = q.Count;
        for (var i = 0; i < BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(6)); i++)
        {
            var rtype = BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(at + 2));
            var length = BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(at + 10));
            var data = buf.AsSpan(at + 12, length);
            records.Add(rtype switch
            {
                1 => "A " + new IPAddress(data),
                5 => "CNAME " + Name(data),
                12 => "PTR " + Name(data),
                33 => $"SRV {BinaryPrimitives.ReadUInt16BigEndian(data[4..])} {Name(data[6..])}",
                _ => $"type {rtype}",
            });
            at += 12 + length;
        }
        Assert.Equal(n, at);
        return (buf[3] & 0xF, records);
    }

    private static string Name(ReadOnlySpan<byte> data)
    {
        var labels = new List<string>();
        for (var i = 0; data[i] != 0; i += data[i] + 1) labels.Add(Encoding.ASCII.GetString(data.Slice(i + 1, data[i])));
        return string.Join('.', labels);
    }

    [Fact]
    public void ServicesHeadlessEndpointsSrvExternalNamesPodsAndReverseNamesResolve()
    {
        _dns.Zone = ClusterDnsController.BuildZone(Services, Slices, Pods, "cluster.local");
        Assert.Equal(R("A 10.96.3.4"), Q("web.shop.svc.cluster.local", 1));
        Assert.Equal(R("SRV 80 web.shop.svc.cluster.local"), Q("_http._tcp.web.shop.svc.cluster.local", 33));
        Assert.Equal(R("PTR web.shop.svc.cluster.local"), Q("4.3.96.10.in-addr.arpa", 12));
        // Headless: the ready endpoints, by hostname or dashed address; a not-ready one is not there.
        Assert.Equal(R("A 10.42.0.7", "A 10.42.0.8"), Q("db.shop.svc.cluster.local", 1));
        Assert.Equal(R("A 10.42.0.7"), Q("db-0.db.shop.svc.cluster.local", 1));
        Assert.Equal(R("A 10.42.0.8"), Q("10-42-0-8.db.shop.svc.cluster.local", 1));
        Assert.Equal(3, Query("db-2.db.shop.svc.cluster.local", 1).Rcode);
        Assert.Equal(R("SRV 5432 db-0.db.shop.svc.cluster.local", "SRV 5432 10-42-0-8.db.shop.svc.cluster.local"), Q("_pg._tcp.db.shop.svc.cluster.local", 33));
        Assert.Equal(R("CNAME example.com"), Q("ext.shop.svc.cluster.local", 1));
        Assert.Equal(R("A 10.42.0.7"), Q("10-42-0-7.shop.pod.cluster.local", 1));
        // Case does not matter; a service name with no AAAA is "no data", not "no such name"; the rest of the
        // domain does not exist; names above existing ones do, with no data.
        Assert.Equal(R("A 10.96.3.4"), Q("WEB.shop.SVC.cluster.local", 1));
        Assert.Equal(R(), Q("web.shop.svc.cluster.local", 28));
        Assert.Equal(3, Query("nope.shop.svc.cluster.local", 1).Rcode);
        Assert.Equal(3, Query("web.shop.svc.cluster.local.shop.svc.cluster.local", 1).Rcode);
        Assert.Equal(R(), Q("shop.svc.cluster.local", 1));
        // Outside the zone: as before (here: no upstream, so "no such name" from a closed network's server).
        Assert.Equal(3, Query("example.org", 1).Rcode);
    }

    /// <summary>A NOERROR answer with these records, as <see cref="Q"/> writes it.</summary>
    private static string R(params string[] records) => "0: " + string.Join(" | ", records);

    private string Q(string name, ushort type)
    {
        var (rcode, records) = Query(name, type);
        return $"{rcode}: {string.Join(" | ", records)}";
    }

    [Fact]
    public void ClusterFirstPodsGetTheClusterDnsWithTheSearchListAndNdots()
    {
        var node = new NodeAgentOptions { ClusterDns = "10.96.0.10" };
        var spec = O("""{"dnsPolicy":"ClusterFirst","dnsConfig":{"options":[{"name":"timeout","value":"2"}]}}""");
        var text = Node.PodWorker.ResolvConf(spec, "shop", node);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("nameserver 10.96.0.10", lines[0]);
        Assert.StartsWith("search shop.svc.cluster.local svc.cluster.local cluster.local", lines[1]);
        Assert.StartsWith("options ndots:5", lines[2]);
        Assert.Contains("timeout:2", lines[2]);
        Assert.Single(lines, l => l.StartsWith("nameserver", StringComparison.Ordinal));
        // Default keeps the host's; so does ClusterFirst on a node without cluster DNS.
        Assert.DoesNotContain("10.96.0.10", Node.PodWorker.ResolvConf(O("""{"dnsPolicy":"Default"}"""), "shop", node));
        Assert.DoesNotContain("ndots:5", Node.PodWorker.ResolvConf(spec, "shop", new NodeAgentOptions()));
    }
}
