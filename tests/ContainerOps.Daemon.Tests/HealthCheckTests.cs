using ContainerOps.Client;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Health checks run in real containers (busybox under the built-in runtime; needs root). Intervals are short
/// through the container's own Healthcheck, never by changing the defaults.</summary>
[Collection("daemon")]
public class HealthCheckTests(DaemonFixture fx)
{
    private IContainerOpsClient Client => fx.Client;
    private const long Ms = 1_000_000;

    /// <summary>A container that runs until killed; its check passes while /tmp/ok exists.</summary>
    private async Task<string> StartAsync(HealthConfig? check, string image = DaemonFixture.Image, RestartPolicy? restart = null, string? name = null)
    {
        var request = new ContainerCreateRequest
        {
            Name = name ?? DaemonFixture.UniqueName("health"), Image = image, Cmd = ["sh", "-c", "touch /tmp/ok; exec sleep 1000"],
            Healthcheck = check,
        };
        if (restart is not null) request.HostConfig.RestartPolicy = restart;
        var id = (await Client.CreateContainerAsync(request)).Id;
        await Client.StartContainerAsync(id);
        return id;
    }

    private static HealthConfig Check(string command, long intervalMs = 100, int retries = 2, long timeoutMs = 2000) =>
        new() { Test = ["CMD-SHELL", command], Interval = intervalMs * Ms, Retries = retries, Timeout = timeoutMs * Ms };

    private async Task<ContainerDetails> UntilAsync(string id, Func<ContainerDetails, bool> done, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var d = await Client.InspectContainerAsync(id);
            if (done(d)) return d;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"health of {id[..12]} stayed {d.State.Health?.Status ?? "absent"}: " +
                    string.Join(" | ", d.State.Health?.Log.Select(l => $"{l.ExitCode} {l.Output.Trim()}") ?? []));
            await Task.Delay(50);
        }
    }

    private static async Task ExecAsync(IContainerOpsClient client, string id, params string[] cmd)
    {
        await foreach (var frame in client.ExecAsync(id, new ExecCreateRequest { Cmd = cmd.ToList() }))
            if (frame.Stream == "exit") Assert.Equal(0, frame.ExitCode);
    }

    private static bool Is(ContainerDetails d, string status) => d.State.Health?.Status == status;

    [Fact]
    public async Task StartingThenHealthyThenUnhealthyAfterRetriesWithOutputKept()
    {
        // Checks a second apart: the status read right after the start must still be the starting one however busy
        // the machine is, and the unhealthy one read before a third failure adds to the streak.
        var id = await StartAsync(Check("echo checked; test -f /tmp/ok", intervalMs: 1000, retries: 2));
        try
        {
            var first = await Client.InspectContainerAsync(id);
            Assert.Equal(HealthStatus.Starting, first.State.Health!.Status);
            Assert.Equal(["CMD-SHELL", "echo checked; test -f /tmp/ok"], first.Config.Healthcheck!.Test);
            Assert.Contains("(health: starting)", (await Client.ListContainersAsync(filters: new Dictionary<string, string> { ["id"] = id })).Single().Status);

            var healthy = await UntilAsync(id, d => Is(d, HealthStatus.Healthy));
            var last = healthy.State.Health!.Log[^1];
            Assert.Equal(0, last.ExitCode);
            Assert.Equal("checked\n", last.Output);
            Assert.True(last.End >= last.Start);
            var row = (await Client.ListContainersAsync(filters: new Dictionary<string, string> { ["health"] = "healthy" })).Single(c => c.Id == id);
            Assert.EndsWith("(healthy)", row.Status);

            await ExecAsync(Client, id, "rm", "/tmp/ok");
            var unhealthy = await UntilAsync(id, d => Is(d, HealthStatus.Unhealthy));
            Assert.InRange(unhealthy.State.Health!.FailingStreak, 2, 3);
            Assert.Equal(1, unhealthy.State.Health.Log[^1].ExitCode);
            Assert.InRange(unhealthy.State.Health.Log.Count, 3, 5);
            Assert.True(unhealthy.State.Running, "an unhealthy container keeps running");
            Assert.EndsWith("(unhealthy)", (await Client.ListContainersAsync(filters: new Dictionary<string, string> { ["id"] = id })).Single().Status);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task FailuresInTheStartPeriodDoNotCountAndTheStartIntervalApplies()
    {
        // Fails for the first ~1.5 s (no /tmp/ready yet), with retries 1: only the start period keeps it from unhealthy.
        var check = new HealthConfig
        {
            Test = ["CMD-SHELL", "test -f /tmp/ready"], Interval = 60_000 * Ms, StartInterval = 100 * Ms, StartPeriod = 10_000 * Ms, Retries = 1,
        };
        var request = new ContainerCreateRequest
        {
            Name = DaemonFixture.UniqueName("health"), Image = DaemonFixture.Image, Cmd = ["sh", "-c", "sleep 1.5; touch /tmp/ready; exec sleep 1000"],
            Healthcheck = check,
        };
        var id = (await Client.CreateContainerAsync(request)).Id;
        await Client.StartContainerAsync(id);
        try
        {
            // The interval is a minute: only the start interval can make it healthy within seconds.
            var healthy = await UntilAsync(id, d => Is(d, HealthStatus.Healthy), seconds: 10);
            var log = healthy.State.Health!.Log;
            Assert.Contains(log, l => l.ExitCode == 1);
            Assert.Equal(0, healthy.State.Health.FailingStreak);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task ATimedOutCheckFailsWithDockersMessage()
    {
        var id = await StartAsync(Check("sleep 5", intervalMs: 100, retries: 1, timeoutMs: 300));
        try
        {
            var d = await UntilAsync(id, d => Is(d, HealthStatus.Unhealthy));
            var last = d.State.Health!.Log[^1];
            Assert.Equal(-1, last.ExitCode);
            Assert.Equal("Health check exceeded timeout (300ms)", last.Output);
            Assert.True(last.End - last.Start < TimeSpan.FromSeconds(3), $"the check ran {last.End - last.Start}");
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task LongOutputIsTruncatedAsDockerDoes()
    {
        var id = await StartAsync(Check("head -c 5000 /dev/zero | tr '\\0' x", retries: 1));
        try
        {
            var output = (await UntilAsync(id, d => Is(d, HealthStatus.Healthy))).State.Health!.Log[^1].Output;
            Assert.Equal(new string('x', 4096) + "...", output);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task UnhealthyDoesNotRestartAndAStopShowsUnhealthy()
    {
        // The first check comes an interval after each start: a long one, so that the status right after the second
        // start is still the starting it resets to, however busy the machine is.
        var id = await StartAsync(Check("false", intervalMs: 3000, retries: 1), restart: new RestartPolicy { Name = "unless-stopped" });
        try
        {
            var d = await UntilAsync(id, d => Is(d, HealthStatus.Unhealthy));
            var pid = d.State.Pid;
            await Task.Delay(500);
            d = await Client.InspectContainerAsync(id);
            Assert.True(d.State.Running);
            Assert.Equal(pid, d.State.Pid);
            Assert.Equal(0, d.RestartCount);

            await Client.StopContainerAsync(id, 1);
            var stopped = await Client.InspectContainerAsync(id);
            Assert.Equal(HealthStatus.Unhealthy, stopped.State.Health!.Status);
            var entries = stopped.State.Health.Log.Count;
            await Task.Delay(400);
            Assert.Equal(entries, (await Client.InspectContainerAsync(id)).State.Health!.Log.Count);

            // A new run starts over as starting, keeping the log.
            await Client.StartContainerAsync(id);
            var restarted = await Client.InspectContainerAsync(id);
            Assert.Equal(HealthStatus.Starting, restarted.State.Health!.Status);
            Assert.Equal(0, restarted.State.Health.FailingStreak);
            Assert.NotEmpty(restarted.State.Health.Log);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task TheImagesHealthcheckAppliesUnlessTurnedOff()
    {
        var dir = Directory.CreateTempSubdirectory("co-health-").FullName;
        var image = "health/checked:" + Guid.NewGuid().ToString("N")[..6];
        try
        {
            File.WriteAllText(Path.Combine(dir, "Dockerfile"),
                $"FROM {DaemonFixture.Image}\nHEALTHCHECK --interval=100ms --retries=1 CMD [\"test\", \"-f\", \"/tmp/ok\"]\n");
            var (tar, name) = await BuildContext.PackAsync(dir, null);
            try
            {
                await using var input = File.OpenRead(tar);
                await Client.BuildImageAsync(input, new ImageBuildRequest { Dockerfile = name, Tags = [image] });
            }
            finally { File.Delete(tar); }

            var inherited = await StartAsync(null, image);
            var off = await StartAsync(new HealthConfig { Test = ["NONE"] }, image);
            var slower = await StartAsync(new HealthConfig { Interval = 60_000 * Ms }, image);
            try
            {
                var d = await UntilAsync(inherited, d => Is(d, HealthStatus.Healthy));
                Assert.Equal(["CMD", "test", "-f", "/tmp/ok"], d.Config.Healthcheck!.Test);
                Assert.Null((await Client.InspectContainerAsync(off)).State.Health);
                Assert.DoesNotContain("health", (await Client.ListContainersAsync(filters: new Dictionary<string, string> { ["id"] = off })).Single().Status);
                // Merged field by field: the image's test, the request's interval.
                var s = await Client.InspectContainerAsync(slower);
                Assert.Equal(["CMD", "test", "-f", "/tmp/ok"], s.Config.Healthcheck!.Test);
                Assert.Equal(60_000 * Ms, s.Config.Healthcheck.Interval);
                Assert.Equal(100 * Ms, (await Client.InspectImageAsync(image)).Config.Healthcheck!.Interval);
            }
            finally
            {
                foreach (var id in new[] { inherited, off, slower }) await Client.RemoveContainerAsync(id, force: true);
            }
        }
        finally
        {
            try { await Client.RemoveImageAsync(image, force: true); } catch (ContainerOpsException) { }
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task BadHealthchecksAreRefusedAndLeaveNothing()
    {
        var name = DaemonFixture.UniqueName("health");
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = name, Image = DaemonFixture.Image, Cmd = ["true"], Healthcheck = new HealthConfig { Test = ["CMD-SHELL", "true"], Interval = 10 },
        }));
        Assert.Equal("InvalidHealthcheck", e.Error.Id);
        Assert.Equal("Healthcheck.Interval", e.Error.Field);
        Assert.Equal(name, e.Error.Target);
        Assert.DoesNotContain(await Client.ListContainersAsync(all: true), c => c.Name == name);
    }

    [Fact]
    public async Task ADaemonRestartKeepsTheStatusAndResumesChecking()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("health/busybox:1");
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = "healthy", Image = image, Cmd = ["sh", "-c", "touch /tmp/ok; exec sleep 1000"], Healthcheck = Check("test -f /tmp/ok", retries: 1),
        })).Id;
        await daemon.Client.StartContainerAsync(id);
        async Task<ContainerDetails> Until(Func<ContainerDetails, bool> done)
        {
            for (var i = 0; i < 200; i++)
            {
                var d = await daemon.Client.InspectContainerAsync(id);
                if (done(d)) return d;
                await Task.Delay(50);
            }
            throw new TimeoutException(daemon.Output);
        }
        await Until(d => Is(d, HealthStatus.Healthy));
        daemon.Crash();
        daemon.Start();
        var adopted = await daemon.Client.InspectContainerAsync(id);
        Assert.True(adopted.State.Running, daemon.Output);
        Assert.Equal(HealthStatus.Healthy, adopted.State.Health!.Status);
        var before = adopted.State.Health.Log[^1].Start;
        // Checking resumed: new results arrive, and a failure is noticed.
        await Until(d => d.State.Health!.Log[^1].Start > before);
        await ExecAsync(daemon.Client, id, "rm", "/tmp/ok");
        await Until(d => Is(d, HealthStatus.Unhealthy));
    }
}
