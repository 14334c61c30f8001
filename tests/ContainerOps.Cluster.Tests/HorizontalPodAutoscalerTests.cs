using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;

namespace ContainerOps.Cluster.Tests;

/// <summary>The autoscaler over the API in process, with measured usage made up here (real pods and cgroup
/// statistics are in ContainerOps.Daemon.Tests' AutoscalingTests).</summary>
public sealed class HorizontalPodAutoscalerTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = new(_ => Task.FromResult<JsonObject?>(ControllerHarness.RunningAndReady()),
        options: new ControllerOptions { HorizontalSyncPeriod = TimeSpan.FromMilliseconds(200) });
    private ApiServer Api => _harness.Api;

    /// <summary>A steady load: 360m of CPU spread over the running pods' app containers; each sidecar uses 10m.</summary>
    private sealed class MadeUpMetrics(ApiServer api) : IResourceMetrics
    {
        public async Task<IReadOnlyList<PodUsage>> PodsAsync(CancellationToken ct)
        {
            var (_, list) = await api.GetAsync("/api/v1/namespaces/default/pods");
            var running = list["items"]!.AsArray().OfType<JsonObject>().Where(p => Json.Str(p["status"]?["phase"]) == "Running").ToList();
            return running.Select(p => new PodUsage("default", Json.Str(p["metadata"]!["name"])!, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(15),
                    [new ContainerUsage("app", 360_000_000 / running.Count, 50 << 20), new ContainerUsage("sidecar", 10_000_000, 10 << 20)]))
                .ToList();
        }

        public Task<NodeUsage> NodeAsync(CancellationToken ct) => Task.FromResult(new NodeUsage("node", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(15), 0, 0));
    }

    public Task InitializeAsync()
    {
        _harness.Controllers.Context.Metrics = () => new MadeUpMetrics(Api);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task AContainerResourceMetricFollowsOneContainerNotThePod()
    {
        Assert.Equal(201, (await Api.PostAsync("/apis/apps/v1/namespaces/default/deployments", """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
             "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
              "spec":{"containers":[{"name":"app","image":"x","resources":{"requests":{"cpu":"100m"}}},
                                    {"name":"sidecar","image":"y","resources":{"requests":{"cpu":"100m"}}}]}}}}
            """)).Code);
        // Two pods: the app runs at 180 % of its request, the pod as a whole at 95 %: 2 × 180 / 60 = 6 replicas, not 4;
        // at six the app runs at 60 %, the target, and it stays there.
        Assert.Equal(201, (await Api.PostAsync("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", """
            {"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"web"},
             "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"minReplicas":1,"maxReplicas":10,
              "metrics":[{"type":"ContainerResource","containerResource":{"name":"cpu","container":"app","target":{"type":"Utilization","averageUtilization":60}}}]}}
            """)).Code);
        static int? Utilization(JsonObject h) => h["status"]?["currentMetrics"]?[0]?["containerResource"]?["current"]?["averageUtilization"]?.GetValue<int>();
        var hpa = await ControllerHarness.EventuallyAsync(async () => (await Api.GetAsync("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web")).Body,
            h => h["status"]?["currentReplicas"]?.GetValue<int>() == 6 && Utilization(h) == 60, "six replicas at the target", 30);
        Assert.Equal(6, hpa["status"]!["desiredReplicas"]!.GetValue<int>());
        var current = hpa["status"]!["currentMetrics"]![0]!;
        Assert.Equal("ContainerResource", Json.Str(current["type"]));
        Assert.Equal("app", Json.Str(current["containerResource"]!["container"]));
        var (_, events) = await Api.GetAsync("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb,reason%3DSuccessfulRescale");
        Assert.Contains(events["items"]!.AsArray(), e => Json.Str(e!["message"]) == "New size: 6; reason: cpu container resource utilization (percentage of request) above target");
        await Task.Delay(600); // three more looks change nothing
        Assert.Equal(6, (await Api.GetAsync("/apis/apps/v1/namespaces/default/deployments/web")).Body["spec"]!["replicas"]!.GetValue<int>());

        // A container the pods do not have cannot be measured, and the autoscaler says so.
        await Api.PatchAsync("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web",
            """{"spec":{"metrics":[{"type":"ContainerResource","containerResource":{"name":"cpu","container":"proxy","target":{"type":"Utilization","averageUtilization":60}}}]}}""",
            "application/merge-patch+json");
        hpa = await ControllerHarness.EventuallyAsync(async () => (await Api.GetAsync("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web")).Body,
            h => h["status"]?["conditions"]?.AsArray().Any(c => Json.Str(c!["type"]) == "ScalingActive" && Json.Str(c["status"]) == "False") == true, "scaling inactive");
        var condition = hpa["status"]!["conditions"]!.AsArray().First(c => Json.Str(c!["type"]) == "ScalingActive")!;
        Assert.Contains("container proxy not present in metrics", Json.Str(condition["message"]));
    }
}
