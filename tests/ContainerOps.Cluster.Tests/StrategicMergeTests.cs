using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>Strategic merge patches follow the Go types: a list is merged by the key its field declares wherever it
/// sits, and replaced whole when its field declares none, whatever the field is called.</summary>
public sealed class StrategicMergeTests : IAsyncLifetime
{
    private readonly ApiServer _api = new();
    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _api.DisposeAsync();

    private async Task<JsonObject> PatchAsync(string path, string patch)
    {
        var (code, body) = await _api.PatchAsync(path, patch, "application/strategic-merge-patch+json");
        Assert.True(code == 200, body.ToJsonString());
        return body;
    }

    [Fact]
    public async Task AListWithoutAMergeKeyIsReplacedEvenWhenItsNameIsKeyedElsewhere()
    {
        // EndpointSlice ports are atomic in the Go type, though a Service's ports are merged by port.
        Assert.Equal(201, (await _api.PostAsync("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", """
            {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s"},"addressType":"IPv4",
             "endpoints":[{"addresses":["10.0.0.1"]}],"ports":[{"name":"a","port":80,"protocol":"TCP"}]}
            """)).Code);
        var slice = await PatchAsync("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/s", """{"ports":[{"name":"b","port":81,"protocol":"TCP"}]}""");
        Assert.Equal(["b"], slice["ports"]!.AsArray().Select(p => Json.Str(p!["name"])!));

        // Tolerations have no key: the patch's list is the list.
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/pods", """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80}]}],
             "tolerations":[{"key":"a","operator":"Exists"}]}}
            """)).Code);
        var pod = await PatchAsync("/api/v1/namespaces/default/pods/p", """{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}""");
        Assert.Equal(["b"], pod["spec"]!["tolerations"]!.AsArray().Select(t => Json.Str(t!["key"])!));
    }

    [Fact]
    public async Task AListWithAMergeKeyIsMergedByItAtAnyDepth()
    {
        // A node's addresses are keyed by type: the patch changes one and keeps the other.
        Assert.Equal(201, (await _api.PostAsync("/api/v1/nodes", """
            {"apiVersion":"v1","kind":"Node","metadata":{"name":"n"},
             "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.5"},{"type":"Hostname","address":"old"}]}}
            """)).Code);
        var node = await PatchAsync("/api/v1/nodes/n/status", """{"status":{"addresses":[{"type":"Hostname","address":"new"}]}}""");
        Assert.Equal(["InternalIP=10.0.0.5", "Hostname=new"], node["status"]!["addresses"]!.AsArray().Select(a => $"{Json.Str(a!["type"])}={Json.Str(a["address"])}"));

        // In a deployment's template, a container's ports merge by containerPort and its env by name, deep down.
        Assert.Equal(201, (await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments", """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},
             "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox",
               "ports":[{"containerPort":80}],"env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]}]}}}}
            """)).Code);
        var deployment = await PatchAsync("/apis/apps/v1/namespaces/default/deployments/d",
            """{"spec":{"template":{"spec":{"containers":[{"name":"c","ports":[{"containerPort":81}],"env":[{"name":"Y","value":"3"},{"name":"X","$patch":"delete"}]}]}}}}""");
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal([80, 81], container["ports"]!.AsArray().Select(p => p!["containerPort"]!.GetValue<int>()));
        Assert.Equal(["Y=3"], container["env"]!.AsArray().Select(e => $"{Json.Str(e!["name"])}={Json.Str(e["value"])}"));
        Assert.Equal("busybox", Json.Str(container["image"]));
    }
}
