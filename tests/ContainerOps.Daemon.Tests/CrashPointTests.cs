using System.Diagnostics;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>
/// The daemon killed (SIGKILL, at a crash point: CONTAINEROPS_CRASH_AT) in the windows the chaos harness found, then
/// started again, and shims killed under running containers: the daemon must report the truth, run no second process
/// for a container, and leave nothing behind.
/// </summary>
public class CrashPointTests
{
    private static readonly List<string> Sleeper = ["sh", "-c", "trap 'exit 7' TERM; echo up; while :; do sleep 0.1; done"];

    private static Dictionary<string, string> At(string point) => new() { ["CONTAINEROPS_CRASH_AT"] = point };

    /// <summary>Restarts the daemon armed with <paramref name="point"/>, runs <paramref name="op"/> (which the crash cuts
    /// off, or which makes the daemon reach the point later), waits for the crash, and starts it again unarmed.</summary>
    private static async Task CrashAtAsync(PrivateDaemon daemon, string point, Func<IContainerOpsClient, Task> op)
    {
        daemon.Crash();
        daemon.Start(At(point));
        try { await op(daemon.Client); }
        catch (Exception e) when (e is ContainerOpsException or IOException or HttpRequestException) { }
        Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(30)), $"the daemon did not reach crash point {point}: {daemon.Output}");
        daemon.Crash();
        daemon.Start();
    }

    private static async Task<string> CreateAsync(PrivateDaemon daemon, string name, List<string> cmd, HostConfig? host = null)
    {
        var image = await daemon.ImportBusyboxAsync("crash/busybox:1");
        return (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Name = name, Image = image, Cmd = cmd, HostConfig = host ?? new() })).Id;
    }

    /// <summary>Run/create shims of this daemon's container <paramref name="id"/> (their plan is in its run root).</summary>
    private static List<int> Shims(PrivateDaemon daemon, string id)
    {
        var plan = Path.Combine(daemon.RunRoot, "runtime", id, "plan");
        var found = new List<int>();
        foreach (var p in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(p), out var pid)) continue;
            try
            {
                var argv = File.ReadAllText(p + "/cmdline").Split('\0');
                if (argv.Length >= 3 && argv[0].EndsWith("containerops-shim", StringComparison.Ordinal) && argv[2] == plan) found.Add(pid);
            }
            catch (IOException) { }
        }
        return found;
    }

    private static List<string> Cgroups(PrivateDaemon daemon, string id, string parentSuffix = "") =>
        Directory.GetDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, daemon.CgroupParent + parentSuffix, id)).Where(Directory.Exists).ToList();

    private static bool Mounted(PrivateDaemon daemon, string id) =>
        File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == Path.Combine(daemon.Root, "images", "containers", id, "merged"));

    /// <summary>Nothing of a container that does not run: no shim, cgroup, runtime state or mount.</summary>
    private static void AssertNothingRuns(PrivateDaemon daemon, string id)
    {
        Assert.Empty(Shims(daemon, id));
        Assert.Empty(Cgroups(daemon, id));
        Assert.False(Directory.Exists(Path.Combine(daemon.RunRoot, "runtime", id)), "runtime state is left");
        Assert.False(Mounted(daemon, id), "the root filesystem is still mounted");
    }

    [Fact]
    public async Task AStartCutOffWhileTheShimSetsUpIsAdoptedAsRunningAndNotStartedTwice()
    {
        using var daemon = new PrivateDaemon();
        var id = await CreateAsync(daemon, "cut-after-shim", Sleeper);
        await CrashAtAsync(daemon, "runtime-after-shim", c => c.StartContainerAsync(id));

        var d = await daemon.Client.InspectContainerAsync(id);
        Assert.True(d.State.Running, $"reported {d.State.Status} while its process runs under its shim: {daemon.Output}");
        Assert.NotNull(d.State.StartedAt);
        var pid = d.State.Pid;
        Assert.True(Directory.Exists($"/proc/{pid}"));
        Assert.Single(Shims(daemon, id));

        // A start is a no-op: the process is not killed and replaced.
        await daemon.Client.StartContainerAsync(id);
        Assert.Equal(pid, (await daemon.Client.InspectContainerAsync(id)).State.Pid);
        Assert.True(Directory.Exists($"/proc/{pid}"));
        Assert.Single(Shims(daemon, id));

        await daemon.Client.StopContainerAsync(id, 10);
        Assert.Equal(7, (await daemon.Client.InspectContainerAsync(id)).State.ExitCode);
        AssertNothingRuns(daemon, id);
    }

    [Fact]
    public async Task AStartCutOffBeforeTheShimLeavesNoCgroupMountOrRuntimeState()
    {
        using var daemon = new PrivateDaemon();
        var id = await CreateAsync(daemon, "cut-before-shim", Sleeper);
        await CrashAtAsync(daemon, "runtime-before-shim", c => c.StartContainerAsync(id));

        var d = await daemon.Client.InspectContainerAsync(id);
        Assert.False(d.State.Running);
        Assert.Equal("created", d.State.Status);
        AssertNothingRuns(daemon, id);

        await daemon.Client.StartContainerAsync(id);
        Assert.True((await daemon.Client.InspectContainerAsync(id)).State.Running);
        Assert.Single(Shims(daemon, id));
    }

    [Fact]
    public async Task AStartCutOffAfterTheLaunchIsRunningWithItsStartTimeAndRootfs()
    {
        using var daemon = new PrivateDaemon();
        var id = await CreateAsync(daemon, "cut-after-launch", Sleeper);
        await CrashAtAsync(daemon, "daemon-after-launch", c => c.StartContainerAsync(id));

        var d = await daemon.Client.InspectContainerAsync(id);
        Assert.True(d.State.Running);
        Assert.NotNull(d.State.StartedAt);
        Assert.Equal(Path.Combine(daemon.Root, "images", "containers", id, "merged"), d.RootfsPath);
        Assert.Contains("Up ", (await daemon.Client.ListContainersAsync()).Single(s => s.Id == id).Status);
    }

    [Fact]
    public async Task AnExitKeepsItsCodeWhenTheDaemonDiesWhileRecordingIt()
    {
        using var daemon = new PrivateDaemon();
        var id = await CreateAsync(daemon, "exit-recorded", ["sh", "-c", "sleep 0.5; exit 7"]);
        await CrashAtAsync(daemon, "daemon-exit-recorded", async c =>
        {
            await c.StartContainerAsync(id);
            await c.WaitContainerAsync(id);
        });

        var d = await daemon.Client.InspectContainerAsync(id);
        Assert.Equal("exited", d.State.Status);
        Assert.Equal(7, d.State.ExitCode);
        AssertNothingRuns(daemon, id);
    }

    [Fact]
    public async Task AnOnFailureLimitHoldsWhenTheDaemonDiesWhileRecordingAnExit()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("crash/busybox:1");
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = "limit", Image = image, Cmd = ["sh", "-c", "echo run; sleep 0.3; exit 3"],
            HostConfig = new HostConfig { RestartPolicy = new RestartPolicy { Name = "on-failure", MaximumRetryCount = 1 } },
        })).Id;
        await CrashAtAsync(daemon, "daemon-exit-recorded", c => c.StartContainerAsync(id));

        // The start after the crash is the one restart on-failure:1 allows: two runs in all, not three.
        ContainerDetails d;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            await Task.Delay(1500);
            d = await daemon.Client.InspectContainerAsync(id);
        } while ((d.State.Running || d.State.Restarting) && DateTime.UtcNow < deadline);
        Assert.Equal(("exited", 3, 1), (d.State.Status, d.State.ExitCode, d.RestartCount));
        var runs = 0;
        await foreach (var e in daemon.Client.GetLogsAsync(id)) if (e.Log == "run\n") runs++;
        Assert.Equal(2, runs);
    }

    [Fact]
    public async Task ARemovalCutOffIsFinishedAtTheNextStartAndFreesTheAddress()
    {
        using var daemon = new PrivateDaemon();
        var id = await CreateAsync(daemon, "cut-removal", Sleeper, new HostConfig { NetworkMode = "bridge" });
        await daemon.Client.StartContainerAsync(id);
        Assert.Contains(id, (await daemon.Client.InspectNetworkAsync("bridge")).Containers.Keys);
        var pid = (await daemon.Client.InspectContainerAsync(id)).State.Pid;
        await CrashAtAsync(daemon, "daemon-removing", c => c.RemoveContainerAsync(id, force: true));

        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.InspectContainerAsync(id));
        Assert.Equal(ErrorKind.NotFound, e.Error.Kind);
        for (var i = 0; i < 50 && Directory.Exists($"/proc/{pid}"); i++) await Task.Delay(100);
        Assert.False(Directory.Exists($"/proc/{pid}"), "its process still runs");
        AssertNothingRuns(daemon, id);
        Assert.False(Directory.Exists(Path.Combine(daemon.Root, "containers", id)), "its record is left");
        Assert.False(Directory.Exists(Path.Combine(daemon.Root, "images", "containers", id)), "its layer is left");
        Assert.DoesNotContain(id, (await daemon.Client.InspectNetworkAsync("bridge")).Containers.Keys);
        Assert.DoesNotContain(File.ReadAllText(Directory.GetFiles(Path.Combine(daemon.Root, "networks")).Single(f => File.ReadAllText(f).Contains("\"IsDefault\": true"))), id);
    }

    /// <summary>A container removed when it ends (--rm) keeps no record of its end or of its removal: cut off at either,
    /// the next daemon removes it, with its anonymous volume, and nothing of it runs or stays.</summary>
    [Theory]
    [InlineData("daemon-exit-recorded")]
    [InlineData("daemon-removing")]
    public async Task AnAutoRemovedContainerCutOffAtItsEndIsRemovedByTheNextDaemon(string point)
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("crash/busybox:1");
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = "auto-" + point, Image = image, Cmd = ["sh", "-c", "sleep 0.3"],
            HostConfig = new HostConfig { AutoRemove = true, Binds = ["/scratch"] },
        })).Id;
        var volume = Assert.Single((await daemon.Client.InspectContainerAsync(id)).Mounts).Name!;
        await CrashAtAsync(daemon, point, c => c.StartContainerAsync(id));

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await daemon.Client.ListContainersAsync(all: true)).Any(s => s.Id == id) && DateTime.UtcNow < deadline) await Task.Delay(100);
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.InspectContainerAsync(id));
        Assert.Equal(ErrorKind.NotFound, e.Error.Kind);
        AssertNothingRuns(daemon, id);
        Assert.False(Directory.Exists(Path.Combine(daemon.Root, "containers", id)), "its record is left");
        Assert.False(Directory.Exists(Path.Combine(daemon.Root, "images", "containers", id)), "its layer is left");
        Assert.DoesNotContain(volume, (await daemon.Client.ListVolumesAsync()).Select(v => v.Name));
    }

    /// <summary>A start on a network is a create (the namespace is joined to the network) and then a release; cut off
    /// between the two, the next daemon removes the created init, which never ran its command. Cut off again right
    /// after that kill, the daemon after it must not take the kill for the container's exit (the chaos harness saw a
    /// sleeper reported as exited with 137): the container is created, as before the start, and starts again.</summary>
    [Fact]
    public async Task AStartCutOffBeforeTheReleaseStaysCreatedWhenItsCleanupIsCutOffToo()
    {
        using var daemon = new PrivateDaemon();
        var id = await CreateAsync(daemon, "cut-created", Sleeper, new HostConfig { NetworkMode = "bridge" });
        daemon.Crash();
        daemon.Start(At("daemon-after-create"));
        try { await daemon.Client.StartContainerAsync(id); }
        catch (Exception e) when (e is ContainerOpsException or IOException or HttpRequestException) { }
        Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(30)), $"the daemon did not reach daemon-after-create: {daemon.Output}");
        Assert.NotEmpty(Shims(daemon, id)); // its shim, and the created init (still the shim's program) waiting for its release
        // The next daemon's recovery removes the created init and is killed right after the kill.
        daemon.Launch(At("runtime-delete-after-kill"));
        Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(30)), $"the daemon did not reach runtime-delete-after-kill: {daemon.Output}");
        daemon.Crash();
        daemon.Start();

        var d = await daemon.Client.InspectContainerAsync(id);
        Assert.True(d.State.Status == "created" && d.State.ExitCode == 0, $"reported {d.State.Status} ({d.State.ExitCode}) for a start that never ran its command: {daemon.Output}");
        for (var i = 0; i < 50 && Shims(daemon, id).Count > 0; i++) await Task.Delay(100);
        AssertNothingRuns(daemon, id);
        await daemon.Client.StartContainerAsync(id);
        Assert.True((await daemon.Client.InspectContainerAsync(id)).State.Running);
        await daemon.Client.RemoveContainerAsync(id, force: true);
    }

    [Fact]
    public async Task AContainerWhoseShimIsKilledIsReportedExitedWith137()
    {
        using var daemon = new PrivateDaemon();
        var id = await CreateAsync(daemon, "shim-killed", Sleeper);
        await daemon.Client.StartContainerAsync(id);
        var pid = (await daemon.Client.InspectContainerAsync(id)).State.Pid;
        var shim = Assert.Single(Shims(daemon, id));
        Process.GetProcessById(shim).Kill();

        ContainerDetails d;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((d = await daemon.Client.InspectContainerAsync(id)).State.Running && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal("exited", d.State.Status);
        Assert.Equal(137, d.State.ExitCode);
        for (var i = 0; i < 50 && Directory.Exists($"/proc/{pid}"); i++) await Task.Delay(100);
        Assert.False(Directory.Exists($"/proc/{pid}"), "the container's process outlived its shim");
        AssertNothingRuns(daemon, id);
    }

    [Fact]
    public async Task ABuildCutOffByTheDaemonsEndLeavesNothingBehind()
    {
        using var daemon = new PrivateDaemon();
        await daemon.ImportBusyboxAsync("crash/busybox:1");
        var dir = Directory.CreateTempSubdirectory("co-crashbuild-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM crash/busybox:1\nRUN sleep 60\n");
            var (tar, name) = await BuildContext.PackAsync(dir, null);
            await CrashAtAsync(daemon, "build-step-running", async c =>
            {
                await using var input = File.OpenRead(tar);
                await c.BuildImageAsync(input, new ImageBuildRequest { Dockerfile = name, Tags = ["crash/built:1"] });
            });
            File.Delete(tar);

            var buildRuntime = Path.Combine(daemon.RunRoot, "build-runtime");
            Assert.False(Directory.Exists(buildRuntime), "the build runtime's state is left");
            Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4].StartsWith(daemon.Root + "/", StringComparison.Ordinal));
            Assert.Empty(Directory.GetDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, daemon.CgroupParent + "-build"))
                .Where(Directory.Exists).SelectMany(Directory.GetDirectories));
            Assert.Empty(Directory.GetDirectories(Path.Combine(daemon.Root, "images", "containers")));
            var contexts = Path.Combine(daemon.Root, "images", "build-contexts");
            Assert.True(!Directory.Exists(contexts) || Directory.GetFileSystemEntries(contexts).Length == 0, "the build context is left");
            Assert.DoesNotContain(Directory.GetDirectories("/proc"), p =>
            {
                try { return File.ReadAllText(p + "/cmdline").Contains(buildRuntime, StringComparison.Ordinal); }
                catch (IOException) { return false; }
            });
        }
        finally { Directory.Delete(dir, true); }
    }
}
