using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>The test fixtures' scratch directory removes itself even when a failed test left something mounted in it
/// (a pod's namespace, a root filesystem), instead of leaving the mount and the directory behind.</summary>
public class TempDirTests
{
    [Fact]
    public void WhatWasLeftMountedUnderItIsDetachedAndTheDirectoryGoes()
    {
        var dir = new TempDir("co-tmpdir");
        var nested = Path.Combine(dir.Path, "r", "pods", "x");
        Directory.CreateDirectory(Path.Combine(nested, "inner"));
        Shell.Run("mount", $"-t tmpfs none {nested}");
        Directory.CreateDirectory(Path.Combine(nested, "deeper"));
        Shell.Run("mount", $"-t tmpfs none {Path.Combine(nested, "deeper")}");
        Assert.Contains(nested, File.ReadAllText("/proc/self/mountinfo"));

        dir.Dispose();

        Assert.DoesNotContain(dir.Path, File.ReadAllText("/proc/self/mountinfo"));
        Assert.False(Directory.Exists(dir.Path));
    }
}
