using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Tests;

/// <summary>autoscaling/v1 HorizontalPodAutoscalers beside v2 on one stored object, judged by kubectl 1.32: `kubectl
/// autoscale` (a v1 create, sent as protobuf), reads at both versions, a v1 update that keeps what only v2 can say.</summary>
public sealed class AutoscalingV1Tests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private const string Deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: busybox:1, resources: {requests: {cpu: 100m}}}]
        """;

    private JsonObject Get(params string[] args) => JsonNode.Parse(_server.Ok([.. args, "-o", "json"]))!.AsObject();

    [Fact]
    public void KubectlAutoscaleMakesAnAutoscalerThatBothVersionsRead()
    {
        Assert.Equal(0, _server.KubectlWithInput(Deployment, "apply", "-f", "-").Exit);
        Assert.Contains("horizontalpodautoscaler.autoscaling/web autoscaled", _server.Ok("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=3"));

        var table = _server.Ok("get", "hpa");
        Assert.Matches(@"NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE", table);
        Assert.Matches(@"web\s+Deployment/web\s+cpu: <unknown>/50%\s+1\s+3\s+0", table);

        var v2 = Get("get", "horizontalpodautoscalers.v2.autoscaling", "web");
        Assert.Equal("autoscaling/v2", (string?)v2["apiVersion"]);
        var metric = v2["spec"]!["metrics"]![0]!;
        Assert.Equal("cpu", (string?)metric["resource"]!["name"]);
        Assert.Equal(50, (int)metric["resource"]!["target"]!["averageUtilization"]!);
        var v1 = Get("get", "horizontalpodautoscalers.v1.autoscaling", "web");
        Assert.Equal("autoscaling/v1", (string?)v1["apiVersion"]);
        Assert.Equal(50, (int)v1["spec"]!["targetCPUUtilizationPercentage"]!);
        Assert.Equal(3, (int)v1["spec"]!["maxReplicas"]!);
        Assert.Null(v1["spec"]!["metrics"]);
        Assert.Single(Get("get", "horizontalpodautoscalers.v1.autoscaling")["items"]!.AsArray());
    }

    [Fact]
    public void AV1WriteKeepsTheMetricsOnlyV2HasAndDiscoveryPrefersV2()
    {
        Assert.Equal(0, _server.KubectlWithInput("""
            apiVersion: autoscaling/v2
            kind: HorizontalPodAutoscaler
            metadata: {name: both}
            spec:
              scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
              maxReplicas: 4
              metrics:
              - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}
              - {type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}}
            """, "apply", "-f", "-").Exit);
        var v1 = Get("get", "horizontalpodautoscalers.v1.autoscaling", "both");
        Assert.Equal(60, (int)v1["spec"]!["targetCPUUtilizationPercentage"]!);
        Assert.Contains("memory", (string?)v1["metadata"]!["annotations"]!["autoscaling.alpha.kubernetes.io/metrics"]);

        // A v1 change (max and target) through a patch at v1: the memory metric stays.
        _server.Ok("patch", "horizontalpodautoscalers.v1.autoscaling", "both", "--type=merge", "-p", """{"spec":{"maxReplicas":6,"targetCPUUtilizationPercentage":70}}""");
        var v2 = Get("get", "horizontalpodautoscalers.v2.autoscaling", "both");
        Assert.Equal(6, (int)v2["spec"]!["maxReplicas"]!);
        var metrics = v2["spec"]!["metrics"]!.AsArray();
        Assert.Equal(2, metrics.Count);
        Assert.Equal(70, (int)metrics[0]!["resource"]!["target"]!["averageUtilization"]!);
        Assert.Equal("memory", (string?)metrics[1]!["resource"]!["name"]);
        Assert.Null(v2["metadata"]!["annotations"]?["autoscaling.alpha.kubernetes.io/metrics"]);
        Assert.Matches(@"both\s+Deployment/web\s+cpu: <unknown>/70%, memory: <unknown>/100Mi", _server.Ok("get", "hpa", "both"));

        // A field v1 does not have is refused by name at v1.
        var (exit, _, err) = _server.KubectlWithInput("""
            apiVersion: autoscaling/v1
            kind: HorizontalPodAutoscaler
            metadata: {name: strict}
            spec: {scaleTargetRef: {kind: Deployment, name: web}, maxReplicas: 2, metrics: []}
            """, "create", "-f", "-", "--validate=strict");
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.metrics", err);

        var versions = _server.Ok("api-versions");
        Assert.Contains("autoscaling/v1", versions);
        Assert.Contains("autoscaling/v2", versions);
        var group = JsonNode.Parse(_server.Ok("get", "--raw", "/apis/autoscaling"))!;
        Assert.Equal("autoscaling/v2", (string?)group["preferredVersion"]!["groupVersion"]);
    }
}
