using System.Diagnostics;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>Containers that really run (busybox under the built-in runtime and the shim; needs root).</summary>
[Collection("daemon")]
public class RunTests(DaemonFixture fx)
{
    private IContainerOpsClient Client => fx.Client;

    private async Task<string> Run(string[] cmd, Action<ContainerCreateRequest>? configure = null)
    {
        var request = new ContainerCreateRequest { Name = DaemonFixture.UniqueName("run"), Image = DaemonFixture.Image, Cmd = cmd.ToList() };
        configure?.Invoke(request);
        var id = (await Client.CreateContainerAsync(request)).Id;
        await Client.StartContainerAsync(id);
        return id;
    }

    private static async Task<List<LogEntry>> Logs(IContainerOpsClient client, string id, bool follow = false, int? tail = null)
    {
        var list = new List<LogEntry>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in client.GetLogsAsync(id, follow, tail, ct: cts.Token)) list.Add(e);
        return list;
    }

    [Fact]
    public async Task EchoShowsInLogsAndExitCodeIsKept()
    {
        var id = await Run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
        try
        {
            var wait = await Client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(3, wait.StatusCode);
            var d = await Client.InspectContainerAsync(id);
            Assert.Equal("exited", d.State.Status);
            Assert.Equal(3, d.State.ExitCode);
            Assert.NotNull(d.State.StartedAt);
            Assert.NotNull(d.State.FinishedAt);
            Assert.True(d.State.FinishedAt >= d.State.StartedAt, $"finished {d.State.FinishedAt:O} before it started {d.State.StartedAt:O}");

            var logs = await Logs(Client, id);
            Assert.Contains(logs, e => e.Stream == "stdout" && e.Log == "out\n");
            Assert.Contains(logs, e => e.Stream == "stderr" && e.Log == "err\n");
            Assert.Single(await Logs(Client, id, tail: 1));
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task FollowedLogsEndWhenTheContainerExits()
    {
        var id = await Run(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.3; done"]);
        try
        {
            var logs = await Logs(Client, id, follow: true);
            Assert.Equal(["1\n", "2\n", "3\n"], logs.Select(e => e.Log));
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task MissingCommandIs127AndLeavesTheContainerCreated()
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["/no/such/binary"] })).Id;
        try
        {
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.StartContainerAsync(id));
            var d = await Client.InspectContainerAsync(id);
            Assert.Equal("created", d.State.Status);
            Assert.NotEqual("", d.State.Error);
            Assert.False(d.State.Running);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task StopWaitsForTheGracePeriodThenKills()
    {
        // sh as pid 1 ignores SIGTERM (no handler): stop must wait t seconds, then SIGKILL → 137.
        var stubborn = await Run(["sleep", "1000"]);
        // A process with a TERM handler ends at once with its own status.
        var polite = await Run(["sh", "-c", "trap 'exit 0' TERM; echo trapped; while true; do sleep 0.1; done"]);
        try
        {
            // Its handler must be in place before the stop: a SIGTERM that comes first is ignored (it is pid 1).
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!(await Logs(Client, polite)).Any(e => e.Log == "trapped\n") && DateTime.UtcNow < deadline) await Task.Delay(20);
            var sw = Stopwatch.StartNew();
            await Client.StopContainerAsync(stubborn, timeoutSeconds: 2);
            Assert.InRange(sw.Elapsed.TotalSeconds, 1.8, 8);
            Assert.Equal(137, (await Client.InspectContainerAsync(stubborn)).State.ExitCode);

            sw.Restart();
            await Client.StopContainerAsync(polite, timeoutSeconds: 10);
            Assert.True(sw.Elapsed.TotalSeconds < 5, $"stop took {sw.Elapsed}");
            Assert.Equal(0, (await Client.InspectContainerAsync(polite)).State.ExitCode);
        }
        finally
        {
            await Client.RemoveContainerAsync(stubborn, force: true);
            await Client.RemoveContainerAsync(polite, force: true);
        }
    }

    [Fact]
    public async Task RemoveRefusesARunningContainerUnlessForced()
    {
        var id = await Run(["sleep", "1000"]);
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.RemoveContainerAsync(id));
        Assert.Equal(ErrorKind.Conflict, e.Error.Kind);
        await Client.RemoveContainerAsync(id, force: true);
        await Assert.ThrowsAsync<ContainerOpsException>(() => Client.InspectContainerAsync(id));
    }

    [Fact]
    public async Task OnFailureRestartsTwiceWithBackoff()
    {
        var sw = Stopwatch.StartNew();
        var id = await Run(["sh", "-c", "echo run; exit 1"], r => r.HostConfig.RestartPolicy = new RestartPolicy { Name = "on-failure", MaximumRetryCount = 2 });
        try
        {
            ContainerDetails d;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            do
            {
                await Task.Delay(100);
                d = await Client.InspectContainerAsync(id);
            } while (!(d.State.Status == "exited" && d.RestartCount == 2) && DateTime.UtcNow < deadline);
            Assert.Equal("exited", d.State.Status);
            Assert.Equal(2, d.RestartCount);
            Assert.Equal(1, d.State.ExitCode);
            // Back-off 100 ms then 200 ms before the two restarts.
            Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(300), $"restarted too fast: {sw.Elapsed}");
            await Task.Delay(1000);
            Assert.Equal(2, (await Client.InspectContainerAsync(id)).RestartCount);
            Assert.Equal(3, (await Logs(Client, id)).Count(e => e.Log == "run\n"));
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task AlwaysRestartsButNotAfterAUserStop()
    {
        var id = await Run(["sh", "-c", "sleep 0.2; exit 0"], r => r.HostConfig.RestartPolicy = new RestartPolicy { Name = "always" });
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((await Client.InspectContainerAsync(id)).RestartCount < 2 && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.True((await Client.InspectContainerAsync(id)).RestartCount >= 2);

            await Client.StopContainerAsync(id, timeoutSeconds: 1);
            var stopped = await Client.InspectContainerAsync(id);
            await Task.Delay(1500);
            var later = await Client.InspectContainerAsync(id);
            Assert.False(later.State.Running);
            Assert.Equal(stopped.RestartCount, later.RestartCount);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task AutoRemoveContainersGoAwayWhenTheyExit()
    {
        var id = await Run(["true"], r => r.HostConfig.AutoRemove = true);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try { await Client.InspectContainerAsync(id); }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { return; }
            await Task.Delay(100);
        }
        Assert.Fail("the AutoRemove container is still there");
    }

    [Fact]
    public async Task TopStatsExecPauseKill()
    {
        var id = await Run(["sleep", "1000"]);
        try
        {
            var top = await Client.TopContainerAsync(id);
            Assert.Equal(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], top.Titles);
            Assert.Contains(top.Processes, p => p[^1].StartsWith("sleep 1000", StringComparison.Ordinal));

            var stats = await Client.StatsContainerAsync(id);
            Assert.True(stats.MemoryUsage > 0);

            var frames = new List<StreamFrame>();
            await foreach (var f in Client.ExecAsync(id, new ExecCreateRequest { Cmd = ["sh", "-c", "echo in-exec; exit 4"] })) frames.Add(f);
            Assert.Contains("in-exec", string.Concat(frames.Where(f => f.Stream == "stdout").Select(f => f.Data)));
            Assert.Equal(4, frames.Last(f => f.Stream == "exit").ExitCode);

            await Client.PauseContainerAsync(id);
            Assert.True((await Client.InspectContainerAsync(id)).State.Paused);
            await Client.UnpauseContainerAsync(id);
            Assert.False((await Client.InspectContainerAsync(id)).State.Paused);

            await Client.KillContainerAsync(id, "KILL");
            Assert.Equal(137, (await Client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }
}

/// <summary>Kill -9 of the daemon: containers keep running and the next daemon re-adopts them.</summary>
public class CrashTests
{
    [Fact]
    public async Task DaemonCrashThenRestartReadoptsContainers()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("crash/busybox:1");
        var c = daemon.Client;
        var running = (await c.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = "ticker", Image = image, Cmd = ["sh", "-c", "i=0; while true; do echo t$i; i=$((i+1)); sleep 0.2; done"],
        })).Id;
        await c.StartContainerAsync(running);
        var exits = (await c.CreateContainerAsync(new ContainerCreateRequest { Name = "exits", Image = image, Cmd = ["sh", "-c", "sleep 1; exit 7"] })).Id;
        await c.StartContainerAsync(exits);
        var pid = (await c.InspectContainerAsync(running)).State.Pid;
        Assert.True(pid > 0);

        daemon.Crash();
        await Task.Delay(2500); // "exits" ends while no daemon is there
        Assert.True(Directory.Exists($"/proc/{pid}"), "the container died with the daemon");
        daemon.Start();
        c = daemon.Client;

        var d = await c.InspectContainerAsync("ticker");
        Assert.True(d.State.Running, daemon.Output);
        Assert.Equal(pid, d.State.Pid);
        var e = await c.InspectContainerAsync("exits");
        Assert.Equal("exited", e.State.Status);
        Assert.Equal(7, e.State.ExitCode);
        Assert.Equal(7, (await c.WaitContainerAsync("exits")).StatusCode);

        // Logs kept flowing while the daemon was away, and still do.
        var before = 0;
        await foreach (var _ in c.GetLogsAsync("ticker")) before++;
        Assert.True(before >= 5, $"only {before} lines"); // a line each 0.2 s over the 2.5 s away, on a busy machine
        var after = 0;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); after <= before && DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            after = 0;
            await foreach (var _ in c.GetLogsAsync("ticker")) after++;
        }
        Assert.True(after > before);

        // The re-adopted container is still managed: stop and remove it.
        await c.StopContainerAsync("ticker", timeoutSeconds: 1);
        Assert.False((await c.InspectContainerAsync("ticker")).State.Running);
        Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z"), "the container still runs");
    }

    [Fact]
    public async Task AlwaysContainerIsStartedAgainAfterTheDaemonRestarts()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("crash/busybox:1");
        var c = daemon.Client;
        var id = (await c.CreateContainerAsync(new ContainerCreateRequest
        {
            Image = image, Cmd = ["sleep", "1000"], HostConfig = new HostConfig { RestartPolicy = new RestartPolicy { Name = "always" } },
        })).Id;
        await c.StartContainerAsync(id);
        var pid = (await c.InspectContainerAsync(id)).State.Pid;

        daemon.Crash();
        // The container dies while no daemon watches it.
        Process.GetProcessById(pid).Kill();
        await Task.Delay(500);
        daemon.Start();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        ContainerDetails d;
        do
        {
            d = await daemon.Client.InspectContainerAsync(id);
            if (d.State.Running && d.State.Pid != pid) break;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        Assert.True(d.State.Running, daemon.Output);
        Assert.NotEqual(pid, d.State.Pid);
    }
}
