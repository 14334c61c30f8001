using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Cluster.Tests;

/// <summary>The ReplicaSet controller and the garbage collector over the API in process, without a node: pods stay
/// unscheduled (so they go at once when deleted), which is what the controllers' counting, ownership and
/// propagation logic needs. The same with real pods and kubectl is in ContainerOps.Daemon.Tests.</summary>
public sealed class ReplicaSetControllerTests : IAsyncLifetime
{
    private ApiServer _api = null!;
    private ControllerManager _controllers = null!;

    public Task InitializeAsync()
    {
        _api = new ApiServer();
        _controllers = new ControllerManager(new ClusterObjects(_api.Store), new ControllerOptions(), NullLogger.Instance);
        _controllers.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _controllers.DisposeAsync();
        await _api.DisposeAsync();
    }

    private static string ReplicaSet(string name, int replicas, string app = "web") => """
        {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"NAME"},
         "spec":{"replicas":REPLICAS,"selector":{"matchLabels":{"app":"APP"}},
                 "template":{"metadata":{"labels":{"app":"APP"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}}
        """.Replace("NAME", name).Replace("REPLICAS", replicas.ToString()).Replace("APP", app);

    private async Task<List<JsonObject>> PodsAsync(string selector = "app=web")
    {
        var (_, list) = await _api.GetAsync($"/api/v1/namespaces/default/pods?labelSelector={Uri.EscapeDataString(selector)}");
        return list["items"]!.AsArray().Select(p => p!.AsObject()).ToList();
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        T value;
        while (!done(value = await read()))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"{what}: not within {seconds} s; last: {System.Text.Json.JsonSerializer.Serialize(value?.ToString())}");
            await Task.Delay(50);
        }
        return value;
    }

    [Fact]
    public async Task AReplicationControllerKeepsItsCountBySelectorMapAndScales()
    {
        // No selector: the template's labels are the selector, and the controller's labels.
        var (code, created) = await _api.PostAsync("/api/v1/namespaces/default/replicationcontrollers", """
            {"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"legacy"},
             "spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"old"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}}
            """);
        Assert.True(code == 201, created.ToJsonString());
        Assert.Equal("old", Json.Str(created["spec"]!["selector"]!["app"]));
        Assert.Equal("old", Json.Str(created["metadata"]!["labels"]!["app"]));
        var pods = await EventuallyAsync(() => PodsAsync("app=old"), p => p.Count == 2, "two pods");
        Assert.All(pods, p => Assert.Equal("ReplicationController", Json.Str(p["metadata"]!["ownerReferences"]![0]!["kind"])));
        await EventuallyAsync(async () => (await _api.GetAsync("/api/v1/namespaces/default/replicationcontrollers/legacy")).Body,
            rc => rc["status"]?["replicas"]?.GetValue<int>() == 2, "status counts two");

        // Scaled through its scale subresource, whose selector is the map written as a query.
        var (_, scale) = await _api.GetAsync("/api/v1/namespaces/default/replicationcontrollers/legacy/scale");
        Assert.Equal("app=old", Json.Str(scale["status"]!["selector"]));
        Assert.Equal(200, (await _api.PatchAsync("/api/v1/namespaces/default/replicationcontrollers/legacy/scale", """{"spec":{"replicas":1}}""", "application/merge-patch+json")).Code);
        await EventuallyAsync(() => PodsAsync("app=old"), p => p.Count == 1, "one pod left");

        // A selector that the template's labels do not match is refused, as for a ReplicaSet.
        var (badCode, bad) = await _api.PostAsync("/api/v1/namespaces/default/replicationcontrollers", """
            {"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"bad"},
             "spec":{"selector":{"app":"x"},"template":{"metadata":{"labels":{"app":"y"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}}
            """);
        Assert.Equal(422, badCode);
        Assert.Contains("`selector` does not match template `labels`", Json.Str(bad["message"]));
    }

    [Fact]
    public async Task AReplicaSetKeepsItsCountAdoptsOrphansAndScalesDown()
    {
        // An orphan with matching labels made before the set is adopted, and counts.
        var orphan = """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}""";
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/pods", orphan)).Code);
        var (code, created) = await _api.PostAsync("/apis/apps/v1/namespaces/default/replicasets", ReplicaSet("web", 3));
        Assert.Equal(201, code);
        var uid = Json.Str(created["metadata"]!["uid"])!;
        var pods = await EventuallyAsync(() => PodsAsync(), p => p.Count == 3 && p.All(x => OwnerReferences.IsControlledBy(x, uid)), "3 owned pods");
        Assert.Contains(pods, p => Json.Str(p["metadata"]!["name"]) == "stray");
        Assert.All(pods.Where(p => Json.Str(p["metadata"]!["name"]) != "stray"), p => Assert.StartsWith("web-", Json.Str(p["metadata"]!["name"])));
        var rs = await EventuallyAsync(async () => (await _api.GetAsync("/apis/apps/v1/namespaces/default/replicasets/web")).Body,
            r => r["status"]?["replicas"]?.GetValue<int>() == 3 && r["status"]?["observedGeneration"]?.GetValue<long>() == 1, "status replicas 3");
        Assert.Null(rs["status"]!["readyReplicas"]);

        // One deleted is replaced; no more than that are made (expectations hold the set back while it waits).
        var victim = Json.Str(pods.First(p => Json.Str(p["metadata"]!["name"]) != "stray")["metadata"]!["name"]);
        Assert.Equal(200, (await _api.DeleteAsync($"/api/v1/namespaces/default/pods/{victim}")).Code);
        pods = await EventuallyAsync(() => PodsAsync(), p => p.Count == 3 && p.All(x => Json.Str(x["metadata"]!["name"]) != victim), "a replacement");
        await Task.Delay(300);
        Assert.Equal(3, (await PodsAsync()).Count);

        // Scaled to 1: two go; events say which.
        Assert.Equal(200, (await _api.PatchAsync("/apis/apps/v1/namespaces/default/replicasets/web", """{"spec":{"replicas":1}}""", "application/merge-patch+json")).Code);
        await EventuallyAsync(() => PodsAsync(), p => p.Count == 1, "scaled to 1");
        var (_, events) = await _api.GetAsync("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb");
        var reasons = events["items"]!.AsArray().Select(e => Json.Str(e!["reason"])).ToList();
        Assert.Contains("SuccessfulCreate", reasons);
        Assert.Contains("SuccessfulDelete", reasons);

        // A pod whose labels no longer match is released, and replaced.
        var last = Json.Str((await PodsAsync())[0]["metadata"]!["name"]);
        await _api.PatchAsync($"/api/v1/namespaces/default/pods/{last}", """{"metadata":{"labels":{"app":"debug"}}}""", "application/merge-patch+json");
        var released = await EventuallyAsync(async () => (await _api.GetAsync($"/api/v1/namespaces/default/pods/{last}")).Body, p => p["metadata"]!["ownerReferences"] is null, "released");
        Assert.Equal("debug", Json.Str(released["metadata"]!["labels"]!["app"]));
        await EventuallyAsync(() => PodsAsync(), p => p.Count == 1 && Json.Str(p[0]["metadata"]!["name"]) != last, "a replacement for the released pod");
    }

    [Fact]
    public async Task DeletingTheOwnerTakesItsPodsInTheBackgroundOrTheForegroundAndOrphanKeepsThem()
    {
        foreach (var app in new[] { "bg", "fg", "orph" })
        {
            Assert.Equal(201, (await _api.PostAsync("/apis/apps/v1/namespaces/default/replicasets", ReplicaSet(app, 2, app))).Code);
            await EventuallyAsync(() => PodsAsync($"app={app}"), p => p.Count == 2, $"{app} pods");
        }

        // Background: the set goes at once, its pods after it.
        Assert.Equal(200, (await _api.SendAsync(HttpMethod.Delete, "/apis/apps/v1/namespaces/default/replicasets/bg", """{"propagationPolicy":"Background"}""")).Code);
        Assert.Equal(404, (await _api.GetAsync("/apis/apps/v1/namespaces/default/replicasets/bg")).Code);
        await EventuallyAsync(() => PodsAsync("app=bg"), p => p.Count == 0, "background: pods gone");

        // Orphan: the set goes, its pods stay without an owner and nobody replaces them.
        var (_, marked) = await _api.SendAsync(HttpMethod.Delete, "/apis/apps/v1/namespaces/default/replicasets/orph", """{"propagationPolicy":"Orphan"}""");
        Assert.Contains("orphan", marked["metadata"]!["finalizers"]!.AsArray().Select(f => Json.Str(f)));
        await EventuallyAsync(async () => (await _api.GetAsync("/apis/apps/v1/namespaces/default/replicasets/orph")).Code, c => c == 404, "orphan: set gone");
        var kept = await PodsAsync("app=orph");
        Assert.True(kept.Count == 2, string.Join("\n", kept.Select(k => k.ToJsonString())));
        Assert.All(kept, p => Assert.Null(p["metadata"]!["ownerReferences"]));

        // Foreground (as the query sends it): the set stays, marked, until its pods are gone.
        var (_, fg) = await _api.DeleteAsync("/apis/apps/v1/namespaces/default/replicasets/fg?propagationPolicy=Foreground");
        Assert.NotNull(fg["metadata"]!["deletionTimestamp"]);
        Assert.Contains("foregroundDeletion", fg["metadata"]!["finalizers"]!.AsArray().Select(f => Json.Str(f)));
        await EventuallyAsync(async () => (await _api.GetAsync("/apis/apps/v1/namespaces/default/replicasets/fg")).Code, c => c == 404, "foreground: set gone");
        Assert.Empty(await PodsAsync("app=fg"));

        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}""")).Code);
        var (invalidCode, invalid) = await _api.DeleteAsync("/api/v1/namespaces/default/configmaps/cm?propagationPolicy=Sideways");
        Assert.Equal(422, invalidCode);
        Assert.Contains("propagationPolicy", invalid["message"]!.GetValue<string>());
    }

    [Fact]
    public void PodsAreGivenUpLeastValuableFirst()
    {
        static JsonObject Pod(string name, string? node, string phase, bool ready, int restarts, string created) => JsonNode.Parse($$$"""
            {"metadata":{"name":"{{{name}}}","creationTimestamp":"{{{created}}}"},"spec":{"nodeName":{{{(node is null ? "null" : $"\"{node}\"")}}}},
             "status":{"phase":"{{{phase}}}","conditions":[{"type":"Ready","status":"{{{(ready ? "True" : "False")}}}","lastTransitionTime":"2026-01-01T00:00:00Z"}],
                       "containerStatuses":[{"restartCount":{{{restarts}}}}]}  }
            """)!.AsObject();
        var pods = new[]
        {
            Pod("ready-old", "n", "Running", true, 0, "2026-01-01T00:00:00Z"),
            Pod("ready-new", "n", "Running", true, 0, "2026-01-02T00:00:00Z"),
            Pod("restarting", "n", "Running", true, 5, "2026-01-01T00:00:00Z"),
            Pod("not-ready", "n", "Running", false, 0, "2026-01-01T00:00:00Z"),
            Pod("pending", "n", "Pending", false, 0, "2026-01-01T00:00:00Z"),
            Pod("unscheduled", null, "Pending", false, 0, "2026-01-01T00:00:00Z"),
        };
        var order = pods.Reverse().OrderBy(p => p, Comparer<JsonObject>.Create(PodStates.CompareForDeletion)).Select(p => Json.Str(p["metadata"]!["name"])!).ToArray();
        Assert.Equal(["unscheduled", "pending", "not-ready", "restarting", "ready-new", "ready-old"], order);
    }
}

/// <summary>The scale subresource as kubectl scale and autoscalers use it.</summary>
public sealed class ScaleSubresourceTests : IAsyncLifetime
{
    private ApiServer _api = null!;
    public Task InitializeAsync() { _api = new ApiServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task AScaleIsReadAndWrittenThroughGetPutAndPatch()
    {
        var deployment = """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
             "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]},
                     "template":{"metadata":{"labels":{"app":"web","tier":"a"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}}
            """;
        Assert.Equal(201, (await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments", deployment)).Code);
        var (code, scale) = await _api.GetAsync("/apis/apps/v1/namespaces/default/deployments/web/scale");
        Assert.Equal(200, code);
        Assert.Equal("Scale", Json.Str(scale["kind"]));
        Assert.Equal("autoscaling/v1", Json.Str(scale["apiVersion"]));
        Assert.Equal(2, scale["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal("app=web,tier in (a,b)", Json.Str(scale["status"]!["selector"]));

        var (patched, after) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web/scale", """{"spec":{"replicas":5}}""", "application/merge-patch+json");
        Assert.Equal(200, patched);
        Assert.Equal(5, after["spec"]!["replicas"]!.GetValue<int>());
        var (_, d) = await _api.GetAsync("/apis/apps/v1/namespaces/default/deployments/web");
        Assert.Equal(5, d["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(2, d["metadata"]!["generation"]!.GetValue<long>());

        scale["spec"]!["replicas"] = 1;
        var (stale, _) = await _api.PutAsync("/apis/apps/v1/namespaces/default/deployments/web/scale", scale.ToJsonString());
        Assert.Equal(409, stale);
        after["spec"]!["replicas"] = 1;
        Assert.Equal(200, (await _api.PutAsync("/apis/apps/v1/namespaces/default/deployments/web/scale", after.ToJsonString())).Code);
        var (negative, invalid) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web/scale", """{"spec":{"replicas":-1}}""", "application/merge-patch+json");
        Assert.Equal(422, negative);
        Assert.Contains("spec.replicas", invalid["message"]!.GetValue<string>());
        Assert.Equal(404, (await _api.GetAsync("/api/v1/namespaces/default/pods/web/scale")).Code);
        var (_, resources) = await _api.GetAsync("/apis/apps/v1");
        Assert.Contains(resources["resources"]!.AsArray(), r => Json.Str(r!["name"]) == "replicasets/scale" && Json.Str(r["kind"]) == "Scale");
    }
}
