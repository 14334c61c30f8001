using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
using ContainerOps.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Daemon.Tests;

/// <summary>The chaos harness once read an inspect answer saying Running false and Status "running": the answer was the
/// record's own state object, which the exit being recorded changed field by field while it was written out.</summary>
public class StateSnapshotTests
{
    [Fact]
    public async Task AnInspectAnswerIsNotChangedByTheExitThatFollowsIt()
    {
        using var dir = new TempDir("co-snap");
        var options = new DaemonOptions
        {
            Root = Path.Combine(dir.Path, "root"), RunRoot = Path.Combine(dir.Path, "r"),
            CgroupParent = "containerops-test-" + Guid.NewGuid().ToString("N")[..8], ShimPath = PrivateDaemon.ShimPath,
        };
        // Networks of its own (none is used here): nothing of the host's default bridge or table is touched.
        var suffix = Guid.NewGuid().ToString("N")[..6];
        options.BridgeName = "cosnap" + suffix;
        options.BridgePrefix = "cs" + suffix[..4] + "-";
        options.NftTable = "containerops_snap_" + suffix;
        using var networking = new ContainerNetworking(options, NullLogger<ContainerNetworking>.Instance);
        var manager = new ContainerManager(options, NullLogger<ContainerManager>.Instance, networking, new ContainerVolumes(options, NullLogger<ContainerVolumes>.Instance));
        try
        {
            var tar = Busybox.CreateRootfsTar(Path.Combine(dir.Path, "busybox.tar"));
            await using (var input = File.OpenRead(tar)) await manager.ImageEngine.ImportRootfsAsync(input, "snap/busybox:1", []);
            var id = (await manager.CreateAsync(new ContainerCreateRequest { Image = "snap/busybox:1", Cmd = ["sh", "-c", "sleep 0.5; exit 3"] }, "snap")).Id;
            await manager.StartAsync(id);
            var running = manager.Inspect(id).State;
            Assert.Equal(("running", true), (running.Status, running.Running));

            Assert.Equal(3, (await manager.WaitAsync(id, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
            // The answer given while it ran is still whole; the exit shows, whole, in a new one.
            Assert.Equal(("running", true, 0, (DateTimeOffset?)null), (running.Status, running.Running, running.ExitCode, running.FinishedAt));
            var exited = manager.Inspect(id).State;
            Assert.Equal(("exited", false, 3), (exited.Status, exited.Running, exited.ExitCode));
            Assert.NotNull(exited.FinishedAt);
        }
        finally
        {
            foreach (var (id, _, _) in manager.AllContainers())
                try { await manager.RemoveAsync(id, force: true); } catch (ContainerOpsException) { }
            manager.Dispose();
            foreach (var hierarchy in Directory.GetDirectories("/sys/fs/cgroup"))
                try { if (Directory.Exists(Path.Combine(hierarchy, options.CgroupParent))) Directory.Delete(Path.Combine(hierarchy, options.CgroupParent)); }
                catch (IOException) { }
        }
    }
}
