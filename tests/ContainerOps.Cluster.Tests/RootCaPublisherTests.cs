using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;

namespace ContainerOps.Cluster.Tests;

/// <summary>Every namespace holds kube-root-ca.crt with the cluster's authority, kept right, and none is made in a
/// namespace on its way out.</summary>
public sealed class RootCaPublisherTests : IAsyncLifetime
{
    private const string Pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private readonly ControllerHarness _harness = new();
    private ApiServer Api => _harness.Api;

    public Task InitializeAsync()
    {
        _harness.Controllers.Context.RootCertificate = () => Pem;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private Task<(int Code, JsonObject Body)> MapAsync(string ns) => Api.GetAsync($"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt");

    private Task<(int Code, JsonObject Body)> EventuallyMapAsync(string ns, string what) =>
        ControllerHarness.EventuallyAsync(() => MapAsync(ns), r => r.Code == 200 && Json.Str(r.Body["data"]?["ca.crt"]) == Pem, what);

    [Fact]
    public async Task ANamespaceGetsTheAuthorityAndKeepsItRight()
    {
        Assert.Equal(201, (await Api.PostAsync("/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}""")).Code);
        await EventuallyMapAsync("team", "the map in a new namespace");

        await Api.PatchAsync("/api/v1/namespaces/team/configmaps/kube-root-ca.crt", """{"data":{"ca.crt":"tampered"}}""", "application/merge-patch+json");
        await EventuallyMapAsync("team", "the map put right");
        Assert.Equal(200, (await Api.DeleteAsync("/api/v1/namespaces/team/configmaps/kube-root-ca.crt")).Code);
        await EventuallyMapAsync("team", "the map made again");

        // A namespace on its way out loses it with everything else and does not get it back.
        await Api.DeleteAsync("/api/v1/namespaces/team");
        await ControllerHarness.EventuallyAsync(async () => (await Api.GetAsync("/api/v1/namespaces/team")).Code, c => c == 404, "the namespace gone");
        await Task.Delay(300);
        Assert.Equal(404, (await MapAsync("team")).Code);
    }
}
