using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Cluster.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Cluster.Tests;

/// <summary>The Deployment controller over the API in process, with a stand-in for the node: it marks each new pod
/// Running and Ready unless its image is "never:ready" (pods stay unbound, so deleting one removes it at once). The
/// rollout arithmetic, revisions, conditions and history are what is under test; real pods and kubectl's rollout
/// commands are in ContainerOps.Daemon.Tests.</summary>
public sealed class DeploymentControllerTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = ControllerHarness.WithReadyPods();
    private ApiServer _api => _harness.Api;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static string Deployment(string name, int replicas, string image, string extra = "") => """
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"NAME"},
         "spec":{"replicas":REPLICAS,"selector":{"matchLabels":{"app":"NAME"}},EXTRA
                 "template":{"metadata":{"labels":{"app":"NAME"}},"spec":{"containers":[{"name":"c","image":"IMAGE"}]}}}}
        """.Replace("NAME", name).Replace("REPLICAS", replicas.ToString()).Replace("IMAGE", image).Replace("EXTRA", extra);

    private async Task<JsonObject> GetAsync(string path) => (await _api.GetAsync(path)).Body;

    private async Task<JsonObject> DeploymentAsync(string name) => await GetAsync($"/apis/apps/v1/namespaces/default/deployments/{name}");

    private async Task<List<JsonObject>> SetsAsync(string app) =>
        (await GetAsync($"/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3D{app}"))["items"]!.AsArray().Select(i => i!.AsObject()).ToList();

    private async Task<List<JsonObject>> PodsAsync(string app) =>
        (await GetAsync($"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}"))["items"]!.AsArray().Select(i => i!.AsObject()).ToList();

    private static Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, int seconds = 15) =>
        ControllerHarness.EventuallyAsync(read, done, what, seconds);

    private static int Int(JsonNode? n) => n?.GetValue<int>() ?? 0;
    private static JsonObject? Condition(JsonObject d, string type) =>
        d["status"]?["conditions"]?.AsArray().OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == type);

    private static bool Complete(JsonObject d, int replicas) =>
        Int(d["status"]?["updatedReplicas"]) == replicas && Int(d["status"]?["replicas"]) == replicas && Int(d["status"]?["availableReplicas"]) == replicas
        && Int(d["status"]?["observedGeneration"]) == Int(d["metadata"]!["generation"])
        && Json.Str(Condition(d, "Progressing")?["reason"]) == "NewReplicaSetAvailable";

    [Fact]
    public async Task ARollingUpdateReplacesEveryPodWithinItsBoundsAndRollsBack()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments", Deployment("web", 4, "web:1", "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":\"25%\"}},"))).Code);
        var d = await EventuallyAsync(() => DeploymentAsync("web"), x => Complete(x, 4), "first rollout");
        Assert.Equal("True", Json.Str(Condition(d, "Available")!["status"]));
        Assert.Equal("1", Json.Str(d["metadata"]!["annotations"]![DeploymentMath.RevisionAnnotation]));
        var first = Assert.Single(await SetsAsync("web"));
        var hash = Json.Str(first["metadata"]!["labels"]![DeploymentMath.HashLabel])!;
        Assert.Equal($"web-{hash}", Json.Str(first["metadata"]!["name"]));
        Assert.All(await PodsAsync("web"), p => Assert.Equal(hash, Json.Str(p["metadata"]!["labels"]![DeploymentMath.HashLabel])));

        // Watch every pod count on the way: never above replicas + maxSurge.
        var most = 0;
        using var watching = new CancellationTokenSource();
        var counting = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                most = Math.Max(most, (await PodsAsync("web")).Count);
                await Task.Delay(5);
            }
        });
        Assert.Equal(200, (await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web",
            """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"web:2"}]}}}}""", "application/strategic-merge-patch+json")).Code);
        d = await EventuallyAsync(() => DeploymentAsync("web"), x => Complete(x, 4) && Int(x["metadata"]!["generation"]) == 2, "second rollout");
        watching.Cancel();
        await counting;
        Assert.InRange(most, 4, 5);
        Assert.Equal("2", Json.Str(d["metadata"]!["annotations"]![DeploymentMath.RevisionAnnotation]));
        var sets = await SetsAsync("web");
        Assert.Equal(2, sets.Count);
        Assert.Equal(0, Int(sets.Single(s => Json.Str(s["metadata"]!["name"]) == $"web-{hash}")["spec"]!["replicas"]));
        Assert.All(await EventuallyAsync(() => PodsAsync("web"), p => p.Count == 4, "old pods gone"), p => Assert.Equal("web:2", Json.Str(p["spec"]!["containers"]![0]!["image"])));
        var (_, events) = await _api.GetAsync("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb,reason%3DScalingReplicaSet");
        Assert.Contains(events["items"]!.AsArray(), e => Json.Str(e!["message"])!.StartsWith("Scaled down replica set web-" + hash));

        // Rollback as kubectl rollout undo does it: the old set's template back; that set is new again, revision 3.
        var template = first["spec"]!["template"]!.DeepClone().AsObject();
        template["metadata"]!["labels"]!.AsObject().Remove(DeploymentMath.HashLabel);
        template["metadata"]!["creationTimestamp"] = null; // as kubectl 1.32 writes it back
        var patch = new JsonArray(new JsonObject { ["op"] = "replace", ["path"] = "/spec/template", ["value"] = template }).ToJsonString();
        Assert.Equal(200, (await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web", patch, "application/json-patch+json")).Code);
        d = await EventuallyAsync(() => DeploymentAsync("web"), x => Complete(x, 4) && Int(x["metadata"]!["generation"]) == 3, "rollback");
        Assert.Equal("3", Json.Str(d["metadata"]!["annotations"]![DeploymentMath.RevisionAnnotation]));
        var back = (await SetsAsync("web")).Single(s => Json.Str(s["metadata"]!["name"]) == $"web-{hash}");
        Assert.Equal(4, Int(back["spec"]!["replicas"]));
        Assert.Equal("3", Json.Str(back["metadata"]!["annotations"]![DeploymentMath.RevisionAnnotation]));
        Assert.Equal("1", Json.Str(back["metadata"]!["annotations"]![DeploymentMath.RevisionHistoryAnnotation]));
    }

    [Fact]
    public async Task ANewImageThatNeverGetsReadyStopsAtMaxUnavailableAndMissesItsDeadline()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments", Deployment("stuck", 4, "web:1", "\"progressDeadlineSeconds\":2,"))).Code);
        await EventuallyAsync(() => DeploymentAsync("stuck"), x => Complete(x, 4), "first rollout");
        await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/stuck",
            """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"never:ready"}]}}}}""", "application/strategic-merge-patch+json");
        // 25 % of 4: one old pod may go, one new may surge: it stops at 3 old available and 2 new never ready. The
        // deadline (2 s) may pass while a busy machine is still on its way there: wait for both.
        var d = await EventuallyAsync(() => DeploymentAsync("stuck"), x => Json.Str(Condition(x, "Progressing")?["reason"]) == "ProgressDeadlineExceeded"
            && Int(x["status"]!["availableReplicas"]) == 3 && Int(x["status"]!["updatedReplicas"]) == 2, "stopped at maxUnavailable, deadline exceeded");
        Assert.Equal("False", Json.Str(Condition(d, "Progressing")!["status"]));
        Assert.Equal("True", Json.Str(Condition(d, "Available")!["status"]));
        await EventuallyAsync(() => PodsAsync("stuck"), p => p.Count == 5, "five pods: 3 old, 2 new");
    }

    [Fact]
    public async Task RecreateScalingPauseAndHistoryLimit()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments", Deployment("re", 2, "web:1", "\"strategy\":{\"type\":\"Recreate\"},\"revisionHistoryLimit\":1,"))).Code);
        await EventuallyAsync(() => DeploymentAsync("re"), x => Complete(x, 2), "first rollout");
        for (var image = 2; image <= 3; image++)
        {
            await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/re",
                "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"web:" + image + "\"}]}}}}", "application/strategic-merge-patch+json");
            var generation = image;
            await EventuallyAsync(() => DeploymentAsync("re"), x => Complete(x, 2) && Int(x["metadata"]!["generation"]) == generation, $"rollout to web:{image}");
        }
        // Recreate never ran old and new pods together: every new pod was created after the last old one went.
        var sets = await EventuallyAsync(() => SetsAsync("re"), s => s.Count == 2, "history limited to one old set");
        Assert.Contains(sets, s => Json.Str(s["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]) == "web:3");

        // Scaled: the new set follows; paused: a template change makes no new set, resumed: it does.
        await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/re", """{"spec":{"replicas":3}}""", "application/merge-patch+json");
        await EventuallyAsync(() => DeploymentAsync("re"), x => Complete(x, 3), "scaled to 3");
        await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/re", """{"spec":{"paused":true}}""", "application/merge-patch+json");
        var paused = await EventuallyAsync(() => DeploymentAsync("re"), x => Json.Str(Condition(x, "Progressing")?["reason"]) == "DeploymentPaused", "paused");
        Assert.Equal("Unknown", Json.Str(Condition(paused, "Progressing")!["status"]));
        await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/re",
            """{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"web:4"}]}}}}""", "application/strategic-merge-patch+json");
        await Task.Delay(500);
        Assert.DoesNotContain(await SetsAsync("re"), s => Json.Str(s["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]) == "web:4");
        await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/re", """{"spec":{"paused":false}}""", "application/merge-patch+json");
        await EventuallyAsync(() => DeploymentAsync("re"), x => Complete(x, 3) && Int(x["metadata"]!["generation"]) == 7, "resumed rollout");
        Assert.All(await EventuallyAsync(() => PodsAsync("re"), p => p.Count == 3, "3 pods"), p => Assert.Equal("web:4", Json.Str(p["spec"]!["containers"]![0]!["image"])));
    }

    [Fact]
    public void SurgeAndUnavailabilityResolveAsKubernetesRoundsThem()
    {
        static JsonObject D(int replicas, JsonNode surge, JsonNode unavailable) => new()
        {
            ["spec"] = new JsonObject
            {
                ["replicas"] = replicas,
                ["strategy"] = new JsonObject { ["type"] = "RollingUpdate", ["rollingUpdate"] = new JsonObject { ["maxSurge"] = surge, ["maxUnavailable"] = unavailable } },
            },
        };
        Assert.Equal((3, 2), DeploymentMath.Fenceposts(D(10, "25%", "25%")));
        Assert.Equal((1, 0), DeploymentMath.Fenceposts(D(1, "25%", "25%")));
        Assert.Equal((0, 1), DeploymentMath.Fenceposts(D(4, 0, "0%")));
        Assert.Equal((2, 3), DeploymentMath.Fenceposts(D(4, 2, 3)));
        // Scaled to 15 mid-rollout (19 allowed with a surge of 4) over sets of 7 (old) and 5 (new), both sized for 13:
        // 7 × 19/13 ≈ 10 and 5 × 19/13 ≈ 7, and what rounding left (2) goes to the largest.
        var d = D(15, "25%", "25%");
        var old = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [DeploymentMath.MaxReplicasAnnotation] = "13" }, ["creationTimestamp"] = "2026-01-01T00:00:00Z" }, ["spec"] = new JsonObject { ["replicas"] = 7 } };
        var fresh = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [DeploymentMath.MaxReplicasAnnotation] = "13" }, ["creationTimestamp"] = "2026-01-02T00:00:00Z" }, ["spec"] = new JsonObject { ["replicas"] = 5 } };
        var sizes = DeploymentMath.Proportional(d, [old, fresh]);
        Assert.Equal(19, sizes.Values.Sum());
        Assert.Equal(12, sizes[old]);
        Assert.Equal(7, sizes[fresh]);
    }
}
