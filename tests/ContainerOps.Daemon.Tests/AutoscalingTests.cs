using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>Resource metrics and the HorizontalPodAutoscaler with real pods: `kubectl top` reads the pods' and the
/// node's usage from metrics.k8s.io, and an autoscaler follows a busy pod's CPU up to its maximum and, once the
/// target is raised, back down (the autoscaler looks every second here: --hpa-sync-period 1).</summary>
public sealed class AutoscalingTests : IAsyncLifetime
{
    private const string Image = "autoscaling-tests/busybox:1";
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ClusterDaemon.StartAsync(Image, "--hpa-sync-period", "1");

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task TopShowsUsageAndAnAutoscalerFollowsCpuUpToItsMaximumAndBackDown()
    {
        // Each pod spins, held to 0.2 of a core by its limit: 200 % of its 100m request.
        _cluster.Apply($$$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: burn
            spec:
              replicas: 1
              selector: {matchLabels: {app: burn}}
              template:
                metadata: {labels: {app: burn}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: c
                    image: "{{{Image}}}"
                    command: [sh, -c, 'while :; do :; done']
                    resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}
            """);
        await _cluster.EventuallyAsync(() => _cluster.Items("get", "pods", "-l", "app=burn"), p => p.Count == 1 && p.All(ClusterDaemon.IsReady), "the busy pod", 60);

        var top = await _cluster.EventuallyAsync(() => _cluster.Kubectl("top", "pod", "-l", "app=burn", "--no-headers"), r => r.Exit == 0 && r.Out.Contains("burn-"), "kubectl top pod", 30);
        var millicores = int.Parse(System.Text.RegularExpressions.Regex.Match(top.Out, @"\s(\d+)m\s").Groups[1].Value);
        Assert.InRange(millicores, 100, 300);
        var node = _cluster.Ok("top", "node");
        Assert.Contains(_cluster.Node, node);
        Assert.Contains("CPU(cores)", node);

        _cluster.Apply("""
            apiVersion: autoscaling/v2
            kind: HorizontalPodAutoscaler
            metadata:
              name: burn
            spec:
              scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
              minReplicas: 1
              maxReplicas: 3
              metrics:
              - type: Resource
                resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
              behavior:
                scaleDown: {stabilizationWindowSeconds: 0}
            """);
        var hpa = await _cluster.WaitForAsync("hpa", "burn", h => h["status"]?["desiredReplicas"]?.GetValue<int>() == 3
            && _cluster.Get("deployment", "burn")["spec"]!["replicas"]!.GetValue<int>() == 3, 90);
        var utilization = hpa["status"]!["currentMetrics"]![0]!["resource"]!["current"]!["averageUtilization"]!.GetValue<int>();
        Assert.InRange(utilization, 100, 300);
        Assert.Contains(hpa["status"]!["conditions"]!.AsArray(), c => c!["type"]!.GetValue<string>() == "ScalingLimited" && c["reason"]!.GetValue<string>() == "TooManyReplicas");
        Assert.Contains(_cluster.Items("get", "events", "--field-selector", "involvedObject.name=burn,involvedObject.kind=HorizontalPodAutoscaler"),
            e => e["reason"]!.GetValue<string>() == "SuccessfulRescale" && e["message"]!.GetValue<string>().StartsWith("New size: 3", StringComparison.Ordinal));

        // A target far above the usage: back down to the minimum (no stabilisation window asked for).
        _cluster.Ok("patch", "hpa", "burn", "--type=merge", "-p", """{"spec":{"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":1000}}}]}}""");
        await _cluster.WaitForAsync("deployment", "burn", d => d["spec"]!["replicas"]!.GetValue<int>() == 1, 90);
        _cluster.Ok("delete", "hpa", "burn");
        _cluster.Ok("scale", "deployment", "burn", "--replicas=0");
    }
}
