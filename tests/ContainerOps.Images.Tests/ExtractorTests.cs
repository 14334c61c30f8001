using System.Formats.Tar;
using ContainerOps.Core.Api;
using ContainerOps.Images.Layers;
using ContainerOps.TestSupport;

namespace ContainerOps.Images.Tests;

/// <summary>
/// The extractor keeps the directory of the previous entry open and creates before it removes: later entries must
/// still replace earlier ones exactly, and an entry that replaces or whites out a directory must never let later
/// entries land in the old one.
/// </summary>
public class ExtractorTests
{
    private static (TempDir Dir, string Fs) Extract(byte[] tar, bool gzip = false)
    {
        var dir = new TempDir("co-extract");
        var fs = Path.Combine(dir.Path, "fs");
        Directory.CreateDirectory(fs);
        LayerExtractor.Extract(new MemoryStream(gzip ? Archives.Gzip(tar) : tar), fs);
        return (dir, fs);
    }

    [Fact]
    public void ParentsTheArchiveLacks_AreCreatedRwxrXrX()
    {
        // No entries for "a/" and "a/b/": the extractor makes them, with the mode Docker gives such directories.
        var tar = Archives.Tar(w => w.File("a/b/f", "deep"));
        var (dir, fs) = Extract(tar);
        using var _ = dir;
        var expected = (UnixFileMode)Convert.ToInt32("755", 8);
        Assert.Equal(expected, File.GetUnixFileMode(Path.Combine(fs, "a")));
        Assert.Equal(expected, File.GetUnixFileMode(Path.Combine(fs, "a/b")));
        Assert.Equal("deep", File.ReadAllText(Path.Combine(fs, "a/b/f")));
    }

    [Fact]
    public void LaterEntries_ReplaceEarlierOnes_WhateverTheirType()
    {
        var tar = Archives.Tar(w =>
        {
            w.Dir("d/");
            w.File("d/f", "first");
            w.Link(TarEntryType.SymbolicLink, "d/f", "/etc/passwd"); // file → symlink
            w.File("d/f", "second");                                  // symlink → file, never written through
            w.Dir("d/e/");
            w.File("d/e", "was an empty dir");                        // empty directory → file
            w.File("d/h", "linked");
            w.Link(TarEntryType.HardLink, "d/g", "d/h");
            w.File("d/g", "own content");                             // hard link → its own file
        });
        var (dir, fs) = Extract(tar, gzip: true);
        using var _ = dir;
        Assert.Equal("second", File.ReadAllText(Path.Combine(fs, "d/f")));
        Assert.Null(new FileInfo(Path.Combine(fs, "d/f")).LinkTarget);
        Assert.Equal("was an empty dir", File.ReadAllText(Path.Combine(fs, "d/e")));
        Assert.Equal("linked", File.ReadAllText(Path.Combine(fs, "d/h")));
        Assert.Equal("own content", File.ReadAllText(Path.Combine(fs, "d/g")));
    }

    [Fact]
    public void ADirectoryReplacedBySymlink_IsNotWrittenThroughByLaterEntries()
    {
        var outside = Path.Combine(Path.GetTempPath(), "co-extract-out-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(outside);
        try
        {
            var tar = Archives.Tar(w =>
            {
                w.Dir("a/");
                w.Dir("a/b/");
                w.File("a/f", "in a");                                 // "a" is the directory in use
                w.Link(TarEntryType.SymbolicLink, "a/b", outside);      // the empty directory b becomes a symlink
                w.File("a/g", "still in a");
                w.File("a/b/y", "pwned");                               // must not go through the symlink
            });
            var dir = new TempDir("co-extract");
            using var _ = dir;
            var fs = Path.Combine(dir.Path, "fs");
            Directory.CreateDirectory(fs);
            var e = Assert.Throws<ContainerOpsException>(() => LayerExtractor.Extract(new MemoryStream(tar), fs));
            Assert.Equal("InvalidLayerEntry", e.Error.Id);
            Assert.Empty(Directory.GetFileSystemEntries(outside));
            Assert.Equal("still in a", File.ReadAllText(Path.Combine(fs, "a/g")));
        }
        finally { Directory.Delete(outside, true); }
    }

    [Fact]
    public void AWhitedOutDirectory_IsNotUsedByLaterEntries()
    {
        var tar = Archives.Tar(w =>
        {
            w.Dir("p/");
            w.Dir("p/q/");
            w.File("p/q/one", "1");
            w.File("p/.wh.q", "");   // q (non-empty) cannot be replaced by the whiteout node: the layer fails
        });
        var dir = new TempDir("co-extract");
        using var _ = dir;
        var fs = Path.Combine(dir.Path, "fs");
        Directory.CreateDirectory(fs);
        var e = Assert.Throws<ContainerOpsException>(() => LayerExtractor.Extract(new MemoryStream(tar), fs));
        Assert.Equal("InvalidLayerEntry", e.Error.Id);

        // An empty directory whited out, then entries for the same path: they land in a new directory.
        var ok = Archives.Tar(w =>
        {
            w.Dir("p/");
            w.Dir("p/q/");
            w.File("p/r", "r");
            w.File("p/.wh.q", "");
            w.File("p/s", "s");
        });
        var (dir2, fs2) = Extract(ok);
        using var __ = dir2;
        Assert.Equal("s", File.ReadAllText(Path.Combine(fs2, "p/s")));
        Assert.Contains("character special", Shell.Run("stat", "-c %F " + Path.Combine(fs2, "p/q")));
    }

    [Fact]
    public void ManyEntries_AcrossDirectories_MatchTheArchive()
    {
        var tar = Archives.Tar(w =>
        {
            for (var d = 0; d < 20; d++)
            {
                w.Dir($"dir{d}/");
                for (var f = 0; f < 30; f++) w.File($"dir{d}/f{f}", $"{d}:{f}");
                w.Link(TarEntryType.SymbolicLink, $"dir{d}/link", $"f{d}");
            }
            w.File("dir3/late", "back in dir3");
        });
        var (dir, fs) = Extract(tar, gzip: true);
        using var _ = dir;
        for (var d = 0; d < 20; d++)
        for (var f = 0; f < 30; f++)
            Assert.Equal($"{d}:{f}", File.ReadAllText(Path.Combine(fs, $"dir{d}/f{f}")));
        Assert.Equal("back in dir3", File.ReadAllText(Path.Combine(fs, "dir3/late")));
        Assert.Equal("f7", new FileInfo(Path.Combine(fs, "dir7/link")).LinkTarget);
    }
}
