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
}
