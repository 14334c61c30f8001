using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
using ContainerOps.Network;
using ContainerOps.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Daemon.Tests;

/// <summary>The daemon's side of networking without the kernel: aliases on the default network and forced
/// disconnects. The networking works on a state root of its own whose default network's record is written beforehand,
/// so no bridge, namespace or rule is made.</summary>
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
}
