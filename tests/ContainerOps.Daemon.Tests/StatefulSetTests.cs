using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>StatefulSets with real pods on a private daemon, driven by kubectl 1.32: ordered start behind a headless
/// service whose DNS names resolve, reverse-ordered scale-down, a partitioned rolling update, rollout commands, and a
/// daemon killed with SIGKILL in the middle of a scale-down and of a scale-up.</summary>
public sealed class StatefulSetTests : IAsyncLifetime
{
    private const string Image = "busybox:latest"; // the examples' image, in this daemon's own store
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await ClusterDaemon.StartAsync(Image);
        _cluster.KubectlTimeout = TimeSpan.FromSeconds(180); // rollout status waits for whole rollouts
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static string StatefulSet(string name, int replicas, string extraSpec = "", string env = "v1", int grace = 1) => $$$"""
        apiVersion: v1
        kind: Service
        metadata: {name: {{{name}}}}
        spec:
          clusterIP: None
          selector: {app: {{{name}}}}
          ports: [{name: web, port: 80}]
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: {{{name}}}}
        spec:
          serviceName: {{{name}}}
          replicas: {{{replicas}}}
          selector: {matchLabels: {app: {{{name}}}}}
        {{{extraSpec}}}
          template:
            metadata: {labels: {app: {{{name}}}}}
            spec:
              terminationGracePeriodSeconds: {{{grace}}}
              containers:
              - name: c
                image: {{{Image}}}
                imagePullPolicy: IfNotPresent
                command: [sleep, "3600"]
                env: [{name: VERSION, value: {{{env}}}}]
        """;

    private List<JsonObject> Pods(string app) => _cluster.Items("get", "pods", "-l", $"app={app}");

    private static string Name(JsonObject o) => o["metadata"]!["name"]!.GetValue<string>();

    private static DateTimeOffset Created(JsonObject o) => DateTimeOffset.Parse(o["metadata"]!["creationTimestamp"]!.GetValue<string>());

    private Task<List<JsonObject>> ReadyAsync(string app, params string[] names) =>
        _cluster.EventuallyAsync(() => Pods(app),
            p => p.Select(Name).Order().SequenceEqual(names.Order()) && p.All(x => ClusterDaemon.IsReady(x) && x["metadata"]!["deletionTimestamp"] is null),
            $"pods {string.Join(", ", names)} ready");

    /// <summary>For each pod name, the pod uids whose containers run now: never two for one name.</summary>
    private async Task<Dictionary<string, HashSet<string>>> RunningUidsAsync()
    {
        var result = new Dictionary<string, HashSet<string>>();
        foreach (var c in await _cluster.Daemon.Client.ListContainersAsync())
            if (c.Labels.TryGetValue("io.kubernetes.pod.name", out var pod) && c.Labels.TryGetValue("io.kubernetes.pod.uid", out var uid))
            {
                if (!result.TryGetValue(pod, out var uids)) result[pod] = uids = [];
                uids.Add(uid);
            }
        return result;
    }

    [Fact]
    public async Task PodsComeUpInOrderResolveByNameScaleDownFromTheTopAndUpdateAboveThePartition()
    {
        var watch = Stopwatch.StartNew();
        _cluster.Apply(File.ReadAllText(Path.Combine(PrivateDaemon.RepoRoot, "examples", "statefulset", "web.yaml")));
        var pods = await ReadyAsync("web", "web-0", "web-1", "web-2");
        var upIn = watch.Elapsed;
        // Made in ordinal order, each after the one before was Ready.
        var byName = pods.ToDictionary(Name);
        for (var i = 1; i < 3; i++)
        {
            var previousReady = DateTimeOffset.Parse(byName[$"web-{i - 1}"]["status"]!["conditions"]!.AsArray()
                .First(c => c!["type"]!.GetValue<string>() == "Ready")!["lastTransitionTime"]!.GetValue<string>());
            Assert.True(Created(byName[$"web-{i}"]) >= previousReady, $"web-{i} was made before web-{i - 1} was ready");
            Assert.Equal($"web-{i}", byName[$"web-{i}"]["spec"]!["hostname"]!.GetValue<string>());
        }
        // The set writes its status a moment after its pods are ready.
        var sts = await _cluster.WaitForAsync("sts", "web", o => o["status"]?["readyReplicas"]?.GetValue<int>() == 3);
        Assert.Matches(@"(?m)^web\s+3/3\s", _cluster.Ok("get", "sts", "web"));
        Assert.Contains("partitioned roll out complete: 3 new pods have been updated", _cluster.Ok("rollout", "status", "sts/web"));

        // The headless service's names: web-0.web resolves to web-0's address from another pod. The names follow the
        // endpoints through two more steps (endpoint slices, then the DNS zone), so the asker waits for them as a
        // client of a freshly scaled set would, up to ten seconds.
        var ip0 = byName["web-0"]["status"]!["podIP"]!.GetValue<string>();
        await _cluster.WaitForAsync("endpoints", "web", e => (e["subsets"]?[0]?["addresses"] as JsonArray)?.Count == 3);
        _cluster.Apply($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: asker}
            spec:
              terminationGracePeriodSeconds: 0
              containers:
              - {name: c, image: {{Image}}, imagePullPolicy: IfNotPresent, command: [sh, -c, 'for i in $(seq 50); do nslookup web-0.web.default.svc.cluster.local >/dev/null 2>&1 && nslookup web-1.web.default.svc.cluster.local >/dev/null 2>&1 && nslookup web-2.web.default.svc.cluster.local >/dev/null 2>&1 && break; sleep 0.2; done; nslookup web-0.web.default.svc.cluster.local; nslookup web-2.web.default.svc.cluster.local; echo "WGET $(wget -q -O - http://web-1.web:8080/)"; echo DONE; exec sleep 3600']}
            """);
        var log = await _cluster.LogsAsync("asker", "DONE");
        Assert.True(log.Contains($"Address: {ip0}"), log);
        Assert.Contains(byName["web-2"]["status"]!["podIP"]!.GetValue<string>(), log);
        Assert.Contains("WGET web-1", log);

        // Scaled to 1: web-2 goes before web-1 is touched.
        _cluster.Ok("scale", "sts", "web", "--replicas=1");
        await _cluster.EventuallyAsync(() => Pods("web").Select(Name).Order().ToList(), names =>
        {
            Assert.False(names.Contains("web-2") && !names.Contains("web-1"), "web-1 went before web-2");
            return names.SequenceEqual(["web-0"]);
        }, "scaled to 1");
        var deletes = _cluster.Items("get", "events", "--field-selector", "involvedObject.name=web,reason=SuccessfulDelete").Select(e => e["message"]!.GetValue<string>()).ToList();
        Assert.Contains("delete Pod web-2 in StatefulSet web successful", deletes);
        Assert.Contains("delete Pod web-1 in StatefulSet web successful", deletes);

        // Back to 3, then a rolling update with partition 1: only web-2 and web-1 change, from the top.
        _cluster.Ok("scale", "sts", "web", "--replicas=3");
        await ReadyAsync("web", "web-0", "web-1", "web-2");
        var before = Pods("web").ToDictionary(Name, p => p["metadata"]!["uid"]!.GetValue<string>());
        _cluster.Ok("patch", "sts", "web", "-p", """{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}}}}""");
        _cluster.Ok("set", "env", "sts/web", "VERSION=v2");
        Assert.Contains("partitioned roll out complete: 2 new pods have been updated", _cluster.Ok("rollout", "status", "sts/web", "--timeout=150s"));
        pods = await ReadyAsync("web", "web-0", "web-1", "web-2");
        string Version(JsonObject p) => p["spec"]!["containers"]![0]!["env"]?[0]?["value"]?.GetValue<string>() ?? "v1";
        var after = pods.ToDictionary(Name);
        Assert.Equal("v1", Version(after["web-0"]));
        Assert.Equal(before["web-0"], after["web-0"]["metadata"]!["uid"]!.GetValue<string>());
        Assert.Equal("v2", Version(after["web-1"]));
        Assert.Equal("v2", Version(after["web-2"]));
        Assert.True(Created(after["web-1"]) >= Created(after["web-2"]), "web-1 was replaced before web-2");
        sts = _cluster.Json("get", "sts", "web");
        Assert.Equal(2, sts["status"]!["updatedReplicas"]!.GetValue<int>());
        Assert.NotEqual(sts["status"]!["currentRevision"]!.GetValue<string>(), sts["status"]!["updateRevision"]!.GetValue<string>());

        // History and undo through the ControllerRevisions: back to v1 (partition 0 so that all go back).
        var history = _cluster.Ok("rollout", "history", "sts/web");
        Assert.Matches(@"(?m)^1\s+<none>", history);
        Assert.Matches(@"(?m)^2\s+<none>", history);
        _cluster.Ok("patch", "sts", "web", "-p", """{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}""");
        _cluster.Ok("rollout", "undo", "sts/web");
        _cluster.Ok("rollout", "status", "sts/web", "--timeout=150s");
        pods = await ReadyAsync("web", "web-0", "web-1", "web-2");
        Assert.All(pods, p => Assert.Equal("v1", Version(p)));

        // Restart replaces every pod, from the top, under the same names.
        var beforeRestart = pods.Select(p => p["metadata"]!["uid"]!.GetValue<string>()).ToHashSet();
        _cluster.Ok("rollout", "restart", "sts/web");
        _cluster.Ok("rollout", "status", "sts/web", "--timeout=150s");
        await _cluster.EventuallyAsync(() => Pods("web"), p => p.Count == 3 && p.All(x => ClusterDaemon.IsReady(x) && !beforeRestart.Contains(x["metadata"]!["uid"]!.GetValue<string>())), "all pods restarted");
        Console.WriteLine($"statefulset of 3 (OrderedReady) from apply to all ready: {upIn.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task ADaemonKilledInAScaleDownAndAScaleUpFinishesWithEachOrdinalOnce()
    {
        // Each pod takes its whole grace period to stop (sleep ignores SIGTERM): 4 s each leaves the poll below time to
        // see the scale-down begun with most pods still there, however busy the machine is.
        _cluster.Apply(StatefulSet("db", 4, grace: 4));
        await ReadyAsync("db", "db-0", "db-1", "db-2", "db-3");

        // Killed as soon as the scale-down has begun (the top pod marked for deletion, the others still there).
        _cluster.Ok("scale", "sts", "db", "--replicas=1");
        var begun = await _cluster.EventuallyAsync(() => Pods("db"), p => p.Any(x => x["metadata"]!["deletionTimestamp"] is not null), "the scale-down begun", 60);
        await _cluster.CrashAndRestartAsync();
        Assert.True(begun.Count >= 3, $"the scale-down was nearly over before the crash ({begun.Count} pods left)");
        await FinishesWithOrdinalsOnceAsync("db-0");

        // Killed in the middle of a scale-up, right after the first new pod exists.
        _cluster.Ok("scale", "sts", "db", "--replicas=6");
        begun = await _cluster.EventuallyAsync(() => Pods("db"), p => p.Count >= 2, "the scale-up begun", 60);
        await _cluster.CrashAndRestartAsync();
        Assert.True(begun.Count < 6, "the scale-up was over before the crash");
        var pods = await FinishesWithOrdinalsOnceAsync("db-0", "db-1", "db-2", "db-3", "db-4", "db-5");
        Assert.Equal(6, pods.Select(p => p["metadata"]!["uid"]!.GetValue<string>()).Distinct().Count());
        await _cluster.WaitForAsync("sts", "db", o => o["status"]?["readyReplicas"]?.GetValue<int>() == 6);
    }

    /// <summary>Waits for exactly these pods, ready; at every look, no pod name runs with two pod uids at once.</summary>
    private Task<List<JsonObject>> FinishesWithOrdinalsOnceAsync(params string[] names) =>
        _cluster.EventuallyAsync(() => Pods("db"), p =>
        {
            var running = RunningUidsAsync().GetAwaiter().GetResult();
            Assert.All(running, kv => Assert.True(kv.Value.Count == 1, $"{kv.Key} runs as {string.Join(", ", kv.Value)}"));
            return p.Select(Name).Order().SequenceEqual(names) && p.All(x => ClusterDaemon.IsReady(x) && x["metadata"]!["deletionTimestamp"] is null);
        }, $"{string.Join(", ", names)} ready after the restart");
}
