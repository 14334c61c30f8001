using System.Net;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>default/kubernetes names the address pods reach the API at, and nothing while it listens on loopback.</summary>
public sealed class KubernetesEndpointsTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = new();
    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private Task<(int Code, JsonObject Body)> EndpointsAsync() => _harness.Api.GetAsync("/api/v1/namespaces/default/endpoints/kubernetes");

    [Fact]
    public async Task TheApiServiceGetsTheListenersAddressAndItsMirroredSlice()
    {
        var host = IPAddress.Parse("192.0.2.10");
        KubernetesEndpoints.Reconcile(_harness.Objects, new IPEndPoint(IPAddress.Any, 6443), host);
        var (code, endpoints) = await EndpointsAsync();
        Assert.Equal(200, code);
        Assert.Equal("192.0.2.10", Json.Str(endpoints["subsets"]![0]!["addresses"]![0]!["ip"]));
        Assert.Equal(6443, endpoints["subsets"]![0]!["ports"]![0]!["port"]!.GetValue<int>());
        await ControllerHarness.EventuallyAsync(
            async () => (await _harness.Api.GetAsync("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes")).Body["items"]!.AsArray(),
            items => items.Count == 1 && Json.Str(items[0]!["endpoints"]?[0]?["addresses"]?[0]) == "192.0.2.10", "the mirrored slice");

        // A specific address is named as it is; the port follows the listener.
        KubernetesEndpoints.Reconcile(_harness.Objects, new IPEndPoint(IPAddress.Parse("198.51.100.7"), 16443), host);
        (_, endpoints) = await EndpointsAsync();
        Assert.Equal("198.51.100.7", Json.Str(endpoints["subsets"]![0]!["addresses"]![0]!["ip"]));
        Assert.Equal(16443, endpoints["subsets"]![0]!["ports"]![0]!["port"]!.GetValue<int>());

        // Back on loopback only (the default): no endpoints.
        KubernetesEndpoints.Reconcile(_harness.Objects, new IPEndPoint(IPAddress.Loopback, 6443), host);
        Assert.Equal(404, (await EndpointsAsync()).Code);
        KubernetesEndpoints.Reconcile(_harness.Objects, null, host);
        Assert.Equal(404, (await EndpointsAsync()).Code);
    }
}
