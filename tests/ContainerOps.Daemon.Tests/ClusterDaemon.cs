using System.Diagnostics;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>One <see cref="ClusterDaemon"/> with busybox as pod-tests/busybox:1 for a whole test class
/// (IClassFixture); <see cref="PrepareAsync"/> adds what a class needs besides.</summary>
public class ClusterDaemonFixture : IAsyncLifetime
{
    public ClusterDaemon Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await ClusterDaemon.StartAsync("pod-tests/busybox:1");
        await PrepareAsync();
    }

    protected virtual Task PrepareAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>A private daemon for cluster tests, driven with kubectl 1.32 through its TLS port: its own node name, pod
/// subnet (a random 10.x.y.0/24), a shortened crash-loop backoff, the busybox image, and a kubeconfig of its own.
/// Disposing removes the pods first (their sandboxes hold mounts and a veth), then the daemon and what it made.</summary>
public sealed class ClusterDaemon : IAsyncDisposable
{
    public const string Image = "cluster-tests/busybox:1";
    private readonly TempDir _dir = new("cclu");
    public PrivateDaemon Daemon { get; }
    public string Node { get; } = "node-" + Guid.NewGuid().ToString("N")[..6];
    public string SubnetPrefix { get; } = $"10.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(1, 250)}.";
    public string Kubeconfig => Path.Combine(_dir.Path, "kubeconfig");
    public string Directory => _dir.Path;

    private ClusterDaemon(params string[] extraArgs)
    {
        Daemon = new PrivateDaemon(["--node-name", Node, "--pod-subnet", SubnetPrefix + "0/24", "--pod-backoff", "1", .. extraArgs]);
    }

    /// <param name="image">The name the busybox image is imported as.</param>
    public static async Task<ClusterDaemon> StartAsync(string image = Image, params string[] extraArgs)
    {
        var cluster = new ClusterDaemon(extraArgs);
        await cluster.Daemon.ImportBusyboxAsync(image, "CMD [\"sh\"]");
        await cluster.WriteKubeconfigAsync();
        return cluster;
    }

    /// <summary>Writes the daemon's kubeconfig (again after a restart), once the daemon serves it.</summary>
    public async Task WriteKubeconfigAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            try { File.WriteAllText(Kubeconfig, await Daemon.Client.GetKubeconfigAsync()); break; }
            catch (ContainerOpsException) when (attempt < 100) { await Task.Delay(100); }
        }
    }

    /// <summary>Kills the daemon with SIGKILL, as a crash would, and starts it again on the same state root; the
    /// kubeconfig follows the new TLS port.</summary>
    public async Task CrashAndRestartAsync()
    {
        Daemon.Crash();
        Daemon.Start();
        await WriteKubeconfigAsync();
    }

    public (int Exit, string Out, string Err) Kubectl(params string[] args) => KubectlWithInput(null, args);

    public (int Exit, string Out, string Err) KubectlWithInput(string? input, params string[] args)
    {
        using var p = StartKubectl(args);
        if (input is not null) p.StandardInput.Write(input);
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        // A kubectl that never ends (an attach whose container never ends) fails the test instead of holding it.
        if (!p.WaitForExit((int)KubectlTimeout.TotalMilliseconds))
        {
            p.Kill(true);
            Assert.Fail($"kubectl {string.Join(' ', args)} did not end within {KubectlTimeout.TotalSeconds} s; it printed: {stdout.Result} {err.Result}");
        }
        return (p.ExitCode, stdout.Result, err.Result);
    }

    /// <summary>A kubectl left running (attach, logs -f, port-forward), its standard streams redirected; the caller
    /// reads it, ends it and disposes of it.</summary>
    public Process StartKubectl(params string[] args) => StartKubectlAt(ContainerOps.TestSupport.Kubectl.Path, args);

    /// <summary>As <see cref="StartKubectl"/>, another kubectl binary (an older one).</summary>
    public Process StartKubectlAt(string binary, params string[] args)
    {
        var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "--kubeconfig", Kubeconfig, "--cache-dir", Path.Combine(_dir.Path, "cache") }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = _dir.Path;
        return Process.Start(psi)!;
    }

    /// <summary>How long one kubectl call may take (longer for those that wait on rollouts).</summary>
    public TimeSpan KubectlTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>kubectl that must succeed: its standard output.</summary>
    public string Ok(params string[] args)
    {
        var (exit, stdout, err) = Kubectl(args);
        if (exit != 0) Assert.Fail($"kubectl {string.Join(' ', args)}: {err}{stdout}\n{Snapshot()}");
        return stdout;
    }

    /// <summary>What a failed step prints of the cluster, so that a failure seen once can be understood: the pods and
    /// workloads, the latest events, the tail of the daemon's log.</summary>
    public string Snapshot()
    {
        var text = new System.Text.StringBuilder();
        foreach (var args in new[] { new[] { "get", "deployments,replicasets,pods", "-o", "wide" }, ["get", "events", "--sort-by=.lastTimestamp"],
                     ["get", "deployments,replicasets", "-o", "jsonpath={range .items[*]}{.kind}/{.metadata.name} {.status}{'\\n'}{range .metadata.managedFields[*]}  {.manager} {.operation} {.subresource} {.time}{'\\n'}{end}{end}"] })
        {
            try
            {
                var (_, stdout, err) = Kubectl(args);
                text.Append($"\n--- kubectl {string.Join(' ', args)}\n").Append(string.Join('\n', (stdout + err).Split('\n').TakeLast(40)));
            }
            catch (Exception e) { text.Append($"\n--- kubectl {string.Join(' ', args)}: {e.Message}"); }
        }
        try { text.Append("\n--- daemon log (last 80 lines)\n").Append(string.Join('\n', File.ReadLines(Daemon.LogPath).TakeLast(80))); }
        catch (IOException e) { text.Append(e.Message); }
        return text.ToString();
    }

    /// <summary>`kubectl apply -f -` of <paramref name="manifest"/>, which must succeed: its standard output.</summary>
    public string Apply(string manifest)
    {
        var (exit, stdout, err) = KubectlWithInput(manifest, "apply", "-f", "-");
        Assert.True(exit == 0, err);
        return stdout;
    }

    /// <summary>`kubectl ARGS -o json`, which must succeed.</summary>
    public JsonObject Json(params string[] args) => JsonNode.Parse(Ok([.. args, "-o", "json"]))!.AsObject();

    /// <summary>The items of a list `kubectl get` answers.</summary>
    public List<JsonObject> Items(params string[] args) => Json(args)["items"]!.AsArray().Select(i => i!.AsObject()).ToList();

    /// <summary>Reads until <paramref name="done"/> holds; fails with the last value and the daemon's log.</summary>
    public async Task<T> EventuallyAsync<T>(Func<T> read, Func<T, bool> done, string what, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        T value;
        while (!done(value = read()))
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"{what}: not within {seconds} s; last: {(value is JsonNode n ? n.ToJsonString() : value is IEnumerable<JsonObject> l ? string.Join("\n", l.Select(x => x.ToJsonString())) : value?.ToString())}\n{Daemon.Output}");
            await Task.Delay(250);
        }
        return value;
    }

    /// <summary>One object as JSON (`kubectl get KIND NAME -o json`), which must exist.</summary>
    public JsonObject Get(string kind, string name, string ns = "default") =>
        TryGet(kind, name, ns) ?? throw new Xunit.Sdk.XunitException($"{kind} {name} not found in {ns}");

    /// <summary>One object as JSON, or null when there is none (yet: a controller makes it).</summary>
    public JsonObject? TryGet(string kind, string name, string ns = "default")
    {
        var (exit, text, err) = Kubectl("get", kind, name, "-n", ns, "-o", "json");
        if (exit != 0 && err.Contains("NotFound", StringComparison.Ordinal)) return null;
        Assert.True(exit == 0, err);
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Waits until the object is there and satisfies <paramref name="condition"/>; fails with it and the
    /// daemon's log.</summary>
    public async Task<JsonObject> WaitForAsync(string kind, string name, Func<JsonObject, bool> condition, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonObject? o;
        while ((o = TryGet(kind, name)) is null || !condition(o))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"{kind} {name} did not get there in {seconds} s:\n{o?.ToJsonString() ?? "not found"}\n{Daemon.Output}");
            await Task.Delay(200);
        }
        return o;
    }

    /// <summary>The log of a pod's first container (read through the container engine) once it contains <paramref name="marker"/>;
    /// the pod may not be there yet (its controller makes it).</summary>
    public async Task<string> LogsAsync(string pod, string marker, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var log = "";
            var o = TryGet("pod", pod) ?? new JsonObject();
            if (o["status"]?["containerStatuses"]?[0]?["containerID"]?.GetValue<string>() is { } id)
                await foreach (var e in Daemon.Client.GetLogsAsync(id["containerops://".Length..])) log += e.Log;
            if (log.Contains(marker, StringComparison.Ordinal)) return log;
            if (DateTime.UtcNow > deadline) Assert.Fail($"pod {pod} did not log {marker} in {seconds} s: {log}\n{o["status"]}\n{Shell.Run("nft", "list ruleset", check: false)}");
            await Task.Delay(300);
        }
    }

    public static bool IsReady(JsonObject pod) =>
        (pod["status"]?["conditions"] as JsonArray)?.Any(c => c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True") == true;

    public async ValueTask DisposeAsync()
    {
        // Workloads first (so nothing makes pods again), then pods (their sandboxes hold mounts and a veth), then the daemon.
        foreach (var kind in new[] { "cronjobs", "jobs", "deployments", "replicasets", "statefulsets", "daemonsets" })
            Kubectl("delete", kind, "--all", "--all-namespaces", "--cascade=orphan", "--wait=false");
        Kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force", "--wait=false");
        var pods = Path.Combine(Daemon.RunRoot, "pods");
        for (var i = 0; i < 150 && System.IO.Directory.Exists(pods) && System.IO.Directory.GetDirectories(pods).Length > 0; i++) await Task.Delay(100);
        if (System.IO.Directory.Exists(pods))
            foreach (var dir in System.IO.Directory.GetDirectories(pods))
            {
                // A pod that shares its pid namespace has a holder process (pause.pid).
                if (File.Exists(Path.Combine(dir, "pause.pid")) && int.TryParse(File.ReadAllText(Path.Combine(dir, "pause.pid")), out var holder))
                    try { Process.GetProcessById(holder).Kill(); } catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
                foreach (var m in new[] { "net", "ipc", "uts", "shm", "pid" })
                    Shell.Run("umount", $"-l {Path.Combine(dir, m)}", check: false);
            }
        Daemon.Dispose();
        _dir.Dispose();
    }
}
