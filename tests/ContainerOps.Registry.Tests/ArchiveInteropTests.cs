using System.Text.Json.Nodes;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

/// <summary>Archives we save, read by skopeo; archives skopeo writes from them, loaded by us (docker-archive and oci-archive).</summary>
public class ArchiveInteropTests
{
    private static async Task<string> Save(Store s, string name, bool oci, string path)
    {
        await using (var f = File.Create(path)) await s.Images.SaveAsync([name], oci, f);
        return path;
    }

    [Fact]
    public async Task DockerArchive_SkopeoReadsIt_AndWeLoadWhatSkopeoWrites()
    {
        using var src = await SkopeoInteropTests.GoReadableBusybox();
        var local = src.Images.Inspect("local/busybox:1");
        var ours = await Save(src, "local/busybox:1", oci: false, Path.Combine(src.Dir, "ours.tar"));

        var info = JsonNode.Parse(Shell.Run("skopeo", $"inspect docker-archive:{ours}"))!;
        Assert.Equal(local.Layers.Count, info["Layers"]!.AsArray().Count);
        // docker save records familiar names ("local/busybox:1"), layers under their diff IDs.
        var manifest = JsonNode.Parse(Shell.Run("tar", $"-xOf {ours} manifest.json"))!.AsArray()[0]!;
        Assert.Equal("local/busybox:1", manifest["RepoTags"]![0]!.GetValue<string>());
        Assert.Equal(local.Layers.Select(l => "blobs/sha256/" + l[7..]), manifest["Layers"]!.AsArray().Select(l => l!.GetValue<string>()));

        var theirs = Path.Combine(src.Dir, "theirs.tar");
        Shell.Run("skopeo", $"copy docker-archive:{ours} docker-archive:{theirs}:copied/busybox:2");
        using var dst = new Store();
        await using (var f = File.OpenRead(theirs)) await dst.Images.LoadArchiveAsync(f);
        var loaded = dst.Images.Inspect("copied/busybox:2");
        Assert.Equal(local.Id, loaded.Id);
        Assert.Equal(local.Layers, loaded.Layers);

        // And our own archive loads back as it was.
        using var back = new Store();
        await using (var f = File.OpenRead(ours)) await back.Images.LoadArchiveAsync(f);
        Assert.Equal(local.Id, back.Images.Inspect("local/busybox:1").Id);
    }

    [Fact]
    public async Task OciArchive_SkopeoReadsItByTag_AndWeLoadWhatSkopeoWrites()
    {
        using var src = await SkopeoInteropTests.GoReadableBusybox();
        var local = src.Images.Inspect("local/busybox:1");
        var ours = await Save(src, "local/busybox:1", oci: true, Path.Combine(src.Dir, "ours.oci.tar"));

        var info = JsonNode.Parse(Shell.Run("skopeo", $"inspect oci-archive:{ours}:1"))!;
        Assert.Equal(local.Digest, info["Digest"]!.GetValue<string>());

        var theirs = Path.Combine(src.Dir, "theirs.oci.tar");
        Shell.Run("skopeo", $"copy oci-archive:{ours}:1 oci-archive:{theirs}:copied/busybox:2");
        using var dst = new Store();
        await using (var f = File.OpenRead(theirs)) await dst.Images.LoadArchiveAsync(f);
        var loaded = Assert.Single(dst.Images.List());
        Assert.Equal(local.Id, loaded.Id);

        using var back = new Store();
        await using (var f = File.OpenRead(ours)) await back.Images.LoadArchiveAsync(f);
        var same = back.Images.Inspect("local/busybox:1");
        Assert.Equal(local.Id, same.Id);
        Assert.Equal(local.Digest, same.Digest);
    }

    [Fact]
    public async Task ZstdLayers_WrittenBySkopeo_Load()
    {
        using var src = await SkopeoInteropTests.GoReadableBusybox();
        var local = src.Images.Inspect("local/busybox:1");
        var ours = await Save(src, "local/busybox:1", oci: true, Path.Combine(src.Dir, "ours.oci.tar"));
        var theirs = Path.Combine(src.Dir, "zstd.oci.tar");
        Shell.Run("skopeo", $"copy --dest-compress --dest-compress-format zstd oci-archive:{ours}:1 oci-archive:{theirs}:zstd/busybox:1");
        var layerTypes = JsonNode.Parse(Shell.Run("skopeo", $"inspect --raw oci-archive:{theirs}:zstd/busybox:1"))!["layers"]!.AsArray()
            .Select(l => l!["mediaType"]!.GetValue<string>()).ToList();
        Assert.All(layerTypes, t => Assert.EndsWith("+zstd", t));

        using var dst = new Store();
        await using (var f = File.OpenRead(theirs)) await dst.Images.LoadArchiveAsync(f);
        var loaded = Assert.Single(dst.Images.List());
        // Same config, so the same image: the layers decompressed to the same diff IDs.
        Assert.Equal(local.Id, loaded.Id);
        Assert.All(dst.Images.Inspect(loaded.Id).Layers, l => Assert.StartsWith("sha256:", l));
    }
}
