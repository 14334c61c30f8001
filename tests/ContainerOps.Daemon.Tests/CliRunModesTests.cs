using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>`containerops run`'s --cidfile, --pull, --platform and -a against a private daemon, through the built CLI.</summary>
public class CliRunModesTests
{
    private static InvalidOperationException Refused(PrivateDaemon d, string args) =>
        Assert.Throws<InvalidOperationException>(() => d.Cli(args));

    [Fact]
    public async Task CidFilePullPlatformAndAttach()
    {
        using var d = new PrivateDaemon();
        using var dir = new TempDir("comodes");
        await d.ImportBusyboxAsync("modes/busybox:1");
        var cid = Path.Combine(dir.Path, "web.cid");

        var id = d.Cli($"run -d --cidfile {cid} --name cid-web --network none modes/busybox:1 sleep 1000").Trim();
        try
        {
            Assert.Equal(id, File.ReadAllText(cid));
            var e = Refused(d, $"create --cidfile {cid} --name cid-again modes/busybox:1 true");
            Assert.Contains("exited 125", e.Message);
            Assert.Contains("container ID file found", e.Message);
        }
        finally { d.Cli("rm -f cid-web"); }
        Assert.DoesNotContain(await d.Client.ListContainersAsync(all: true), c => c.Name.TrimStart('/') == "cid-again");

        // A create that fails leaves no id file behind: here an image that is neither here nor to be pulled (the
        // default --pull missing tries its registry, which this machine cannot reach).
        var failed = Path.Combine(dir.Path, "failed.cid");
        var missing = Refused(d, $"create --cidfile {failed} modes/no-such-image:1 true");
        Assert.Contains("Unable to find image 'modes/no-such-image:1' locally", missing.Message);
        Assert.False(File.Exists(failed));
        Assert.DoesNotContain("Unable to find", Refused(d, "create --pull never modes/no-such-image:1 true").Message);

        Assert.Equal("local\n", d.Cli("run --rm --pull never --network none modes/busybox:1 echo local"));
        Assert.Equal("local\n", d.Cli("run --rm --pull missing --platform linux/amd64 --network none modes/busybox:1 echo local"));
        var platform = Refused(d, "run --rm --platform linux/arm64 --network none modes/busybox:1 true");
        Assert.Contains("\"linux/arm64\" is not supported", platform.Message);
        Assert.Contains("sometimes", Refused(d, "run --rm --pull sometimes modes/busybox:1 true").Message);
        Assert.Empty(await d.Client.ListContainersAsync(all: true));

        Assert.Equal("out\n", d.Cli("run --rm -a stdout --network none modes/busybox:1 sh -c \"echo out; echo err >&2\""));
        Assert.Equal("", d.Cli("run --rm -a stderr --network none modes/busybox:1 sh -c \"echo out; echo err >&2\""));
        Assert.Contains("--attach and --detach", Refused(d, "run -d -a stdout modes/busybox:1 true").Message);
    }

    /// <summary>As docker run: the default bridge network unless --network says otherwise, so -p works alone.</summary>
    [Fact]
    public async Task RunPutsAContainerOnTheDefaultNetworkSoAPortCanBePublishedAlone()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("net/busybox:1");
        Assert.Matches(@"inet \d+\.\d+\.\d+\.\d+/\d+", d.Cli("run --rm net/busybox:1 ip -o -4 addr show eth0"));
        Assert.DoesNotContain("eth0", d.Cli("run --rm --network none net/busybox:1 ip -o link"));

        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var id = d.Cli($"run -d -p 127.0.0.1:{port}:8080 net/busybox:1 httpd -f -p 8080 -h /etc").Trim();
        try
        {
            Assert.Equal("default", (await d.Client.InspectContainerAsync(id)).HostConfig.NetworkMode);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            string? body = null;
            for (var attempt = 0; body is null && attempt < 50; attempt++)
            {
                try { body = await http.GetStringAsync($"http://127.0.0.1:{port}/passwd"); }
                catch (HttpRequestException) { await Task.Delay(100); }
            }
            Assert.Contains("root:", body);
        }
        finally { d.Cli($"rm -f {id}"); }
    }

    /// <summary>--init: the init is pid 1 and the command its child; a signal reaches a command that, as pid 1, would
    /// ignore it; orphans are reaped.</summary>
    [Fact]
    public async Task InitRunsTheCommandAsItsChildPassesSignalsOnAndReapsOrphans()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("init/busybox:1");
        Assert.Matches(@"(?m)^\s*1\s+docker-init\s*$", d.Cli("run --rm --init --network none init/busybox:1 ps -o pid,comm"));
        Assert.Equal("0\n", d.Cli("run --rm --init --network none init/busybox:1 sh -c \"(sleep 0.2 &); sleep 1; ps -o stat | grep -c ^Z\"", check: false));

        var id = d.Cli("run -d --init --network none init/busybox:1 sleep 300").Trim();
        try
        {
            var stopping = System.Diagnostics.Stopwatch.StartNew();
            d.Cli($"stop -t 30 {id}");
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(15), $"stop took {stopping.Elapsed}: SIGTERM did not reach sleep");
            var stopped = await d.Client.InspectContainerAsync(id);
            Assert.Equal(143, stopped.State.ExitCode);
            Assert.True(stopped.HostConfig.Init);
        }
        finally { d.Cli($"rm -f {id}"); }
    }
}
