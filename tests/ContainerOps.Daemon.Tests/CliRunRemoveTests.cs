using System.Diagnostics;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>`containerops run --rm` without a terminal, as `docker run --rm`: the container is an auto-remove one, its
/// output is followed from before the start, the daemon removes it when it ends and the run returns its exit status
/// once it is gone.</summary>
public class CliRunRemoveTests
{
    private static (int Code, string Stdout, string Stderr) Run(PrivateDaemon d, params string[] args)
    {
        var psi = new ProcessStartInfo(PrivateDaemon.CliPath) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add("-H");
        psi.ArgumentList.Add("unix://" + Path.Combine(d.RunRoot, "containerops.sock"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "the run did not end");
        return (p.ExitCode, stdout, stderr.Result);
    }

    private static IEnumerable<string> Containers(PrivateDaemon d) =>
        Directory.GetDirectories(Path.Combine(d.Root, "containers")).Select(Path.GetFileName).Where(n => !n!.StartsWith('.'))!;

    [Fact]
    public async Task RunRm_KeepsTheStreamsApartReturnsTheStatusAndIsGoneWhenItReturns()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("rm/busybox:1");

        var (code, stdout, stderr) = Run(d, "run", "--rm", "--network", "none", "rm/busybox:1", "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.Equal(3, code);
        Assert.Equal("out\n", stdout);
        Assert.Equal("err\n", stderr);
        Assert.Empty(await d.Client.ListContainersAsync(all: true));
        Assert.Empty(Containers(d));

        // A container that ends at once: its output is never lost and it is never left behind.
        for (var i = 0; i < 10; i++)
        {
            var quick = Run(d, "run", "--rm", "--network", "none", "rm/busybox:1", "echo", $"run {i}");
            Assert.Equal((0, $"run {i}\n", ""), quick);
            Assert.Empty(await d.Client.ListContainersAsync(all: true));
        }

        // While it runs it is an auto-remove container (as docker run --rm makes it), and its layer is mounted
        // volatile: nothing of it is synced to disk, not even at its unmount.
        var live = Task.Run(() => Run(d, "run", "--rm", "--name", "rm-live", "--network", "none", "rm/busybox:1", "sh", "-c", "echo started; sleep 30"));
        var details = await WaitUntilRunningAsync(d, "rm-live");
        Assert.True(details.HostConfig.AutoRemove);
        var merged = Path.Combine(d.Root, "images", "containers", details.Id, "merged");
        var mount = File.ReadLines("/proc/self/mountinfo").Single(l => l.Split(' ')[4] == merged);
        Assert.Contains("volatile", mount);
        await d.Client.KillContainerAsync("rm-live");
        var killed = await live;
        Assert.Equal(137, killed.Code);
        Assert.Equal("started\n", killed.Stdout);
        Assert.Empty(await d.Client.ListContainersAsync(all: true));

        // Without --rm the container stays, with its exit status.
        Assert.Equal((0, "kept\n", ""), Run(d, "run", "--name", "rm-kept", "--network", "none", "rm/busybox:1", "echo", "kept"));
        var kept = await d.Client.InspectContainerAsync("rm-kept");
        Assert.False(kept.HostConfig.AutoRemove);
        Assert.Equal(0, kept.State.ExitCode);
        await d.Client.RemoveContainerAsync("rm-kept");
        Assert.Empty(Containers(d));
    }

    private static async Task<Core.Api.ContainerDetails> WaitUntilRunningAsync(PrivateDaemon d, string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                var details = await d.Client.InspectContainerAsync(name);
                if (details.State.Running) return details;
            }
            catch (Core.Api.ContainerOpsException) { } // not created yet
            Assert.True(DateTime.UtcNow < deadline, $"{name} did not start");
            await Task.Delay(20);
        }
    }
}
