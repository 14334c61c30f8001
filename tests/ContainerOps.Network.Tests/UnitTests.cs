using System.Net;
using System.Net.Sockets;
using ContainerOps.Network.Dns;
using ContainerOps.Network.Ipam;
using ContainerOps.Network.Nat;

namespace ContainerOps.Network.Tests;

public class UnitTests
{
    [Theory]
    [InlineData("10.1.2.3/24", "10.1.2.0/24", 256UL)]
    [InlineData("172.17.0.0/16", "172.17.0.0/16", 65536UL)]
    [InlineData("192.168.5.9/30", "192.168.5.8/30", 4UL)]
    public void SubnetsAreNormalised(string text, string expected, ulong size)
    {
        var s = Ipv4Subnet.Parse(text, "x");
        Assert.Equal(expected, s.ToString());
        Assert.Equal(size, s.Size);
    }

    [Fact]
    public void OverlapAndContainment()
    {
        var a = Ipv4Subnet.Parse("10.0.0.0/16", "a");
        Assert.True(a.Overlaps(Ipv4Subnet.Parse("10.0.5.0/24", "b")));
        Assert.True(Ipv4Subnet.Parse("10.0.5.0/24", "b").Overlaps(a));
        Assert.False(a.Overlaps(Ipv4Subnet.Parse("10.1.0.0/16", "c")));
        Assert.True(a.Contains(IPAddress.Parse("10.0.255.255")));
        Assert.False(Ipv4Subnet.TryParse("10.0.0.0", out _));
        Assert.False(Ipv4Subnet.TryParse("10.0.0.0/33", out _));
    }

    [Fact]
    public void TheTableIsReplacedInOneScriptWithPortsInMaps()
    {
        var n = new NetworkRecord
        {
            Id = "n1", Name = "n1", BridgeName = "br-test", Subnet = "10.9.0.0/24", Gateway = "10.9.0.1",
            Endpoints =
            {
                ["c1"] = new EndpointRecord
                {
                    ContainerId = "c1", IPv4Address = "10.9.0.2", HostVeth = "vethx",
                    Ports = [new PortMapping { Protocol = "tcp", HostPort = 8080, ContainerPort = 80 }, new PortMapping { Protocol = "udp", HostIp = "127.0.0.1", HostPort = 5353, ContainerPort = 53 }],
                },
            },
        };
        var script = new Nftables("t1").Render([n]);
        Assert.StartsWith("table inet t1 {}\ndelete table inet t1\ntable inet t1 {", script);
        Assert.Contains("tcp . 8080 : 10.9.0.2 . 80", script);
        Assert.Contains("127.0.0.1 . udp . 5353 : 10.9.0.2 . 53", script);
        Assert.Contains("ip saddr 10.9.0.0/24 oifname != \"br-test\" masquerade", script);
        var add = new Nftables("t1").RenderPorts("10.9.0.2", n.Endpoints["c1"].Ports, add: true);
        Assert.Equal(2, add.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var many = Enumerable.Range(1000, 500).Select(p => new PortMapping { HostPort = p, ContainerPort = p }).ToList();
        Assert.Single(new Nftables("t1").RenderPorts("10.9.0.2", many, add: true).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task TheResponderAnswersKnownNamesAndRelaysTheRest()
    {
        // A fake upstream on loopback that answers every query with its own ID and rcode 3.
        using var upstream = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var upstreamTask = Task.Run(async () =>
        {
            var r = await upstream.ReceiveAsync();
            var reply = r.Buffer.ToArray();
            reply[2] |= 0x80;
            reply[3] = (byte)((reply[3] & 0xF0) | 3);
            await upstream.SendAsync(reply, r.RemoteEndPoint);
        });
        using var dns = new DnsResponder(new IPEndPoint(IPAddress.Loopback, 0), [(IPEndPoint)upstream.Client.LocalEndPoint!], forward: true);
        dns.SetNames(new Dictionary<string, IPAddress[]> { ["web"] = [IPAddress.Parse("10.1.0.5"), IPAddress.Parse("10.1.0.6")] });
        var (rcode, addresses) = TestNetworks.QueryA(dns.Endpoint, "WEB");
        Assert.Equal(0, rcode);
        Assert.Equal(["10.1.0.5", "10.1.0.6"], addresses.Select(a => a.ToString()));
        Assert.Equal(3, TestNetworks.QueryA(dns.Endpoint, "example.invalid").Rcode);
        await upstreamTask;

        // A container's own --dns servers take the place of the default upstreams for its queries.
        using var own = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var ownTask = Task.Run(async () =>
        {
            var r = await own.ReceiveAsync();
            var reply = r.Buffer.ToArray();
            reply[2] |= 0x80;
            reply[3] = (byte)((reply[3] & 0xF0) | 5);
            await own.SendAsync(reply, r.RemoteEndPoint);
        });
        dns.UpstreamsFor = client => IPAddress.IsLoopback(client) ? [(IPEndPoint)own.Client.LocalEndPoint!] : null;
        Assert.Equal(5, TestNetworks.QueryA(dns.Endpoint, "example.invalid").Rcode);
        await ownTask;

        using var closed = new DnsResponder(new IPEndPoint(IPAddress.Loopback, 0), [(IPEndPoint)upstream.Client.LocalEndPoint!], forward: false);
        Assert.Equal(3, TestNetworks.QueryA(closed.Endpoint, "example.invalid").Rcode);
    }

    [Fact]
    public async Task TheResponderAnswersOverTcpTooWithWhatUdpTruncates()
    {
        using var dns = new DnsResponder(new IPEndPoint(IPAddress.Loopback, 0), [], forward: false);
        Assert.True(dns.ServesTcp);
        var many = Enumerable.Range(1, 60).Select(i => (Network.Dns.DnsRecord)new Network.Dns.ARecord(IPAddress.Parse($"10.1.1.{i}"))).ToList();
        dns.Zone = new Network.Dns.DnsZone(["cluster.local"], new Dictionary<string, IReadOnlyList<Network.Dns.DnsRecord>>
        {
            ["many.default.svc.cluster.local"] = many,
            ["one.default.svc.cluster.local"] = [new Network.Dns.ARecord(IPAddress.Parse("10.1.2.3"))],
        });
        static byte[] Query(string name, byte id)
        {
            var q = new List<byte> { 0, id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
            foreach (var label in name.Split('.')) { q.Add((byte)label.Length); q.AddRange(System.Text.Encoding.ASCII.GetBytes(label)); }
            q.AddRange(new byte[] { 0, 0, 1, 0, 1 }); // the root label, type A, class IN
            return [.. q];
        }
        static int Answers(byte[] m) => System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(6));

        // Over UDP 60 addresses do not fit in 512 bytes: truncated (TC), so that the client asks again over TCP.
        var (_, udpAddresses) = TestNetworks.QueryA(dns.Endpoint, "many.default.svc.cluster.local");
        Assert.InRange(udpAddresses.Count, 1, 59);

        // Over TCP: two queries on one connection, each answer after its length, all 60 records, no TC.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(dns.Endpoint);
        var stream = tcp.GetStream();
        foreach (var (name, id) in new[] { ("many.default.svc.cluster.local", (byte)7), ("one.default.svc.cluster.local", (byte)8) })
        {
            var query = Query(name, id);
            await stream.WriteAsync(new byte[] { (byte)(query.Length >> 8), (byte)query.Length }.Concat(query).ToArray());
        }
        var replies = new List<byte[]>();
        var prefix = new byte[2];
        for (var i = 0; i < 2; i++)
        {
            await stream.ReadExactlyAsync(prefix).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            var reply = new byte[(prefix[0] << 8) | prefix[1]];
            await stream.ReadExactlyAsync(reply);
            replies.Add(reply);
        }
        Assert.Equal([7, 8], replies.Select(r => (int)r[1]));
        Assert.Equal(60, Answers(replies[0]));
        Assert.Equal(0, replies[0][2] & 0x02);
        Assert.Equal(1, Answers(replies[1]));
        Assert.Equal([10, 1, 2, 3], replies[1][^4..]);
    }
}
