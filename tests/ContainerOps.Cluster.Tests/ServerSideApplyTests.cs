using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>Server-side apply: the field sets as the API writes them, and `kubectl apply --server-side` (kubectl
/// 1.32) creating, changing, pruning, conflicting with another manager and forcing.</summary>
public sealed class ServerSideApplyTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string Deployment(int replicas, string labels = "", string containers = "[{name: web, image: busybox:1}]") => $$$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {app: web{{{labels}}}}
        spec:
          replicas: {{{replicas}}}
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: {{{containers}}}
        """;

    private (int Exit, string Out, string Err) Apply(string manifest, params string[] extra) =>
        _server.KubectlWithInput(manifest, ["apply", "--server-side", "-f", "-", .. extra]);

    private JsonObject Get() => (JsonObject)JsonNode.Parse(_server.Ok("get", "deployment", "web", "-o", "json", "--show-managed-fields"))!;

    private static JsonObject? Entry(JsonObject o, string manager, string operation) =>
        (o["metadata"]!["managedFields"] as JsonArray ?? []).OfType<JsonObject>()
            .FirstOrDefault(e => Json.Str(e["manager"]) == manager && Json.Str(e["operation"]) == operation);

    private static JsonObject? ScaleEntry(JsonObject o) =>
        (o["metadata"]!["managedFields"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(e => Json.Str(e["subresource"]) == "scale");

    [Fact]
    public void AFieldSetIsWrittenAsTheApiWritesFieldsV1()
    {
        var deployment = (JsonObject)JsonNode.Parse("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","uid":"x","labels":{"app":"web"},"finalizers":["a"]},
             "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"busybox","args":["a","b"]}]}}},"status":{"replicas":2}}
            """)!;
        var expected = JsonNode.Parse("""{"f:metadata":{"f:finalizers":{"v:\"a\"":{}},"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:args":{},"f:image":{},"f:name":{}}}}}}}""");
        var fields = FieldSet.Of(deployment, status: false).ToJson();
        Assert.True(JsonNode.DeepEquals(expected, fields), fields.ToJsonString());
        Assert.Equal("""{"f:status":{"f:replicas":{}}}""", FieldSet.Of(deployment, status: true).ToJson().ToJsonString());
        var image = new[] { "f:spec", "f:template", "f:spec", "f:containers", """k:{"name":"web"}""", "f:image" };
        Assert.True(FieldSet.TryResolve(deployment, image, out var value));
        Assert.Equal("busybox", value!.GetValue<string>());
        Assert.Equal(".spec.template.spec.containers[name=\"web\"].image", FieldSet.Describe(image));
    }

    /// <summary>Lists are identified as the Go types' markers say, whatever the field is called: an EndpointSlice's
    /// ports are atomic (one value, owned whole), a container's ports a map keyed by port and protocol.</summary>
    [Fact]
    public void ListsAreIdentifiedByTheirGoTypesMarkers()
    {
        var slice = (JsonObject)JsonNode.Parse("""
            {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s"},"addressType":"IPv4",
             "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}}],"ports":[{"name":"a","port":80,"protocol":"TCP"}]}
            """)!;
        var fields = FieldSet.Of(slice, status: false).ToJson();
        Assert.Equal("{}", fields["f:ports"]!.ToJsonString()); // atomic: no items of its own
        Assert.Equal("{}", fields["f:endpoints"]!.ToJsonString());
        var pod = (JsonObject)JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":53,"protocol":"UDP"}]}],
             "tolerations":[{"key":"a","operator":"Exists"}]}}
            """)!;
        fields = FieldSet.Of(pod, status: false).ToJson();
        Assert.NotNull(fields["f:spec"]!["f:containers"]!["k:{\"name\":\"c\"}"]!["f:ports"]!["k:{\"containerPort\":53,\"protocol\":\"UDP\"}"]);
        Assert.Equal("{}", fields["f:spec"]!["f:tolerations"]!.ToJsonString());

        // Through the API: a second manager applying other ports to the slice takes the whole list, or conflicts.
        _server.KubectlWithInput(slice.ToJsonString(), "apply", "--server-side", "--field-manager", "first", "-f", "-");
        slice["ports"] = new JsonArray(new JsonObject { ["name"] = "b", ["port"] = 81, ["protocol"] = "TCP" });
        var (exit, _, err) = _server.KubectlWithInput(slice.ToJsonString(), "apply", "--server-side", "--field-manager", "second", "-f", "-");
        Assert.NotEqual(0, exit);
        Assert.Contains(".ports", err);
        (exit, _, err) = _server.KubectlWithInput(slice.ToJsonString(), "apply", "--server-side", "--field-manager", "second", "--force-conflicts", "-f", "-");
        Assert.True(exit == 0, err);
        var ports = JsonNode.Parse(_server.Ok("get", "endpointslice", "s", "-o", "jsonpath={.ports}"))!.AsArray();
        Assert.Equal(["b"], ports.Select(p => Json.Str(p!["name"])!));
    }

    [Fact]
    public void PortsAreKeyedByPortAndProtocolSoOneNumberMayServeTcpAndUdp()
    {
        const string dns = "[{name: web, image: busybox:1, ports: [{containerPort: 53, protocol: UDP, name: dns}, {containerPort: 53, name: dns-tcp}]}]";
        var (exit, _, err) = Apply(Deployment(1, containers: dns));
        Assert.True(exit == 0, err);
        var ports = Get()["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]!.AsArray();
        Assert.Equal(["dns", "dns-tcp"], ports.Select(p => Json.Str(p!["name"])!));
        var portKeys = Entry(Get(), "kubectl", "Apply")!["fieldsV1"]!["f:spec"]!["f:template"]!["f:spec"]!["f:containers"]!
            .AsObject().Single().Value!["f:ports"]!.AsObject().Select(kv => kv.Key).ToList();
        Assert.Equal(["""k:{"containerPort":53,"protocol":"TCP"}""", """k:{"containerPort":53,"protocol":"UDP"}"""], portKeys.Order());

        // Applied again without the UDP port: that one goes, the TCP one stays and is changed.
        (exit, _, err) = Apply(Deployment(1, containers: "[{name: web, image: busybox:1, ports: [{containerPort: 53, name: tcp-only}]}]"));
        Assert.True(exit == 0, err);
        ports = Get()["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]!.AsArray();
        var port = Assert.Single(ports)!;
        Assert.Equal("tcp-only", Json.Str(port["name"]));
        Assert.Equal("TCP", Json.Str(port["protocol"]));
    }

    [Fact]
    public void KubectlAppliesServerSideAndTheManagerOwnsWhatItApplied()
    {
        var first = Apply(Deployment(1));
        Assert.True(first.Exit == 0, first.Err);
        Assert.Equal("deployment.apps/web serverside-applied", first.Out.Trim());
        var created = Get();
        var entry = Entry(created, "kubectl", "Apply");
        Assert.NotNull(entry);
        Assert.Equal("apps/v1", Json.Str(entry!["apiVersion"]));
        Assert.NotNull(entry["fieldsV1"]!["f:spec"]!["f:replicas"]);
        // The same configuration again changes nothing, not even the revision (a config map: no controller writes it).
        const string map = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n";
        Assert.Equal(0, Apply(map).Exit);
        var revision = _server.Ok("get", "configmap", "settings", "-o", "jsonpath={.metadata.resourceVersion}");
        Assert.Equal(0, Apply(map).Exit);
        Assert.Equal(revision, _server.Ok("get", "configmap", "settings", "-o", "jsonpath={.metadata.resourceVersion}"));

        // A label and a container left out of the next configuration go; a label another manager set stays.
        Assert.Equal(0, Apply(Deployment(1, ", tier: front", "[{name: web, image: busybox:1}, {name: side, image: busybox:1}]")).Exit);
        _server.Ok("label", "deployment", "web", "owner=ops");
        Assert.Equal(0, Apply(Deployment(1)).Exit);
        var pruned = Get();
        var labels = (JsonObject)pruned["metadata"]!["labels"]!;
        Assert.False(labels.ContainsKey("tier"), labels.ToJsonString());
        Assert.Equal("ops", Json.Str(labels["owner"]));
        Assert.Equal(["web"], pruned["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Select(c => Json.Str(c!["name"])));
        Assert.NotNull(Entry(pruned, "kubectl-label", "Update")!["fieldsV1"]!["f:metadata"]!["f:labels"]!["f:owner"]);
    }

    [Fact]
    public void AFieldAnotherManagerChangedConflictsUntilForced()
    {
        Assert.Equal(0, Apply(Deployment(1)).Exit);
        _server.Ok("scale", "deployment", "web", "--replicas=3");
        var scaled = Get();
        // kubectl scale names no field manager: the API takes the client's name, and records the subresource.
        Assert.True(ScaleEntry(scaled) is not null, scaled["metadata"]!.ToJsonString());
        Assert.Null(Entry(scaled, "kubectl", "Apply")!["fieldsV1"]!["f:spec"]!["f:replicas"]);

        var refused = Apply(Deployment(2));
        Assert.NotEqual(0, refused.Exit);
        Assert.Matches("Apply failed with 1 conflict: conflict with \"kubectl[^\"]*\" with subresource \"scale\" using apps/v1: .spec.replicas", refused.Err);
        Assert.Equal(3, Get()["spec"]!["replicas"]!.GetValue<int>());
        // Applying the value it already has is no conflict: both own it.
        Assert.Equal(0, Apply(Deployment(3)).Exit);

        Assert.Equal(0, Apply(Deployment(2), "--force-conflicts").Exit);
        var forced = Get();
        Assert.Equal(2, forced["spec"]!["replicas"]!.GetValue<int>());
        Assert.NotNull(Entry(forced, "kubectl", "Apply")!["fieldsV1"]!["f:spec"]!["f:replicas"]);
        Assert.Null(ScaleEntry(forced));
    }

    [Fact]
    public void AnObjectMadeWithoutApplyIsTakenOverByItsFirstApply()
    {
        _server.Ok("create", "deployment", "web", "--image=busybox:1", "--replicas=1");
        Assert.DoesNotContain("managedFields", _server.Ok("get", "deployment", "web", "-o", "json", "--show-managed-fields"));
        var applied = Apply(Deployment(4));
        Assert.True(applied.Exit == 0, applied.Err);
        var taken = Get();
        Assert.Equal(4, taken["spec"]!["replicas"]!.GetValue<int>());
        Assert.NotNull(Entry(taken, ServerSideApply.BeforeFirstApply, "Update"));
        Assert.NotNull(Entry(taken, "kubectl", "Apply"));
    }

    [Fact]
    public async Task AnApplyWithoutAFieldManagerOrOfTheWrongKindIsRefused()
    {
        await using var api = new ApiServer();
        var body = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}""";
        var (code, status) = await api.PatchAsync("/api/v1/namespaces/default/configmaps/c", body, "application/apply-patch+yaml");
        Assert.Equal(400, code);
        Assert.Contains("fieldManager is required", Json.Str(status["message"]));
        (code, status) = await api.PatchAsync("/api/v1/namespaces/default/configmaps/c?fieldManager=t", body.Replace("ConfigMap", "Secret"), "application/apply-patch+yaml");
        Assert.Equal(400, code);
        (code, status) = await api.PatchAsync("/api/v1/namespaces/default/configmaps/c?fieldManager=t", body, "application/apply-patch+yaml");
        Assert.Equal(201, code);
        Assert.Equal("1", Json.Str(status["data"]!["a"]));
        Assert.Equal("t", Json.Str(status["metadata"]!["managedFields"]![0]!["manager"]));
    }
}
