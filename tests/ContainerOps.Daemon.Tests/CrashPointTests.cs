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

    private static async Task<string> CreateAsync(PrivateDaemon daemon, string name, List<string> cmd)
    {
        var image = await daemon.ImportBusyboxAsync("crash/busybox:1");
        return (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Name = name, Image = image, Cmd = cmd })).Id;
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
}
