using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>The controllers are level-triggered: a daemon killed with SIGKILL in the middle of a job, a scale-up or a
/// rollout comes back and finishes it — nothing duplicated, nothing lost.</summary>
public sealed class WorkloadChaosTests : IAsyncLifetime
{
    private const string Image = "workload-chaos/busybox:1";
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ClusterDaemon.StartAsync(Image);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static string Name(JsonObject o) => o["metadata"]!["name"]!.GetValue<string>();
    private static string? Phase(JsonObject pod) => pod["status"]?["phase"]?.GetValue<string>();

    private List<JsonObject> Live(string selector) =>
        _cluster.Items("get", "pods", "-l", selector).Where(p => p["metadata"]!["deletionTimestamp"] is null).ToList();

    [Fact]
    public async Task AnIndexedJobKilledMidRunCompletesEachIndexExactlyOnce()
    {
        _cluster.Apply($$"""
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: chaos
            spec:
              completions: 10
              parallelism: 5
              completionMode: Indexed
              template:
                spec:
                  restartPolicy: Never
                  terminationGracePeriodSeconds: 1
                  containers:
                  - {name: c, image: "{{Image}}", command: [sh, -c, 'sleep 1; echo done $JOB_COMPLETION_INDEX']}
            """);
        await _cluster.EventuallyAsync(() => _cluster.Items("get", "pods", "-l", "batch.kubernetes.io/job-name=chaos"), p => p.Count >= 5, "the first five pods", 60);
        await _cluster.CrashAndRestartAsync();

        var job = await _cluster.WaitForAsync("job", "chaos", j => (j["status"]?["conditions"] as JsonArray)?.Any(c => c?["status"]?.GetValue<string>() == "True"
            && c["type"]?.GetValue<string>() is "Complete" or "Failed") == true, 150);
        Assert.Equal("0-9", job["status"]!["completedIndexes"]!.GetValue<string>());
        var succeeded = _cluster.Items("get", "pods", "-l", "batch.kubernetes.io/job-name=chaos").Where(p => Phase(p) == "Succeeded").ToList();
        var byIndex = succeeded.GroupBy(p => p["metadata"]!["annotations"]!["batch.kubernetes.io/job-completion-index"]!.GetValue<string>()).ToList();
        Assert.Equal(10, byIndex.Count);
        Assert.All(byIndex, g => Assert.Single(g));
    }

    [Fact]
    public async Task AScaleUpOfFiftyAndARolloutKilledMidWayFinishWithTheRightPods()
    {
        _cluster.Apply($$$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: wide
            spec:
              replicas: 0
              selector: {matchLabels: {app: wide}}
              strategy: {rollingUpdate: {maxSurge: 2, maxUnavailable: 0}}
              template:
                metadata: {labels: {app: wide}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - {name: c, image: "{{{Image}}}", command: [sleep, "3600"], env: [{name: GEN, value: "1"}]}
            """);
        _cluster.Ok("scale", "deployment", "wide", "--replicas=50");
        await _cluster.EventuallyAsync(() => Live("app=wide"), p => p.Count >= 5, "the scale-up under way", 60);
        await _cluster.CrashAndRestartAsync();
        var pods = await _cluster.EventuallyAsync(() => Live("app=wide"), p => p.Count == 50 && p.All(ClusterDaemon.IsReady), "50 ready pods", 240);
        Assert.Equal(50, pods.Select(Name).Distinct().Count());
        await Task.Delay(2000);
        Assert.Equal(50, Live("app=wide").Count); // and no more come

        // A rollout, killed once it has begun, completes: every pod of the new template, the old set at zero.
        _cluster.Ok("set", "env", "deployment/wide", "GEN=2");
        await _cluster.EventuallyAsync(() => _cluster.Items("get", "rs", "-l", "app=wide"), sets => sets.Count == 2, "the new ReplicaSet", 60);
        await _cluster.CrashAndRestartAsync();
        _cluster.KubectlTimeout = TimeSpan.FromSeconds(300);
        _cluster.Ok("rollout", "status", "deployment/wide", "--timeout=280s");
        var final = await _cluster.EventuallyAsync(() => Live("app=wide"), p => p.Count == 50, "50 pods after the rollout", 120);
        Assert.All(final, p => Assert.Equal("2", p["spec"]!["containers"]![0]!["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "GEN")!["value"]!.GetValue<string>()));
        var sets = _cluster.Items("get", "rs", "-l", "app=wide");
        Assert.Equal(2, sets.Count);
        Assert.Single(sets, s => s["spec"]!["replicas"]!.GetValue<int>() == 50);
        Assert.Single(sets, s => s["spec"]!["replicas"]!.GetValue<int>() == 0);
    }
}
