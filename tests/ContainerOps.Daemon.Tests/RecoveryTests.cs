using System.Diagnostics;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>A daemon that starts after a crash at an awkward moment tells the truth about its containers.</summary>
public class RecoveryTests
{
    [Fact]
    public async Task LeftoversOfAnInterruptedCreateAreCleanedAndTheRestIsKept()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("recovery/busybox:1");
        var kept = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Name = "kept", Image = image, Cmd = ["true"] })).Id;
        daemon.Crash();

        // A create that died before writing its record, and a temp file of an interrupted atomic write.
        var orphan = Path.Combine(daemon.Root, "containers", new string('a', 64));
        Directory.CreateDirectory(orphan);
        File.WriteAllText(Path.Combine(daemon.Root, "containers", kept, ".config.json.999.1.tmp"), "{\"Id\":");

        daemon.Start();
        Assert.False(Directory.Exists(orphan));
        var all = await daemon.Client.ListContainersAsync(all: true);
        var row = Assert.Single(all);
        Assert.Equal(kept, row.Id);
        Assert.Equal("created", (await daemon.Client.InspectContainerAsync("kept")).State.Status);
    }

    [Fact]
    public async Task RuntimeStateThatNoContainerOwnsGoesAtStart()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("recovery/busybox:1");
        var running = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Name = "running", Image = image, Cmd = ["sleep", "1000"] })).Id;
        await daemon.Client.StartContainerAsync(running);
        daemon.Crash();
        // A removal cut off after the record went, before the runtime's state did (as a daemon killed at random left it).
        var orphan = Path.Combine(daemon.RunRoot, "runtime", new string('b', 64));
        Directory.CreateDirectory(orphan);

        daemon.Start();
        Assert.False(Directory.Exists(orphan));
        Assert.True(Directory.Exists(Path.Combine(daemon.RunRoot, "runtime", running)));
        Assert.True((await daemon.Client.InspectContainerAsync("running")).State.Running);
        Assert.Contains("removing the runtime state of " + new string('b', 64), daemon.Output);
    }

    [Fact]
    public async Task ARunningContainerWithADamagedRecordIsStoppedAndItsRecordKept()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("recovery/busybox:1");
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Name = "damaged", Image = image, Cmd = ["sleep", "1000"] })).Id;
        await daemon.Client.StartContainerAsync(id);
        var pid = (await daemon.Client.InspectContainerAsync(id)).State.Pid;
        daemon.Crash();
        File.WriteAllText(Path.Combine(daemon.Root, "containers", id, "config.json"), "{\"Id\": \"" + id + "\", \"Na");

        daemon.Start();
        // Nothing runs unmanaged: the process and its cgroup are gone; the damaged record is kept for a look.
        for (var i = 0; i < 50 && Directory.Exists($"/proc/{pid}"); i++) await Task.Delay(100);
        Assert.False(Directory.Exists($"/proc/{pid}"), "the container still runs without a record: " + daemon.Output);
        Assert.Empty(await daemon.Client.ListContainersAsync(all: true));
        var kept = Assert.Single(Directory.GetDirectories(Path.Combine(daemon.Root, "damaged")));
        Assert.StartsWith(id, Path.GetFileName(kept));
        Assert.StartsWith("{\"Id\"", File.ReadAllText(Path.Combine(kept, "config.json")));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/pids/{daemon.CgroupParent}/{id}"), "the container's cgroup is left");
        Assert.DoesNotContain(File.ReadAllLines("/proc/mounts"), m => m.Contains(id));
    }

    [Fact]
    public async Task AfterARebootRunningContainersAreReportedExited()
    {
        using var daemon = new PrivateDaemon();
        var image = await daemon.ImportBusyboxAsync("recovery/busybox:1");
        var id = (await daemon.Client.CreateContainerAsync(new ContainerCreateRequest { Name = "booted", Image = image, Cmd = ["sleep", "1000"] })).Id;
        await daemon.Client.StartContainerAsync(id);
        var pid = (await daemon.Client.InspectContainerAsync(id)).State.Pid;
        daemon.Crash();

        // A reboot: every process is gone and the run root (tmpfs) is empty.
        var shim = int.Parse(File.ReadAllText($"/proc/{pid}/stat").Split(' ')[3]);
        Process.GetProcessById(pid).Kill();
        if (File.ReadAllText($"/proc/{shim}/cmdline").Contains("containerops-shim")) Process.GetProcessById(shim).Kill();
        for (var i = 0; i < 50 && Directory.Exists($"/proc/{shim}"); i++) await Task.Delay(100);
        Directory.Delete(Path.Combine(daemon.RunRoot, "runtime"), recursive: true);

        daemon.Start();
        var d = await daemon.Client.InspectContainerAsync(id);
        Assert.False(d.State.Running, daemon.Output);
        Assert.Equal(0, d.State.Pid);
        Assert.NotEqual(0, d.State.ExitCode);
        Assert.NotNull(d.State.FinishedAt);

        // And it can be started again.
        await daemon.Client.StartContainerAsync(id);
        Assert.True((await daemon.Client.InspectContainerAsync(id)).State.Running);
    }
}
