using ContainerOps.Core.IO;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

public class AtomicFileTests
{
    /// <summary>.NET cannot open a directory as a file: the directory fsync used to throw inside and be swallowed, so no
    /// rename was ever made durable. It goes through libc now, and a failure is an error.</summary>
    [Fact]
    public void Directory_and_file_system_syncs_reach_the_kernel_and_fail_loudly()
    {
        using var dir = new TempDir("co-sync");
        AtomicFile.WriteAllText(Path.Combine(dir.Path, "f"), "x");
        AtomicFile.SyncDirectory(dir.Path);
        AtomicFile.SyncFileSystem(dir.Path);
        var missing = Path.Combine(dir.Path, "missing");
        Assert.Contains("missing", Assert.Throws<IOException>(() => AtomicFile.SyncDirectory(missing)).Message);
        Assert.Throws<IOException>(() => AtomicFile.SyncFileSystem(missing));
    }

    /// <summary>The temporary file is made with O_EXCL (no truncation, which ext4 follows with a write-back at close):
    /// one a crashed writer of the same process and thread left behind is replaced, not an error.</summary>
    [Fact]
    public void A_crashed_writer_s_temporary_file_does_not_stop_the_next_write()
    {
        using var dir = new TempDir("co-atomic");
        var path = Path.Combine(dir.Path, "state.json");
        var leftover = Path.Combine(dir.Path, $".state.json.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        File.WriteAllText(leftover, "half a record from before the crash, longer than the next one");
        AtomicFile.WriteAllText(path, "{}");
        Assert.Equal("{}", File.ReadAllText(path));
        AtomicFile.WriteAllBytes(path, "{\"a\":1}"u8, durable: false);
        Assert.Equal("{\"a\":1}", File.ReadAllText(path));
        Assert.Equal(["state.json"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void DeferredDelete_frees_the_name_at_once_and_deletes_the_tree_in_the_background()
    {
        using var dir = new TempDir("co-deferred");
        var tree = Path.Combine(dir.Path, "container");
        Directory.CreateDirectory(Path.Combine(tree, "upper", "etc"));
        File.WriteAllText(Path.Combine(tree, "upper", "etc", "hosts"), "x");
        DeferredDelete.Directory(tree);
        Assert.False(Directory.Exists(tree));
        Directory.CreateDirectory(tree); // the name is free for a new container at once
        Assert.True(DeferredDelete.WaitForPending(TimeSpan.FromSeconds(10)));
        Assert.Equal([tree], Directory.GetDirectories(dir.Path));
        DeferredDelete.Directory(Path.Combine(dir.Path, "missing")); // nothing to do

        // What a crash left under a hidden name goes at the next sweep; other names stay.
        Directory.CreateDirectory(Path.Combine(dir.Path, DeferredDelete.Prefix + "cut-off", "upper"));
        DeferredDelete.Sweep(dir.Path);
        Assert.Equal([tree], Directory.GetDirectories(dir.Path));
    }
}
