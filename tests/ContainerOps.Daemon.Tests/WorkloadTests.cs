using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>ReplicaSets and Deployments with real pods, driven by kubectl 1.32: counts kept, pods replaced, scaled,
/// cascaded or orphaned on deletion; rollouts, history, undo, pause, resume, restart and scale.</summary>
public sealed class WorkloadTests : IAsyncLifetime
{
    private const string Image = "workload-tests/busybox:1";
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await ClusterDaemon.StartAsync(Image);
        _cluster.KubectlTimeout = TimeSpan.FromSeconds(180); // rollout status waits for whole rollouts
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static string Template(string app, string image = Image, string extraLabels = "") => $$"""
          template:
            metadata:
              labels: {app: {{app}}{{extraLabels}}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - {name: c, image: "{{image}}", command: [sleep, "3600"]}
        """;

    private List<JsonObject> Pods(string app) =>
        _cluster.Items("get", "pods", "-l", $"app={app}").Where(p => p["metadata"]!["deletionTimestamp"] is null).ToList();

    private Task<List<JsonObject>> RunningAsync(string app, int count) =>
        _cluster.EventuallyAsync(() => Pods(app), p => p.Count == count && p.All(ClusterDaemon.IsReady) && _cluster.Items("get", "pods", "-l", $"app={app}").Count == count,
            $"{count} ready pods of {app}");

    [Fact]
    public async Task AReplicaSetKeepsThreePodsScalesAndCascadesOrOrphansOnDeletion()
    {
        _cluster.Apply($$"""
            apiVersion: apps/v1
            kind: ReplicaSet
            metadata:
              name: rs
            spec:
              replicas: 3
              selector:
                matchLabels:
                  app: rs
            {{Template("rs")}}
            """);
        var pods = await RunningAsync("rs", 3);
        Assert.All(pods, p => Assert.Equal("Running", p["status"]!["phase"]!.GetValue<string>()));
        // The set writes its status a moment after its pods are ready.
        var rs = await _cluster.WaitForAsync("rs", "rs", o => o["status"]?["readyReplicas"]?.GetValue<int>() == 3);
        Assert.All(pods, p => Assert.Equal(rs["metadata"]!["uid"]!.GetValue<string>(), p["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>()));

        var victim = pods[0]["metadata"]!["name"]!.GetValue<string>();
        _cluster.Ok("delete", "pod", victim);
        pods = await RunningAsync("rs", 3);
        Assert.DoesNotContain(pods, p => p["metadata"]!["name"]!.GetValue<string>() == victim);

        _cluster.Ok("scale", "rs", "rs", "--replicas=1");
        await RunningAsync("rs", 1);
        var reasons = _cluster.Items("get", "events", "--field-selector", "involvedObject.name=rs").Select(e => e["reason"]!.GetValue<string>()).ToList();
        Assert.Contains("SuccessfulCreate", reasons);
        Assert.Contains("SuccessfulDelete", reasons);

        _cluster.Ok("delete", "rs", "rs");
        await _cluster.EventuallyAsync(() => _cluster.Items("get", "pods", "-l", "app=rs"), p => p.Count == 0, "the set's pods gone");

        _cluster.Apply($$"""
            apiVersion: apps/v1
            kind: ReplicaSet
            metadata:
              name: keep
            spec:
              replicas: 2
              selector:
                matchLabels:
                  app: keep
            {{Template("keep")}}
            """);
        await RunningAsync("keep", 2);
        // Not waited for: kubectl 1.32's wait for an object that goes only after its orphan finalizer does not return here yet.
        _cluster.Ok("delete", "rs", "keep", "--cascade=orphan", "--wait=false");
        await _cluster.EventuallyAsync(() => _cluster.Kubectl("get", "rs", "keep").Exit, e => e != 0, "the set gone");
        await Task.Delay(1000);
        var kept = await RunningAsync("keep", 2);
        Assert.All(kept, p => Assert.Null(p["metadata"]!["ownerReferences"]));
    }

    [Fact]
    public async Task ADeploymentRollsOutRollsBackPausesRestartsAndScalesThroughKubectl()
    {
        _cluster.Apply($$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 3
              selector:
                matchLabels:
                  app: web
            {{Template("web")}}
            """);
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "deployment/web", "--timeout=120s"));
        await RunningAsync("web", 3);
        var table = _cluster.Ok("get", "deployment", "web");
        Assert.Matches(@"web\s+3/3\s+3\s+3", table);

        // A new template: a second ReplicaSet, a second revision.
        _cluster.Ok("annotate", "deployment/web", "kubernetes.io/change-cause=relabel");
        _cluster.Ok("patch", "deployment/web", "-p", """{"spec":{"template":{"metadata":{"labels":{"track":"v2"}}}}}""");
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "deployment/web", "--timeout=120s"));
        var history = _cluster.Ok("rollout", "history", "deployment/web");
        Assert.Matches(@"(?m)^1\s", history);
        Assert.Matches(@"(?m)^2\s+relabel", history);
        await RunningAsync("web", 3);
        Assert.All(Pods("web"), p => Assert.Equal("v2", p["metadata"]!["labels"]!["track"]?.GetValue<string>()));

        // Undo (kubectl patches the template back from revision 1's set): revision 3, pods without the label.
        _cluster.Ok("rollout", "undo", "deployment/web");
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "deployment/web", "--timeout=120s"));
        await _cluster.EventuallyAsync(() => Pods("web"), p => p.Count == 3 && p.All(x => x["metadata"]!["labels"]!["track"] is null) && p.All(ClusterDaemon.IsReady), "pods of revision 1's template");
        Assert.Equal("3", _cluster.Json("get", "deployment", "web")["metadata"]!["annotations"]!["deployment.kubernetes.io/revision"]!.GetValue<string>());
        Assert.Equal(2, _cluster.Items("get", "rs", "-l", "app=web").Count);

        // Paused: a change makes no new set until resumed.
        _cluster.Ok("rollout", "pause", "deployment/web");
        _cluster.Ok("patch", "deployment/web", "-p", """{"spec":{"template":{"metadata":{"labels":{"track":"v3"}}}}}""");
        await Task.Delay(1500);
        Assert.Equal(2, _cluster.Items("get", "rs", "-l", "app=web").Count);
        _cluster.Ok("rollout", "resume", "deployment/web");
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "deployment/web", "--timeout=120s"));
        Assert.Equal(3, _cluster.Items("get", "rs", "-l", "app=web").Count);

        // Restart: the restartedAt annotation makes a new set; scale: the deployments/scale subresource.
        _cluster.Ok("rollout", "restart", "deployment/web");
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "deployment/web", "--timeout=120s"));
        var restarted = await RunningAsync("web", 3);
        Assert.All(restarted, p => Assert.NotNull(p["metadata"]!["annotations"]?["kubectl.kubernetes.io/restartedAt"]));
        _cluster.Ok("scale", "deployment/web", "--replicas=5");
        await RunningAsync("web", 5);
        var d = await _cluster.WaitForAsync("deployment", "web", o => o["status"]?["availableReplicas"]?.GetValue<int>() == 5);
        Assert.Equal(d["metadata"]!["generation"]!.GetValue<long>(), d["status"]!["observedGeneration"]!.GetValue<long>());
        Assert.Contains(d["status"]!["conditions"]!.AsArray(), c => c!["type"]!.GetValue<string>() == "Available" && c["status"]!.GetValue<string>() == "True");

        _cluster.Ok("delete", "deployment", "web");
        await _cluster.EventuallyAsync(() => _cluster.Items("get", "pods", "-l", "app=web").Count + _cluster.Items("get", "rs", "-l", "app=web").Count, n => n == 0, "everything of web gone");
    }
}
