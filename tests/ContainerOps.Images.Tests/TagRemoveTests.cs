using ContainerOps.Core.Api;

namespace ContainerOps.Images.Tests;

public class TagRemoveTests
{
    private static async Task<ImageSummary> Import(StoreFixture f, string name, string content = "x")
    {
        var tar = Archives.Tar(w => { w.Dir("etc"); w.File("etc/data", content); });
        return Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), name, [])).Images);
    }

    [Fact]
    public async Task TagThenRemoveTags_LastRemovalDeletesContent()
    {
        using var f = new StoreFixture();
        var empty = f.Listing();
        var img = await Import(f, "one:1");
        f.Service.Tag("one:1", "two");
        f.Service.Tag(img.Id, "localhost:5000/three:9");
        Assert.Equal(["localhost:5000/three:9", "one:1", "two:latest"], // as Docker shows them
            f.Service.Inspect(img.Id).RepoTags.Order(StringComparer.Ordinal));
        var bad = Assert.Throws<ContainerOpsException>(() => f.Service.Tag("one:1", "Bad:Name"));
        Assert.Equal("target", bad.Error.Field);
        Assert.Equal("ImageNotFound", Assert.Throws<ContainerOpsException>(() => f.Service.Tag("missing", "x")).Error.Id);

        // Removing a name while others remain only untags.
        var r1 = f.Service.Remove("two", false, _ => false);
        Assert.Equal(["docker.io/library/two:latest"], r1.Untagged);
        Assert.Empty(r1.Deleted);
        // By id with several names: needs force.
        Assert.Equal(ErrorKind.Conflict, Assert.Throws<ContainerOpsException>(() => f.Service.Remove(img.Id, false, _ => false)).Error.Kind);
        f.Service.Remove("localhost:5000/three:9", false, _ => false);

        var r2 = f.Service.Remove("one:1", false, _ => false);
        Assert.Equal(["docker.io/library/one:1"], r2.Untagged);
        Assert.Contains(img.Id, r2.Deleted);
        Assert.Empty(f.Service.List());
        Assert.Empty(Directory.GetFiles(Path.Combine(f.Root, "content/blobs/sha256")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(f.Root, "snapshots")));
        Assert.Equal("ImageNotFound", Assert.Throws<ContainerOpsException>(() => f.Service.Inspect(img.Id)).Error.Id);
        _ = empty;
    }

    [Fact]
    public async Task InUseImageIsRefused_ForceOnlyUntags()
    {
        using var f = new StoreFixture();
        var img = await Import(f, "busy:1");
        var e = Assert.Throws<ContainerOpsException>(() => f.Service.Remove("busy:1", false, id => id == img.Id));
        Assert.Equal((ErrorKind.Conflict, "ImageInUse"), (e.Error.Kind, e.Error.Id));
        Assert.Single(f.Service.List());

        var forced = f.Service.Remove("busy:1", true, id => id == img.Id);
        Assert.Equal(["docker.io/library/busy:1"], forced.Untagged);
        Assert.Empty(forced.Deleted);
        var left = Assert.Single(f.Service.List());
        Assert.Empty(left.RepoTags);
        // The content is still there; once unused it can be removed by id.
        f.Service.Remove(img.Id, false, _ => false);
        Assert.Empty(f.Service.List());
    }

    [Fact]
    public async Task SharedLayerSurvivesRemovalOfOneImage()
    {
        using var f = new StoreFixture();
        var tar = Archives.Tar(w => w.File("shared", "same"));
        var a = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), "a", ["CMD a"])).Images);
        var b = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), "b", ["CMD b"])).Images);
        Assert.NotEqual(a.Id, b.Id);
        Assert.Single(Directory.GetDirectories(Path.Combine(f.Root, "snapshots")));
        f.Service.Remove("a", false, _ => false);
        Assert.Single(Directory.GetDirectories(Path.Combine(f.Root, "snapshots")));
        var root = f.Service.MountContainerRootfs("cb", "b");
        try { Assert.Equal("same", File.ReadAllText(Path.Combine(root, "shared"))); }
        finally { f.Service.RemoveContainerLayer("cb"); }
        f.Service.Remove("b", false, _ => false);
        Assert.Empty(Directory.GetDirectories(Path.Combine(f.Root, "snapshots")));
    }
}
