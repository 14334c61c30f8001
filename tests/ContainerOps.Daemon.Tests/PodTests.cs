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
    private readonly string _node = "node-" + Guid.NewGuid().ToString("N")[..6];
    private readonly string _subnetPrefix = $"10.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(1, 250)}.";
    private readonly TempDir _dir = new("cpod");
    private PrivateDaemon _daemon = null!;
    private string _kubeconfig = "";

    public async Task InitializeAsync()
    {
        _daemon = new PrivateDaemon("--node-name", _node, "--pod-subnet", _subnetPrefix + "0/24", "--pod-backoff", "1");
        await _daemon.ImportBusyboxAsync(Image, "CMD [\"sh\"]");
        _kubeconfig = Path.Combine(_dir.Path, "kubeconfig");
        for (var attempt = 0; ; attempt++)
        {
            try { File.WriteAllText(_kubeconfig, await _daemon.Client.GetKubeconfigAsync()); break; }
            catch (ContainerOpsException) when (attempt < 100) { await Task.Delay(100); }
        }
    }

    public async Task DisposeAsync()
    {
        // Pods go first (their sandboxes hold mounts and a veth), then the daemon and what it made.
        Kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force", "--wait=false");
        var pods = Path.Combine(_daemon.RunRoot, "pods");
        for (var i = 0; i < 150 && Directory.Exists(pods) && Directory.GetDirectories(pods).Length > 0; i++) await Task.Delay(100);
        if (Directory.Exists(pods))
            foreach (var dir in Directory.GetDirectories(pods))
                foreach (var m in new[] { "net", "ipc", "uts", "shm" })
                    Shell.Run("umount", $"-l {Path.Combine(dir, m)}", check: false);
        _daemon.Dispose();
        _dir.Dispose();
    }

    private (int Exit, string Out, string Err) Kubectl(params string[] args) => KubectlWithInput(null, args);

    private (int Exit, string Out, string Err) KubectlWithInput(string? input, params string[] args)
    {
        var psi = new ProcessStartInfo(ContainerOps.TestSupport.Kubectl.Path) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "--kubeconfig", _kubeconfig, "--cache-dir", Path.Combine(_dir.Path, "cache") }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = _dir.Path;
        using var p = Process.Start(psi)!;
        if (input is not null) p.StandardInput.Write(input);
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "kubectl timed out");
        return (p.ExitCode, stdout, err.Result);
    }

    private JsonObject Pod(string name)
    {
        var (exit, text, err) = Kubectl("get", "pod", name, "-o", "json");
        Assert.True(exit == 0, err);
        return JsonNode.Parse(text)!.AsObject();
    }

    private async Task<JsonObject> WaitForAsync(string name, Func<JsonObject, bool> condition, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonObject pod;
        while (!condition(pod = Pod(name)))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"pod {name} did not get there in {seconds} s:\n{pod.ToJsonString()}\n{_daemon.Output}");
            await Task.Delay(200);
        }
        return pod;
    }

    private static string? Str(JsonNode? n) => n?.GetValue<string>();

    [Fact]
    public async Task TheNodeRegistersWithItsLeaseAndAnUnschedulablePodStaysPendingWithAnEvent()
    {
        var (exit, nodes, err) = Kubectl("get", "node", _node, "-o", "json");
        Assert.True(exit == 0, err);
        var node = JsonNode.Parse(nodes)!;
        Assert.Equal(_node, Str(node["metadata"]!["labels"]!["kubernetes.io/hostname"]));
        Assert.Equal("linux", Str(node["metadata"]!["labels"]!["kubernetes.io/os"]));
        Assert.Equal(Environment.ProcessorCount.ToString(), Str(node["status"]!["capacity"]!["cpu"]));
        Assert.Equal("True", Str(node["status"]!["conditions"]!.AsArray().First(c => Str(c!["type"]) == "Ready")!["status"]));
        var lease = Kubectl("get", "lease", _node, "-n", "kube-node-lease", "-o", "json");
        Assert.True(lease.Exit == 0, lease.Err);
        Assert.Equal(_node, Str(JsonNode.Parse(lease.Out)!["spec"]!["holderIdentity"]));

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
        Assert.Equal(0, Kubectl("label", "node", _node, "disk=ssd").Exit);
        pod = await WaitForAsync("picky", p => Str(p["status"]?["phase"]) == "Running");
        Assert.Equal(_node, Str(pod["spec"]!["nodeName"]));
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
        Assert.StartsWith(_subnetPrefix, ip);
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
        Assert.Matches($@"pair\s+2/2\s+Running\s+0\s+\S+\s+{ip.Replace(".", "\\.")}\s+{_node}", table.Out);

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
        Assert.Empty((await _daemon.Client.ListContainersAsync(all: true)).Where(c => c.Labels.ContainsKey("io.kubernetes.pod.uid")));
        Assert.False(Directory.Exists(Path.Combine(_daemon.RunRoot, "pods", uid)));
        Assert.DoesNotContain(Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName), l => l!.StartsWith(veth, StringComparison.Ordinal));
        Assert.DoesNotContain(Path.Combine(_daemon.RunRoot, "pods"), File.ReadAllText("/proc/self/mountinfo"));
    }
}
