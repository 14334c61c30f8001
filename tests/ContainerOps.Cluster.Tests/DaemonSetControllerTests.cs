using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>The DaemonSet controller over the API in process (<see cref="ControllerHarness"/>) with several Node objects
/// and no node agent: pods become Ready at once unless their image is "never:ready". Real pods and kubectl on the one
/// node of a private daemon are in ContainerOps.Daemon.Tests.</summary>
public sealed class DaemonSetControllerTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = ControllerHarness.WithReadyPods();
    private const string Sets = "/apis/apps/v1/namespaces/default/daemonsets";

    public async Task InitializeAsync()
    {
        await NodeAsync("ssd-1", """{"disk":"ssd"}""");
        await NodeAsync("hdd-1", """{"disk":"hdd"}""");
        await NodeAsync("tainted", """{"disk":"ssd"}""", """[{"key":"dedicated","value":"db","effect":"NoSchedule"}]""");
        await NodeAsync("not-ready", """{"disk":"hdd"}""", """[{"key":"node.kubernetes.io/not-ready","effect":"NoExecute"}]""");
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private async Task NodeAsync(string name, string labels, string taints = "[]") =>
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/nodes", $$$"""{"apiVersion":"v1","kind":"Node","metadata":{"name":"{{{name}}}","labels":{{{labels}}}},"spec":{"taints":{{{taints}}}}}""")).Code);

    private static string DaemonSet(string name, string image, string extraSpec = "", string podSpec = "") => """
        {"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"NAME"},
         "spec":{"selector":{"matchLabels":{"app":"NAME"}},EXTRA
                 "template":{"metadata":{"labels":{"app":"NAME"}},"spec":{PODSPEC"containers":[{"name":"c","image":"IMAGE"}]}}}}
        """.Replace("NAME", name).Replace("IMAGE", image).Replace("EXTRA", extraSpec).Replace("PODSPEC", podSpec);

    private async Task<List<JsonObject>> PodsAsync(string app) =>
        (await _harness.ItemsAsync($"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}")).Where(p => p["metadata"]!["deletionTimestamp"] is null).ToList();

    private static string NodeOf(JsonObject pod) => Json.Str(pod["spec"]!["nodeName"])!;

    private static string Image(JsonObject pod) => Json.Str(pod["spec"]!["containers"]![0]!["image"])!;

    private static List<string> Nodes(IEnumerable<JsonObject> pods) => pods.Select(NodeOf).Order(StringComparer.Ordinal).ToList();

    private Task<JsonObject> SetAsync(string name) => _harness.GetAsync($"{Sets}/{name}");

    private static int Int(JsonNode? n) => n?.GetValue<int>() ?? 0;

    [Fact]
    public async Task OnePodPerEligibleNodeByNodeSelectorAndTaintsBoundToItsNode()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, DaemonSet("all", "agent:1"))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, DaemonSet("fast", "agent:1", podSpec: "\"nodeSelector\":{\"disk\":\"ssd\"},"))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, DaemonSet("none", "agent:1", podSpec: "\"nodeSelector\":{\"disk\":\"tape\"},"))).Code);

        // The tainted node is left out (NoSchedule, not tolerated); the not-ready one is not (the added toleration).
        var all = await ControllerHarness.EventuallyAsync(() => PodsAsync("all"), p => p.Count == 3, "a pod on each eligible node");
        Assert.Equal(["hdd-1", "not-ready", "ssd-1"], Nodes(all));
        var pod = all.First(p => NodeOf(p) == "ssd-1");
        var tolerations = pod["spec"]!["tolerations"]!.AsArray().Select(t => $"{Json.Str(t!["key"])}:{Json.Str(t["effect"])}").ToList();
        Assert.Contains("node.kubernetes.io/not-ready:NoExecute", tolerations);
        Assert.Contains("node.kubernetes.io/unreachable:NoExecute", tolerations);
        Assert.Contains("node.kubernetes.io/disk-pressure:NoSchedule", tolerations);
        Assert.Contains("node.kubernetes.io/unschedulable:NoSchedule", tolerations);
        Assert.Equal("ssd-1", Json.Str(pod["spec"]!["affinity"]!["nodeAffinity"]!["requiredDuringSchedulingIgnoredDuringExecution"]!["nodeSelectorTerms"]![0]!["matchFields"]![0]!["values"]![0]));
        Assert.NotNull(pod["metadata"]!["labels"]!["controller-revision-hash"]);

        var status = (await ControllerHarness.EventuallyAsync(() => SetAsync("all"), s => Int(s["status"]?["numberReady"]) == 3, "all ready"))["status"]!;
        Assert.Equal(3, Int(status["desiredNumberScheduled"]));
        Assert.Equal(3, Int(status["currentNumberScheduled"]));
        Assert.Equal(3, Int(status["updatedNumberScheduled"]));
        Assert.Equal(3, Int(status["numberAvailable"]));
        Assert.Equal(0, Int(status["numberMisscheduled"]));
        Assert.Equal(1, Int(status["observedGeneration"]));

        Assert.Equal(["ssd-1"], Nodes(await ControllerHarness.EventuallyAsync(() => PodsAsync("fast"), p => p.Count == 1, "the ssd node only")));
        var none = await ControllerHarness.EventuallyAsync(() => SetAsync("none"), s => s["status"] is not null, "status of a set with no node");
        Assert.Equal(0, Int(none["status"]!["desiredNumberScheduled"]));
        Assert.Empty(await PodsAsync("none"));

        // A node relabelled to match gets a pod; an untolerated NoExecute taint drives the pods off a node.
        await _harness.Api.PatchAsync("/api/v1/nodes/hdd-1", """{"metadata":{"labels":{"disk":"ssd"}}}""", "application/merge-patch+json");
        await ControllerHarness.EventuallyAsync(() => PodsAsync("fast"), p => Nodes(p).SequenceEqual(["hdd-1", "ssd-1"]), "a pod on the relabelled node");
        await _harness.Api.PatchAsync("/api/v1/nodes/ssd-1", """{"spec":{"taints":[{"key":"maintenance","effect":"NoExecute"}]}}""", "application/merge-patch+json");
        await ControllerHarness.EventuallyAsync(() => PodsAsync("all"), p => Nodes(p).SequenceEqual(["hdd-1", "not-ready"]), "evicted from the NoExecute node");
        await ControllerHarness.EventuallyAsync(() => PodsAsync("fast"), p => Nodes(p).SequenceEqual(["hdd-1"]), "evicted from the NoExecute node");
    }

    [Fact]
    public async Task ARollingUpdateStaysWithinMaxUnavailableOrSurgesBesideTheOldPod()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, DaemonSet("ru", "agent:1"))).Code);
        await ControllerHarness.EventuallyAsync(() => SetAsync("ru"), s => Int(s["status"]?["numberReady"]) == 3, "3 ready");

        // A new image that never gets ready: maxUnavailable 1 replaces one node's pod and stops there.
        await _harness.Api.PatchAsync($"{Sets}/ru", """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"never:ready"}]}}}}""", "application/merge-patch+json");
        await ControllerHarness.EventuallyAsync(() => PodsAsync("ru"), p => p.Count(x => Image(x) == "never:ready") == 1, "one pod replaced");
        await Task.Delay(500);
        var pods = await PodsAsync("ru");
        Assert.Equal(1, pods.Count(p => Image(p) == "never:ready"));
        Assert.Equal(2, pods.Count(p => Image(p) == "agent:1"));

        // A good image: all nodes come over, one at a time, and the set reports them updated.
        await _harness.Api.PatchAsync($"{Sets}/ru", """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"agent:2"}]}}}}""", "application/merge-patch+json");
        await ControllerHarness.EventuallyAsync(() => SetAsync("ru"),
            s => Int(s["status"]?["updatedNumberScheduled"]) == 3 && Int(s["status"]?["numberAvailable"]) == 3 && Int(s["status"]?["observedGeneration"]) == 3, "rolled out");
        Assert.All(await PodsAsync("ru"), p => Assert.Equal("agent:2", Image(p)));
        Assert.Equal(3, (await _harness.ItemsAsync("/apis/apps/v1/namespaces/default/controllerrevisions")).Count);

        // Surge: the new pod starts beside the old one, which stays while the new one is not ready.
        await _harness.Api.PatchAsync($"{Sets}/ru", """{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},"template":{"spec":{"containers":[{"name":"c","image":"never:ready"}]}}}}""", "application/merge-patch+json");
        pods = await ControllerHarness.EventuallyAsync(() => PodsAsync("ru"), p => p.Count == 4, "one surge pod");
        await Task.Delay(500);
        pods = await PodsAsync("ru");
        Assert.Equal(4, pods.Count);
        var surged = pods.Single(p => Image(p) == "never:ready");
        Assert.Equal(2, pods.Count(p => NodeOf(p) == NodeOf(surged)));
    }

    [Fact]
    public async Task OnDeleteReplacesOnlyDeletedPods()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, DaemonSet("od", "agent:1", "\"updateStrategy\":{\"type\":\"OnDelete\"},"))).Code);
        await ControllerHarness.EventuallyAsync(() => SetAsync("od"), s => Int(s["status"]?["numberReady"]) == 3, "3 ready");
        await _harness.Api.PatchAsync($"{Sets}/od", """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"agent:2"}]}}}}""", "application/merge-patch+json");
        await ControllerHarness.EventuallyAsync(() => SetAsync("od"), s => Int(s["status"]?["observedGeneration"]) == 2, "observed");
        await Task.Delay(300);
        var pods = await PodsAsync("od");
        Assert.All(pods, p => Assert.Equal("agent:1", Image(p)));
        var victim = pods.Single(p => NodeOf(p) == "ssd-1");
        Assert.Equal(200, (await _harness.Api.DeleteAsync($"/api/v1/namespaces/default/pods/{Json.Str(victim["metadata"]!["name"])}")).Code);
        pods = await ControllerHarness.EventuallyAsync(() => PodsAsync("od"), p => p.Count == 3 && p.Any(x => NodeOf(x) == "ssd-1" && Image(x) == "agent:2"), "ssd-1's pod made again at the new template");
        Assert.Equal(2, pods.Count(p => Image(p) == "agent:1"));
        // The status is written after the pod is made: it is waited for, not read at once.
        await ControllerHarness.EventuallyAsync(() => SetAsync("od"), s => Int(s["status"]?["updatedNumberScheduled"]) == 1, "one pod updated in the status");
        await Task.Delay(300);
        Assert.Equal(1, Int((await SetAsync("od"))["status"]!["updatedNumberScheduled"]));
    }

    [Fact]
    public async Task ABadUpdateStrategyIsRefusedWithTheField()
    {
        var (code, status) = await _harness.Api.PostAsync(Sets, DaemonSet("bad", "agent:1", "\"updateStrategy\":{\"type\":\"Sometimes\"},"));
        Assert.Equal(422, code);
        Assert.Contains("spec.updateStrategy.type", status.ToJsonString());
    }
}
