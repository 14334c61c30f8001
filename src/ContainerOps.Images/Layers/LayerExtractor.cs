using ContainerOps.Core.IO;
using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Images.Content;
using ContainerOps.Runtime.Native;
using Microsoft.Win32.SafeHandles;
using static ContainerOps.Runtime.Native.Libc.Fs;

namespace ContainerOps.Images.Layers;

/// <summary>
/// Unpacks an untrusted layer tar (plain or gzip) into an empty directory. Every name is normalised lexically
/// (a name that climbs above the root fails the layer; a leading '/' is dropped), parents are opened with openat2
/// confined to the root and refusing symlinks, and every final component is created with *at() calls that never
/// follow it. OCI whiteouts become overlay whiteouts (0/0 character devices, trusted.overlay.opaque=y).
/// The caller extracts into a fresh temporary directory and discards it when this throws.
/// </summary>
public static class LayerExtractor
{
    public const string WhiteoutPrefix = ".wh.";
    public const string OpaqueWhiteout = ".wh..wh..opq";

    private const ulong ParentResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
    private const ulong ChildResolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;

    public static ExtractResult Extract(Stream layer, string targetDir, ExtractOptions? options = null, CancellationToken ct = default)
    {
        options ??= ExtractOptions.Default;
        var rootFd = Libc.Openat2(AT_FDCWD, targetDir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
        if (rootFd < 0) throw Errno($"open {targetDir}", null);
        try
        {
            using var plain = StreamSniffer.Decompressed(layer, out _);
            using var hashing = new HashingStream(plain, leaveOpen: true);
            var state = new State(rootFd, options);
            try
            {
                // Gunzip and the diff ID's hash run on a read-ahead thread; parsing and file creation on this one.
                using (var ahead = new ReadAheadStream(hashing))
                {
                    var end = new TarEndCheck(ahead);
                    using var reader = new TarReader(end, leaveOpen: true);
                    while (reader.GetNextEntry(copyData: false) is { } entry)
                    {
                        ct.ThrowIfCancellationRequested();
                        if (++state.Entries > options.MaxEntries)
                            throw Invalid("LayerTooLarge", $"layer has more than {options.MaxEntries} entries", null);
                        ExtractEntry(state, entry);
                    }
                    if (!end.EndedCleanly)
                        throw Invalid("CorruptLayer", "layer archive is truncated or corrupt: it ends at a block that is neither a tar header nor the end of the archive", null);
                    while (ahead.Read(state.Buffer) > 0) { } // the digest covers everything after the tar's end too
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException)
            {
                throw Invalid("CorruptLayer", "layer archive is truncated or corrupt: " + e.Message, null, e);
            }
            finally
            {
                state.ForgetParent();
            }
            state.ApplyDirectoryTimes();
            return new ExtractResult(hashing.Digest, hashing.BytesRead, state.ContentBytes, state.Entries);
        }
        finally
        {
            Libc.close(rootFd);
        }
    }

    private sealed class State(int rootFd, ExtractOptions options)
    {
        public readonly int RootFd = rootFd;
        public readonly ExtractOptions Options = options;
        public long ContentBytes;
        public int Entries;
        public readonly List<(string[] Path, DateTimeOffset MTime)> DirTimes = new();
        /// <summary>File data goes through this one buffer.</summary>
        public readonly byte[] Buffer = new byte[256 * 1024];

        /// <summary>The directory the last entry went into, kept open: entries mostly come directory by directory.
        /// An entry that could remove or replace it (its own path or an ancestor's) makes it be forgotten first.</summary>
        public string? CachedDir;
        public int CachedFd = -1;

        public void ForgetParent()
        {
            if (CachedFd >= 0) Libc.close(CachedFd);
            CachedFd = -1;
            CachedDir = null;
        }

        /// <summary>Forgets the cached directory when <paramref name="touched"/> is it or one of its ancestors.</summary>
        public void Touching(string touched)
        {
            if (CachedDir != null && (CachedDir == touched || CachedDir.StartsWith(touched + "/", StringComparison.Ordinal))) ForgetParent();
        }

        public void ApplyDirectoryTimes()
        {
            // Deepest first, so setting a parent's time comes after its children are complete.
            foreach (var (path, mtime) in DirTimes.OrderByDescending(d => d.Path.Length))
            {
                if (path.Length == 0) { SetTimes(RootFd, ".", mtime, followLast: true); continue; }
                var parent = OpenParent(this, path, create: false, cache: false);
                try { SetTimes(parent, path[^1], mtime, followLast: false); }
                finally { CloseParent(this, parent); }
            }
        }
    }

    /// <summary>Splits a tar name into components inside the root (empty for the root itself). Throws when it escapes.</summary>
    public static string[] Normalize(string name, ExtractOptions options)
    {
        if (name.Length > options.MaxPathLength) throw Invalid("InvalidLayerEntry", $"entry name longer than {options.MaxPathLength} bytes", name[..Math.Min(64, name.Length)] + "…");
        if (name.Contains('\0')) throw Invalid("InvalidLayerEntry", "entry name contains NUL", name);
        var stack = new List<string>();
        foreach (var comp in name.Split('/'))
        {
            if (comp.Length == 0 || comp == ".") continue;
            if (comp == "..")
            {
                if (stack.Count == 0) throw Invalid("InvalidLayerEntry", $"entry '{name}' points outside the layer root", name);
                stack.RemoveAt(stack.Count - 1);
                continue;
            }
            if (Encoding.UTF8.GetByteCount(comp) > options.MaxNameLength)
                throw Invalid("InvalidLayerEntry", $"entry '{name}' has a component longer than {options.MaxNameLength} bytes", name);
            stack.Add(comp);
        }
        return stack.ToArray();
    }

    private static void ExtractEntry(State st, TarEntry entry)
    {
        var path = Normalize(entry.Name, st.Options);
        if (entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes) return;
        if (path.Length == 0)
        {
            // "./": the root directory's own metadata.
            if (entry.EntryType == TarEntryType.Directory)
            {
                ApplyOwnerMode(st, st.RootFd, ".", entry, isSymlink: false);
                st.DirTimes.Add((path, entry.ModificationTime));
            }
            return;
        }
        var leaf = path[^1];
        if (leaf.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            ExtractWhiteout(st, path, entry.Name);
            return;
        }
        st.Touching(string.Join('/', path));
        var parent = OpenParent(st, path, create: true);
        try
        {
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    if (Libc.mkdirat(parent, leaf, FileModes.Mode0700) != 0)
                    {
                        var e = Marshal.GetLastPInvokeError();
                        if (e != EEXIST || !IsDirectory(parent, leaf)) { RemoveExisting(parent, leaf, entry.Name); Check(Libc.mkdirat(parent, leaf, FileModes.Mode0700), "mkdir", entry.Name); }
                    }
                    ApplyOwnerMode(st, parent, leaf, entry, isSymlink: false);
                    st.DirTimes.Add((path, entry.ModificationTime));
                    break;

                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    WriteFile(st, parent, leaf, entry);
                    break;

                case TarEntryType.SymbolicLink:
                    if (string.IsNullOrEmpty(entry.LinkName) || entry.LinkName.Contains('\0'))
                        throw Invalid("InvalidLayerEntry", $"symbolic link '{entry.Name}' has no target", entry.Name);
                    // Written as-is: the target is only interpreted inside the container, and later entries never follow it.
                    if (Libc.symlinkat(entry.LinkName, parent, leaf) != 0)
                    {
                        if (Marshal.GetLastPInvokeError() != EEXIST) throw Errno("symlink", entry.Name);
                        RemoveExisting(parent, leaf, entry.Name);
                        Check(Libc.symlinkat(entry.LinkName, parent, leaf), "symlink", entry.Name);
                    }
                    ApplyOwnerMode(st, parent, leaf, entry, isSymlink: true);
                    SetTimes(parent, leaf, entry.ModificationTime, followLast: false);
                    break;

                case TarEntryType.HardLink:
                    Hardlink(st, parent, leaf, entry);
                    break;

                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                    if (entry.EntryType != TarEntryType.Fifo && !st.Options.AllowDevices)
                        throw Invalid("DeviceNotAllowed", $"layer entry '{entry.Name}' is a device node; device nodes are not allowed in images", entry.Name);
                    var type = entry.EntryType switch { TarEntryType.CharacterDevice => S_IFCHR, TarEntryType.BlockDevice => S_IFBLK, _ => S_IFIFO };
                    var dev = entry is PosixTarEntry pe && entry.EntryType != TarEntryType.Fifo ? Libc.MakeDev((uint)pe.DeviceMajor, (uint)pe.DeviceMinor) : 0;
                    if (Libc.mknodat(parent, leaf, type | FileModes.Mode0600, dev) != 0)
                    {
                        if (Marshal.GetLastPInvokeError() != EEXIST) throw Errno("mknod", entry.Name);
                        RemoveExisting(parent, leaf, entry.Name);
                        Check(Libc.mknodat(parent, leaf, type | FileModes.Mode0600, dev), "mknod", entry.Name);
                    }
                    ApplyOwnerMode(st, parent, leaf, entry, isSymlink: false);
                    SetTimes(parent, leaf, entry.ModificationTime, followLast: false);
                    break;

                default:
                    throw Invalid("InvalidLayerEntry", $"layer entry '{entry.Name}' has unsupported type {entry.EntryType}", entry.Name);
            }
        }
        finally
        {
            CloseParent(st, parent);
        }
    }

    private static void ExtractWhiteout(State st, string[] path, string entryName)
    {
        var leaf = path[^1];
        if (leaf != OpaqueWhiteout) st.Touching(string.Join('/', path[..^1].Append(leaf[WhiteoutPrefix.Length..])));
        var parent = OpenParent(st, path, create: true);
        try
        {
            if (leaf == OpaqueWhiteout)
            {
                // The directory hides everything below it in lower layers.
                var fd = Libc.Openat2(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, ChildResolve);
                if (fd < 0) throw Errno("open", entryName);
                try { SetXattr(fd, "trusted.overlay.opaque", "y"u8, entryName); }
                finally { Libc.close(fd); }
                return;
            }
            var name = leaf[WhiteoutPrefix.Length..];
            if (name.Length == 0 || name == "." || name == ".." || name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
                throw Invalid("InvalidLayerEntry", $"invalid whiteout '{entryName}'", entryName);
            RemoveExisting(parent, name, entryName);
            Check(Libc.mknodat(parent, name, S_IFCHR, 0), "mknod whiteout", entryName);
        }
        finally
        {
            CloseParent(st, parent);
        }
    }

    private static void WriteFile(State st, int parent, string leaf, TarEntry entry)
    {
        const int create = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        var fd = Libc.Openat2(parent, leaf, create, FileModes.Mode0600, ChildResolve);
        if (fd < 0)
        {
            // Something is there already: a later entry replaces an earlier one.
            if (Marshal.GetLastPInvokeError() != EEXIST) throw Errno("create", entry.Name);
            RemoveExisting(parent, leaf, entry.Name);
            fd = Libc.Openat2(parent, leaf, create, FileModes.Mode0600, ChildResolve);
            if (fd < 0) throw Errno("create", entry.Name);
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (entry.DataStream is { } data)
        {
            var buf = st.Buffer;
            long written = 0;
            int n;
            while ((n = data.Read(buf, 0, buf.Length)) > 0)
            {
                st.ContentBytes += n;
                if (st.ContentBytes > st.Options.MaxTotalBytes)
                    throw Invalid("LayerTooLarge", $"layer content exceeds {st.Options.MaxTotalBytes} bytes", entry.Name);
                RandomAccess.Write(handle, buf.AsSpan(0, n), written);
                written += n;
            }
            if (written != entry.Length)
                throw Invalid("CorruptLayer", $"layer archive is truncated inside '{entry.Name}'", entry.Name);
        }
        var raw = (int)handle.DangerousGetHandle();
        if (st.Options.ApplyOwners) Check(Libc.fchown(raw, (uint)entry.Uid, (uint)entry.Gid), "chown", entry.Name);
        Check(Libc.fchmod(raw, (uint)entry.Mode & 0xFFF), "chmod", entry.Name);
        if (entry is PaxTarEntry pax)
            foreach (var (key, value) in pax.ExtendedAttributes)
                if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                {
                    var xname = key["SCHILY.xattr.".Length..];
                    // Only attributes a container image may carry; never trusted.* (overlay's own) or system.*.
                    if (xname.StartsWith("user.", StringComparison.Ordinal) || xname.StartsWith("security.", StringComparison.Ordinal))
                        SetXattr(raw, xname, Encoding.Latin1.GetBytes(value), entry.Name);
                }
        SetTimes(parent, leaf, entry.ModificationTime, followLast: false);
    }

    private static void Hardlink(State st, int parent, string leaf, TarEntry entry)
    {
        if (string.IsNullOrEmpty(entry.LinkName)) throw Invalid("InvalidLayerEntry", $"hard link '{entry.Name}' has no target", entry.Name);
        string[] target;
        try { target = Normalize(entry.LinkName, st.Options); }
        catch (ContainerOpsException)
        {
            throw Invalid("InvalidLayerEntry", $"hard link '{entry.Name}' points outside the layer root ('{entry.LinkName}')", entry.Name);
        }
        if (target.Length == 0) throw Invalid("InvalidLayerEntry", $"hard link '{entry.Name}' points at the root directory", entry.Name);
        var tparent = OpenParent(st, target, create: false, cache: false);
        try
        {
            // flags 0: a symlink target is linked itself, never followed; the target must already be in this layer.
            var rc = Libc.linkat(tparent, target[^1], parent, leaf, 0);
            if (rc != 0 && Marshal.GetLastPInvokeError() == EEXIST)
            {
                RemoveExisting(parent, leaf, entry.Name);
                rc = Libc.linkat(tparent, target[^1], parent, leaf, 0);
            }
            if (rc != 0)
            {
                var e = Marshal.GetLastPInvokeError();
                if (e is ENOENT or EPERM)
                    throw Invalid("InvalidLayerEntry", $"hard link '{entry.Name}' must point at an earlier file of the same layer, not '{entry.LinkName}'", entry.Name);
                throw Errno("link", entry.Name, e);
            }
        }
        finally
        {
            CloseParent(st, tparent);
        }
    }

    /// <summary>An O_PATH fd on the directory holding <paramref name="path"/>'s last component, resolved inside the root
    /// without following any symlink; missing directories are created (0755) when <paramref name="create"/>. With
    /// <paramref name="cache"/> the fd is kept for the next entries (<see cref="CloseParent"/> leaves it open).</summary>
    private static int OpenParent(State st, string[] path, bool create, bool cache = true)
    {
        if (path.Length == 1) return st.RootFd;
        var dirs = string.Join('/', path, 0, path.Length - 1);
        if (cache && dirs == st.CachedDir) return st.CachedFd;
        var fd = OpenParentUncached(st, path, dirs, create);
        if (cache)
        {
            st.ForgetParent();
            (st.CachedDir, st.CachedFd) = (dirs, fd);
        }
        return fd;
    }

    private static int OpenParentUncached(State st, string[] path, string dirs, bool create)
    {
        var fd = Libc.Openat2(st.RootFd, dirs, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, ParentResolve);
        if (fd >= 0) return fd;
        var err = Marshal.GetLastPInvokeError();
        if (err != ENOENT || !create) throw ParentError(err, path);
        // Walk one component at a time, creating what is missing.
        var cur = st.RootFd;
        for (var i = 0; i < path.Length - 1; i++)
        {
            var next = Libc.Openat2(cur, path[i], O_PATH | O_DIRECTORY | O_CLOEXEC, 0, ChildResolve);
            if (next < 0 && Marshal.GetLastPInvokeError() == ENOENT)
            {
                if (Libc.mkdirat(cur, path[i], FileModes.Mode0755) != 0 && Marshal.GetLastPInvokeError() != EEXIST) { var e = Marshal.GetLastPInvokeError(); Release(cur); throw Errno("mkdir", string.Join('/', path), e); }
                next = Libc.Openat2(cur, path[i], O_PATH | O_DIRECTORY | O_CLOEXEC, 0, ChildResolve);
            }
            var e2 = Marshal.GetLastPInvokeError();
            Release(cur);
            if (next < 0) throw ParentError(e2, path);
            cur = next;
        }
        return cur;

        void Release(int f) { if (f != st.RootFd) Libc.close(f); }
    }

    private static Exception ParentError(int err, string[] path)
    {
        var name = string.Join('/', path);
        return err switch
        {
            ELOOP => Invalid("InvalidLayerEntry", $"entry '{name}' goes through a symbolic link", name),
            EXDEV => Invalid("InvalidLayerEntry", $"entry '{name}' points outside the layer root", name),
            ENOTDIR => Invalid("InvalidLayerEntry", $"entry '{name}' goes through a non-directory", name),
            ENOENT => Invalid("InvalidLayerEntry", $"entry '{name}' refers to a directory that is not in the layer", name),
            _ => Errno("open parent", name, err),
        };
    }

    private static void CloseParent(State st, int fd)
    {
        if (fd != st.RootFd && fd != st.CachedFd) Libc.close(fd);
    }

    private static bool IsDirectory(int parent, string leaf)
    {
        var fd = Libc.Openat2(parent, leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, ChildResolve);
        if (fd < 0) return false;
        Libc.close(fd);
        return true;
    }

    /// <summary>Removes whatever a previous entry left at <paramref name="leaf"/> (a later entry replaces an earlier one).</summary>
    private static void RemoveExisting(int parent, string leaf, string entryName)
    {
        if (Libc.unlinkat(parent, leaf, 0) == 0) return;
        var e = Marshal.GetLastPInvokeError();
        if (e == ENOENT) return;
        if (e is EISDIR or EPERM)
        {
            if (Libc.unlinkat(parent, leaf, AT_REMOVEDIR) == 0) return;
            e = Marshal.GetLastPInvokeError();
            if (e == ENOTEMPTY) throw Invalid("InvalidLayerEntry", $"entry '{entryName}' would replace a non-empty directory", entryName);
        }
        throw Errno("remove", entryName, e);
    }

    private static void ApplyOwnerMode(State st, int dirFd, string name, TarEntry entry, bool isSymlink)
    {
        if (st.Options.ApplyOwners)
            Check(Libc.fchownat(dirFd, name, (uint)entry.Uid, (uint)entry.Gid, AT_SYMLINK_NOFOLLOW), "chown", entry.Name);
        // Symlink modes are meaningless on Linux. For others the last component was created by us just now and is
        // not a symlink, so following it is safe; chmod after chown keeps setuid bits.
        if (!isSymlink) Check(Libc.fchmodat(dirFd, name, (uint)entry.Mode & 0xFFF, 0), "chmod", entry.Name);
    }

    private static unsafe void SetTimes(int dirFd, string name, DateTimeOffset mtime, bool followLast)
    {
        var ts = stackalloc Libc.Timespec[2];
        var secs = mtime.ToUnixTimeSeconds();
        var nsec = (mtime.UtcTicks - DateTimeOffset.FromUnixTimeSeconds(secs).UtcTicks) * 100;
        ts[0] = new Libc.Timespec { Sec = secs, Nsec = nsec };
        ts[1] = ts[0];
        // Best effort: times that do not fit are not worth failing a layer for.
        Libc.utimensat(dirFd, name, ts, followLast ? 0 : AT_SYMLINK_NOFOLLOW);
    }

    private static unsafe void SetXattr(int fd, string name, ReadOnlySpan<byte> value, string entryName)
    {
        fixed (byte* p = value)
            if (Libc.fsetxattr(fd, name, p, (nuint)value.Length, 0) != 0) throw Errno("setxattr " + name, entryName);
    }

    private static void Check(int rc, string what, string entryName)
    {
        if (rc != 0) throw Errno(what, entryName);
    }

    private static Exception Errno(string what, string? entryName, int? errno = null)
    {
        var e = errno ?? Marshal.GetLastPInvokeError();
        return new IOException($"{what} {entryName}: {Libc.StrError(e)}", e);
    }

    internal static ContainerOpsException Invalid(string id, string message, string? entry, Exception? inner = null) =>
        new(ErrorKind.InvalidArgument, id, message, entry, inner: inner);
}
