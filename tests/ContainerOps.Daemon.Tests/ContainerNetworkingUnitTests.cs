using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
using ContainerOps.Network;
using ContainerOps.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Daemon.Tests;

/// <summary>The daemon's side of networking without the kernel: what `container:` mode refuses and shares, aliases on
/// the default network, forced disconnects and each mode's files. The networking works on a state root of its own
/// whose default network's record is written beforehand, so no bridge, namespace or rule is made.</summary>
public sealed class ContainerNetworkingUnitTests : IDisposable
{
    private const string Gateway = "10.213.252.1";
    private readonly TempDir _root = new("co-netunit");
    private readonly ContainerNetworking _net;

    public ContainerNetworkingUnitTests()
    {
        var options = new DaemonOptions { Root = _root.Path, RunRoot = Path.Combine(_root.Path, "run") };
        var networks = Path.Combine(options.Root, "networks");
        Directory.CreateDirectory(networks);
        new NetworkRecord
        {
            Id = new string('b', 64), Name = NetworkManager.DefaultNetworkName, IsDefault = true, BridgeName = "counit0",
            Subnet = "10.213.252.0/24", Gateway = Gateway, Created = DateTimeOffset.UnixEpoch,
        }.Save(networks, durable: false);
        _net = new ContainerNetworking(options, NullLogger<ContainerNetworking>.Instance);
    }

    public void Dispose()
    {
        _net.Dispose();
        _root.Dispose();
    }

    private static ContainerCreateRequest Joining(Action<ContainerCreateRequest> configure)
    {
        var request = new ContainerCreateRequest { Image = "busybox", HostConfig = { NetworkMode = "container:db" } };
        configure(request);
        return request;
    }

    public static TheoryData<string, string> SharedOptions => new()
    {
        { "hostname", "--hostname" }, { "add-host", "--add-host" }, { "dns", "--dns" }, { "dns-search", "--dns-search" },
        { "dns-option", "--dns-option" }, { "mac-address", "--mac-address" }, { "publish", "--publish" }, { "publish-all", "--publish" },
        { "expose", "--expose" },
    };

    [Theory]
    [MemberData(nameof(SharedOptions))]
    public void ContainerModeRefusesWhatTheJoinedContainerDecides(string option, string named)
    {
        var request = Joining(r =>
        {
            var hc = r.HostConfig;
            switch (option)
            {
                case "hostname": r.Hostname = "web"; break;
                case "add-host": hc.ExtraHosts = ["db.local:10.1.2.3"]; break;
                case "dns": hc.Dns = ["10.0.0.53"]; break;
                case "dns-search": hc.DnsSearch = ["example.test"]; break;
                case "dns-option": hc.DnsOptions = ["ndots:2"]; break;
                case "mac-address": r.NetworkingConfig = new NetworkingConfig { EndpointsConfig = { ["container:db"] = new EndpointSettings { MacAddress = "02:42:ac:11:00:09" } } }; break;
                case "publish": hc.PortBindings = new() { ["80/tcp"] = [new PortBinding { HostPort = "8080" }] }; break;
                case "publish-all": hc.PublishAllPorts = true; break;
                case "expose": r.ExposedPorts = new() { ["80/tcp"] = new EmptyObject() }; break;
            }
        });
        var e = Assert.Throws<ContainerOpsException>(() => ContainerNetworking.RefuseJoinConflicts(request, request.HostConfig, "web"));
        Assert.Equal((ErrorKind.InvalidArgument, "ConflictingOptions"), (e.Error.Kind, e.Error.Id));
        Assert.StartsWith($"conflicting options: {named} and the network mode container:db: ", e.Error.Message);
        Assert.Matches(": the container .*db", e.Error.Message);
    }

    [Fact]
    public void ContainerModeWithNothingToChangeIsAcceptedAndAnEmptyNameIsNot()
    {
        var plain = Joining(r => r.Hostname = "");
        ContainerNetworking.RefuseJoinConflicts(plain, plain.HostConfig, "web");
        // Other modes keep their options.
        var host = new ContainerCreateRequest { Hostname = "web", HostConfig = { NetworkMode = "host", ExtraHosts = ["db.local:10.1.2.3"], Dns = ["10.0.0.53"] } };
        ContainerNetworking.RefuseJoinConflicts(host, host.HostConfig, "web");
        var empty = new ContainerCreateRequest { HostConfig = { NetworkMode = "container:" } };
        Assert.Equal("InvalidNetworkMode", Assert.Throws<ContainerOpsException>(() => ContainerNetworking.RefuseJoinConflicts(empty, empty.HostConfig, "web")).Error.Id);
    }

    private static (ContainerRecord Record, string Dir) Container(string id, string name, string mode, bool running, int pid = 0, string hostname = "") =>
        (new ContainerRecord
        {
            Id = id, Name = name, HostConfig = new HostConfig { NetworkMode = mode }, Config = new ContainerConfig { Hostname = hostname, Domainname = name + ".test" },
            State = new ContainerState { Running = running, Pid = pid },
        }, "/containers/" + id);

    [Fact]
    public void JoiningSharesTheNamespaceOfTheContainerNamedAndTheFilesAndHostNameOfTheOneThatHasThem()
    {
        var all = new[]
        {
            Container("a1", "db", "default", running: true, pid: 41, hostname: "db-host"),
            Container("b2", "sidecar", "container:db", running: true, pid: 42, hostname: "db-host"),
            Container("c3", "stopped", "default", running: false, hostname: "stopped"),
        };
        (ContainerRecord, string) Find(string name) => all.Single(c => c.Record.Name == name || c.Record.Id == name);

        var joiner = Container("d4", "probe", "container:sidecar", running: false, hostname: "d4").Record;
        var (netns, files) = ContainerNetworking.Join(joiner, Find);
        Assert.Equal("/proc/42/ns/net", netns);
        Assert.Equal("/containers/a1", files);
        Assert.Equal(("db-host", "db.test"), (joiner.Config.Hostname, joiner.Config.Domainname));

        var late = Container("e5", "late", "container:stopped", running: false).Record;
        Assert.Equal("ContainerNotRunning", Assert.Throws<ContainerOpsException>(() => ContainerNetworking.Join(late, Find)).Error.Id);
    }

    private static ContainerDetails Details(string id, string name, string mode) =>
        new() { Id = id, Name = "/" + name, HostConfig = new HostConfig { NetworkMode = mode } };

    [Fact]
    public void AnAliasOnTheDefaultNetworkIsRefusedAtConnectAsAtCreate()
    {
        var id = new string('1', 64);
        var e = Assert.Throws<ContainerOpsException>(() =>
            _net.Connect("bridge", Details(id, "web", "app"), new EndpointSettings { Aliases = ["www"] }));
        Assert.Equal(("AliasOnDefaultNetwork", "network-scoped alias is supported only for containers in user defined networks"), (e.Error.Id, e.Error.Message));
        Assert.Empty(_net.Networks.EndpointsOf(id));

        // Without an alias the container is connected (it does not run: nothing is attached).
        _net.Connect("bridge", Details(id, "web", "app"), new EndpointSettings { Aliases = [] });
        Assert.Equal("bridge", Assert.Single(_net.Networks.EndpointsOf(id)).NetworkName);
        Assert.Equal("NotOnBridgeNetwork", Assert.Throws<ContainerOpsException>(() => _net.Connect("bridge", Details(new string('2', 64), "h", "host"), null)).Error.Id);
        Assert.Equal("NetworkModeOnly", Assert.Throws<ContainerOpsException>(() => _net.Connect("host", Details(new string('3', 64), "b", "default"), null)).Error.Id);
    }

    [Fact]
    public void AForcedDisconnectFreesTheEndpointOfAGoneContainerAndOneAlreadyGoneIsNoError()
    {
        var id = new string('4', 64);
        _net.Networks.Reserve(id, "gone", "bridge", null);
        static string Gone(string name) => throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"No such container: {name}", name);

        Assert.Equal("ContainerNotFound", Assert.Throws<ContainerOpsException>(() => _net.Disconnect("bridge", "gone", force: false, Gone)).Error.Id);
        _net.Disconnect("bridge", "gone", force: true, Gone);
        Assert.Empty(_net.Networks.EndpointsOf(id));
        _net.Disconnect("bridge", "gone", force: true, Gone);
        _net.Disconnect("bridge", "gone", force: true, _ => id);
        Assert.Equal("NotConnected", Assert.Throws<ContainerOpsException>(() => _net.Disconnect("bridge", "gone", force: false, _ => id)).Error.Id);
    }

    [Fact]
    public void HostAndNoneModesKeepTheirHostEntries()
    {
        ContainerRecord Record(string mode) => new()
        {
            Id = new string('5', 64), Name = "files", Config = new ContainerConfig { Hostname = "files" },
            HostConfig = new HostConfig { NetworkMode = mode, ExtraHosts = ["db.local:10.1.2.3", "gw.local:host-gateway"], Dns = ["10.0.0.53"] },
        };
        // host-gateway is the default network's gateway off bridge networks, as dockerd's host-gateway-ip is its bridge's address.
        foreach (var mode in new[] { "host", "none" })
        {
            var (hosts, resolv) = _net.Files(Record(mode));
            Assert.Contains("10.1.2.3\tdb.local\n", hosts);
            Assert.Contains($"{Gateway}\tgw.local\n", hosts);
            Assert.StartsWith("nameserver 10.0.0.53\n", resolv);
        }
        Assert.Contains("127.0.1.1\tfiles\n", _net.Files(Record("none")).Hosts);
    }
}
