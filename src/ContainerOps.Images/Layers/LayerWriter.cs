using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using ContainerOps.Images.Content;
using ContainerOps.Runtime.Native;
using Microsoft.Win32.SafeHandles;
using static ContainerOps.Runtime.Native.Libc.Fs;

namespace ContainerOps.Images.Layers;

/// <summary>What a container layer changed compared with the layers below it (<c>docker diff</c>).</summary>
public enum ChangeKind { Added, Changed, Deleted }

public sealed record LayerChange(ChangeKind Kind, string Path)
{
    /// <summary>Docker's one-letter form: A, C or D.</summary>
    public string Letter => Kind switch { ChangeKind.Added => "A", ChangeKind.Changed => "C", _ => "D" };
    public override string ToString() => Letter + " " + Path;
}

/// <summary>
/// Turns a directory tree into a layer tar. From an overlay upper dir, overlay whiteouts (0/0 character devices)
/// become <c>.wh.&lt;name&gt;</c> entries and opaque directories (<c>trusted.overlay.opaque=y</c>) get a
/// <c>.wh..wh..opq</c> entry. Entries come in ordinal path order with their mode, owner, mtime and simple xattrs
/// (user.*, security.capability), files with several links inside the tree become hard links to the first one, so
/// the same tree always gives the same bytes. Nothing is ever followed: every entry is lstat'ed and files are opened
/// with O_NOFOLLOW.
/// </summary>
public static partial class LayerWriter
{
    /// <summary>The files a container runtime bind-mounts over and creates, empty, in the container's layer when the
    /// image has none. Like Docker, a layer made from a container leaves them out.</summary>
    public static readonly IReadOnlySet<string> RuntimeMountPoints = new HashSet<string>(StringComparer.Ordinal) { "etc/hostname", "etc/hosts", "etc/resolv.conf" };

    /// <summary>Writes the layer for <paramref name="dir"/> to <paramref name="output"/> (uncompressed) and returns its
    /// diff ID (sha256 of the tar) and the number of bytes written. Empty regular files at <paramref name="omitEmpty"/>
    /// paths (relative, no leading slash) are left out, and so are directories there that hold nothing but such
    /// entries.</summary>
    public static (string DiffId, long Size) Write(string dir, Stream output, bool overlayUpper = true, CancellationToken ct = default,
        IReadOnlySet<string>? omitEmpty = null)
    {
        using var hashing = new HashingWriteStream(output);
        using (var writer = new TarWriter(hashing, TarEntryFormat.Pax, leaveOpen: true))
        {
            var links = new Dictionary<(ulong Dev, ulong Ino), string>();
            WriteDir(writer, Path.GetFullPath(dir), "", overlayUpper, links, omitEmpty, ct);
        }
        // TarWriter writes no end-of-archive blocks when it wrote no entry; an empty layer is still a tar: two zero
        // blocks (Docker's well-known empty layer, sha256:5f70bf18…).
        if (hashing.Length == 0) hashing.Write(new byte[1024]);
        hashing.Flush();
        return (hashing.Digest, hashing.Length);
    }

    /// <summary>Writes the layer to a file and returns its diff ID (also its blob digest: the tar is not compressed).</summary>
    public static (string DiffId, long Size) WriteFile(string dir, string tarPath, bool overlayUpper = true, CancellationToken ct = default,
        IReadOnlySet<string>? omitEmpty = null)
    {
        using var f = new FileStream(tarPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        var r = Write(dir, f, overlayUpper, ct, omitEmpty);
        f.Flush(true);
        return r;
    }

    /// <summary>Whether everything in a directory is left out: empty files and directories of the same kind.</summary>
    private static bool OnlyOmitted(string hostDir, string rel, IReadOnlySet<string> omit)
    {
        foreach (var child in Directory.EnumerateFileSystemEntries(hostDir))
        {
            var name = Path.GetFileName(child)!;
            var childRel = rel + "/" + name;
            if (!omit.Contains(childRel) || !Native.LStat(child, out var st)) return false;
            var type = st.Mode & S_IFMT;
            if (type == S_IFREG && st.Size == 0) continue;
            if (type == S_IFDIR && OnlyOmitted(child, childRel, omit)) continue;
            return false;
        }
        return true;
    }

    private static void WriteDir(TarWriter writer, string root, string rel, bool overlay, Dictionary<(ulong, ulong), string> links,
        IReadOnlySet<string>? omitEmpty, CancellationToken ct)
    {
        var hostDir = rel.Length == 0 ? root : Path.Combine(root, rel);
        var names = Directory.EnumerateFileSystemEntries(hostDir).Select(p => Path.GetFileName(p)!).ToList();
        names.Sort(StringComparer.Ordinal);
        foreach (var name in names)
        {
            ct.ThrowIfCancellationRequested();
            var relPath = rel.Length == 0 ? name : rel + "/" + name;
            var host = Path.Combine(root, relPath);
            if (!Native.LStat(host, out var st)) continue; // vanished
            var type = st.Mode & S_IFMT;
            if (overlay && type == S_IFCHR && st.RDev == 0)
            {
                // Epoch time: a whiteout has no content and its node's time says nothing; the layer stays reproducible.
                var wh = new PaxTarEntry(TarEntryType.RegularFile, Join(rel, LayerExtractor.WhiteoutPrefix + name))
                {
                    Mode = (UnixFileMode)0, ModificationTime = DateTimeOffset.UnixEpoch, Uid = 0, Gid = 0,
                };
                writer.WriteEntry(wh);
                continue;
            }
            var attrs = Xattrs(host);
            switch (type)
            {
                case S_IFDIR:
                    if (omitEmpty?.Contains(relPath) == true && OnlyOmitted(host, relPath, omitEmpty)) break;
                    writer.WriteEntry(Entry(TarEntryType.Directory, relPath + "/", st, attrs));
                    if (overlay && Native.GetXattr(host, "trusted.overlay.opaque") is { } v && v.Length == 1 && v[0] == (byte)'y')
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, relPath + "/" + LayerExtractor.OpaqueWhiteout)
                        {
                            Mode = (UnixFileMode)0, ModificationTime = st.MTime, Uid = 0, Gid = 0,
                        });
                    WriteDir(writer, root, relPath, overlay, links, omitEmpty, ct);
                    break;
                case S_IFREG:
                    if (st.Size == 0 && omitEmpty?.Contains(relPath) == true) break;
                    if (st.NLink > 1)
                    {
                        if (links.TryGetValue((st.Dev, st.Ino), out var first))
                        {
                            var hl = Entry(TarEntryType.HardLink, relPath, st, attrs);
                            hl.LinkName = first;
                            writer.WriteEntry(hl);
                            break;
                        }
                        links[(st.Dev, st.Ino)] = relPath;
                    }
                    var fe = Entry(TarEntryType.RegularFile, relPath, st, attrs);
                    var fd = Libc.open(host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
                    if (fd < 0) throw new IOException($"open {host}: {Libc.StrError(Marshal.GetLastPInvokeError())}");
                    using (var fs = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read))
                    {
                        fe.DataStream = fs;
                        writer.WriteEntry(fe);
                    }
                    break;
                case 0xA000: // S_IFLNK
                    var sl = Entry(TarEntryType.SymbolicLink, relPath, st, attrs);
                    sl.LinkName = Native.ReadLink(host);
                    writer.WriteEntry(sl);
                    break;
                case S_IFIFO:
                    writer.WriteEntry(Entry(TarEntryType.Fifo, relPath, st, attrs));
                    break;
                case S_IFCHR or S_IFBLK:
                    var de = Entry(type == S_IFCHR ? TarEntryType.CharacterDevice : TarEntryType.BlockDevice, relPath, st, attrs);
                    var (major, minor) = Libc.DeviceNumbers(st.RDev);
                    (de.DeviceMajor, de.DeviceMinor) = ((int)major, (int)minor);
                    writer.WriteEntry(de);
                    break;
                default:
                    break; // sockets: not part of an image
            }
        }
    }

    private static string Join(string rel, string name) => rel.Length == 0 ? name : rel + "/" + name;

    private static PaxTarEntry Entry(TarEntryType type, string name, Native.Stat st, Dictionary<string, string>? attrs)
    {
        var e = attrs is { Count: > 0 } ? new PaxTarEntry(type, name, attrs) : new PaxTarEntry(type, name);
        e.Mode = (UnixFileMode)(st.Mode & 0xFFF);
        e.Uid = (int)st.Uid;
        e.Gid = (int)st.Gid;
        e.ModificationTime = st.MTime;
        return e;
    }

    /// <summary>The xattrs an image may carry (user.*, security.capability), as PAX SCHILY.xattr records.</summary>
    private static Dictionary<string, string>? Xattrs(string path)
    {
        Dictionary<string, string>? result = null;
        foreach (var name in Native.ListXattrs(path))
        {
            if (!name.StartsWith("user.", StringComparison.Ordinal) && name != "security.capability") continue;
            if (Native.GetXattr(path, name) is not { } value) continue;
            (result ??= new(StringComparer.Ordinal))["SCHILY.xattr." + name] = Encoding.Latin1.GetString(value);
        }
        return result;
    }

    // ---------------- diff ----------------

    /// <summary>What an overlay upper dir changes over <paramref name="lowerDirs"/> (top first): whiteouts are deletions,
    /// entries that exist below are changes, the rest additions. Sorted by path, like <c>docker diff</c>.</summary>
    public static List<LayerChange> Diff(string upperDir, IReadOnlyList<string> lowerDirs)
    {
        var changes = new List<LayerChange>();
        DiffDir(Path.GetFullPath(upperDir), "", lowerDirs, changes);
        changes.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return changes;
    }

    private static void DiffDir(string root, string rel, IReadOnlyList<string> lowers, List<LayerChange> changes)
    {
        var hostDir = rel.Length == 0 ? root : Path.Combine(root, rel);
        foreach (var name in Directory.EnumerateFileSystemEntries(hostDir).Select(p => Path.GetFileName(p)!))
        {
            var relPath = rel.Length == 0 ? name : rel + "/" + name;
            var host = Path.Combine(root, relPath);
            if (!Native.LStat(host, out var st)) continue;
            var type = st.Mode & S_IFMT;
            if (type == S_IFCHR && st.RDev == 0)
            {
                changes.Add(new LayerChange(ChangeKind.Deleted, "/" + relPath));
                continue;
            }
            var below = lowers.Any(l => ExistsBeneath(l, relPath));
            changes.Add(new LayerChange(below ? ChangeKind.Changed : ChangeKind.Added, "/" + relPath));
            if (type == S_IFDIR) DiffDir(root, relPath, lowers, changes);
        }
    }

    /// <summary>Whether <paramref name="rel"/> exists under <paramref name="root"/> without going through a symlink.</summary>
    private static bool ExistsBeneath(string root, string rel)
    {
        var fd = Libc.Openat2(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
        if (fd < 0) return false;
        try
        {
            var f = Libc.Openat2(fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
            if (f < 0) return false;
            Libc.close(f);
            return true;
        }
        finally { Libc.close(fd); }
    }

    // ---------------- native helpers ----------------

    internal static partial class Native
    {
        public readonly record struct Stat(ulong Dev, ulong Ino, ulong NLink, uint Mode, uint Uid, uint Gid, ulong RDev, long Size, DateTimeOffset MTime);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial nint llistxattr(string path, byte* list, nuint size);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial nint readlink(string path, byte* buf, nuint size);

        public static bool LStat(string path, out Stat st)
        {
            if (Libc.lstat(path, out var r) != 0)
            {
                var e = Marshal.GetLastPInvokeError();
                if (e is ENOENT or ENOTDIR) { st = default; return false; }
                throw new IOException($"lstat {path}: {Libc.StrError(e)}");
            }
            var mtime = DateTimeOffset.FromUnixTimeSeconds(r.MTimeSec).AddTicks(r.MTimeNsec / 100);
            st = new Stat(r.Dev, r.Ino, r.NLink, r.Mode, r.Uid, r.Gid, r.RDev, r.Size, mtime);
            return true;
        }

        public static unsafe List<string> ListXattrs(string path)
        {
            var size = llistxattr(path, null, 0);
            if (size <= 0) return [];
            var buf = new byte[size];
            fixed (byte* p = buf) size = llistxattr(path, p, (nuint)buf.Length);
            if (size <= 0) return [];
            return Encoding.UTF8.GetString(buf, 0, (int)size).Split('\0', StringSplitOptions.RemoveEmptyEntries).ToList();
        }

        public static unsafe byte[]? GetXattr(string path, string name)
        {
            var size = Libc.lgetxattr(path, name, null, 0);
            if (size < 0) return null;
            var buf = new byte[size];
            if (size == 0) return buf;
            fixed (byte* p = buf) size = Libc.lgetxattr(path, name, p, (nuint)buf.Length);
            return size < 0 ? null : buf.AsSpan(0, (int)size).ToArray();
        }

        public static unsafe string ReadLink(string path)
        {
            var buf = new byte[4096];
            nint n;
            fixed (byte* p = buf) n = readlink(path, p, (nuint)buf.Length);
            if (n < 0) throw new IOException($"readlink {path}: {Libc.StrError(Marshal.GetLastPInvokeError())}");
            return Encoding.UTF8.GetString(buf, 0, (int)n);
        }
    }

    /// <summary>Passes writes through and hashes them.</summary>
    private sealed class HashingWriteStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;
        public string Digest => Content.Digest.FromHash(_hash.GetCurrentHash());
        public override long Length => _length;
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            inner.Write(buffer);
            _length += buffer.Length;
        }
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing) _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
