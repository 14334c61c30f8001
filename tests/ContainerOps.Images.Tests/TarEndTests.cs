using ContainerOps.Core.Api;

namespace ContainerOps.Images.Tests;

/// <summary>.NET's tar reader ends an archive at any block whose checksum field reads as zero (it starts with a NUL):
/// the chaos harness saw random bytes imported as an empty image, one try in 256. The extractor accepts only a real
/// end: a block of zeros, or the input ending where a header would start.</summary>
public class TarEndTests
{
    private static byte[] JunkBlocks(int blocks)
    {
        var junk = new byte[512 * blocks];
        new Random(4).NextBytes(junk);
        for (var i = 0; i < junk.Length; i++) if (junk[i] == 0) junk[i] = 1;
        junk[148] = 0; // the checksum field of the first block: read as zero
        return junk;
    }

    /// <summary>A one-file archive without its end-of-archive blocks (the tar reader refuses it as it is: truncated).</summary>
    private static byte[] OneEntryWithoutEnd()
    {
        var tar = Archives.Tar(w => w.File("hello.txt", "hello\n"));
        var blocks = tar.Length / 512;
        while (blocks > 0 && !tar.AsSpan((blocks - 1) * 512, 512).ContainsAnyExcept((byte)0)) blocks--;
        return tar[..(blocks * 512)];
    }

    private static async Task<ContainerOpsException> Refused(StoreFixture f, byte[] input, string name)
    {
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Service.ImportRootfsAsync(new MemoryStream(input), name, []));
        Assert.Empty(f.Service.List());
        return e;
    }

    [Fact]
    public async Task RandomBytesWhoseChecksumReadsAsZeroAreNotAnEmptyImage()
    {
        using var f = new StoreFixture();
        Assert.Equal("CorruptLayer", (await Refused(f, JunkBlocks(8), "junk")).Error.Id);
    }

    [Fact]
    public async Task AnArchiveIsNotCutQuietlyAtSuchABlock()
    {
        using var f = new StoreFixture();
        Assert.Equal("CorruptLayer", (await Refused(f, [.. OneEntryWithoutEnd(), .. JunkBlocks(4)], "cut")).Error.Id);
    }

    [Fact]
    public async Task AWholeArchiveAndAnEmptyOneStillImport()
    {
        using var f = new StoreFixture();
        var img = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(Archives.Tar(w => w.File("hello.txt", "hello\n"))), "whole", [])).Images);
        var rootfs = f.Service.MountContainerRootfs("ctr-whole", img.Id);
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(rootfs, "hello.txt")));
        f.Service.RemoveContainerLayer("ctr-whole");
        Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(new byte[1024]), "empty", [])).Images, i => i.RepoTags.Any(t => t.EndsWith("empty:latest")));
    }
}
