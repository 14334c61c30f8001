using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>DaemonSets with real pods on the one node of a private daemon, driven by kubectl 1.32: a set whose
/// nodeSelector matches the node runs one pod there, one whose selector does not runs none, and a rolling update,
/// its history, undo and restart go through kubectl rollout.</summary>
public sealed class DaemonSetTests : IAsyncLifetime
{
    private const string Image = "busybox:latest"; // the examples' image, in this daemon's own store
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await ClusterDaemon.StartAsync(Image);
        _cluster.KubectlTimeout = TimeSpan.FromSeconds(180);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static string DaemonSet(string name, string nodeSelector) => $$$"""
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: {{{name}}}}
        spec:
          selector: {matchLabels: {app: {{{name}}}}}
          template:
            metadata: {labels: {app: {{{name}}}}}
            spec:
              nodeSelector: {{{{nodeSelector}}}}
              terminationGracePeriodSeconds: 1
              containers:
              - name: c
                image: {{{Image}}}
                imagePullPolicy: IfNotPresent
                command: [sleep, "3600"]
                env: [{name: VERSION, value: v1}]
        """;

    private List<JsonObject> Pods(string app) =>
        _cluster.Items("get", "pods", "-l", $"app={app}").Where(p => p["metadata"]!["deletionTimestamp"] is null).ToList();

    private static string Version(JsonObject p) => p["spec"]!["containers"]![0]!["env"]![0]!["value"]!.GetValue<string>();

    [Fact]
    public async Task ASetRunsOnThePodOnAMatchingNodeNoneElsewhereAndRollsOutThroughKubectl()
    {
        _cluster.Apply(DaemonSet("agent", $"kubernetes.io/hostname: {_cluster.Node}"));
        _cluster.Apply(DaemonSet("elsewhere", "kubernetes.io/hostname: no-such-node"));
        var pods = await _cluster.EventuallyAsync(() => Pods("agent"), p => p.Count == 1 && ClusterDaemon.IsReady(p[0]), "the agent pod ready");
        Assert.Equal(_cluster.Node, pods[0]["spec"]!["nodeName"]!.GetValue<string>());
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "ds/agent"));
        var ds = _cluster.Json("get", "ds", "agent");
        Assert.Equal(1, ds["status"]!["desiredNumberScheduled"]!.GetValue<int>());
        Assert.Equal(1, ds["status"]!["numberReady"]!.GetValue<int>());
        Assert.Matches(@"(?m)^agent\s+1\s+1\s+1\s+1\s+1\s+kubernetes.io/hostname=", _cluster.Ok("get", "ds", "agent"));
        var elsewhere = await _cluster.WaitForAsync("ds", "elsewhere", d => d["status"]?["observedGeneration"]?.GetValue<long>() == 1);
        Assert.Equal(0, elsewhere["status"]!["desiredNumberScheduled"]!.GetValue<int>());
        Assert.Empty(Pods("elsewhere"));

        // A rolling update: the pod is replaced by one of the new template.
        var first = pods[0]["metadata"]!["uid"]!.GetValue<string>();
        _cluster.Ok("set", "env", "ds/agent", "VERSION=v2");
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "ds/agent", "--timeout=150s"));
        pods = await _cluster.EventuallyAsync(() => Pods("agent"), p => p.Count == 1 && ClusterDaemon.IsReady(p[0]) && Version(p[0]) == "v2", "the updated pod ready");
        Assert.NotEqual(first, pods[0]["metadata"]!["uid"]!.GetValue<string>());
        var history = _cluster.Ok("rollout", "history", "ds/agent");
        Assert.Matches(@"(?m)^1\s+<none>", history);
        Assert.Matches(@"(?m)^2\s+<none>", history);

        // Undo brings v1 back; restart replaces the pod with the same template.
        _cluster.Ok("rollout", "undo", "ds/agent");
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "ds/agent", "--timeout=150s"));
        pods = await _cluster.EventuallyAsync(() => Pods("agent"), p => p.Count == 1 && ClusterDaemon.IsReady(p[0]) && Version(p[0]) == "v1", "v1 back");
        var beforeRestart = pods[0]["metadata"]!["uid"]!.GetValue<string>();
        _cluster.Ok("rollout", "restart", "ds/agent");
        Assert.Contains("successfully rolled out", _cluster.Ok("rollout", "status", "ds/agent", "--timeout=150s"));
        await _cluster.EventuallyAsync(() => Pods("agent"),
            p => p.Count == 1 && ClusterDaemon.IsReady(p[0]) && p[0]["metadata"]!["uid"]!.GetValue<string>() != beforeRestart, "restarted");

        _cluster.Ok("delete", "ds", "agent");
        await _cluster.EventuallyAsync(() => _cluster.Items("get", "pods", "-l", "app=agent"), p => p.Count == 0, "the set's pod gone");
    }

    [Fact]
    public async Task TheExampleRunsOnceItsNodeIsLabelled()
    {
        _cluster.Apply(File.ReadAllText(Path.Combine(PrivateDaemon.RepoRoot, "examples", "daemonset", "node-logger.yaml")));
        var ds = await _cluster.WaitForAsync("ds", "node-logger", d => d["status"]?["observedGeneration"]?.GetValue<long>() == 1);
        Assert.Equal(0, ds["status"]!["desiredNumberScheduled"]!.GetValue<int>());
        Assert.Empty(Pods("node-logger"));
        _cluster.Ok("label", "node", _cluster.Node, "role=logging");
        var pods = await _cluster.EventuallyAsync(() => Pods("node-logger"), p => p.Count == 1 && ClusterDaemon.IsReady(p[0]), "a pod on the labelled node");
        Assert.Contains(" load: ", await _cluster.LogsAsync(pods[0]["metadata"]!["name"]!.GetValue<string>(), " load: "));
        _cluster.Ok("label", "node", _cluster.Node, "role-");
        await _cluster.EventuallyAsync(() => Pods("node-logger"), p => p.Count == 0, "the pod gone with the label");
    }
}
