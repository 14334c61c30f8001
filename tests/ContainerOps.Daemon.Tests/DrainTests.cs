using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>`kubectl drain` as an operator runs it before maintenance: the node is cordoned, its pods are evicted
/// through the eviction subresource, and a PodDisruptionBudget holds back the evictions that would leave too few
/// healthy pods; `kubectl uncordon` lets the replacements run.</summary>
public class DrainTests
{
    private static string Str(JsonNode? n) => n?.GetValue<string>() ?? "";

    [Fact]
    public async Task DrainCordonsEvictsAndStopsWhereTheBudgetSaysUncordonLetsThePodsBack()
    {
        await using var cluster = await ClusterDaemon.StartAsync();
        cluster.Apply($$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  terminationGracePeriodSeconds: 0
                  containers: [{name: c, image: "{{ClusterDaemon.Image}}", imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}]
            """);
        // kubectl's generator sends the budget as protobuf.
        Assert.Equal("poddisruptionbudget.policy/web created", cluster.Ok("create", "pdb", "web", "--selector=app=web", "--min-available=1").Trim());
        var budget = await cluster.WaitForAsync("pdb", "web", b => b["status"]?["currentHealthy"]?.GetValue<int>() == 2, seconds: 90);
        Assert.Equal(1, budget["status"]!["disruptionsAllowed"]!.GetValue<int>());
        Assert.Equal(1, budget["status"]!["desiredHealthy"]!.GetValue<int>());
        Assert.Equal(2, budget["status"]!["expectedPods"]!.GetValue<int>());
        Assert.Matches(@"(?m)^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE\s*\n^web\s+1\s+N/A\s+1\s", cluster.Ok("get", "pdb"));
        var before = cluster.Items("get", "pods", "-l", "app=web").Select(p => Str(p["metadata"]!["name"])).ToHashSet();
        Assert.Equal(2, before.Count);

        // The budget lets one pod go; the other eviction is refused until kubectl gives up.
        var (exit, output, err) = cluster.Kubectl("drain", cluster.Node, "--ignore-daemonsets", "--timeout=15s");
        Assert.NotEqual(0, exit);
        Assert.Contains($"node/{cluster.Node} cordoned", output + err);
        Assert.Contains("Cannot evict pod as it would violate the pod's disruption budget.", err);
        Assert.Matches(@"pod/web-\S+ evicted", output + err);
        Assert.Matches($@"(?m)^{cluster.Node}\s+Ready,SchedulingDisabled\s", cluster.Ok("get", "nodes"));

        var pods = cluster.Items("get", "pods", "-l", "app=web");
        var left = pods.Where(p => before.Contains(Str(p["metadata"]!["name"])) && p["metadata"]!["deletionTimestamp"] is null).ToList();
        Assert.Single(left);
        // The evicted pod's replacement waits: the node takes no new pods.
        var replacement = await cluster.EventuallyAsync(() => cluster.Items("get", "pods", "-l", "app=web").Where(p => !before.Contains(Str(p["metadata"]!["name"]))).ToList(),
            l => l.Count == 1 && (l[0]["status"]?["conditions"] as JsonArray)?.Any(c => Str(c!["reason"]) == "Unschedulable") == true, "a replacement waiting for a node");
        Assert.Contains("node(s) were unschedulable", replacement[0]["status"]!["conditions"]!.AsArray().First(c => Str(c!["reason"]) == "Unschedulable")!["message"]!.GetValue<string>());
        budget = cluster.Get("pdb", "web");
        Assert.Equal(0, budget["status"]!["disruptionsAllowed"]!.GetValue<int>());

        // Uncordoned, the replacement runs and the budget allows a disruption again.
        Assert.Equal($"node/{cluster.Node} uncordoned", cluster.Ok("uncordon", cluster.Node).Trim());
        var name = Str(replacement[0]["metadata"]!["name"]);
        await cluster.WaitForAsync("pod", name, ClusterDaemon.IsReady, seconds: 90);
        await cluster.WaitForAsync("pdb", "web", b => b["status"]?["disruptionsAllowed"]?.GetValue<int>() == 1, seconds: 30);
        Assert.Matches($@"(?m)^{cluster.Node}\s+Ready\s", cluster.Ok("get", "nodes"));
    }
}
