using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.TestSupport;
using Xunit.Abstractions;

namespace ContainerOps.Daemon.Tests;

/// <summary>The cluster API as the daemon serves it: on its socket for our own clients, on its TLS port for kubectl
/// (through the kubeconfig the client hands out), kept across a kill -9.</summary>
public sealed class ClusterApiTests(ITestOutputHelper output) : IDisposable
{
    private readonly PrivateDaemon _daemon = new();
    private readonly TempDir _dir = new("ckc");

    public void Dispose()
    {
        _daemon.Dispose();
        _dir.Dispose();
    }

    private string SocketPath => Path.Combine(_daemon.RunRoot, "containerops.sock");

    private HttpClient Socket() => UnixSocketHttp.Create(SocketPath, "http://containerops/");

    /// <summary>PrivateDaemon takes the daemon as started once its socket answers, which is before the TLS port is
    /// bound (a daemon started by a client is waited for until both are): the kubeconfig is asked again meanwhile.</summary>
    private async Task<string> KubeconfigAsync()
    {
        var path = Path.Combine(_dir.Path, "kubeconfig");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                File.WriteAllText(path, await _daemon.Client.GetKubeconfigAsync());
                return path;
            }
            catch (ContainerOps.Core.Api.ContainerOpsException) when (attempt < 100) { await Task.Delay(100); }
        }
    }

    private (int Exit, string Out, string Err) Kubectl(string kubeconfig, params string[] args)
    {
        var psi = new ProcessStartInfo(ContainerOps.TestSupport.Kubectl.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--kubeconfig", kubeconfig, "--cache-dir", Path.Combine(_dir.Path, "cache") }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = _dir.Path;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "kubectl timed out");
        return (p.ExitCode, stdout, err.Result);
    }

    private static string Without(string text, string linePrefix) =>
        string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith(linePrefix, StringComparison.Ordinal)));

    [Fact]
    public async Task KubectlReachesTheDaemonWithTheKubeconfigItHandsOutAndTheObjectsSurviveAKill()
    {
        var kubeconfig = await KubeconfigAsync();
        Assert.Matches(@"server: https://127\.0\.0\.1:\d+", File.ReadAllText(kubeconfig));
        var (exit, created, err) = Kubectl(kubeconfig, "create", "configmap", "settings", "--from-literal=colour=blue");
        Assert.True(exit == 0, err);
        Assert.Equal("configmap/settings created", created.Trim());

        using (var http = Socket())
        {
            var onSocket = JsonNode.Parse(await http.GetStringAsync("api/v1/namespaces/default/configmaps/settings"))!;
            Assert.Equal("blue", onSocket["data"]!["colour"]!.GetValue<string>());
            // The Docker API is still there beside it.
            Assert.Equal("OK", await http.GetStringAsync("_ping"));
        }
        var before = JsonNode.Parse(Kubectl(kubeconfig, "get", "configmap", "settings", "-o", "json").Out)!;

        _daemon.Crash();
        _daemon.Start();
        // The same CA and client certificate are kept; only the port of a test daemon (port 0) changes.
        var firstConfig = File.ReadAllText(kubeconfig);
        kubeconfig = await KubeconfigAsync();
        Assert.Equal(Without(firstConfig, "server:"), Without(File.ReadAllText(kubeconfig), "server:"));
        var (afterExit, afterText, afterErr) = Kubectl(kubeconfig, "get", "configmap", "settings", "-o", "json");
        Assert.True(afterExit == 0, afterErr);
        var after = JsonNode.Parse(afterText)!;
        Assert.Equal(before["metadata"]!["uid"]!.GetValue<string>(), after["metadata"]!["uid"]!.GetValue<string>());
        Assert.Equal(before["metadata"]!["resourceVersion"]!.GetValue<string>(), after["metadata"]!["resourceVersion"]!.GetValue<string>());
        var mode = File.GetUnixFileMode(Path.Combine(_daemon.Root, "cluster", "pki", "admin.key"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }

    [Fact]
    public async Task ApiLatencyOverTheSocketIsMilliseconds()
    {
        const int count = 1000;
        using var http = Socket();
        var create = new List<double>();
        var get = new List<double>();
        var patch = new List<double>();
        // Bound to a node that is not this daemon's, so that its node agent leaves them alone: the API alone is measured.
        for (var i = 0; i < count; i++)
        {
            var body = """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pN","labels":{"app":"bench"}},"spec":{"nodeName":"elsewhere","containers":[{"name":"c","image":"busybox:1.36"}]}}""".Replace("pN", $"p{i}");
            var sw = Stopwatch.StartNew();
            using (var r = await http.PostAsync("api/v1/namespaces/default/pods", new StringContent(body, Encoding.UTF8, "application/json")))
                Assert.Equal(201, (int)r.StatusCode);
            create.Add(sw.Elapsed.TotalMilliseconds);
        }
        for (var i = 0; i < count; i++)
        {
            var sw = Stopwatch.StartNew();
            using (var r = await http.GetAsync($"api/v1/namespaces/default/pods/p{i}")) Assert.Equal(200, (int)r.StatusCode);
            get.Add(sw.Elapsed.TotalMilliseconds);
        }
        for (var i = 0; i < 200; i++)
        {
            var sw = Stopwatch.StartNew();
            using var content = new StringContent("""{"metadata":{"labels":{"round":"rN"}}}""".Replace("rN", $"r{i}"), Encoding.UTF8, "application/merge-patch+json");
            using (var r = await http.PatchAsync($"api/v1/namespaces/default/pods/p{i}", content)) Assert.Equal(200, (int)r.StatusCode);
            patch.Add(sw.Elapsed.TotalMilliseconds);
        }
        var list = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var sw = Stopwatch.StartNew();
            var items = JsonNode.Parse(await http.GetStringAsync("api/v1/namespaces/default/pods"))!["items"]!.AsArray();
            list.Add(sw.Elapsed.TotalMilliseconds);
            Assert.Equal(count, items.Count);
        }
        await Task.Delay(3000); // the daemon's idle trim
        var rss = File.ReadLines($"/proc/{_daemon.Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        static string Figures(List<double> ms)
        {
            ms.Sort();
            return $"p50 {ms[ms.Count / 2]:F2} ms, p99 {ms[(int)(ms.Count * 0.99)]:F2} ms";
        }
        output.WriteLine($"create: {Figures(create)}; get: {Figures(get)}; patch: {Figures(patch)}; list of {count} pods: {Figures(list)}; daemon {rss}");
        // The Kubernetes API's SLO for single-object mutating calls: p99 at most 1 s.
        create.Sort();
        patch.Sort();
        Assert.True(create[(int)(count * 0.99)] < 1000, Figures(create));
        Assert.True(patch[(int)(patch.Count * 0.99)] < 1000, Figures(patch));
    }
}
