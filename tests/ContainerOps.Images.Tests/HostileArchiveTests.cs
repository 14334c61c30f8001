using System.Formats.Tar;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Images.Layers;

namespace ContainerOps.Images.Tests;

/// <summary>
/// Layers built to escape the extraction root. Each must either fail with nothing stored, or land entirely
/// inside the layer; nothing may appear outside the store.
/// </summary>
public class HostileArchiveTests
{
    private readonly string _marker = "co-hostile-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Places an attack could reach outside the store.</summary>
    private IEnumerable<string> Outside(StoreFixture f) =>
        ["/etc/" + _marker, "/tmp/" + _marker, "/" + _marker, f.Scratch(_marker), Path.Combine(f.Root, _marker),
         Path.Combine(f.Root, "snapshots", _marker), Path.Combine(f.Root, "snapshots/etc", _marker), Path.Combine(f.Root, "etc", _marker)];

    private async Task<ContainerOpsException> AssertRejected(StoreFixture f, byte[] tar, string expectedId)
    {
        var before = f.Listing();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Service.ImportRootfsAsync(new MemoryStream(tar), "evil", []));
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Kind);
        Assert.Equal(expectedId, e.Error.Id);
        Assert.Equal(before, f.Listing());
        Assert.Empty(f.Service.List());
        foreach (var p in Outside(f)) Assert.False(Path.Exists(p), p + " was written");
        return e;
    }

    [Fact]
    public async Task DotDotEscape_IsRejected()
    {
        using var f = new StoreFixture();
        await AssertRejected(f, Archives.Tar(w =>
        {
            w.File("ok", "fine");
            w.File("../../../../../../../../etc/" + _marker, "pwned");
        }), "InvalidLayerEntry");
        // Also a name that climbs out after descending.
        await AssertRejected(f, Archives.Tar(w => w.File("a/../../" + _marker, "pwned")), "InvalidLayerEntry");
    }

    [Fact]
    public async Task AbsoluteName_IsConfinedToTheLayer()
    {
        using var f = new StoreFixture();
        var tar = Archives.Tar(w => w.File("/etc/" + _marker, "inside"));
        var img = Assert.Single((await f.Service.ImportRootfsAsync(new MemoryStream(tar), "abs", [])).Images);
        foreach (var p in Outside(f)) Assert.False(Path.Exists(p), p + " was written");
        var inLayer = Path.Combine(f.Root, "snapshots", Archives.DiffId(tar)[7..], "fs/etc", _marker);
        Assert.Equal("inside", File.ReadAllText(inLayer));
        _ = img;
    }

    [Fact]
    public async Task FileThroughSymlinkToRoot_IsRejected()
    {
        using var f = new StoreFixture();
        await AssertRejected(f, Archives.Tar(w =>
        {
            w.Link(TarEntryType.SymbolicLink, "escape", "/");
            w.File("escape/etc/" + _marker, "pwned");
        }), "InvalidLayerEntry");
        // A relative link climbing out, then a file through it.
        await AssertRejected(f, Archives.Tar(w =>
        {
            w.Link(TarEntryType.SymbolicLink, "up", "../../../../../../../../tmp");
            w.File("up/" + _marker, "pwned");
        }), "InvalidLayerEntry");
        // A symlink replaced by a file of the same name never writes through the link.
        using var g = new StoreFixture();
        var tar = Archives.Tar(w =>
        {
            w.Link(TarEntryType.SymbolicLink, "x", "/tmp/" + _marker);
            w.File("x", "replaced");
        });
        await g.Service.ImportRootfsAsync(new MemoryStream(tar), "ok", []);
        foreach (var p in Outside(g)) Assert.False(Path.Exists(p), p + " was written");
    }

    [Fact]
    public async Task SymlinksThemselvesAreKeptAsIs()
    {
        using var f = new StoreFixture();
        var tar = Archives.Tar(w => w.Link(TarEntryType.SymbolicLink, "root-link", "/"));
        await f.Service.ImportRootfsAsync(new MemoryStream(tar), "links", []);
        var link = new FileInfo(Path.Combine(f.Root, "snapshots", Archives.DiffId(tar)[7..], "fs/root-link"));
        Assert.Equal("/", link.LinkTarget);
    }

    [Fact]
    public async Task HardlinkToHostFile_IsRejected()
    {
        using var f = new StoreFixture();
        var links = new FileInfo("/etc/passwd").Exists ? HardLinkCount("/etc/passwd") : 0;
        await AssertRejected(f, Archives.Tar(w => w.Link(TarEntryType.HardLink, "passwd", "/etc/passwd")), "InvalidLayerEntry");
        await AssertRejected(f, Archives.Tar(w => w.Link(TarEntryType.HardLink, "passwd", "../../../../../../etc/passwd")), "InvalidLayerEntry");
        Assert.Equal(links, HardLinkCount("/etc/passwd"));
    }

    [Fact]
    public async Task HardlinkInsideTheLayer_Works()
    {
        using var f = new StoreFixture();
        var tar = Archives.Tar(w => { w.File("a", "same"); w.Link(TarEntryType.HardLink, "b", "a"); });
        await f.Service.ImportRootfsAsync(new MemoryStream(tar), "hl", []);
        Assert.Equal(2, HardLinkCount(Path.Combine(f.Root, "snapshots", Archives.DiffId(tar)[7..], "fs/b")));
    }

    [Fact]
    public async Task CharacterDevice_IsRejectedUnlessAllowed()
    {
        using var f = new StoreFixture();
        byte[] tar = Archives.Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev/mem") { DeviceMajor = 1, DeviceMinor = 1 }));
        await AssertRejected(f, tar, "DeviceNotAllowed");

        using var g = new StoreFixture();
        var permissive = new ImageService(g.Root) { ExtractOptions = new ExtractOptions { AllowDevices = true } };
        await permissive.ImportRootfsAsync(new MemoryStream(tar), "dev", []);
        var node = Path.Combine(g.Root, "snapshots", Archives.DiffId(tar)[7..], "fs/dev/mem");
        Assert.True(Path.Exists(node));
        Assert.Contains("character special", TestSupport.Shell.Run("stat", "-c %F " + node));
    }

    [Fact]
    public async Task TruncatedGzip_IsRejected()
    {
        using var f = new StoreFixture();
        var tar = Archives.Tar(w =>
        {
            w.File("a", new string('a', 100_000));
            w.File("b", Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(60_000)));
        });
        var gz = Archives.Gzip(tar);
        var e = await AssertRejected(f, gz[..(gz.Length / 2)], "CorruptLayer");
        Assert.Contains("truncated", e.Message + e.InnerException?.Message, StringComparison.OrdinalIgnoreCase);
        // Plain tar cut in the middle of a file.
        await AssertRejected(f, tar[..(tar.Length - 30_000)], "CorruptLayer");
    }

    [Fact]
    public async Task DockerSaveWithTamperedLayer_IsRejected()
    {
        using var f = new StoreFixture();
        var layer = Archives.Tar(w => w.File("bin/tool", "genuine"));
        var evil = Archives.Tar(w => w.File("bin/tool", "swapped"));
        var config = Archives.Config([layer]);
        var before = f.Listing();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            f.Service.LoadArchiveAsync(new MemoryStream(Archives.DockerSave(config, [evil], ["tampered:1"]))));
        Assert.Equal("DigestMismatch", e.Error.Id);
        Assert.Equal(before, f.Listing());

        // A config whose content does not match the digest in its name.
        var other = Archives.Config([layer], cmd: "other");
        e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            f.Service.LoadArchiveAsync(new MemoryStream(Archives.DockerSave(config, [layer], ["tampered:1"], configName: Archives.Hex(other) + ".json"))));
        Assert.Equal("DigestMismatch", e.Error.Id);
        Assert.Equal(before, f.Listing());
        Assert.Empty(f.Service.List());
    }

    [Fact]
    public async Task OversizedLayer_IsRejected()
    {
        using var f = new StoreFixture();
        var small = new ImageService(f.Root) { ExtractOptions = new ExtractOptions { MaxTotalBytes = 1000 } };
        var before = f.Listing();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            small.ImportRootfsAsync(new MemoryStream(Archives.Tar(w => w.File("big", new string('x', 5000)))), "big", []));
        Assert.Equal("LayerTooLarge", e.Error.Id);
        Assert.Equal(before, f.Listing());
        var longName = Archives.Tar(w => w.File(new string('n', 300), "x"));
        await AssertRejected(f, longName, "InvalidLayerEntry");
    }

    private static int HardLinkCount(string path) => int.Parse(TestSupport.Shell.Run("stat", "-c %h " + path).Trim());
}
