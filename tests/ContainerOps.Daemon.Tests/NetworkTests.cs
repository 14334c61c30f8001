using System.Net;
using System.Net.Sockets;
using ContainerOps.Client;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Bridge networks end to end: busybox containers on user networks, names, published ports, a daemon killed with
/// containers on a network (needs root; each test has a daemon, bridges and an nftables table of its own).</summary>
public class NetworkTests
{
    private static int _subnet = Random.Shared.Next(0, 120);
    private static string NextSubnet() => $"10.213.{130 + Interlocked.Increment(ref _subnet) % 120}.0/24";
    private const string Image = "net-tests/busybox:1";
    private const string WebServer = "mkdir -p /www && echo served-by-$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www";

    private static async Task<string> Network(IContainerOpsClient client, string name, bool @internal = false) =>
        (await client.CreateNetworkAsync(new NetworkCreateRequest
        {
            Name = name, Internal = @internal, IPAM = new IPAM { Config = [new IPAMConfig { Subnet = NextSubnet() }] },
        })).Id;

    private static async Task<string> Run(IContainerOpsClient client, string name, string network, string script, Action<ContainerCreateRequest>? configure = null)
    {
        var request = new ContainerCreateRequest { Name = name, Image = Image, Cmd = ["sh", "-c", script], Hostname = name, HostConfig = { NetworkMode = network } };
        configure?.Invoke(request);
        var id = (await client.CreateContainerAsync(request)).Id;
        await client.StartContainerAsync(id);
        return id;
    }

    /// <summary>Runs a script in a new container on the network to its end: exit code and output.</summary>
    private static async Task<(int Code, string Output)> RunToEnd(IContainerOpsClient client, string network, string script)
    {
        var id = await Run(client, "probe-" + Guid.NewGuid().ToString("N")[..6], network, script);
        try
        {
            var exit = await client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(60));
            var output = new System.Text.StringBuilder();
            await foreach (var e in client.GetLogsAsync(id)) output.Append(e.Log);
            return (exit.StatusCode, output.ToString());
        }
        finally { await client.RemoveContainerAsync(id, force: true); }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task<string> GetWithRetry(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; ; i++)
        {
            try { return await http.GetStringAsync(url); }
            catch (HttpRequestException) when (i < 50) { await Task.Delay(100); }
        }
    }

    [Fact]
    public async Task ContainersOnAUserNetworkFindEachOtherByNameAliasAndShortIdTheMomentRunReturns()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "talk");
        var web = await Run(daemon.Client, "web", "talk", WebServer,
            r => r.NetworkingConfig = new NetworkingConfig { EndpointsConfig = { ["talk"] = new EndpointSettings { Aliases = ["www"] } } });
        // No waiting: the names are there when start returns.
        var (code, output) = await RunToEnd(daemon.Client, "talk",
            $"nslookup web && nslookup www && nslookup {web[..12]} && ping -c1 -W3 www && " +
            "for i in $(seq 50); do wget -qO- http://web/ && exit 0; sleep 0.1; done; exit 1");
        Assert.True(code == 0, output + daemon.Output);
        Assert.Contains("served-by-web", output);
        var d = await daemon.Client.InspectContainerAsync(web);
        var ep = d.NetworkSettings.Networks["talk"];
        Assert.Contains(ep.IPAddress, output);
        Assert.Equal(["web", web[..12], "www"], ep.DNSNames);
    }

    [Fact]
    public async Task APublishedPortAnswersFromTheHostOnLoopback()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "pub");
        var port = FreePort();
        var id = await Run(daemon.Client, "site", "pub", WebServer, r =>
        {
            r.HostConfig.PortBindings = new() { ["80/tcp"] = [new PortBinding { HostIp = "127.0.0.1", HostPort = port.ToString() }] };
            r.ExposedPorts = new() { ["80/tcp"] = new EmptyObject() };
        });
        Assert.Equal("served-by-site\n", await GetWithRetry($"http://127.0.0.1:{port}/"));
        var ports = (await daemon.Client.InspectContainerAsync(id)).NetworkSettings.Ports;
        Assert.Equal(port.ToString(), Assert.Single(ports["80/tcp"]!).HostPort);

        // A restart detaches and attaches again: the same address, the port answers again.
        var before = (await daemon.Client.InspectContainerAsync(id)).NetworkSettings.IPAddress;
        await daemon.Client.RestartContainerAsync(id, 1);
        Assert.Equal("served-by-site\n", await GetWithRetry($"http://127.0.0.1:{port}/"));
        Assert.Equal(before, (await daemon.Client.InspectContainerAsync(id)).NetworkSettings.IPAddress);
    }

    [Fact]
    public async Task TwoNetworksAreIsolated()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "left");
        await Network(daemon.Client, "right");
        var target = await Run(daemon.Client, "target", "right", "exec sleep 600");
        var ip = (await daemon.Client.InspectContainerAsync(target)).NetworkSettings.IPAddress;
        var (code, output) = await RunToEnd(daemon.Client, "left", $"ping -c1 -W1 {ip}; echo ping=$?; nslookup target; echo lookup=$?");
        Assert.Equal(0, code);
        Assert.Contains("ping=1", output);
        Assert.DoesNotContain("lookup=0", output);
    }

    [Fact]
    public async Task AfterRemovalNothingIsLeft()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        var net = await Network(daemon.Client, "gone");
        var port = FreePort();
        var id = await Run(daemon.Client, "gone", "gone", "exec sleep 600",
            r => r.HostConfig.PortBindings = new() { ["80/tcp"] = [new PortBinding { HostPort = port.ToString() }] });
        var ip = (await daemon.Client.InspectContainerAsync(id)).NetworkSettings.IPAddress;
        Assert.Contains(port.ToString(), Nft(daemon));

        await daemon.Client.RemoveContainerAsync(id, force: true);
        await daemon.Client.RemoveNetworkAsync("gone");
        Assert.True(HostLinks.WaitUntilNone(l => l.StartsWith("veth" + id[..7], StringComparison.Ordinal) || l.StartsWith(daemon.BridgePrefix, StringComparison.Ordinal)),
            string.Join(", ", HostLinks.Names()));
        var rules = Nft(daemon);
        Assert.DoesNotContain(ip, rules);
        Assert.DoesNotContain(port.ToString(), rules);
        Assert.Equal(["bridge", "host", "none"], (await daemon.Client.ListNetworksAsync()).Select(n => n.Name));
        Assert.Single(Directory.GetFiles(Path.Combine(daemon.Root, "networks")));
        await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.InspectNetworkAsync(net));
    }

    [Fact]
    public async Task AfterTheDaemonIsKilledRulesAndNamesComeBackAndNoAddressIsGivenTwice()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "crash");
        var port = FreePort();
        var web = await Run(daemon.Client, "web", "crash", WebServer,
            r => r.HostConfig.PortBindings = new() { ["80/tcp"] = [new PortBinding { HostIp = "127.0.0.1", HostPort = port.ToString() }] });
        var webIp = (await daemon.Client.InspectContainerAsync(web)).NetworkSettings.IPAddress;
        var stopped = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["true"], HostConfig = { NetworkMode = "crash" } })).Id;
        var stoppedIp = (await daemon.Client.InspectContainerAsync(stopped)).NetworkSettings.IPAddress;
        await GetWithRetry($"http://127.0.0.1:{port}/");

        daemon.Crash();
        // Rules lost meanwhile (or never there after a reboot) are rebuilt from the records.
        TestSupport.Shell.Run("nft", $"delete table inet {daemon.NftTable}", check: false);
        daemon.Start();

        Assert.Equal("served-by-web\n", await GetWithRetry($"http://127.0.0.1:{port}/"));
        var (code, output) = await RunToEnd(daemon.Client, "crash", "nslookup web && wget -qO- http://web/ && ip -o -4 addr show eth0");
        Assert.True(code == 0, output + daemon.Output);
        Assert.Contains("served-by-web", output);
        Assert.DoesNotContain($" {webIp}/", output);
        Assert.DoesNotContain($" {stoppedIp}/", output);
        var fresh = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["true"], HostConfig = { NetworkMode = "crash" } })).Id;
        Assert.DoesNotContain((await daemon.Client.InspectContainerAsync(fresh)).NetworkSettings.IPAddress, new[] { webIp, stoppedIp });
    }

    [Fact]
    public async Task HostsAndResolvConfFollowTheOptions()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "files");
        var gateway = (await daemon.Client.InspectNetworkAsync("files")).IPAM.Config[0].Gateway;
        var id = await Run(daemon.Client, "files", "files", "cat /etc/hosts /etc/resolv.conf", r =>
        {
            r.HostConfig.ExtraHosts = ["db.local:10.1.2.3", "host.local:host-gateway"];
            r.HostConfig.DnsSearch = ["example.test"];
            r.HostConfig.DnsOptions = ["ndots:2"];
            r.HostConfig.Dns = ["10.0.0.53"]; // on a user network: the upstream of the network's server, not a nameserver line
        });
        await daemon.Client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(30));
        var output = new System.Text.StringBuilder();
        await foreach (var e in daemon.Client.GetLogsAsync(id)) output.Append(e.Log);
        var text = output.ToString();
        Assert.Contains("10.1.2.3\tdb.local", text);
        Assert.Contains($"{gateway}\thost.local", text);
        Assert.Contains($"nameserver {gateway}", text);
        Assert.DoesNotContain("nameserver 10.0.0.53", text);
        Assert.Contains("search example.test", text);
        Assert.Contains("options ndots:2", text);
    }

    /// <summary>Waits for the container's end; its output.</summary>
    private static async Task<string> OutputToEnd(IContainerOpsClient client, string id)
    {
        await client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(30));
        var output = new System.Text.StringBuilder();
        await foreach (var e in client.GetLogsAsync(id)) output.Append(e.Log);
        return output.ToString();
    }

    [Theory]
    [InlineData("host")]
    [InlineData("none")]
    public async Task HostAndNoneModesHaveTheirAddedHostsAndNameServers(string mode)
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Image = Image, Cmd = ["cat", "/etc/hosts", "/etc/resolv.conf"],
            HostConfig =
            {
                NetworkMode = mode, ExtraHosts = ["db.local:10.1.2.3", "gw.local:host-gateway"],
                Dns = ["10.0.0.53"], DnsSearch = ["example.test"], DnsOptions = ["ndots:2"],
            },
        })).Id;
        await daemon.Client.StartContainerAsync(id);
        var text = await OutputToEnd(daemon.Client, id);
        var gateway = (await daemon.Client.InspectNetworkAsync("bridge")).IPAM.Config[0].Gateway;
        Assert.Contains("10.1.2.3\tdb.local\n", text);
        Assert.Contains($"{gateway}\tgw.local\n", text);
        Assert.Contains("nameserver 10.0.0.53\nsearch example.test\noptions ndots:2\n", text);
        // With the host's network, the host's own entries come first.
        if (mode == "host") Assert.StartsWith(File.ReadAllText("/etc/hosts").TrimEnd('\n'), text);
        else Assert.StartsWith("127.0.0.1\tlocalhost\n", text);
    }

    [Fact]
    public async Task TheDefaultNetworkGetsNoLoopbackNameServer()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        var id = await Run(daemon.Client, "resolv", "bridge", "cat /etc/resolv.conf");
        var text = await OutputToEnd(daemon.Client, id);
        // systemd-resolved's stub (127.0.0.53) is replaced by its upstreams, or Docker's fallback when there are none.
        Assert.Contains("nameserver ", text);
        Assert.DoesNotContain("nameserver 127.", text);
        Assert.DoesNotContain("nameserver ::1", text);
    }

    [Fact]
    public async Task AContainerModeContainerSharesTheFilesOfTheOneItJoinsAndRefusesOptionsThatWouldChangeThem()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "shared");
        var gateway = (await daemon.Client.InspectNetworkAsync("shared")).IPAM.Config[0].Gateway;
        var web = await Run(daemon.Client, "web", "shared", "exec sleep 600", r => r.HostConfig.ExtraHosts = ["db.local:10.1.2.3"]);
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Image = Image, Cmd = ["sh", "-c", "cat /etc/hosts /etc/resolv.conf; hostname; echo 10.9.9.9 written-by-joiner >> /etc/hosts"],
            HostConfig = { NetworkMode = "container:web" },
        })).Id;
        await daemon.Client.StartContainerAsync(id);
        var text = await OutputToEnd(daemon.Client, id);
        Assert.Contains("10.1.2.3\tdb.local\n", text);
        Assert.Contains($"nameserver {gateway}\n", text);
        Assert.EndsWith("\nweb\n", text);
        Assert.Equal("web", (await daemon.Client.InspectContainerAsync(id)).Config.Hostname);
        // The very same files, bind-mounted: what one writes the other reads.
        Assert.Contains("written-by-joiner", File.ReadAllText(Path.Combine(daemon.Root, "containers", web, "hosts")));

        var conflicts = new (string Option, Action<ContainerCreateRequest> Set)[]
        {
            ("--hostname", r => r.Hostname = "other"),
            ("--add-host", r => r.HostConfig.ExtraHosts = ["db.local:10.1.2.3"]),
            ("--dns", r => r.HostConfig.Dns = ["10.0.0.53"]),
            ("--dns-search", r => r.HostConfig.DnsSearch = ["example.test"]),
            ("--dns-option", r => r.HostConfig.DnsOptions = ["ndots:2"]),
            ("--publish", r => r.HostConfig.PortBindings = new() { ["80/tcp"] = [new PortBinding { HostPort = FreePort().ToString() }] }),
        };
        foreach (var (option, set) in conflicts)
        {
            var request = new ContainerCreateRequest { Image = Image, Cmd = ["true"], HostConfig = { NetworkMode = "container:web" } };
            set(request);
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.CreateContainerAsync(request));
            Assert.StartsWith($"conflicting options: {option} and the network mode container:web: ", e.Error.Message);
        }
        var cli = Assert.Throws<InvalidOperationException>(() => daemon.Cli($"create --network container:web --add-host x:10.0.0.1 {Image} true"));
        Assert.Contains("conflicting options: --add-host and the network mode container:web", cli.Message);
    }

    [Fact]
    public async Task AForcedDisconnectFreesStoppedAndStaleEndpointsAndOneAlreadyGoneIsNoError()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        var net = await Network(daemon.Client, "leave");
        var stopped = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["true"], HostConfig = { NetworkMode = "leave" } })).Id;
        var running = await Run(daemon.Client, "running", "leave", "exec sleep 600");
        // Stale: the endpoint's veth removed behind the daemon's back.
        var veth = ContainerOps.Network.NetworkManager.VethName(running, net);
        TestSupport.Shell.Run("ip", $"link del {veth}");

        await daemon.Client.DisconnectNetworkAsync("leave", stopped, force: true);
        daemon.Cli($"network disconnect -f leave {running}");
        Assert.Empty((await daemon.Client.InspectNetworkAsync("leave")).Containers);
        Assert.Empty((await daemon.Client.InspectContainerAsync(running)).NetworkSettings.Networks);
        Assert.True(HostLinks.WaitUntilNone(l => l == veth), $"{veth} is still there");

        await daemon.Client.DisconnectNetworkAsync("leave", stopped, force: true);
        await daemon.Client.DisconnectNetworkAsync("leave", "no-such-container", force: true);
        await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.DisconnectNetworkAsync("leave", stopped));
        // The freed addresses are free: the network can go.
        await daemon.Client.RemoveNetworkAsync("leave");
    }

    [Fact]
    public async Task AnAliasOnTheDefaultNetworkIsRefusedAtConnect()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "named");
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["true"], HostConfig = { NetworkMode = "named" } })).Id;
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.ConnectNetworkAsync("bridge", id, new EndpointSettings { Aliases = ["www"] }));
        Assert.Equal("network-scoped alias is supported only for containers in user defined networks", e.Error.Message);
        var cli = Assert.Throws<InvalidOperationException>(() => daemon.Cli($"network connect --alias www bridge {id}"));
        Assert.Contains("network-scoped alias is supported only for containers in user defined networks", cli.Message);
        Assert.DoesNotContain(id, (await daemon.Client.InspectNetworkAsync("bridge")).Containers.Keys);
        // Without an alias it joins.
        daemon.Cli($"network connect bridge {id}");
        Assert.Contains(id, (await daemon.Client.InspectNetworkAsync("bridge")).Containers.Keys);
    }

    [Fact]
    public async Task HostAndNoneAreListedAndInspectedButCannotBeRemoved()
    {
        using var daemon = new PrivateDaemon();
        var list = await daemon.Client.ListNetworksAsync();
        Assert.Equal([("bridge", "bridge"), ("host", "host"), ("none", "null")], list.Select(n => (n.Name, n.Driver)));
        Assert.All(list, n => Assert.Equal("local", n.Scope));
        Assert.Equal(list[1].Id, (await daemon.Client.InspectNetworkAsync("host")).Id);
        Assert.Equal("none", (await daemon.Client.InspectNetworkAsync(list[2].Id[..12])).Name);
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.RemoveNetworkAsync("host"));
        Assert.Equal("host is a pre-defined network and cannot be removed", e.Error.Message);
        var table = daemon.Cli("network ls");
        Assert.Matches(@"\bhost\s+host\s+local\b", table);
        Assert.Matches(@"\bnone\s+null\s+local\b", table);
    }

    [Fact]
    public async Task PublishAllPortsGivesEveryExposedPortAFreeHostPortThatAnswers()
    {
        using var daemon = new PrivateDaemon();
        // EXPOSE from the image's config, and one more from the request's own Config.ExposedPorts.
        await daemon.ImportBusyboxAsync("net-tests/exposed:1", "EXPOSE 80/tcp 81");
        await Network(daemon.Client, "all");
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = "all", Image = "net-tests/exposed:1", Hostname = "all",
            Cmd = ["sh", "-c", "mkdir -p /www && echo served-by-$HOSTNAME > /www/index.html && httpd -p 81 -h /www && httpd -p 82 -h /www && exec httpd -f -p 80 -h /www"],
            ExposedPorts = new() { ["82/tcp"] = new EmptyObject() },
            HostConfig = { NetworkMode = "all", PublishAllPorts = true },
        })).Id;
        await daemon.Client.StartContainerAsync(id);

        var ports = (await daemon.Client.InspectContainerAsync(id)).NetworkSettings.Ports;
        Assert.Equal(["80/tcp", "81/tcp", "82/tcp"], ports.Keys.Order());
        var hostPorts = new List<int>();
        foreach (var key in new[] { "80/tcp", "81/tcp", "82/tcp" })
        {
            var binding = Assert.Single(ports[key]!);
            Assert.Equal("0.0.0.0", binding.HostIp);
            var hostPort = int.Parse(binding.HostPort!);
            Assert.InRange(hostPort, 32768, 60999);
            hostPorts.Add(hostPort);
            Assert.Equal("served-by-all\n", await GetWithRetry($"http://127.0.0.1:{hostPort}/"));
        }
        Assert.Equal(3, hostPorts.Distinct().Count());
    }

    /// <summary>A UDP socket bound inside the network namespace of process <paramref name="pid"/> (setns on a thread of
    /// its own, which then goes back): busybox's nc has no UDP mode, so the container's end of the datagrams is ours.</summary>
    private static Socket UdpSocketInNamespaceOf(int pid, int port)
    {
        const int CloneNewNet = 0x40000000;
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var own = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle($"/proc/{pid}/ns/net");
                if (setns((int)target.DangerousGetHandle(), CloneNewNet) != 0) throw new IOException($"setns into pid {pid}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
                try
                {
                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    socket.Bind(new IPEndPoint(IPAddress.Any, port));
                }
                finally { setns((int)own.DangerousGetHandle(), CloneNewNet); }
            }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        if (error is not null) { socket?.Dispose(); throw error; }
        return socket!;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    [Fact]
    public async Task AUdpPublishedPortCarriesDatagramsBothWays()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "udp");
        int port;
        using (var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))) port = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
        var id = await Run(daemon.Client, "echo", "udp", "exec sleep 600",
            r => r.HostConfig.PortBindings = new() { ["5353/udp"] = [new PortBinding { HostIp = "127.0.0.1", HostPort = port.ToString() }] });
        var d = await daemon.Client.InspectContainerAsync(id);
        Assert.Equal(port.ToString(), Assert.Single(d.NetworkSettings.Ports["5353/udp"]!).HostPort);
        Assert.False(d.NetworkSettings.Ports.ContainsKey("5353/tcp"));

        using var inside = UdpSocketInNamespaceOf(d.State.Pid, 5353);
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        client.Connect(IPAddress.Loopback, port);
        var buffer = new byte[100];
        // The first datagram may meet the rules before the container's end listens: sent again until one arrives.
        UdpReceiveResult? reply = null;
        for (var i = 0; i < 20 && reply is null; i++)
        {
            await client.SendAsync("ping-over-udp"u8.ToArray());
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(250));
            try
            {
                var got = await inside.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), wait.Token);
                Assert.Equal("ping-over-udp", System.Text.Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes));
                // From the container's side the sender is the network's gateway or the host: never its own loopback.
                Assert.False(IPAddress.IsLoopback(((IPEndPoint)got.RemoteEndPoint).Address), got.RemoteEndPoint.ToString());
                await inside.SendToAsync("pong-over-udp"u8.ToArray(), SocketFlags.None, got.RemoteEndPoint);
                using var back = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                reply = await client.ReceiveAsync(back.Token);
            }
            catch (OperationCanceledException) when (reply is null && i < 19) { }
        }
        Assert.NotNull(reply);
        Assert.Equal("pong-over-udp", System.Text.Encoding.ASCII.GetString(reply.Value.Buffer));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), reply.Value.RemoteEndPoint);
    }

    [Fact]
    public async Task ThePortCommandPrintsDockersFormat()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "ports");
        var (tcp, udp) = (FreePort(), FreePort());
        await Run(daemon.Client, "mapped", "ports", "exec sleep 600", r =>
        {
            r.HostConfig.PortBindings = new()
            {
                ["80/tcp"] = [new PortBinding { HostPort = tcp.ToString() }],
                ["53/udp"] = [new PortBinding { HostIp = "127.0.0.1", HostPort = udp.ToString() }],
            };
            r.ExposedPorts = new() { ["81/tcp"] = new EmptyObject() };
        });

        Assert.Equal($"53/udp -> 127.0.0.1:{udp}\n80/tcp -> 0.0.0.0:{tcp}\n", daemon.Cli("port mapped"));
        Assert.Equal($"0.0.0.0:{tcp}\n", daemon.Cli("port mapped 80"));
        Assert.Equal($"0.0.0.0:{tcp}\n", daemon.Cli("port mapped 80/tcp"));
        Assert.Equal($"127.0.0.1:{udp}\n", daemon.Cli("port mapped 53/udp"));
        // Exposed but not published, and published over another protocol: errors naming the port and the container.
        var e = Assert.Throws<InvalidOperationException>(() => daemon.Cli("port mapped 81"));
        Assert.Contains("no public port '81/tcp' published for mapped", e.Message, StringComparison.OrdinalIgnoreCase);
        e = Assert.Throws<InvalidOperationException>(() => daemon.Cli("port mapped 53"));
        Assert.Contains("no public port '53/tcp' published for mapped", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ANetworkWithSubnetGatewayAndIpRangeGivesAddressesInTheRangeAndRefusesOnesOutsideTheSubnet()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        var subnet = NextSubnet();
        var prefix = subnet[..subnet.LastIndexOf('.')];
        daemon.Cli($"network create --subnet {subnet} --gateway {prefix}.254 --ip-range {prefix}.128/28 ranged");
        var config = Assert.Single((await daemon.Client.InspectNetworkAsync("ranged")).IPAM.Config);
        Assert.Equal((subnet, $"{prefix}.254", $"{prefix}.128/28"), (config.Subnet, config.Gateway, config.IPRange));

        var addresses = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            // Kept (stopped) after their end: each holds its address, and the next one gets another.
            var output = await OutputToEnd(daemon.Client, await Run(daemon.Client, $"ranged-{i}", "ranged", "ip -o -4 addr show eth0 && ip route"));
            Assert.Contains($"default via {prefix}.254 dev eth0", output);
            var address = System.Text.RegularExpressions.Regex.Match(output, @"inet ([0-9.]+)/24").Groups[1].Value;
            var last = int.Parse(address.Split('.')[3]);
            Assert.StartsWith(prefix + ".", address);
            // The range's own first and last addresses are host addresses of the subnet: given too, as Docker does.
            Assert.InRange(last, 128, 143);
            addresses.Add(address);
        }
        Assert.Equal(3, addresses.Distinct().Count());
        var held = daemon.Cli($"create --network ranged {Image} true").Trim();
        var heldAt = (await daemon.Client.InspectContainerAsync(held)).NetworkSettings.Networks["ranged"];
        Assert.Equal($"{prefix}.254", heldAt.Gateway);
        Assert.InRange(int.Parse(heldAt.IPAddress!.Split('.')[3]), 128, 143);

        // --ip outside the subnet: refused with the address and the subnet named; nothing is created.
        var before = (await daemon.Client.ListContainersAsync(all: true)).Count;
        var outside = "10.214.7.9";
        var e = Assert.Throws<InvalidOperationException>(() => daemon.Cli($"create --network ranged --ip {outside} {Image} true"));
        Assert.Contains($"address {outside} is not a free host address of network ranged ({subnet})", e.Message);
        var api = await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Image = Image, Cmd = ["true"], HostConfig = { NetworkMode = "ranged" },
            NetworkingConfig = new NetworkingConfig { EndpointsConfig = { ["ranged"] = new EndpointSettings { IPAMConfig = new EndpointIPAMConfig { IPv4Address = outside } } } },
        }));
        Assert.Equal("InvalidAddress", api.Error.Id);
        Assert.Equal(before, (await daemon.Client.ListContainersAsync(all: true)).Count);
        // A gateway outside the subnet, and a range outside it, are refused at network create.
        var other = NextSubnet();
        e = Assert.Throws<InvalidOperationException>(() => daemon.Cli($"network create --subnet {other} --gateway {prefix}.200 bad-gw"));
        Assert.Contains($"gateway {prefix}.200 is not a host address of subnet {other}", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => daemon.Cli($"network create --subnet {other} --ip-range {prefix}.128/28 bad-range"));
        Assert.Contains($"ip range {prefix}.128/28 is not inside subnet {other}", e.Message);
        Assert.DoesNotContain((await daemon.Client.ListNetworksAsync()).Select(n => n.Name), n => n.StartsWith("bad-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NetworkPruneRemovesOnlyUnusedUserNetworks()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        foreach (var name in new[] { "running", "stopped", "idle1", "idle2" }) await Network(daemon.Client, name);
        await Run(daemon.Client, "runner", "running", "exec sleep 600");
        await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Name = "sitter", Image = Image, Cmd = ["true"], HostConfig = { NetworkMode = "stopped" } });
        async Task<string> BridgeOf(string n) => (await daemon.Client.InspectNetworkAsync(n)).Options["com.docker.network.bridge.name"];
        var idleBridges = new[] { await BridgeOf("idle1"), await BridgeOf("idle2") };
        Assert.All(idleBridges, b => Assert.Contains(b, HostLinks.Names()));

        var pruned = await daemon.Client.PruneNetworksAsync();
        Assert.Equal(["idle1", "idle2"], pruned.NetworksDeleted.Order());
        Assert.Equal(["bridge", "host", "none", "running", "stopped"], (await daemon.Client.ListNetworksAsync()).Select(n => n.Name).Order());
        Assert.True(HostLinks.WaitUntilNone(l => idleBridges.Contains(l)), string.Join(", ", HostLinks.Names()));
        // Nothing left to prune: an empty answer.
        Assert.Empty((await daemon.Client.PruneNetworksAsync()).NetworksDeleted);

        // Through the CLI: its container removed, `stopped` goes too; `running` stays, and so does what runs on it.
        await Network(daemon.Client, "idle3");
        await daemon.Client.RemoveContainerAsync("sitter");
        var output = daemon.Cli("network prune -f");
        Assert.StartsWith("Deleted Networks:\n", output);
        Assert.Equal(["idle3", "stopped"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Order());
        Assert.Equal(["bridge", "host", "none", "running"], (await daemon.Client.ListNetworksAsync()).Select(n => n.Name).Order());
        Assert.Equal("", daemon.Cli("network prune -f"));
        var (code, text) = await RunToEnd(daemon.Client, "running", "nslookup runner");
        Assert.True(code == 0, text);
    }

    [Fact]
    public async Task NamesKeepResolvingWhileOtherContainersComeAndGo()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync(Image);
        await Network(daemon.Client, "busy");
        var target = await Run(daemon.Client, "target", "busy", "exec sleep 600");
        var ip = (await daemon.Client.InspectContainerAsync(target)).NetworkSettings.IPAddress;
        var client = await Run(daemon.Client, "client", "busy",
            $"for i in $(seq 50); do if nslookup target > /tmp/out 2>&1 && grep -q 'Address: {ip}$' /tmp/out; then echo ok; else echo FAIL $i; cat /tmp/out; fi; sleep 0.1; done");

        // Containers of the same network created, started and removed meanwhile, until the lookups are done (10 at least).
        var churned = 0;
        var exited = daemon.Client.WaitContainerAsync(client);
        while (!exited.IsCompleted || churned < 10)
        {
            var id = await Run(daemon.Client, $"churn-{churned}", "busy", "exec sleep 600");
            await daemon.Client.RemoveContainerAsync(id, force: true);
            churned++;
            Assert.True(churned < 500, "the lookups never ended");
        }
        Assert.Equal(0, (await exited.WaitAsync(TimeSpan.FromSeconds(60))).StatusCode);
        var output = new System.Text.StringBuilder();
        await foreach (var e in daemon.Client.GetLogsAsync(client)) output.Append(e.Log);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 50 && lines.All(l => l == "ok"), $"after {churned} containers came and went:\n{output}");
        Assert.True(churned >= 10);
    }

    private static string Nft(PrivateDaemon d) => TestSupport.Shell.Run("nft", $"list table inet {d.NftTable}");
}
