using ContainerOps.Core.IO;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ContainerOps.Core.Api;
using ContainerOps.Images.Layers;
using ContainerOps.Runtime.Native;
using static ContainerOps.Runtime.Native.Libc.Fs;

namespace ContainerOps.Images.Build;

public enum CopyKind { File, Directory, Symlink, Archive }

/// <summary>One thing to create in the rootfs: <see cref="Dest"/> is an absolute container path.</summary>
public sealed record CopyItem(CopyKind Kind, string SourceHost, string Dest, int Mode, int Uid, int Gid, DateTimeOffset MTime, string? LinkTarget);

/// <summary>
/// COPY/ADD semantics: sources relative to the context (or a stage's rootfs) with globs, never above it; a directory
/// source copies its contents; the destination is a directory when it ends with '/', when there are several sources,
/// or when it already is one; relative destinations start at WORKDIR. The plan carries a content hash for the cache.
/// </summary>
public sealed class CopyPlan
{
    public List<CopyItem> Items { get; } = new();
    public string ContentHash { get; private set; } = "";

    public sealed class Options
    {
        public required string SourceRoot { get; init; }
        public DockerIgnore Ignore { get; init; } = DockerIgnore.Empty;
        public required IReadOnlyList<string> Sources { get; init; }
        public required string Dest { get; init; }
        public string? WorkingDir { get; init; }
        /// <summary>Owner for everything copied; null keeps the source's owner (--from) or root (context).</summary>
        public (int Uid, int Gid)? Chown { get; init; }
        public bool KeepSourceOwner { get; init; }
        public int? Chmod { get; init; }
        public bool ExtractArchives { get; init; }
        /// <summary>Whether a destination path is an existing directory in the target rootfs.</summary>
        public Func<string, bool> DestIsDirectory { get; init; } = _ => false;
    }

    public static CopyPlan Create(Options o)
    {
        var plan = new CopyPlan();
        var dest = o.Dest;
        if (!dest.StartsWith('/')) dest = (o.WorkingDir ?? "/").TrimEnd('/') + "/" + dest;
        var destIsDir = dest.EndsWith('/') || dest.EndsWith("/.") || o.Sources.Count > 1;
        var destClean = "/" + string.Join('/', RootfsWriter.Split(dest));

        using var src = new RootfsWriter(o.SourceRoot);
        var matches = new List<(string Rel, string Host)>();
        foreach (var pattern in o.Sources)
        {
            var found = Expand(src, o, pattern);
            if (found.Count == 0) throw new ContainerOpsException(ErrorKind.NotFound, "CopySourceNotFound", $"'{pattern}': no such file or directory in the {(o.KeepSourceOwner ? "source stage" : "build context")}", pattern);
            matches.AddRange(found);
        }
        if (matches.Count > 1) destIsDir = true;
        if (!destIsDir && o.DestIsDirectory(destClean)) destIsDir = true;

        foreach (var (rel, host) in matches)
        {
            if (!LayerWriter.Native.LStat(host, out var st)) continue;
            var type = st.Mode & S_IFMT;
            if (type == S_IFDIR)
            {
                plan.AddTree(o, host, rel, destClean, root: true);
                continue;
            }
            var name = rel.Length == 0 ? "" : rel[(rel.LastIndexOf('/') + 1)..];
            if (o.ExtractArchives && type == S_IFREG && IsArchive(host))
            {
                plan.Items.Add(new CopyItem(CopyKind.Archive, host, destClean, FileModes.Mode0755, 0, 0, st.MTime, null));
                continue;
            }
            var target = destIsDir ? destClean.TrimEnd('/') + "/" + name : destClean;
            plan.AddEntry(o, host, st, target);
        }
        plan.ContentHash = plan.Hash();
        return plan;
    }

    private void AddTree(Options o, string host, string rel, string dest, bool root, bool addSelf = true)
    {
        if (!LayerWriter.Native.LStat(host, out var st)) return;
        if (addSelf) Items.Add(Item(o, CopyKind.Directory, host, dest, st, null));
        var names = Directory.EnumerateFileSystemEntries(host).Select(p => Path.GetFileName(p)!).ToList();
        names.Sort(StringComparer.Ordinal);
        foreach (var n in names)
        {
            var childRel = rel.Length == 0 ? n : rel + "/" + n;
            var childHost = Path.Combine(host, n);
            if (!LayerWriter.Native.LStat(childHost, out var cst)) continue;
            var childDest = dest.TrimEnd('/') + "/" + n;
            var isDir = (cst.Mode & S_IFMT) == S_IFDIR;
            if (o.Ignore.IsExcluded(childRel))
            {
                // An exception ("!dir/keep") may re-include something below an excluded directory.
                if (isDir && o.Ignore.HasExceptions) AddTree(o, childHost, childRel, childDest, root: false, addSelf: false);
                continue;
            }
            if (isDir) AddTree(o, childHost, childRel, childDest, root: false);
            else AddEntry(o, childHost, cst, childDest);
        }
    }

    private void AddEntry(Options o, string host, LayerWriter.Native.Stat st, string dest)
    {
        var type = st.Mode & S_IFMT;
        if (type == S_IFREG) Items.Add(Item(o, CopyKind.File, host, dest, st, null));
        else if (type == 0xA000) Items.Add(Item(o, CopyKind.Symlink, host, dest, st, LayerWriter.Native.ReadLink(host)));
        // devices, fifos and sockets are not copied
    }

    private static CopyItem Item(Options o, CopyKind kind, string host, string dest, LayerWriter.Native.Stat st, string? link)
    {
        var (uid, gid) = o.Chown ?? (o.KeepSourceOwner ? ((int)st.Uid, (int)st.Gid) : (0, 0));
        var mode = (int)(st.Mode & 0xFFF);
        if (o.Chmod is { } m && kind != CopyKind.Symlink) mode = m;
        return new CopyItem(kind, host, dest, mode, uid, gid, st.MTime, link);
    }

    /// <summary>Expands one source (globs per component) to (path relative to the source root, host path).</summary>
    private static List<(string, string)> Expand(RootfsWriter src, Options o, string pattern)
    {
        var parts = new List<string>();
        foreach (var c in pattern.Replace('\\', '/').Split('/'))
        {
            if (c.Length == 0 || c == ".") continue;
            if (c == "..")
            {
                if (parts.Count == 0) throw new ContainerOpsException(ErrorKind.InvalidArgument, "CopyOutsideContext", $"'{pattern}' points outside the build context", pattern);
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(c);
        }
        var current = new List<string> { "" };
        foreach (var part in parts)
        {
            var next = new List<string>();
            foreach (var rel in current)
            {
                if (!HasGlob(part)) { next.Add(rel.Length == 0 ? part : rel + "/" + part); continue; }
                var host = src.HostPath(rel.Length == 0 ? "/" : rel);
                if (host == null || !Directory.Exists(host)) continue;
                var re = new Regex("^" + GlobComponent(part) + "$", RegexOptions.CultureInvariant);
                foreach (var n in Directory.EnumerateFileSystemEntries(host).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal))
                    if (re.IsMatch(n)) next.Add(rel.Length == 0 ? n : rel + "/" + n);
            }
            current = next;
        }
        var result = new List<(string, string)>();
        foreach (var rel in current)
        {
            if (rel.Length > 0 && o.Ignore.IsExcluded(rel)) continue;
            var host = src.HostPath(rel.Length == 0 ? "/" : rel);
            if (host != null) result.Add((rel, host));
        }
        return result;
    }

    private static bool HasGlob(string s) => s.IndexOfAny(['*', '?', '[']) >= 0;

    private static string GlobComponent(string p)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < p.Length; i++)
        {
            var c = p[i];
            if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else if (c == '[' && p.IndexOf(']', i + 1) is var end && end > i)
            {
                var cls = p[(i + 1)..end];
                if (cls.StartsWith('!') || cls.StartsWith('^')) cls = "^" + cls[1..];
                sb.Append('[').Append(cls.Replace("\\", "\\\\")).Append(']');
                i = end;
            }
            else if (c == '\\' && i + 1 < p.Length) sb.Append(Regex.Escape(p[++i].ToString()));
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return sb.ToString();
    }

    /// <summary>A tar archive, plain or gzip (ADD extracts these).</summary>
    public static bool IsArchive(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            using var plain = StreamSniffer.Decompressed(f, out _);
            var buf = new byte[512];
            var n = 0;
            while (n < buf.Length && plain.Read(buf, n, buf.Length - n) is var r && r > 0) n += r;
            return n == 512 && Encoding.ASCII.GetString(buf, 257, 5) == "ustar";
        }
        catch (Exception e) when (e is IOException or InvalidDataException) { return false; }
    }

    /// <summary>An archive ADD extracts is plain content: whiteout names would delete files of the image below.</summary>
    private static void RefuseWhiteouts(string archive)
    {
        using var f = File.OpenRead(archive);
        using var plain = StreamSniffer.Decompressed(f, out _);
        using var reader = new TarReader(plain);
        while (reader.GetNextEntry() is { } e)
        {
            var leaf = e.Name.TrimEnd('/');
            leaf = leaf[(leaf.LastIndexOf('/') + 1)..];
            if (leaf.StartsWith(LayerExtractor.WhiteoutPrefix, StringComparison.Ordinal))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidArchive", $"archive '{Path.GetFileName(archive)}' holds the whiteout entry '{e.Name}'", e.Name);
        }
    }

    private string Hash()
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var i in Items)
        {
            h.AppendData(Encoding.UTF8.GetBytes($"{i.Kind}\t{i.Dest}\t{i.Mode}\t{i.Uid}:{i.Gid}\t{i.LinkTarget}\t"));
            if (i.Kind is CopyKind.File or CopyKind.Archive)
            {
                using var f = File.OpenRead(i.SourceHost);
                h.AppendData(SHA256.HashData(f));
            }
            h.AppendData("\n"u8);
        }
        return Convert.ToHexStringLower(h.GetCurrentHash());
    }

    /// <summary>Creates every item in <paramref name="target"/>.</summary>
    public void Apply(RootfsWriter target, CancellationToken ct, (int Uid, int Gid)? owner = null)
    {
        foreach (var it in Items)
        {
            var item = owner is { } o ? it with { Uid = o.Uid, Gid = o.Gid } : it;
            ct.ThrowIfCancellationRequested();
            if (item.Kind == CopyKind.Archive)
            {
                RefuseWhiteouts(item.SourceHost);
                var dirFd = target.MkdirAll(item.Dest);
                try
                {
                    using var f = File.OpenRead(item.SourceHost);
                    LayerExtractor.Extract(f, $"/proc/self/fd/{dirFd}", ExtractOptions.Default, ct);
                }
                finally { Libc.close(dirFd); }
                continue;
            }
            var parts = RootfsWriter.Split(item.Dest);
            if (parts.Length == 0)
            {
                if (item.Kind == CopyKind.Directory) continue; // copying into "/"
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCopyDestination", "cannot copy a file over the root directory", item.Dest);
            }
            var parent = target.MkdirAll("/" + string.Join('/', parts[..^1]), item.Uid, item.Gid);
            try
            {
                var name = parts[^1];
                switch (item.Kind)
                {
                    case CopyKind.Directory:
                        Libc.close(target.Mkdir(parent, name, item.Mode, item.Uid, item.Gid));
                        break;
                    case CopyKind.File:
                        var fd = Libc.open(item.SourceHost, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
                        if (fd < 0) throw new IOException($"open {item.SourceHost}: {Libc.StrError(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
                        using (var fs = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, true), FileAccess.Read))
                            target.WriteFile(parent, name, fs, item.Mode, item.Uid, item.Gid, item.MTime);
                        break;
                    case CopyKind.Symlink:
                        target.Symlink(parent, name, item.LinkTarget!, item.Uid, item.Gid, item.MTime);
                        break;
                }
            }
            finally { Libc.close(parent); }
        }
    }
}
