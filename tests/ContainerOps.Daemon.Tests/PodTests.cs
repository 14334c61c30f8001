using System.Text;
using System.Diagnostics;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Pods run by the daemon's node agent, driven with kubectl 1.32 through the daemon's TLS port: a private
/// daemon with its own node name, pod subnet and a shortened crash-loop backoff.</summary>
public sealed class PodTests : IAsyncLifetime
{
    private const string Image = "pod-tests/busybox:1";
    private ClusterDaemon _cluster = null!;
    private PrivateDaemon _daemon = null!;
    private string _node = "";
    private string _subnetPrefix = "";

    public async Task InitializeAsync()
    {
        _cluster = await ClusterDaemon.StartAsync(Image);
        (_daemon, _node, _subnetPrefix) = (_cluster.Daemon, _cluster.Node, _cluster.SubnetPrefix);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private (int Exit, string Out, string Err) Kubectl(params string[] args) => _cluster.Kubectl(args);

    private (int Exit, string Out, string Err) KubectlWithInput(string? input, params string[] args) => _cluster.KubectlWithInput(input, args);

    private JsonObject Pod(string name) => _cluster.Get("pod", name);

    private Task<JsonObject> WaitForAsync(string name, Func<JsonObject, bool> condition, int seconds = 60) =>
        _cluster.WaitForAsync("pod", name, condition, seconds);

    private void Apply(string manifest) => _cluster.Apply(manifest);

    private static string? Str(JsonNode? n) => n?.GetValue<string>();

    [Fact]
    public async Task TheNodeRegistersWithItsLeaseAndAnUnschedulablePodStaysPendingWithAnEvent()
    {
        var (exit, nodes, err) = Kubectl("get", "node", _cluster.Node, "-o", "json");
        Assert.True(exit == 0, err);
        var node = JsonNode.Parse(nodes)!;
        Assert.Equal(_cluster.Node, Str(node["metadata"]!["labels"]!["kubernetes.io/hostname"]));
        Assert.Equal("linux", Str(node["metadata"]!["labels"]!["kubernetes.io/os"]));
        Assert.Equal(Environment.ProcessorCount.ToString(), Str(node["status"]!["capacity"]!["cpu"]));
        Assert.Equal("True", Str(node["status"]!["conditions"]!.AsArray().First(c => Str(c!["type"]) == "Ready")!["status"]));
        var lease = Kubectl("get", "lease", _cluster.Node, "-n", "kube-node-lease", "-o", "json");
        Assert.True(lease.Exit == 0, lease.Err);
        Assert.Equal(_cluster.Node, Str(JsonNode.Parse(lease.Out)!["spec"]!["holderIdentity"]));

        var manifest = """
            apiVersion: v1
            kind: Pod
            metadata: {name: picky}
            spec:
              nodeSelector: {disk: ssd}
              containers:
              - {name: c, image: pod-tests/busybox:1, command: [sleep, "3600"]}
            """;
        var applied = KubectlWithInput(manifest, "apply", "-f", "-");
        Assert.True(applied.Exit == 0, applied.Err);
        var pod = await WaitForAsync("picky", p => p["status"]?["conditions"] is JsonArray { Count: > 0 });
        var scheduled = pod["status"]!["conditions"]!.AsArray().First(c => Str(c!["type"]) == "PodScheduled")!;
        Assert.Equal("False", Str(scheduled["status"]));
        Assert.Equal("Unschedulable", Str(scheduled["reason"]));
        Assert.Null(pod["spec"]!["nodeName"]);
        Assert.Equal("Pending", Str(pod["status"]!["phase"]));
        var events = Kubectl("get", "events", "--field-selector", "reason=FailedScheduling", "-o", "json");
        Assert.True(events.Out.Contains("didn't match Pod's node affinity/selector"), events.Err + Kubectl("get", "events", "-o", "json").Out);

        // Labelled to fit, the node takes it.
        Assert.Equal(0, Kubectl("label", "node", _cluster.Node, "disk=ssd").Exit);
        pod = await WaitForAsync("picky", p => Str(p["status"]?["phase"]) == "Running");
        Assert.Equal(_cluster.Node, Str(pod["spec"]!["nodeName"]));
    }

    [Fact]
    public async Task TwoContainersShareLocalhostAndTheHostNameAndDeletionLeavesNothing()
    {
        var manifest = """
            apiVersion: v1
            kind: Pod
            metadata: {name: pair, labels: {app: pair}}
            spec:
              terminationGracePeriodSeconds: 2
              containers:
              - name: web
                image: pod-tests/busybox:1
                command: [sh, -c, 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www']
              - name: client
                image: pod-tests/busybox:1
                env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}, {name: GREETING, value: "pod $(POD)"}]
                command: [sh, -c]
                args: ['until wget -q -O - http://localhost:8080/; do sleep 0.2; done; echo "$GREETING on $(hostname)"; exec sleep 3600']
            """;
        var applied = KubectlWithInput(manifest, "apply", "-f", "-");
        Assert.True(applied.Exit == 0, applied.Err);
        var pod = await WaitForAsync("pair", p => Str(p["status"]?["phase"]) == "Running"
            && p["status"]?["containerStatuses"] is JsonArray s && s.All(c => c?["ready"]?.GetValue<bool>() == true));
        var ip = Str(pod["status"]!["podIP"])!;
        Assert.StartsWith(_cluster.SubnetPrefix, ip);
        Assert.Equal(ip, Str(pod["status"]!["podIPs"]![0]!["ip"]));
        Assert.NotNull(Str(pod["status"]!["hostIP"]));
        Assert.Equal("BestEffort", Str(pod["status"]!["qosClass"]));
        foreach (var type in new[] { "PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready" })
            Assert.Equal("True", Str(pod["status"]!["conditions"]!.AsArray().First(c => Str(c!["type"]) == type)!["status"]));
        var web = pod["status"]!["containerStatuses"]!.AsArray().First(c => Str(c!["name"]) == "web")!;
        Assert.StartsWith("containerops://", Str(web["containerID"]));
        Assert.StartsWith("sha256:", Str(web["imageID"]));
        Assert.Equal(0, web["restartCount"]!.GetValue<int>());

        var table = Kubectl("get", "pods", "-o", "wide");
        Assert.Matches($@"pair\s+2/2\s+Running\s+0\s+\S+\s+{ip.Replace(".", "\\.")}\s+{_cluster.Node}", table.Out);

        // The client reached the web container on localhost and saw the pod's host name.
        var clientId = Str(pod["status"]!["containerStatuses"]!.AsArray().First(c => Str(c!["name"]) == "client")!["containerID"])!["containerops://".Length..];
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var log = "";
        while (!log.Contains("pod pair on pair") && DateTime.UtcNow < deadline)
        {
            log = "";
            await foreach (var e in _daemon.Client.GetLogsAsync(clientId)) log += e.Log;
            await Task.Delay(200);
        }
        Assert.Contains("hello-from-web", log);
        Assert.Contains("pod pair on pair", log);
        var containers = await _daemon.Client.ListContainersAsync(all: true);
        Assert.Equal(2, containers.Count(c => c.Labels.TryGetValue("io.kubernetes.pod.name", out var n) && n == "pair"));

        var uid = Str(pod["metadata"]!["uid"])!;
        var veth = "veth" + ("pod" + uid.Replace("-", ""))[..7];
        Assert.Contains(Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName), l => l!.StartsWith(veth, StringComparison.Ordinal));
        var deleted = Kubectl("delete", "pod", "pair", "--timeout=60s");
        Assert.True(deleted.Exit == 0, deleted.Err);
        Assert.DoesNotContain(await _daemon.Client.ListContainersAsync(all: true), c => c.Labels.ContainsKey("io.kubernetes.pod.uid"));
        Assert.False(Directory.Exists(Path.Combine(_daemon.RunRoot, "pods", uid)));
        Assert.True(HostLinks.WaitUntilNone(l => l.StartsWith(veth, StringComparison.Ordinal)), $"{veth}… is still there");
        Assert.DoesNotContain(Path.Combine(_daemon.RunRoot, "pods"), File.ReadAllText("/proc/self/mountinfo"));
    }

    [Fact]
    public async Task PodsCreatedAtOnceOnAFreshNodeEachGetTheirOwnSandboxAndAllGoWithTheirPods()
    {
        // Their workers ask for their sandboxes at once; the first also make the pod network.
        var names = Enumerable.Range(0, 6).Select(i => $"burst-{i}").ToList();
        var manifest = string.Join("---\n", names.Select(n => $"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: {n}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: c
                image: {Image}
                command: [sh, -c, 'echo "name $(hostname)"; exec sleep 3600']

            """));
        var applied = KubectlWithInput(manifest, "apply", "-f", "-");
        Assert.True(applied.Exit == 0, applied.Err);
        var pods = await Task.WhenAll(names.Select(n => WaitForAsync(n, p => Str(p["status"]?["phase"]) == "Running" && Str(p["status"]?["podIP"]) is not null)));
        var ips = pods.Select(p => Str(p["status"]!["podIP"])!).ToList();
        Assert.All(ips, ip => Assert.StartsWith(_cluster.SubnetPrefix, ip));
        Assert.Equal(names.Count, ips.Distinct().Count());
        foreach (var (pod, name) in pods.Zip(names))
        {
            var id = Str(Status(pod, "c")["containerID"])!["containerops://".Length..];
            var log = "";
            for (var deadline = DateTime.UtcNow.AddSeconds(20); !log.Contains($"name {name}") && DateTime.UtcNow < deadline; await Task.Delay(100))
            {
                log = "";
                await foreach (var e in _daemon.Client.GetLogsAsync(id)) log += e.Log;
            }
            Assert.Contains($"name {name}", log);
        }
        var networks = await _daemon.Client.ListNetworksAsync();
        Assert.Single(networks, n => n.Labels.ContainsKey("io.containerops.network.pods"));

        var deleted = Kubectl(["delete", "pod", .. names, "--timeout=60s"]);
        Assert.True(deleted.Exit == 0, deleted.Err);
        Assert.DoesNotContain(await _daemon.Client.ListContainersAsync(all: true), c => c.Labels.ContainsKey("io.kubernetes.pod.uid"));
        foreach (var uid in pods.Select(p => Str(p["metadata"]!["uid"])!))
        {
            Assert.False(Directory.Exists(Path.Combine(_daemon.RunRoot, "pods", uid)));
            var veth = "veth" + ("pod" + uid.Replace("-", ""))[..7];
            Assert.True(HostLinks.WaitUntilNone(l => l.StartsWith(veth, StringComparison.Ordinal)), $"{veth}… is still there");
        }
        Assert.DoesNotContain(Path.Combine(_daemon.RunRoot, "pods"), File.ReadAllText("/proc/self/mountinfo"));
    }

    private static JsonNode Status(JsonObject pod, string container, string list = "containerStatuses") =>
        pod["status"]![list]!.AsArray().First(c => Str(c!["name"]) == container)!;

    private async Task<List<ContainerDetails>> RunsAsync(string pod, string container)
    {
        var result = new List<ContainerDetails>();
        foreach (var c in await _daemon.Client.ListContainersAsync(all: true))
            if (c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == pod && c.Labels.GetValueOrDefault("io.kubernetes.container.name") == container)
                result.Add(await _daemon.Client.InspectContainerAsync(c.Id));
        return result.OrderBy(d => int.Parse(d.Config.Labels["io.kubernetes.container.restartCount"])).ToList();
    }

    [Fact]
    public async Task ACrashingContainerRestartsWithDoublingBackoffAndTheRestartPoliciesEndPodsAsKubernetesDoes()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: crasher}
            spec:
              containers:
              - {name: c, image: pod-tests/busybox:1, command: [sh, -c, 'echo ran; exit 3']}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: done}
            spec:
              restartPolicy: OnFailure
              containers:
              - {name: c, image: pod-tests/busybox:1, command: ["true"]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: broken}
            spec:
              restartPolicy: Never
              containers:
              - {name: c, image: pod-tests/busybox:1, command: [sh, -c, 'exit 1']}
            """);
        var done = await WaitForAsync("done", p => Str(p["status"]?["phase"]) == "Succeeded");
        Assert.Equal("Completed", Str(Status(done, "c")["state"]!["terminated"]!["reason"]));
        // The pod's container is not removed from under it, unless forced.
        var doneId = Str(Status(done, "c")["containerID"])!["containerops://".Length..];
        var refused = await Assert.ThrowsAsync<ContainerOpsException>(() => _daemon.Client.RemoveContainerAsync(doneId));
        Assert.Equal("ContainerInPod", refused.Error.Id);
        Assert.Contains("belongs to pod default/done", refused.Message);
        var broken = await WaitForAsync("broken", p => Str(p["status"]?["phase"]) == "Failed");
        Assert.Equal("Error", Str(Status(broken, "c")["state"]!["terminated"]!["reason"]));
        Assert.Equal(1, Status(broken, "c")["state"]!["terminated"]!["exitCode"]!.GetValue<int>());
        Assert.Equal(0, Status(broken, "c")["restartCount"]!.GetValue<int>());

        // Backoff base 1 s (--pod-backoff): run 1 at once, run 2 after 1 s, run 3 after 2 s, run 4 after 4 s.
        var sawBackOff = false;
        var crasher = await WaitForAsync("crasher", p =>
        {
            sawBackOff |= Str(p["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]) == "CrashLoopBackOff";
            return p["status"]?["containerStatuses"]?[0]?["restartCount"]?.GetValue<int>() >= 3;
        });
        Assert.True(sawBackOff, "the container was never seen waiting in CrashLoopBackOff");
        var last = Status(crasher, "c")["lastState"]!["terminated"]!;
        Assert.Equal(3, last["exitCode"]!.GetValue<int>());
        Assert.Equal("Error", Str(last["reason"]));
        Assert.Equal("Running", Str(crasher["status"]!["phase"]));
        var runs = await RunsAsync("crasher", "c");
        Assert.True(runs.Count <= 2, $"{runs.Count} runs kept: only the newest and the one before stay");
        var (before, after) = (runs[^2], runs[^1]);
        Assert.Equal(int.Parse(before.Config.Labels["io.kubernetes.container.restartCount"]) + 1, int.Parse(after.Config.Labels["io.kubernetes.container.restartCount"]));
        var gap = after.State.StartedAt!.Value - before.State.FinishedAt!.Value;
        var expected = TimeSpan.FromSeconds(Math.Pow(2, int.Parse(before.Config.Labels["io.kubernetes.container.restartCount"]) - 1));
        Assert.True(gap >= expected - TimeSpan.FromMilliseconds(100) && gap < expected + TimeSpan.FromSeconds(3), $"restart after {gap}, expected {expected}");
        var events = Kubectl("get", "events", "--field-selector", "involvedObject.name=crasher,reason=BackOff", "-o", "json");
        Assert.Contains("Back-off restarting failed container c", events.Out);
    }

    [Fact]
    public async Task InitContainersRunInOrderToCompletionBeforeTheAppAndAFailedOneFailsANeverPod()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: staged}
            spec:
              initContainers:
              - {name: first, image: pod-tests/busybox:1, command: [sh, -c, 'sleep 0.5']}
              - {name: second, image: pod-tests/busybox:1, command: [sh, -c, 'sleep 0.5']}
              containers:
              - {name: app, image: pod-tests/busybox:1, command: [sleep, "3600"]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: stuck}
            spec:
              restartPolicy: Never
              initContainers:
              - {name: setup, image: pod-tests/busybox:1, command: [sh, -c, 'exit 2']}
              containers:
              - {name: app, image: pod-tests/busybox:1, command: [sleep, "3600"]}
            """);
        var staged = await WaitForAsync("staged", p => Str(p["status"]?["phase"]) == "Running" && p["status"]?["containerStatuses"]?[0]?["ready"]?.GetValue<bool>() == true);
        foreach (var name in new[] { "first", "second" })
            Assert.Equal("Completed", Str(Status(staged, name, "initContainerStatuses")["state"]!["terminated"]!["reason"]));
        var first = (await RunsAsync("staged", "first")).Single();
        var second = (await RunsAsync("staged", "second")).Single();
        var app = (await RunsAsync("staged", "app")).Single();
        Assert.True(second.State.StartedAt >= first.State.FinishedAt, "second started before first finished");
        Assert.True(app.State.StartedAt >= second.State.FinishedAt, "the app started before the init containers finished");

        var stuck = await WaitForAsync("stuck", p => Str(p["status"]?["phase"]) == "Failed");
        Assert.Equal(2, Status(stuck, "setup", "initContainerStatuses")["state"]!["terminated"]!["exitCode"]!.GetValue<int>());
        Assert.Empty(await RunsAsync("stuck", "app"));
        Assert.Equal("False", Str(stuck["status"]!["conditions"]!.AsArray().First(c => Str(c!["type"]) == "Initialized")!["status"]));
    }

    [Fact]
    public async Task EnvironmentComesFromValuesConfigMapsSecretsAndFieldsAndAMissingKeyWaitsUntilItExists()
    {
        Apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: creds}
            stringData: {user: admin}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: envy, labels: {tier: back}}
            spec:
              containers:
              - name: c
                image: pod-tests/busybox:1
                command: [sh, -c, 'env | sort; echo "args: $0 $1"; exec sleep 3600', '$(MODE)', '$$(MODE)']
                envFrom: [{secretRef: {name: creds}, prefix: S_}]
                env:
                - {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}
                - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
                - {name: WHERE, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
                - {name: SUMMARY, value: "$(MODE)-$(TIER)-$(NOPE)"}
            """);
        var waiting = await WaitForAsync("envy", p => Str(p["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]) == "CreateContainerConfigError");
        Assert.Contains("settings", Str(Status(waiting, "c")["state"]!["waiting"]!["message"]));
        Assert.Equal("Pending", Str(waiting["status"]!["phase"]));

        Assert.Equal(0, Kubectl("create", "configmap", "settings", "--from-literal=mode=fast").Exit);
        var pod = await WaitForAsync("envy", p => Str(p["status"]?["phase"]) == "Running");
        var id = Str(Status(pod, "c")["containerID"])!["containerops://".Length..];
        var log = "";
        for (var i = 0; i < 50 && !log.Contains("args:"); i++)
        {
            log = "";
            await foreach (var e in _daemon.Client.GetLogsAsync(id)) log += e.Log;
            await Task.Delay(100);
        }
        Assert.Contains("S_user=admin", log);
        Assert.Contains("MODE=fast", log);
        Assert.Contains("TIER=back", log);
        Assert.Contains("WHERE=" + Str(pod["status"]!["podIP"]), log);
        Assert.Contains("SUMMARY=fast-back-$(NOPE)", log);
        Assert.Contains("args: fast $(MODE)", log);
    }

    [Fact]
    public async Task AnImageThatCannotBeHadWaitsWithThePullReasons()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: never}
            spec:
              containers:
              - {name: c, image: "pod-tests/absent:1", imagePullPolicy: Never}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: unpullable}
            spec:
              containers:
              - {name: c, image: "127.0.0.1:9/nothing/here:1"}
            """);
        var never = await WaitForAsync("never", p => Str(p["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]) == "ErrImageNeverPull");
        Assert.Equal("Pending", Str(never["status"]!["phase"]));
        var seen = new HashSet<string>();
        await WaitForAsync("unpullable", p =>
        {
            if (Str(p["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]) is { } r) seen.Add(r);
            return seen.Contains("ErrImagePull") && seen.Contains("ImagePullBackOff");
        }, seconds: 120);
        Assert.Empty(await RunsAsync("unpullable", "c"));
    }

    [Fact]
    public async Task APodKeepsRunningThroughADaemonKillAndIsAdoptedNotDuplicated()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: steady}
            spec:
              containers:
              - {name: c, image: pod-tests/busybox:1, command: [sleep, "3600"]}
            """);
        var before = await WaitForAsync("steady", p => Str(p["status"]?["phase"]) == "Running");
        _daemon.Crash();
        _daemon.Start();
        await _cluster.WriteKubeconfigAsync();
        await Task.Delay(1000);
        var after = await WaitForAsync("steady", p => Str(p["status"]?["phase"]) == "Running");
        Assert.Equal(Str(Status(before, "c")["containerID"]), Str(Status(after, "c")["containerID"]));
        Assert.Equal(0, Status(after, "c")["restartCount"]!.GetValue<int>());
        Assert.Equal(Str(before["status"]!["podIP"]), Str(after["status"]!["podIP"]));
        Assert.Single(await RunsAsync("steady", "c"));
        var deleted = Kubectl("delete", "pod", "steady", "--grace-period=1", "--timeout=60s");
        Assert.True(deleted.Exit == 0, deleted.Err);
        Assert.Empty(await RunsAsync("steady", "c"));
    }

    private async Task<string> LogOfAsync(JsonObject pod, string container, string until)
    {
        var id = Str(Status(pod, container)["containerID"])!["containerops://".Length..];
        var log = "";
        for (var i = 0; i < 100 && !log.Contains(until); i++)
        {
            log = "";
            await foreach (var e in _daemon.Client.GetLogsAsync(id)) log += e.Log;
            await Task.Delay(100);
        }
        return log;
    }

    [Fact]
    public async Task VolumesOfEveryKindAreMountedAndGoWithThePod()
    {
        using var host = new TempDir("cpodhost");
        File.WriteAllText(Path.Combine(host.Path, "from-host.txt"), "host-data");
        Apply($$$"""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: web-config}
            data: {greeting: hello, other: skipped}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: web-secret}
            stringData: {password: s3cret}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: vols, labels: {app: vols}}
            spec:
              volumes:
              - {name: scratch, emptyDir: {}}
              - {name: fast, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
              - {name: host, hostPath: {path: "{{{host.Path}}}", type: Directory}}
              - {name: config, configMap: {name: web-config, items: [{key: greeting, path: hello.txt}]}}
              - {name: secret, secret: {secretName: web-secret, defaultMode: 0400}}
              - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: mem, resourceFieldRef: {containerName: reader, resource: limits.memory, divisor: 1Mi}}]}}
              initContainers:
              - {name: writer, image: pod-tests/busybox:1, command: [sh, -c, 'echo shared > /scratch/note'], volumeMounts: [{name: scratch, mountPath: /scratch}]}
              containers:
              - name: reader
                image: pod-tests/busybox:1
                resources: {limits: {memory: 64Mi, cpu: 500m}}
                command: [sh, -c, 'cat /scratch/note /host/from-host.txt /config/hello.txt /secret/password /info/labels; echo; cat /info/mem; echo; grep -E " /fast | /secret " /proc/mounts | cut -d" " -f3 | tr -s "[:space:]" " "; echo; touch /config/x 2>/dev/null || echo config-read-only; echo END; exec sleep 3600']
                volumeMounts:
                - {name: scratch, mountPath: /scratch}
                - {name: fast, mountPath: /fast}
                - {name: host, mountPath: /host, readOnly: true}
                - {name: config, mountPath: /config}
                - {name: secret, mountPath: /secret}
                - {name: info, mountPath: /info}
            """);
        var pod = await WaitForAsync("vols", p => Str(p["status"]?["phase"]) == "Running");
        Assert.Equal("Burstable", Str(pod["status"]!["qosClass"]));
        var log = await LogOfAsync(pod, "reader", "END");
        Assert.Contains("shared", log);
        Assert.Contains("host-data", log);
        Assert.Contains("hello", log);
        Assert.Contains("s3cret", log);
        Assert.Contains("app=\"vols\"", log);
        Assert.Contains("\n64\n", log);
        Assert.Contains("tmpfs tmpfs", log);
        Assert.Contains("config-read-only", log);

        // The memory limit reached the container's cgroup.
        var id = Str(Status(pod, "reader")["containerID"])!["containerops://".Length..];
        var details = await _daemon.Client.InspectContainerAsync(id);
        Assert.Equal(64L << 20, details.HostConfig.Memory);
        Assert.Equal(500_000_000L, details.HostConfig.NanoCpus);

        var uid = Str(pod["metadata"]!["uid"])!;
        Assert.True(Directory.Exists(Path.Combine(_daemon.Root, "pods", uid, "volumes", "scratch")));
        Assert.True(Kubectl("delete", "pod", "vols", "--grace-period=1", "--timeout=60s").Exit == 0);
        Assert.False(Directory.Exists(Path.Combine(_daemon.Root, "pods", uid)));
        Assert.True(File.Exists(Path.Combine(host.Path, "from-host.txt")), "a hostPath's contents are the host's: they stay");
        Assert.DoesNotContain(uid, File.ReadAllText("/proc/self/mountinfo"));
    }

    /// <summary>Each QoS class puts its pods where the kubelet's cgroupfs layout does, under the daemon's parent:
    /// kubepods/pod&lt;uid&gt;, kubepods/burstable/pod&lt;uid&gt;, kubepods/besteffort/pod&lt;uid&gt;; a pod's directory has
    /// the pod's limits (its containers' memory limits and CPU quota summed when all have them, CPU weight from the
    /// requests), the BestEffort tier the least weight; the directories go with the pods.</summary>
    [Fact]
    public async Task QosClassesPlaceThePodsInTheirCgroupsWithThePodsLimits()
    {
        Apply($$$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: qos-guaranteed}
            spec:
              containers:
              - {name: a, image: {{{Image}}}, command: [sleep, "3600"], resources: {limits: {cpu: 300m, memory: 48Mi}} }
              - {name: b, image: {{{Image}}}, command: [sleep, "3600"], resources: {limits: {cpu: 200m, memory: 16Mi}} }
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: qos-burstable}
            spec:
              containers:
              - {name: a, image: {{{Image}}}, command: [sleep, "3600"], resources: {requests: {cpu: 250m}, limits: {memory: 32Mi}} }
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: qos-besteffort}
            spec:
              containers:
              - {name: a, image: {{{Image}}}, command: [sleep, "3600"]}
            """);
        var v2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        string Setting(string relative, string v1Controller, string file) =>
            File.ReadAllText(v2 ? $"/sys/fs/cgroup/{_daemon.CgroupParent}/{relative}/{file}" : $"/sys/fs/cgroup/{v1Controller}/{_daemon.CgroupParent}/{relative}/{file}").Trim();
        var dirs = new List<string>();
        foreach (var (name, qos, tier) in new[] { ("qos-guaranteed", "Guaranteed", ""), ("qos-burstable", "Burstable", "burstable/"), ("qos-besteffort", "BestEffort", "besteffort/") })
        {
            var pod = await WaitForAsync(name, p => Str(p["status"]?["phase"]) == "Running");
            Assert.Equal(qos, Str(pod["status"]!["qosClass"]));
            var podDir = $"kubepods/{tier}pod{Str(pod["metadata"]!["uid"])}";
            dirs.Add(podDir);
            var id = Str(Status(pod, "a")["containerID"])!["containerops://".Length..];
            var pid = (await _daemon.Client.InspectContainerAsync(id)).State.Pid;
            var line = File.ReadAllLines($"/proc/{pid}/cgroup").First(l => v2 ? l.StartsWith("0::") : l.Contains(":memory:"));
            Assert.EndsWith($"/{_daemon.CgroupParent}/{podDir}/{id}", line);
        }
        // The guaranteed pod: 48Mi + 16Mi, 300m + 200m of quota, and the weight of 500m.
        Assert.Equal((64L << 20).ToString(), v2 ? Setting(dirs[0], "", "memory.max") : Setting(dirs[0], "memory", "memory.limit_in_bytes"));
        Assert.Equal(v2 ? "50000 100000" : "50000", v2 ? Setting(dirs[0], "", "cpu.max") : Setting(dirs[0], "cpu", "cpu.cfs_quota_us"));
        if (!v2) Assert.Equal("512", Setting(dirs[0], "cpu", "cpu.shares"));
        // The burstable pod: its one memory limit, no quota (no CPU limit), the weight of its request.
        Assert.Equal((32L << 20).ToString(), v2 ? Setting(dirs[1], "", "memory.max") : Setting(dirs[1], "memory", "memory.limit_in_bytes"));
        Assert.Equal(v2 ? "max 100000" : "-1", v2 ? Setting(dirs[1], "", "cpu.max") : Setting(dirs[1], "cpu", "cpu.cfs_quota_us"));
        if (!v2)
        {
            Assert.Equal("256", Setting(dirs[1], "cpu", "cpu.shares"));
            Assert.Equal("256", Setting("kubepods/burstable", "cpu", "cpu.shares")); // its one pod's 250m
            Assert.Equal("2", Setting("kubepods/besteffort", "cpu", "cpu.shares"));
        }

        Assert.Equal(0, Kubectl("delete", "pod", "qos-guaranteed", "qos-burstable", "qos-besteffort", "--grace-period=1", "--timeout=60s").Exit);
        foreach (var dir in dirs)
            Assert.False(Directory.Exists(v2 ? $"/sys/fs/cgroup/{_daemon.CgroupParent}/{dir}" : $"/sys/fs/cgroup/memory/{_daemon.CgroupParent}/{dir}"), dir + " stayed");
    }

    [Fact]
    public async Task TheBurstableTierWeighsItsPodsRequestsAndThePodPidsLimitBoundsEveryPod()
    {
        await using var cluster = await ClusterDaemon.StartAsync(Image, "--pod-max-pids", "64");
        cluster.Apply($$$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: tier-small}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - {name: a, image: {{{Image}}}, command: [sleep, "3600"], resources: {requests: {cpu: 100m}} }
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: tier-large}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - {name: a, image: {{{Image}}}, command: [sleep, "3600"], resources: {requests: {cpu: 250m}} }
            """);
        var v2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        string Setting(string relative, string v1Controller, string file) =>
            File.ReadAllText(v2 ? $"/sys/fs/cgroup/{cluster.Daemon.CgroupParent}/{relative}/{file}" : $"/sys/fs/cgroup/{v1Controller}/{cluster.Daemon.CgroupParent}/{relative}/{file}").Trim();
        // cpu.shares on v1; on v2 the weight Kubernetes converts them to.
        string Weight(long shares) => v2 ? (1 + (shares - 2) * 9999 / 262142).ToString() : shares.ToString();
        string TierWeight() => Setting("kubepods/burstable", "cpu", v2 ? "cpu.weight" : "cpu.shares");

        var dirs = new List<string>();
        foreach (var name in new[] { "tier-small", "tier-large" })
        {
            var pod = await cluster.WaitForAsync("pod", name, p => Str(p["status"]?["phase"]) == "Running");
            Assert.Equal("Burstable", Str(pod["status"]!["qosClass"]));
            dirs.Add($"kubepods/burstable/pod{Str(pod["metadata"]!["uid"])}");
        }
        // The tier: 100m + 250m = 350m, 358 shares; each pod its own request and the node's pids limit.
        Assert.Equal(Weight(358), TierWeight());
        Assert.Equal(Weight(102), Setting(dirs[0], "cpu", v2 ? "cpu.weight" : "cpu.shares"));
        Assert.Equal(Weight(256), Setting(dirs[1], "cpu", v2 ? "cpu.weight" : "cpu.shares"));
        foreach (var dir in dirs) Assert.Equal("64", Setting(dir, "pids", "pids.max"));

        // One pod gone, the tier follows: 250m alone.
        Assert.Equal(0, cluster.Kubectl("delete", "pod", "tier-small", "--timeout=60s").Exit);
        for (var i = 0; i < 50 && TierWeight() != Weight(256); i++) await Task.Delay(100);
        Assert.Equal(Weight(256), TierWeight());
        Assert.False(Directory.Exists(v2 ? $"/sys/fs/cgroup/{cluster.Daemon.CgroupParent}/{dirs[0]}" : $"/sys/fs/cgroup/cpu/{cluster.Daemon.CgroupParent}/{dirs[0]}"), dirs[0] + " stayed");
    }

    [Fact]
    public async Task ConfigMapSecretAndDownwardVolumesFollowTheirSourcesWhileThePodRuns()
    {
        Apply("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: live-config}
            data: {mode: slow}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: live-secret}
            stringData: {token: one}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: live, labels: {stage: first}}
            spec:
              terminationGracePeriodSeconds: 1
              volumes:
              - {name: config, configMap: {name: live-config}}
              - {name: bundle, projected: {sources: [{secret: {name: live-secret}}, {downwardAPI: {items: [{path: stage, fieldRef: {fieldPath: "metadata.labels['stage']"}}]}}]}}
              containers:
              - name: c
                image: pod-tests/busybox:1
                command: [sleep, "3600"]
                volumeMounts:
                - {name: config, mountPath: /config}
                - {name: config, mountPath: /pinned, subPath: mode}
                - {name: bundle, mountPath: /bundle}
            """);
        await WaitForAsync("live", p => Str(p["status"]?["phase"]) == "Running");
        string Read() => Kubectl("exec", "live", "--", "sh", "-c", "for f in /config/mode /bundle/token /bundle/stage /pinned; do printf '%s ' \"$(cat $f)\"; done").Out.Trim();
        Assert.Equal("slow one first slow", Read());

        // Each source changes while the container runs: the files follow, swapped whole; a subPath keeps what it had,
        // as in Kubernetes.
        Assert.Equal(0, Kubectl("patch", "configmap", "live-config", "-p", """{"data":{"mode":"fast"}}""").Exit);
        Assert.Equal(0, Kubectl("patch", "secret", "live-secret", "-p", """{"data":{"token":"dHdv"}}""").Exit);
        Assert.Equal(0, Kubectl("label", "pod", "live", "stage=second", "--overwrite").Exit);
        await _cluster.EventuallyAsync(Read, text => text == "fast two second slow", "the volumes to follow their sources", seconds: 60);
        var restarts = _cluster.Get("pod", "live")["status"]!["containerStatuses"]![0]!["restartCount"]!.GetValue<int>();
        Assert.Equal(0, restarts);

        // A source that goes away leaves the files as they were (the kubelet does not empty a volume under a container).
        Assert.Equal(0, Kubectl("delete", "configmap", "live-config").Exit);
        Assert.Equal(0, Kubectl("label", "pod", "live", "stage=third", "--overwrite").Exit);
        await _cluster.EventuallyAsync(Read, text => text == "fast two third slow", "the downward volume to follow again", seconds: 60);
    }

    [Fact]
    public async Task APodHasItsServiceAccountsTokenTheClustersCaAndItsNamespaceMounted()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: insider}
            spec:
              terminationGracePeriodSeconds: 1
              containers: [{name: c, image: pod-tests/busybox:1, command: [sleep, "3600"]}]
            """);
        await WaitForAsync("insider", p => Str(p["status"]?["phase"]) == "Running");
        string Read(string file) => Kubectl("exec", "insider", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/" + file).Out;
        Assert.Equal("default", Read("namespace"));
        var ca = Encoding.UTF8.GetString(Convert.FromBase64String(_cluster.Ok("config", "view", "--raw", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}")));
        Assert.Equal(ca.Trim(), Read("ca.crt").Trim());

        // The token is the pod's account's, bound to the pod: the API says so when asked to review it.
        var token = Read("token");
        var review = JsonNode.Parse(KubectlWithInput("""{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"TOKEN"}}""".Replace("TOKEN", token),
            "create", "-f", "-", "-o", "json").Out)!["status"]!;
        Assert.True(review["authenticated"]!.GetValue<bool>(), review.ToJsonString());
        Assert.Equal("system:serviceaccount:default:default", Str(review["user"]!["username"]));
        Assert.Contains("insider", review["user"]!["extra"]!.ToJsonString());
        // It lives on tmpfs, as a secret does, and the container cannot change it.
        Assert.Contains("tmpfs", Kubectl("exec", "insider", "--", "sh", "-c", "grep serviceaccount /proc/mounts").Out);
        Assert.NotEqual(0, Kubectl("exec", "insider", "--", "sh", "-c", "echo x > /var/run/secrets/kubernetes.io/serviceaccount/token").Exit);
    }

    [Fact]
    public async Task APodsTokenIsRenewedWhileItRunsAndBothTokensStillReview()
    {
        // Renewal 3 s after writing instead of at 80 % of the hour: the same path, shortened.
        await using var cluster = await ClusterDaemon.StartAsync(Image, "--pod-token-renewal", "3");
        cluster.Apply($$$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: renewing}
            spec:
              terminationGracePeriodSeconds: 1
              containers: [{name: c, image: {{{Image}}}, command: [sleep, "3600"]}]
            """);
        await cluster.WaitForAsync("pod", "renewing", p => Str(p["status"]?["phase"]) == "Running");
        string Token() => cluster.Kubectl("exec", "renewing", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token").Out;
        var first = Token();
        Assert.StartsWith("ey", first);
        var second = await cluster.EventuallyAsync(Token, t => t.StartsWith("ey") && t != first, "the pod's token to be renewed", seconds: 60);

        // Each is the pod's, and the new one lives longer; the old one is good until it expires, as in Kubernetes.
        long Expiry(string jwt)
        {
            var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
            return JsonNode.Parse(Convert.FromBase64String(payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=')))!["exp"]!.GetValue<long>();
        }
        Assert.True(Expiry(second) > Expiry(first), $"{Expiry(second)} after {Expiry(first)}");
        foreach (var token in new[] { first, second })
        {
            var review = JsonNode.Parse(cluster.KubectlWithInput("""{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"TOKEN"}}""".Replace("TOKEN", token),
                "create", "-f", "-", "-o", "json").Out)!["status"]!;
            Assert.True(review["authenticated"]!.GetValue<bool>(), review.ToJsonString());
            Assert.Equal("system:serviceaccount:default:default", Str(review["user"]!["username"]));
            Assert.Contains("renewing", review["user"]!["extra"]!.ToJsonString());
        }
        // The container ran on throughout.
        Assert.Equal(0, cluster.Get("pod", "renewing")["status"]!["containerStatuses"]![0]!["restartCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task AContainerOverItsMemoryLimitIsReportedOOMKilled()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: hog}
            spec:
              restartPolicy: Never
              containers:
              - name: c
                image: pod-tests/busybox:1
                resources: {limits: {memory: 16Mi}, requests: {memory: 16Mi}}
                command: [sh, -c, 'x=a; while true; do x=$x$x; done']
            """);
        var pod = await WaitForAsync("hog", p => Str(p["status"]?["phase"]) == "Failed", seconds: 90);
        var terminated = Status(pod, "c")["state"]!["terminated"]!;
        Assert.Equal("OOMKilled", Str(terminated["reason"]));
        Assert.Equal(137, terminated["exitCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task ProbesOfEachKindSetReadinessAndAFailingLivenessProbeRestartsTheContainer()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: probed}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: pod-tests/busybox:1
                ports: [{name: http, containerPort: 8080}]
                command: [sh, -c, 'mkdir -p /www; (sleep 3; echo ok > /www/ready) & exec httpd -f -p 8080 -h /www']
                readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1}
              - name: tcp
                image: pod-tests/busybox:1
                command: [httpd, -f, -p, "9090", -h, /tmp]
                readinessProbe: {tcpSocket: {port: 9090}, periodSeconds: 1}
                startupProbe: {exec: {command: ["true"]}, periodSeconds: 1}
              - name: alive
                image: pod-tests/busybox:1
                command: [sleep, "3600"]
                livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2}
            """);
        var notReadyYet = await WaitForAsync("probed", p => Str(p["status"]?["phase"]) == "Running" && p["status"]?["containerStatuses"] is JsonArray);
        Assert.False(Status(notReadyYet, "web")["ready"]!.GetValue<bool>());
        var ready = await WaitForAsync("probed", p => Status(p, "web")["ready"]!.GetValue<bool>() && Status(p, "tcp")["ready"]!.GetValue<bool>());
        Assert.NotNull(Status(ready, "web")["state"]!["running"]);
        var restarted = await WaitForAsync("probed", p => Status(p, "alive")["restartCount"]!.GetValue<int>() >= 1, seconds: 60);
        Assert.Equal(137, Status(restarted, "alive")["lastState"]!["terminated"]!["exitCode"]!.GetValue<int>());
        var events = Kubectl("get", "events", "--field-selector", "involvedObject.name=probed,reason=Unhealthy", "-o", "json");
        Assert.Contains("Liveness probe failed", events.Out);
        Assert.Contains("Readiness probe failed", events.Out);
    }

    [Fact]
    public async Task PostStartRunsAfterTheStartPreStopBeforeTheStopSignalAndAFailedHookKillsTheContainer()
    {
        var outDir = Path.Combine(_cluster.Directory, "hooks");
        Apply($$$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: hooked}
            spec:
              terminationGracePeriodSeconds: 10
              volumes: [{name: out, hostPath: {path: {{{outDir}}}, type: DirectoryOrCreate}}]
              containers:
              - name: c
                image: pod-tests/busybox:1
                volumeMounts: [{name: out, mountPath: /out}]
                command: [sh, -c, 'trap "echo term >> /out/log; exit 0" TERM; echo main >> /out/log; while true; do sleep 0.1; done']
                lifecycle:
                  postStart: {exec: {command: [sh, -c, 'echo poststart >> /out/log']}}
                  preStop: {exec: {command: [sh, -c, 'echo prestop >> /out/log; sleep 1']}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: badhook}
            spec:
              restartPolicy: Never
              terminationGracePeriodSeconds: 1
              containers:
              - name: c
                image: pod-tests/busybox:1
                command: [sleep, "3600"]
                lifecycle:
                  postStart: {exec: {command: [sh, -c, 'echo no way; exit 7']}}
            """);
        await WaitForAsync("hooked", p => Str(p["status"]?["phase"]) == "Running");
        var log = Path.Combine(outDir, "log");
        for (var i = 0; i < 50 && !(File.Exists(log) && File.ReadAllText(log).Contains("poststart")); i++) await Task.Delay(100);
        var deleted = Kubectl("delete", "pod", "hooked", "--timeout=60s");
        Assert.True(deleted.Exit == 0, deleted.Err);
        var lines = File.ReadAllLines(log);
        Assert.True(lines.Length == 4, string.Join("|", lines));
        Assert.Equal(["main", "poststart"], lines[..2].Order().ToArray()); // postStart runs beside the process, as in Kubernetes
        Assert.Equal(["prestop", "term"], lines[^2..]);

        var bad = await WaitForAsync("badhook", p => Str(p["status"]?["phase"]) == "Failed");
        Assert.NotNull(Status(bad, "c")["state"]!["terminated"]);
        var events = Kubectl("get", "events", "--field-selector", "involvedObject.name=badhook,reason=FailedPostStartHook", "-o", "json");
        Assert.Contains("Exec lifecycle hook ([sh -c echo no way; exit 7]) for Container \\\"c\\\" in Pod", events.Out);
        Assert.Contains("no way", events.Out);
    }

    [Fact]
    public async Task ASidecarInitContainerStartsBeforeTheNextInitContainerRunsBesideTheAppAndStopsWhenThePodCompletes()
    {
        Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: sidecarred}
            spec:
              restartPolicy: Never
              terminationGracePeriodSeconds: 1
              initContainers:
              - name: side
                image: pod-tests/busybox:1
                restartPolicy: Always
                command: [sh, -c, 'mkdir -p /www && echo from-sidecar > /www/index.html && exec httpd -f -p 8080 -h /www']
              - name: check
                image: pod-tests/busybox:1
                command: [sh, -c, 'until wget -q -O - http://localhost:8080/; do sleep 0.1; done']
              containers:
              - name: app
                image: pod-tests/busybox:1
                command: [sh, -c, 'sleep 3; wget -q -O - http://localhost:8080/']
            """);
        var running = await WaitForAsync("sidecarred", p => p["status"]?["containerStatuses"]?[0]?["state"]?["running"] is not null);
        Assert.Equal("True", Str(running["status"]!["conditions"]!.AsArray().First(c => Str(c!["type"]) == "Initialized")!["status"]));
        Assert.NotNull(Status(running, "side", "initContainerStatuses")["state"]!["running"]);
        Assert.Equal(0, Status(running, "check", "initContainerStatuses")["state"]!["terminated"]!["exitCode"]!.GetValue<int>());

        var done = await WaitForAsync("sidecarred", p => Str(p["status"]?["phase"]) == "Succeeded"
            && p["status"]?["initContainerStatuses"]?[0]?["state"]?["terminated"] is not null);
        Assert.Equal(0, Status(done, "app")["state"]!["terminated"]!["exitCode"]!.GetValue<int>());
        var logs = Kubectl("logs", "sidecarred", "-c", "app");
        Assert.Equal("from-sidecar\n", logs.Out);
    }
}
