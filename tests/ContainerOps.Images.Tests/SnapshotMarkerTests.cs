using ContainerOps.Images.Snapshots;

namespace ContainerOps.Images.Tests;

/// <summary>A snapshot is used only with its completion marker, written after its files were synced: one without it
/// (cut off, or left by a power loss before its files reached the disk) is unpacked again from its verified blob.</summary>
public class SnapshotMarkerTests
{
    private static async Task<(StoreFixture F, string ImageId, string Snapshot)> ImportAsync()
    {
        var f = new StoreFixture();
        var tar = Archives.BusyboxLayer(f.Scratch(""));
        var img = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), "bb", [])).Images);
        return (f, img.Id, Path.Combine(f.Root, "snapshots", Archives.DiffId(tar)[7..]));
    }

    /// <summary>This store's own mounts only: other tests on the machine may be mounting at the same time.</summary>
    private static void AssertNothingMounted(StoreFixture f) =>
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4].StartsWith(f.Root + "/", StringComparison.Ordinal));

    [Fact]
    public async Task ASnapshotWithoutItsMarkerIsNeverUsedAndIsUnpackedAgain()
    {
        var (f, imageId, snapshot) = await ImportAsync();
        using var _ = f;
        Assert.True(File.Exists(Path.Combine(snapshot, SnapshotStore.Marker)));
        // What a power loss can leave of files that were not on disk yet: their names, without their data.
        var group = Path.Combine(snapshot, "fs/etc/group");
        var expected = File.ReadAllText(group);
        File.Delete(Path.Combine(snapshot, SnapshotStore.Marker));
        File.WriteAllText(group, "");

        var rootfs = f.Service.MountContainerRootfs("ctr-marker", imageId);
        Assert.Equal(expected, File.ReadAllText(Path.Combine(rootfs, "etc/group")));
        Assert.True(File.Exists(Path.Combine(snapshot, SnapshotStore.Marker)));
        f.Service.RemoveContainerLayer("ctr-marker");
        AssertNothingMounted(f);
    }

    [Fact]
    public async Task AnUnmarkedSnapshotIsRemovedWhenTheStoreOpensAndTheImageStillMounts()
    {
        var (f, imageId, snapshot) = await ImportAsync();
        using var _ = f;
        File.Delete(Path.Combine(snapshot, SnapshotStore.Marker));

        var reopened = new ImageService(f.Root);
        Assert.False(Directory.Exists(snapshot));
        var rootfs = reopened.MountContainerRootfs("ctr-reopened", imageId);
        Assert.True(File.Exists(Path.Combine(rootfs, "bin/busybox")));
        reopened.RemoveContainerLayer("ctr-reopened");
        AssertNothingMounted(f);
    }

    [Fact]
    public async Task SnapshotsOfAStoreFromBeforeMarkersAreAdoptedOnce()
    {
        var (f, imageId, snapshot) = await ImportAsync();
        using var _ = f;
        // A store written before there were markers: no marker anywhere, no note that they were adopted. A file of
        // the test's own in the snapshot's directory shows it is kept, not unpacked again.
        File.Delete(Path.Combine(snapshot, SnapshotStore.Marker));
        File.Delete(Path.Combine(f.Root, ".snapshots-marked"));
        File.WriteAllText(Path.Combine(snapshot, "kept"), "");

        var reopened = new ImageService(f.Root);
        Assert.True(File.Exists(Path.Combine(snapshot, SnapshotStore.Marker)));
        Assert.True(File.Exists(Path.Combine(snapshot, "kept")));
        var rootfs = reopened.MountContainerRootfs("ctr-adopted", imageId);
        Assert.True(File.Exists(Path.Combine(snapshot, "kept")));
        Assert.True(File.Exists(Path.Combine(rootfs, "bin/busybox")));
        reopened.RemoveContainerLayer("ctr-adopted");
        AssertNothingMounted(f);
    }
}
