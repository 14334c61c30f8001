using ContainerOps.Images.Snapshots;

namespace ContainerOps.Images.Tests;

public class MountTests
{
    [Fact]
    public async Task TwoContainersShareASnapshot_WritesStayPrivate()
    {
        using var f = new StoreFixture();
        var tar = Archives.BusyboxLayer(f.Scratch(""));
        var img = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), "bb", [])).Images);

        var r1 = f.Service.MountContainerRootfs("ctr-one", img.Id);
        var r2 = f.Service.MountContainerRootfs("ctr-two", "bb");
        Assert.NotEqual(r1, r2);
        Assert.Equal(r1, f.Service.MountContainerRootfs("ctr-one", img.Id)); // idempotent
        Assert.True(SnapshotStore.IsMountPoint(r1) && SnapshotStore.IsMountPoint(r2));
        Assert.Single(Directory.GetDirectories(Path.Combine(f.Root, "snapshots")));

        File.WriteAllText(Path.Combine(r1, "etc/only-in-one"), "1");
        File.Delete(Path.Combine(r1, "etc/group"));
        Assert.False(File.Exists(Path.Combine(r2, "etc/only-in-one")));
        Assert.True(File.Exists(Path.Combine(r2, "etc/group")));
        Assert.True(File.Exists(Path.Combine(f.Root, "containers/ctr-one/upper/etc/only-in-one")));

        // The writable layer survives an unmount and a remount.
        f.Service.UnmountContainerRootfs("ctr-one");
        Assert.False(SnapshotStore.IsMountPoint(r1));
        f.Service.UnmountContainerRootfs("ctr-one"); // twice is fine
        Assert.Equal(r1, f.Service.MountContainerRootfs("ctr-one", img.Id));
        Assert.True(File.Exists(Path.Combine(r1, "etc/only-in-one")));

        f.Service.UnmountContainerRootfs("ctr-one");
        f.Service.RemoveContainerLayer("ctr-two");
        f.Service.RemoveContainerLayer("ctr-one");
        Assert.False(Directory.Exists(Path.Combine(f.Root, "containers/ctr-one")));
        Assert.Empty(f.Leaks());
        // The image's snapshot is untouched by the containers.
        Assert.True(File.Exists(Path.Combine(f.Root, "snapshots", Archives.DiffId(tar)[7..], "fs/etc/group")));
    }

    /// <summary>A layer that goes with its container is mounted volatile (never synced, not even at its unmount), and
    /// mounts again after an unmount (overlay refuses a volatile upper it finds the marker of, unless it goes).</summary>
    [Fact]
    public async Task ATransientLayerIsVolatileAndMountsAgain()
    {
        using var f = new StoreFixture();
        var tar = Archives.BusyboxLayer(f.Scratch(""));
        var img = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), "bb", [])).Images);
        string Options(string merged) => File.ReadLines("/proc/self/mountinfo").Single(l => l.Split(' ')[4] == merged);

        var root = f.Service.MountContainerRootfs("ctr-rm", img.Id, transient: true);
        Assert.Contains("volatile", Options(root));
        File.WriteAllText(Path.Combine(root, "etc/written"), "1");
        f.Service.UnmountContainerRootfs("ctr-rm");
        Assert.Equal(root, f.Service.MountContainerRootfs("ctr-rm", img.Id, transient: true));
        Assert.True(File.Exists(Path.Combine(root, "etc/written")));
        f.Service.UnmountContainerRootfs("ctr-rm");

        var kept = f.Service.MountContainerRootfs("ctr-kept", img.Id);
        Assert.DoesNotContain("volatile", Options(kept));
        f.Service.RemoveContainerLayer("ctr-kept");
        f.Service.RemoveContainerLayer("ctr-rm");
        Assert.Empty(f.Leaks());
    }

    [Fact]
    public void IsMountPoint_TellsAMountRootFromADirectoryAndAMissingPath()
    {
        using var f = new StoreFixture();
        Assert.True(SnapshotStore.IsMountPoint("/proc"));
        Assert.False(SnapshotStore.IsMountPoint(f.Root)); // a plain directory
        Assert.False(SnapshotStore.IsMountPoint("/no/such/path"));
        Assert.Equal(true, ContainerOps.Runtime.Native.Libc.IsMountRoot("/proc"));
    }

    [Fact]
    public async Task ARootBeingReadStaysMountedUntilTheReaderIsDoneWhenItsContainerStops()
    {
        using var f = new StoreFixture();
        var tar = Archives.BusyboxLayer(f.Scratch(""));
        var img = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), "bb", [])).Images);
        var root = f.Service.MountContainerRootfs("ctr-read", img.Id); // as a start does
        using var reading = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        var export = f.Service.WithContainerRootfsAsync("ctr-read", merged =>
        {
            reading.Release();
            release.Wait();
            return File.Exists(Path.Combine(merged, "etc/group"));
        });
        await reading.WaitAsync();
        f.Service.UnmountContainerRootfs("ctr-read"); // the container exits while its root is read (docker export)
        Assert.True(SnapshotStore.IsMountPoint(root), "the exit unmounted the root under its reader");
        release.Release();
        Assert.True(await export, "the reader saw the whole root");
        Assert.False(SnapshotStore.IsMountPoint(root), "the last reader did not unmount what the exit asked to");

        // A stopped container's root is mounted for the reader alone, and kept by a start that comes meanwhile.
        export = f.Service.WithContainerRootfsAsync("ctr-read", merged =>
        {
            reading.Release();
            release.Wait();
            return true;
        });
        await reading.WaitAsync();
        Assert.True(SnapshotStore.IsMountPoint(root));
        Assert.Equal(root, f.Service.MountContainerRootfs("ctr-read", img.Id));
        release.Release();
        await export;
        Assert.True(SnapshotStore.IsMountPoint(root), "the reader unmounted the root of a container that had started");
        f.Service.UnmountContainerRootfs("ctr-read");
        f.Service.RemoveContainerLayer("ctr-read");
        Assert.Empty(f.Leaks());
    }

    [Fact]
    public void BadContainerIdIsRefused()
    {
        using var f = new StoreFixture();
        var e = Assert.Throws<ContainerOps.Core.Api.ContainerOpsException>(() => f.Service.RemoveContainerLayer("../x"));
        Assert.Equal("containerId", e.Error.Field);
    }
}
