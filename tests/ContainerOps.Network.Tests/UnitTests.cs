using System.Net;
using System.Net.Sockets;
using ContainerOps.Core.Api;
using ContainerOps.Network.Dns;
using ContainerOps.Network.Ipam;
using ContainerOps.Network.Nat;
using ContainerOps.TestSupport;

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

    [Fact]
    public void AResolvConfKeepsNameserversSearchAndOptions()
    {
        var r = ResolvConf.Parse("# a comment\nnameserver 10.0.0.2\nnameserver not-an-address\ndomain old.example\nsearch a.example b.example\n" +
            "options edns0\noptions trust-ad\nnameserver\t::1\nsortlist 10.0.0.0\n");
        Assert.Equal(["10.0.0.2", "::1"], r.Nameservers);
        Assert.Equal(["a.example", "b.example"], r.Search);
        Assert.Equal(["edns0", "trust-ad"], r.Options);
        Assert.Equal("nameserver 10.0.0.2\nnameserver ::1\nsearch a.example b.example\noptions edns0 trust-ad\n", r.Render());
        // A later domain line replaces the search list, as in resolv.conf(5); `--dns-search .` asks for none.
        Assert.Equal(["c.example"], ResolvConf.Parse("search a.example\ndomain c.example\n").Search);
        Assert.Equal("nameserver 10.0.0.2\nnameserver ::1\noptions edns0 trust-ad\n", r.Override([], ["."], []).Render());
        Assert.Equal("nameserver 1.1.1.1\nsearch a.example b.example\noptions ndots:2\n", r.Override(["1.1.1.1"], [], ["ndots:2"]).Render());
        Assert.True(ResolvConf.Parse("nameserver 127.0.0.53\n").NamesOnlyTheSystemdStub);
        Assert.False(ResolvConf.Parse("nameserver 127.0.0.53\nnameserver 10.0.0.2\n").NamesOnlyTheSystemdStub);
    }

    /// <summary>The host's resolver files of a test, in a folder of its own: /etc/resolv.conf naming only systemd-resolved's
    /// stub unless told otherwise, and systemd-resolved's list of upstreams.</summary>
    private sealed class HostFiles : IDisposable
    {
        public readonly TempDir Dir = new("coresolv");
        public string ResolvConf => Path.Combine(Dir.Path, "resolv.conf");
        public string Systemd => Path.Combine(Dir.Path, "systemd-resolv.conf");
        public string Hosts => Path.Combine(Dir.Path, "hosts");

        public HostFiles(string resolvConf = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch stub.example\n",
            string? systemd = "nameserver 192.0.2.10\nnameserver 127.0.0.1\nnameserver 192.0.2.11\nsearch real.example\n")
        {
            File.WriteAllText(ResolvConf, resolvConf);
            if (systemd is not null) File.WriteAllText(Systemd, systemd);
            File.WriteAllText(Hosts, "127.0.0.1\tlocalhost\n192.0.2.1\tthe-host");
        }

        public ContainerResolution Resolution() => new(Options());

        public NetworkOptions Options() => new()
        {
            StateDirectory = Path.Combine(Dir.Path, "networks"), ResolvConfPath = ResolvConf, SystemdResolvConfPath = Systemd, HostsPath = Hosts,
        };

        public void Dispose() => Dir.Dispose();
    }

    private static HostConfig Mode(string mode, Action<HostConfig>? configure = null)
    {
        var hc = new HostConfig { NetworkMode = mode };
        configure?.Invoke(hc);
        return hc;
    }

    private static ContainerEndpoint Endpoint(string network, bool isDefault, string ip, string gateway) =>
        new("id-" + network, network, isDefault, false, gateway, 24, new EndpointRecord { IPv4Address = ip, DefaultRoute = true });

    [Fact]
    public void WithHostNetworkingAContainerGetsTheHostsFilesWithItsOwnEntries()
    {
        using var host = new HostFiles();
        var r = host.Resolution();
        var (hosts, resolv) = r.Files(Mode("host", hc => hc.ExtraHosts = ["db.local:10.1.2.3", "gw.local:host-gateway"]), "box", [], "172.17.0.1");
        Assert.Equal("127.0.0.1\tlocalhost\n192.0.2.1\tthe-host\n10.1.2.3\tdb.local\n172.17.0.1\tgw.local\n", hosts);
        // The host's resolver as it is: its stub answers in the host's namespace.
        Assert.Equal(File.ReadAllText(host.ResolvConf), resolv);

        (_, resolv) = r.Files(Mode("host", hc => { hc.Dns = ["10.0.0.53"]; hc.DnsOptions = ["ndots:3"]; }), "box", [], null);
        Assert.Equal("nameserver 10.0.0.53\nsearch stub.example\noptions ndots:3\n", resolv);
        (_, resolv) = r.Files(Mode("host", hc => hc.DnsSearch = ["corp.example"]), "box", [], null);
        Assert.Equal("nameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n", resolv);
    }

    [Fact]
    public void WithoutNetworkAContainerGetsLocalhostItsEntriesAndTheUpstreamsBehindTheSystemdStub()
    {
        using var host = new HostFiles();
        var r = host.Resolution();
        var (hosts, resolv) = r.Files(Mode("none", hc => hc.ExtraHosts = ["db.local:10.1.2.3", "gw.local:host-gateway"]), "box", [], "172.17.0.1");
        Assert.Equal("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n10.1.2.3\tdb.local\n172.17.0.1\tgw.local\n", hosts);
        // systemd-resolved's own list, without its loopback entry, and its search domains.
        Assert.Equal("nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch real.example\n", resolv);

        (_, resolv) = r.Files(Mode("none", hc => { hc.Dns = ["10.0.0.53"]; hc.DnsSearch = ["corp.example"]; hc.DnsOptions = ["ndots:2"]; }), "box", [], null);
        Assert.Equal("nameserver 10.0.0.53\nsearch corp.example\noptions ndots:2\n", resolv);
    }

    [Theory]
    [InlineData("nameserver 127.0.0.53\n", null)]
    [InlineData("nameserver 127.0.0.1\nnameserver ::1\n", null)]
    [InlineData("nameserver 127.0.0.53\n", "nameserver 127.0.0.1\n")]
    [InlineData("", null)]
    public void WhenTheHostNamesNoServerAContainerCanReachItGetsDockersFallback(string resolvConf, string? systemd)
    {
        using var host = new HostFiles(resolvConf, systemd);
        var (_, resolv) = host.Resolution().Files(Mode("default"), "box", [Endpoint("bridge", isDefault: true, "172.17.0.2", "172.17.0.1")], null);
        Assert.Equal("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", resolv);
    }

    [Fact]
    public void OnBridgeNetworksTheUpstreamsBehindTheStubAreTheDefaultNetworksAndUserNetworksAskTheirGateway()
    {
        using var host = new HostFiles();
        var r = host.Resolution();
        var extra = Mode("default", hc => hc.ExtraHosts = ["gw.local:host-gateway"]);
        var (hosts, resolv) = r.Files(extra, "box", [Endpoint("bridge", isDefault: true, "172.17.0.2", "172.17.0.1")], "172.17.0.1");
        Assert.EndsWith("172.17.0.2\tbox\n172.17.0.1\tgw.local\n", hosts);
        Assert.Equal("nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch real.example\n", resolv);

        (hosts, resolv) = r.Files(Mode("app", hc => { hc.ExtraHosts = ["gw.local:host-gateway"]; hc.Dns = ["10.0.0.53"]; }), "box",
            [Endpoint("app", isDefault: false, "10.5.0.2", "10.5.0.1")], "172.17.0.1");
        Assert.EndsWith("10.5.0.2\tbox\n10.5.0.1\tgw.local\n", hosts);
        // --dns is the upstream of the network's server there, not a nameserver line.
        Assert.Equal("nameserver 10.5.0.1\nsearch real.example\n", resolv);

        // A host without systemd-resolved: its own servers but loopback ones, its own search list and options.
        using var plain = new HostFiles("nameserver 10.0.0.2\nnameserver 127.0.0.1\nsearch lan\noptions rotate\n", systemd: null);
        (_, resolv) = plain.Resolution().Files(Mode("default"), "box", [Endpoint("bridge", isDefault: true, "172.17.0.2", "172.17.0.1")], null);
        Assert.Equal("nameserver 10.0.0.2\nsearch lan\noptions rotate\n", resolv);
    }

    [Fact]
    public void TheDnsServersAskSystemdResolvedsUpstreamsOnlyInPlaceOfItsStub()
    {
        static List<string> Upstreams(string resolvConf, string? systemd)
        {
            using var host = new HostFiles(resolvConf, systemd);
            return host.Resolution().HostUpstreams().Select(e => e.ToString()).ToList();
        }
        // They run in the host's namespace: loopback servers work for them, only the stub is looked behind.
        Assert.Equal(["192.0.2.10:53", "127.0.0.1:53", "192.0.2.11:53"], Upstreams("nameserver 127.0.0.53\n", "nameserver 192.0.2.10\nnameserver 127.0.0.1\nnameserver 192.0.2.11\n"));
        Assert.Equal(["127.0.0.53:53"], Upstreams("nameserver 127.0.0.53\n", null));
        Assert.Equal(["127.0.0.53:53"], Upstreams("nameserver 127.0.0.53\n", "# offline: no servers\n"));
        Assert.Equal(["127.0.0.1:53"], Upstreams("nameserver 127.0.0.1\n", "nameserver 192.0.2.10\n"));
        Assert.Equal(["127.0.0.53:53", "10.0.0.2:53"], Upstreams("nameserver 127.0.0.53\nnameserver 10.0.0.2\n", "nameserver 192.0.2.10\n"));
    }

    /// <summary>A manager over a default network's record written beforehand: nothing of the kernel is touched as long as
    /// no bridge is needed (no network created, nothing attached).</summary>
    private static NetworkManager ManagerWithDefaultNetwork(HostFiles host)
    {
        var options = host.Options();
        Directory.CreateDirectory(options.StateDirectory);
        new NetworkRecord
        {
            Id = new string('b', 64), Name = NetworkManager.DefaultNetworkName, IsDefault = true, BridgeName = "cotest-none0",
            Subnet = "10.213.251.0/24", Gateway = "10.213.251.1", Created = DateTimeOffset.UnixEpoch,
        }.Save(options.StateDirectory, durable: false);
        return new NetworkManager(options);
    }

    [Fact]
    public void HostAndNoneAreListedAndInspectedAsDockersButNeverRemovedOrJoined()
    {
        using var host = new HostFiles();
        using var m = ManagerWithDefaultNetwork(host);
        var list = m.List(null);
        Assert.Equal([("bridge", "bridge"), ("host", "host"), ("none", "null")], list.Select(n => (n.Name, n.Driver)));
        Assert.All(list, n => Assert.Equal("local", n.Scope));
        var hostNet = m.Inspect("host");
        Assert.Equal(64, hostNet.Id.Length);
        Assert.Empty(hostNet.IPAM.Config);
        Assert.Empty(hostNet.Options);
        Assert.Equal("none", m.Inspect(list[2].Id[..10]).Name);
        // The same ids for as long as the default network is the same.
        using (var again = new NetworkManager(host.Options())) Assert.Equal(list.Select(n => n.Id), again.List(null).Select(n => n.Id));

        Assert.Equal(["bridge", "host", "none"], m.List(new Dictionary<string, List<string>> { ["type"] = ["builtin"] }).Select(n => n.Name));
        Assert.Equal(["host"], m.List(new Dictionary<string, List<string>> { ["driver"] = ["host"] }).Select(n => n.Name));
        Assert.Empty(m.List(new Dictionary<string, List<string>> { ["dangling"] = ["true"] }));

        var removal = Assert.Throws<ContainerOpsException>(() => m.Remove("host"));
        Assert.Equal(("PredefinedNetwork", "host is a pre-defined network and cannot be removed"), (removal.Error.Id, removal.Error.Message));
        Assert.Equal("PredefinedNetwork", Assert.Throws<ContainerOpsException>(() => m.Remove(list[2].Id)).Error.Id);
        Assert.Equal("PredefinedNetwork", Assert.Throws<ContainerOpsException>(() => m.Create(new NetworkCreateRequest { Name = "none" })).Error.Id);
        Assert.Equal("NetworkModeOnly", Assert.Throws<ContainerOpsException>(() => m.Reserve(new string('c', 64), "web", "host", null)).Error.Id);
    }

    [Fact]
    public void AForcedReleaseFreesAnEndpointByIdPrefixOrNameAndOneAlreadyGoneIsNoError()
    {
        using var host = new HostFiles();
        using var m = ManagerWithDefaultNetwork(host);
        var (web, db) = (new string('1', 64), new string('2', 64));
        m.Reserve(web, "web", "bridge", null);
        m.Reserve(db, "db", "bridge", null);

        m.ForceRelease("bridge", "web"); // by name: the container may be gone
        m.ForceRelease("bridge", db[..12]);
        Assert.Empty(m.Inspect("bridge").Containers);
        m.ForceRelease("bridge", "web");
        m.ForceRelease("bridge", db);
        // Unforced, a container that is not connected is an error, as with Docker.
        Assert.Equal("NotConnected", Assert.Throws<ContainerOpsException>(() => m.Release(web, "bridge")).Error.Id);
        // What was freed is on disk: a restarted daemon does not see it either.
        using var again = new NetworkManager(host.Options());
        Assert.Empty(again.Inspect("bridge").Containers);
    }
}
