using System.Diagnostics;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>A private daemon running pods, driven with kubectl 1.32 through its TLS port: its own node name, pod subnet
/// and state, and a busybox image. Disposing removes the pods first (their sandboxes hold mounts and a veth), then the
/// daemon and all it made.</summary>
public sealed class PodCluster : IAsyncDisposable
{
    public const string Image = "pod-tests/busybox:1";
    public string Node { get; } = "node-" + Guid.NewGuid().ToString("N")[..6];
    /// <summary>The first three octets of the pod subnet, with the dot.</summary>
    public string SubnetPrefix { get; } = $"10.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(1, 250)}.";
    public TempDir Dir { get; } = new("cpod");
    public PrivateDaemon Daemon { get; }
    public string Kubeconfig => Path.Combine(Dir.Path, "kubeconfig");

    private PodCluster(string[] daemonArgs) =>
        Daemon = new PrivateDaemon(["--node-name", Node, "--pod-subnet", SubnetPrefix + "0/24", .. daemonArgs]);

    public static async Task<PodCluster> StartAsync(params string[] daemonArgs)
    {
        var cluster = new PodCluster(daemonArgs);
        await cluster.Daemon.ImportBusyboxAsync(Image, "CMD [\"sh\"]");
        await cluster.WriteKubeconfigAsync();
        return cluster;
    }

    /// <summary>(Re)writes the kubeconfig, waiting for the daemon to answer (after a start or a restart).</summary>
    public async Task WriteKubeconfigAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            try { File.WriteAllText(Kubeconfig, await Daemon.Client.GetKubeconfigAsync()); return; }
            catch (ContainerOpsException) when (attempt < 100) { await Task.Delay(100); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force", "--wait=false");
        var pods = Path.Combine(Daemon.RunRoot, "pods");
        for (var i = 0; i < 150 && Directory.Exists(pods) && Directory.GetDirectories(pods).Length > 0; i++) await Task.Delay(100);
        if (Directory.Exists(pods))
            foreach (var dir in Directory.GetDirectories(pods))
                foreach (var m in new[] { "net", "ipc", "uts", "shm" })
                    Shell.Run("umount", $"-l {Path.Combine(dir, m)}", check: false);
        Daemon.Dispose();
        Dir.Dispose();
    }

    public (int Exit, string Out, string Err) Kubectl(params string[] args) => KubectlWithInput(null, args);

    public (int Exit, string Out, string Err) KubectlWithInput(string? input, params string[] args)
    {
        var psi = new ProcessStartInfo(ContainerOps.TestSupport.Kubectl.Path) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "--kubeconfig", Kubeconfig, "--cache-dir", Path.Combine(Dir.Path, "cache") }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = Dir.Path;
        using var p = Process.Start(psi)!;
        if (input is not null) p.StandardInput.Write(input);
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "kubectl timed out");
        return (p.ExitCode, stdout, err.Result);
    }

    public void Apply(string manifest)
    {
        var applied = KubectlWithInput(manifest, "apply", "-f", "-");
        Assert.True(applied.Exit == 0, applied.Err);
    }

    public JsonObject Pod(string name)
    {
        var (exit, text, err) = Kubectl("get", "pod", name, "-o", "json");
        Assert.True(exit == 0, err);
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<JsonObject> WaitForAsync(string name, Func<JsonObject, bool> condition, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonObject pod;
        while (!condition(pod = Pod(name)))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"pod {name} did not get there in {seconds} s:\n{pod.ToJsonString()}\n{Daemon.Output}");
            await Task.Delay(200);
        }
        return pod;
    }
}
