using System.Diagnostics;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>A private daemon with its own node name, pod subnet and cluster port, a kubeconfig for it, and kubectl
/// 1.32 to drive it. Disposal removes every pod (and their sandboxes' mounts), then the daemon and its roots.</summary>
public sealed class ClusterSession : IAsyncDisposable
{
    public const string Image = "workload-tests/busybox:1";
    private readonly TempDir _dir = new("cwl");
    public string Node { get; } = "node-" + Guid.NewGuid().ToString("N")[..6];
    public PrivateDaemon Daemon { get; private set; } = null!;
    public string Kubeconfig { get; private set; } = "";

    public static async Task<ClusterSession> StartAsync()
    {
        var s = new ClusterSession();
        var subnet = $"10.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(1, 250)}.0/24";
        s.Daemon = new PrivateDaemon("--node-name", s.Node, "--pod-subnet", subnet, "--pod-backoff", "1");
        await s.Daemon.ImportBusyboxAsync(Image, "CMD [\"sh\"]");
        s.Kubeconfig = Path.Combine(s._dir.Path, "kubeconfig");
        for (var attempt = 0; ; attempt++)
        {
            try { File.WriteAllText(s.Kubeconfig, await s.Daemon.Client.GetKubeconfigAsync()); break; }
            catch (ContainerOpsException) when (attempt < 100) { await Task.Delay(100); }
        }
        return s;
    }

    public (int Exit, string Out, string Err) Kubectl(params string[] args) => KubectlWithInput(null, args);

    public (int Exit, string Out, string Err) KubectlWithInput(string? input, params string[] args)
    {
        var psi = new ProcessStartInfo(ContainerOps.TestSupport.Kubectl.Path) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "--kubeconfig", Kubeconfig, "--cache-dir", Path.Combine(_dir.Path, "cache") }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = _dir.Path;
        using var p = Process.Start(psi)!;
        if (input is not null) p.StandardInput.Write(input);
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(180_000), "kubectl timed out");
        return (p.ExitCode, stdout, err.Result);
    }

    /// <summary>kubectl that must succeed: its standard output.</summary>
    public string Ok(params string[] args)
    {
        var (exit, stdout, err) = Kubectl(args);
        Assert.True(exit == 0, $"kubectl {string.Join(' ', args)}: {err}{stdout}");
        return stdout;
    }

    public string Apply(string manifest)
    {
        var (exit, stdout, err) = KubectlWithInput(manifest, "apply", "-f", "-");
        Assert.True(exit == 0, err);
        return stdout;
    }

    public JsonObject Json(params string[] args) => JsonNode.Parse(Ok([.. args, "-o", "json"]))!.AsObject();

    public List<JsonObject> Items(params string[] args) => Json(args)["items"]!.AsArray().Select(i => i!.AsObject()).ToList();

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

    public static bool IsReady(JsonObject pod) =>
        pod["status"]?["conditions"]?.AsArray().Any(c => c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True") == true;

    public async ValueTask DisposeAsync()
    {
        // Workloads first (so nothing makes pods again), then pods (their sandboxes hold mounts and a veth), then the daemon.
        foreach (var kind in new[] { "deployments", "replicasets" })
            Kubectl("delete", kind, "--all", "--all-namespaces", "--cascade=orphan", "--wait=false");
        Kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force", "--wait=false");
        var pods = Path.Combine(Daemon.RunRoot, "pods");
        for (var i = 0; i < 150 && Directory.Exists(pods) && Directory.GetDirectories(pods).Length > 0; i++) await Task.Delay(100);
        if (Directory.Exists(pods))
            foreach (var dir in Directory.GetDirectories(pods))
                foreach (var m in new[] { "net", "ipc", "uts", "shm" })
                    Shell.Run("umount", $"-l {Path.Combine(dir, m)}", check: false);
        Daemon.Dispose();
        _dir.Dispose();
    }
}
