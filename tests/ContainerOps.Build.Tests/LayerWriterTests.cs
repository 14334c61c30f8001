using System.Formats.Tar;
using ContainerOps.Images.Layers;
using ContainerOps.Runtime.Native;
using ContainerOps.TestSupport;
using static ContainerOps.Runtime.Native.Libc.Fs;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace ContainerOps.Build.Tests;

public class LayerWriterTests
{
    private static unsafe void SetOpaque(string dir)
    {
        var fd = Libc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        Assert.True(fd >= 0);
        try
        {
            var y = "y"u8.ToArray();
            fixed (byte* p = y) Assert.Equal(0, Libc.fsetxattr(fd, "trusted.overlay.opaque", p, 1, 0));
        }
        finally { Libc.close(fd); }
    }

    private static string Describe(MemoryStream ms)
    {
        ms.Position = 0;
        var sb = new System.Text.StringBuilder();
        using var r = new TarReader(ms, leaveOpen: true);
        while (r.GetNextEntry() is PaxTarEntry e)
            sb.AppendLine($"{e.Name} {e.EntryType} {Convert.ToString((int)e.Mode, 8)} {e.Uid}:{e.Gid} {e.ModificationTime:O} {e.LinkName} {string.Join(",", e.ExtendedAttributes.Select(kv => kv.Key + "=" + kv.Value))}");
        return sb.ToString();
    }

    private static unsafe string? Xattr(string path, string name)
    {
        var buf = new byte[64];
        nint n;
        fixed (byte* p = buf) n = Libc.lgetxattr(path, name, p, (nuint)buf.Length);
        return n < 0 ? null : System.Text.Encoding.ASCII.GetString(buf, 0, (int)n);
    }

    /// <summary>An upper dir as overlayfs leaves it: files, a symlink, a hard link pair, a whiteout and an opaque dir.</summary>
    private static void MakeUpper(string upper)
    {
        Directory.CreateDirectory(Path.Combine(upper, "etc"));
        File.WriteAllText(Path.Combine(upper, "etc/config"), "key=value\n");
        File.SetUnixFileMode(Path.Combine(upper, "etc/config"), (UnixFileMode)Convert.ToInt32("640", 8));
        Libc.fchownat(AT_FDCWD, Path.Combine(upper, "etc/config"), 1000, 1000, 0);
        File.WriteAllText(Path.Combine(upper, "run.sh"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(upper, "run.sh"), (UnixFileMode)Convert.ToInt32("4755", 8));
        File.CreateSymbolicLink(Path.Combine(upper, "link"), "../../etc/config");
        File.WriteAllText(Path.Combine(upper, "a"), "shared");
        Assert.Equal(0, Libc.linkat(AT_FDCWD, Path.Combine(upper, "a"), AT_FDCWD, Path.Combine(upper, "b"), 0));
        Assert.Equal(0, Libc.mknodat(AT_FDCWD, Path.Combine(upper, "gone"), S_IFCHR, 0));
        Directory.CreateDirectory(Path.Combine(upper, "opaque/inner"));
        File.WriteAllText(Path.Combine(upper, "opaque/inner/f"), "x");
        SetOpaque(Path.Combine(upper, "opaque"));
        File.SetLastWriteTimeUtc(Path.Combine(upper, "a"), new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));
    }

    [Fact]
    public void Upper_To_Layer_To_Extracted_RoundTrip()
    {
        using var tmp = new TempDir("lw");
        var upper = Path.Combine(tmp.Path, "upper");
        MakeUpper(upper);
        var ms = new MemoryStream();
        var (diffId, size) = LayerWriter.Write(upper, ms);
        Assert.Equal(ms.Length, size);
        Assert.StartsWith("sha256:", diffId);

        // The tar names overlay whiteouts the OCI way, in sorted order.
        ms.Position = 0;
        var names = new List<string>();
        using (var r = new TarReader(ms, leaveOpen: true))
            while (r.GetNextEntry() is { } e) names.Add(e.Name + (e.EntryType == TarEntryType.HardLink ? " -> " + e.LinkName : ""));
        Assert.Contains(".wh.gone", names);
        Assert.Contains("opaque/.wh..wh..opq", names);
        Assert.Contains("b -> a", names);
        var sortKeys = names.Select(n => n.Split(' ')[0].Replace(".wh..wh..opq", "").Replace(".wh.", "")).ToList();
        Assert.Equal(sortKeys.Order(StringComparer.Ordinal).ToList(), sortKeys);

        ms.Position = 0;
        var outDir = Path.Combine(tmp.Path, "out");
        Directory.CreateDirectory(outDir);
        var result = LayerExtractor.Extract(ms, outDir);
        Assert.Equal(diffId, result.DiffId);

        Assert.Equal("key=value\n", File.ReadAllText(Path.Combine(outDir, "etc/config")));
        Assert.Equal("640", Convert.ToString((int)File.GetUnixFileMode(Path.Combine(outDir, "etc/config")), 8));
        Assert.Contains("1000:1000", Shell.Run("stat", "-c %u:%g " + Path.Combine(outDir, "etc/config")));
        Assert.Equal("4755", Convert.ToString((int)File.GetUnixFileMode(Path.Combine(outDir, "run.sh")), 8));
        Assert.Equal("../../etc/config", new FileInfo(Path.Combine(outDir, "link")).LinkTarget);
        Assert.Equal(Shell.Run("stat", "-c %i " + Path.Combine(outDir, "a")), Shell.Run("stat", "-c %i " + Path.Combine(outDir, "b")));
        Assert.Equal(new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Path.Combine(outDir, "a")));
        Assert.Contains("character special file:0:0", Shell.Run("stat", "-c %F:%t:%T " + Path.Combine(outDir, "gone")));
        Assert.Equal("y", Xattr(Path.Combine(outDir, "opaque"), "trusted.overlay.opaque"));
        Assert.Equal("x", File.ReadAllText(Path.Combine(outDir, "opaque/inner/f")));

        // The extracted tree written again gives the same bytes.
        var ms2 = new MemoryStream();
        var again = LayerWriter.Write(outDir, ms2);
        Assert.Equal(Describe(ms), Describe(ms2));
        Assert.Equal(diffId, again.DiffId);
    }

    [Fact]
    public void SameTree_SameDigest()
    {
        using var tmp = new TempDir("lw");
        MakeUpper(tmp.Path);
        Assert.Equal(LayerWriter.Write(tmp.Path, new MemoryStream()).DiffId, LayerWriter.Write(tmp.Path, new MemoryStream()).DiffId);
    }

    [Fact]
    public void Diff_Lists_Added_Changed_Deleted()
    {
        using var tmp = new TempDir("lw");
        var lower = Path.Combine(tmp.Path, "lower");
        Directory.CreateDirectory(Path.Combine(lower, "etc"));
        File.WriteAllText(Path.Combine(lower, "etc/config"), "old");
        File.WriteAllText(Path.Combine(lower, "gone"), "old");
        var upper = Path.Combine(tmp.Path, "upper");
        MakeUpper(upper);
        var changes = LayerWriter.Diff(upper, [lower]).Select(c => c.ToString()).ToList();
        Assert.Contains("C /etc", changes);
        Assert.Contains("C /etc/config", changes);
        Assert.Contains("D /gone", changes);
        Assert.Contains("A /run.sh", changes);
        Assert.Contains("A /opaque/inner/f", changes);
        Assert.Equal(changes.OrderBy(c => c[2..], StringComparer.Ordinal).ToList(), changes);
    }

    [Fact]
    public void Symlinks_AreNeverFollowed()
    {
        using var tmp = new TempDir("lw");
        var upper = Path.Combine(tmp.Path, "upper");
        Directory.CreateDirectory(upper);
        File.CreateSymbolicLink(Path.Combine(upper, "hostetc"), "/etc");
        var ms = new MemoryStream();
        LayerWriter.Write(upper, ms);
        ms.Position = 0;
        using var r = new TarReader(ms);
        var entries = new List<TarEntry>();
        while (r.GetNextEntry() is { } e) entries.Add(e);
        var only = Assert.Single(entries);
        Assert.Equal(TarEntryType.SymbolicLink, only.EntryType);
        Assert.Equal("/etc", only.LinkName);
    }
}
