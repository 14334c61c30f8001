using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;

namespace ContainerOps.Cluster.Tests;

/// <summary>The StatefulSet controller over the API in process (<see cref="ControllerHarness"/>): pods of image
/// "held:1" run but stay not Ready until a test says so, the others become Ready at once. Real pods, DNS and kubectl
/// are in ContainerOps.Daemon.Tests.</summary>
public sealed class StatefulSetControllerTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = new(pod => Task.FromResult<JsonObject?>(
        Json.Str(pod["spec"]!["containers"]![0]!["image"]) == "held:1" ? RunningNotReady() : ControllerHarness.RunningAndReady()));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static JsonObject RunningNotReady() => new()
    {
        ["phase"] = "Running",
        ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "False" }),
    };

    private const string Sets = "/apis/apps/v1/namespaces/default/statefulsets";

    private static string StatefulSet(string name, int replicas, string image, string extra = "") => """
        {"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"NAME"},
         "spec":{"replicas":REPLICAS,"serviceName":"NAME","selector":{"matchLabels":{"app":"NAME"}},EXTRA
                 "template":{"metadata":{"labels":{"app":"NAME"}},"spec":{"containers":[{"name":"c","image":"IMAGE"}]}}}}
        """.Replace("NAME", name).Replace("REPLICAS", replicas.ToString()).Replace("IMAGE", image).Replace("EXTRA", extra);

    private const string DataClaim = """
        "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}],
        """;

    private Task<List<JsonObject>> PodsAsync(string app) => _harness.ItemsAsync($"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}");

    private static List<string> Names(IEnumerable<JsonObject> items) => items.Select(p => Json.Str(p["metadata"]!["name"])!).Order(StringComparer.Ordinal).ToList();

    private Task<JsonObject> SetAsync(string name) => _harness.GetAsync($"{Sets}/{name}");

    private async Task<List<string>> ClaimsAsync() => Names(await _harness.ItemsAsync("/api/v1/namespaces/default/persistentvolumeclaims"));

    private static int Int(JsonNode? n) => n?.GetValue<int>() ?? 0;

    private Task PatchAsync(string name, string patch) =>
        _harness.Api.PatchAsync($"{Sets}/{name}", patch, "application/merge-patch+json");

    [Fact]
    public async Task OrderedReadyMakesEachOrdinalOnlyOnceThePreviousIsReadyAndScalesDownFromTheTop()
    {
        var (code, created) = await _harness.Api.PostAsync(Sets, StatefulSet("web", 3, "held:1", DataClaim));
        Assert.Equal(201, code);
        Assert.Equal("OrderedReady", Json.Str(created["spec"]!["podManagementPolicy"]));
        Assert.Equal(0, Int(created["spec"]!["updateStrategy"]!["rollingUpdate"]!["partition"]));

        for (var i = 0; i < 3; i++)
        {
            var pods = await ControllerHarness.EventuallyAsync(() => PodsAsync("web"), p => p.Count == i + 1, $"web-{i} made");
            var pod = pods.Single(p => Json.Str(p["metadata"]!["name"]) == $"web-{i}");
            // Its identity: name, host name and subdomain, the ordinal labels, its own claim.
            Assert.Equal($"web-{i}", Json.Str(pod["spec"]!["hostname"]));
            Assert.Equal("web", Json.Str(pod["spec"]!["subdomain"]));
            Assert.Equal($"web-{i}", Json.Str(pod["metadata"]!["labels"]![StatefulSetController.PodNameLabel]));
            Assert.Equal(i.ToString(), Json.Str(pod["metadata"]!["labels"]![StatefulSetController.PodIndexLabel]));
            Assert.Equal($"data-web-{i}", Json.Str(pod["spec"]!["volumes"]!.AsArray().Single(v => Json.Str(v!["name"]) == "data")!["persistentVolumeClaim"]!["claimName"]));
            Assert.Contains($"data-web-{i}", await ClaimsAsync());
            // The next ordinal waits for this one to be Ready.
            await Task.Delay(300);
            Assert.Equal(i + 1, (await PodsAsync("web")).Count);
            _harness.SetPodStatus(pod, ControllerHarness.RunningAndReady());
        }
        var set = await ControllerHarness.EventuallyAsync(() => SetAsync("web"), s => Int(s["status"]?["readyReplicas"]) == 3, "3 ready");
        Assert.Equal(3, Int(set["status"]!["replicas"]));
        Assert.Equal(3, Int(set["status"]!["currentReplicas"]));
        Assert.Equal(3, Int(set["status"]!["updatedReplicas"]));
        Assert.Equal(3, Int(set["status"]!["availableReplicas"]));
        Assert.Equal(1, Int(set["status"]!["observedGeneration"]));
        var revision = Json.Str(set["status"]!["updateRevision"])!;
        Assert.Equal(revision, Json.Str(set["status"]!["currentRevision"]));
        Assert.All(await PodsAsync("web"), p => Assert.Equal(revision, Json.Str(p["metadata"]!["labels"]!["controller-revision-hash"])));
        var (_, history) = await _harness.Api.GetAsync($"/apis/apps/v1/namespaces/default/controllerrevisions/{revision}");
        Assert.Equal(1, Int(history["revision"]));
        Assert.Equal("held:1", Json.Str(history["data"]!["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]));

        // Scaled to 1: web-2 goes, then web-1; the claims stay (whenScaled: Retain).
        await PatchAsync("web", """{"spec":{"replicas":1}}""");
        await ControllerHarness.EventuallyAsync(() => PodsAsync("web"), p => p.Count == 1, "scaled to 1");
        Assert.Equal(["web-0"], Names(await PodsAsync("web")));
        Assert.Equal(["data-web-0", "data-web-1", "data-web-2"], await ClaimsAsync());
        var (_, events) = await _harness.Api.GetAsync("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb,reason%3DSuccessfulDelete");
        var deletes = events["items"]!.AsArray().Select(e => Json.Str(e!["message"])).ToList();
        Assert.Contains("delete Pod web-2 in StatefulSet web successful", deletes);
        Assert.Contains("delete Pod web-1 in StatefulSet web successful", deletes);
    }

    [Fact]
    public async Task ParallelMakesEveryOrdinalAtOnce()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, StatefulSet("par", 3, "held:1", "\"podManagementPolicy\":\"Parallel\","))).Code);
        var pods = await ControllerHarness.EventuallyAsync(() => PodsAsync("par"), p => p.Count == 3, "3 pods without waiting for readiness");
        Assert.Equal(["par-0", "par-1", "par-2"], Names(pods));
        Assert.All(pods, p => Assert.NotEqual("True", Json.Str(p["status"]?["conditions"]?[0]?["status"])));
        await PatchAsync("par", """{"spec":{"replicas":0}}""");
        await ControllerHarness.EventuallyAsync(() => PodsAsync("par"), p => p.Count == 0, "all gone at once");
    }

    [Fact]
    public async Task ARollingUpdateReplacesOrdinalsFromTheTopDownToThePartitionAndARollbackReusesTheOldRevision()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, StatefulSet("ru", 3, "web:1", "\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":1}},"))).Code);
        var first = await ControllerHarness.EventuallyAsync(() => SetAsync("ru"), s => Int(s["status"]?["readyReplicas"]) == 3, "3 ready");
        var oldRevision = Json.Str(first["status"]!["currentRevision"])!;

        await PatchAsync("ru", """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"web:2"}]}}}}""");
        var set = await ControllerHarness.EventuallyAsync(() => SetAsync("ru"),
            s => Int(s["status"]?["updatedReplicas"]) == 2 && Int(s["status"]?["readyReplicas"]) == 3 && Int(s["status"]?["observedGeneration"]) == 2, "ordinals 2 and 1 updated");
        var newRevision = Json.Str(set["status"]!["updateRevision"])!;
        Assert.NotEqual(oldRevision, newRevision);
        Assert.Equal(oldRevision, Json.Str(set["status"]!["currentRevision"]));
        var images = (await PodsAsync("ru")).ToDictionary(p => Json.Str(p["metadata"]!["name"])!, p => Json.Str(p["spec"]!["containers"]![0]!["image"]));
        Assert.Equal("web:1", images["ru-0"]);
        Assert.Equal("web:2", images["ru-1"]);
        Assert.Equal("web:2", images["ru-2"]);

        // Partition 0: the last one too, and the update revision becomes the current one.
        await PatchAsync("ru", """{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}""");
        set = await ControllerHarness.EventuallyAsync(() => SetAsync("ru"), s => Json.Str(s["status"]?["currentRevision"]) == newRevision && Int(s["status"]?["readyReplicas"]) == 3, "all updated");
        Assert.All(await PodsAsync("ru"), p => Assert.Equal("web:2", Json.Str(p["spec"]!["containers"]![0]!["image"])));

        // Back to the first template: its revision is renumbered, not copied.
        await PatchAsync("ru", """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"web:1"}]}}}}""");
        set = await ControllerHarness.EventuallyAsync(() => SetAsync("ru"), s => Json.Str(s["status"]?["currentRevision"]) == oldRevision && Int(s["status"]?["readyReplicas"]) == 3, "rolled back");
        var revisions = await _harness.ItemsAsync("/apis/apps/v1/namespaces/default/controllerrevisions");
        Assert.Equal(2, revisions.Count);
        Assert.Equal(3, Int(revisions.Single(r => Json.Str(r["metadata"]!["name"]) == oldRevision)["revision"]));
    }

    [Fact]
    public async Task OnDeleteLeavesPodsAloneUntilTheyAreDeleted()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, StatefulSet("od", 2, "web:1", "\"updateStrategy\":{\"type\":\"OnDelete\"},"))).Code);
        await ControllerHarness.EventuallyAsync(() => SetAsync("od"), s => Int(s["status"]?["readyReplicas"]) == 2, "2 ready");
        await PatchAsync("od", """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"web:2"}]}}}}""");
        await ControllerHarness.EventuallyAsync(() => SetAsync("od"), s => Int(s["status"]?["observedGeneration"]) == 2, "observed");
        await Task.Delay(300);
        Assert.All(await PodsAsync("od"), p => Assert.Equal("web:1", Json.Str(p["spec"]!["containers"]![0]!["image"])));
        Assert.Equal(200, (await _harness.Api.DeleteAsync("/api/v1/namespaces/default/pods/od-1")).Code);
        var pods = await ControllerHarness.EventuallyAsync(() => PodsAsync("od"),
            p => p.Count == 2 && p.Any(x => Json.Str(x["metadata"]!["name"]) == "od-1" && Json.Str(x["spec"]!["containers"]![0]!["image"]) == "web:2"), "od-1 made again at the new revision");
        Assert.Equal("web:1", Json.Str(pods.Single(p => Json.Str(p["metadata"]!["name"]) == "od-0")["spec"]!["containers"]![0]!["image"]));
    }

    [Fact]
    public async Task ClaimsGoOnScaleDownAndWithTheSetWhenTheRetentionPolicySaysDelete()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, StatefulSet("db", 2, "web:1",
            DataClaim + "\"persistentVolumeClaimRetentionPolicy\":{\"whenScaled\":\"Delete\",\"whenDeleted\":\"Delete\"},"))).Code);
        await ControllerHarness.EventuallyAsync(() => SetAsync("db"), s => Int(s["status"]?["readyReplicas"]) == 2, "2 ready");
        Assert.Equal(["data-db-0", "data-db-1"], await ClaimsAsync());
        await PatchAsync("db", """{"spec":{"replicas":1}}""");
        await ControllerHarness.EventuallyAsync(ClaimsAsync, c => c.SequenceEqual(["data-db-0"]), "the scaled-down ordinal's claim deleted");
        Assert.Equal(200, (await _harness.Api.DeleteAsync($"{Sets}/db")).Code);
        await ControllerHarness.EventuallyAsync(ClaimsAsync, c => c.Count == 0, "claims deleted with the set");
        await ControllerHarness.EventuallyAsync(() => PodsAsync("db"), p => p.Count == 0, "pods deleted with the set");
    }

    [Fact]
    public async Task BadStatefulSetsAreRefusedWithTheField()
    {
        var (code, status) = await _harness.Api.PostAsync(Sets, StatefulSet("bad", 1, "web:1", "\"podManagementPolicy\":\"Sometimes\","));
        Assert.Equal(422, code);
        Assert.Contains("spec.podManagementPolicy", status.ToJsonString());
        (code, status) = await _harness.Api.PostAsync(Sets, StatefulSet("bad", 1, "web:1", "\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":-1}},"));
        Assert.Equal(422, code);
        Assert.Contains("spec.updateStrategy.rollingUpdate.partition", status.ToJsonString());

        Assert.Equal(201, (await _harness.Api.PostAsync(Sets, StatefulSet("fixed", 1, "web:1", DataClaim))).Code);
        (code, status) = await _harness.Api.PatchAsync($"{Sets}/fixed", """{"spec":{"serviceName":"other"}}""", "application/merge-patch+json");
        Assert.Equal(422, code);
        Assert.Contains("updates to statefulset spec for fields other than", status.ToJsonString());
    }
}
