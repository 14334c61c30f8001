using ContainerOps.Core.IO;
using System.Runtime.InteropServices;
using ContainerOps.Core.Api;
using ContainerOps.Images.Layers;
using ContainerOps.Runtime.Native;
using Microsoft.Win32.SafeHandles;
using static ContainerOps.Runtime.Native.Libc.Fs;

namespace ContainerOps.Images.Build;

/// <summary>
/// Writes into a mounted container root filesystem the way the container would see it: every path is resolved with
/// openat2(RESOLVE_IN_ROOT), so a symlink in the image (<c>/app -> /</c>, <c>/x -> ../../etc</c>) is followed inside
/// the rootfs and can never lead to the host; final components are created with *at() calls that never follow them.
/// </summary>
public sealed class RootfsWriter : IDisposable
{
    private const ulong InRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    private const ulong Beneath = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    private readonly int _root;

    public string RootPath { get; }

    public RootfsWriter(string rootPath)
    {
        RootPath = rootPath;
        _root = Libc.Openat2(AT_FDCWD, rootPath, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
        if (_root < 0) throw Errno("open", rootPath);
    }

    public void Dispose() => Libc.close(_root);

    public static string[] Split(string containerPath) =>
        containerPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(c => c != ".").ToArray();

    /// <summary>Opens (O_PATH) the directory at <paramref name="containerPath"/>, creating missing components (0755, owned
    /// by <paramref name="uid"/>:<paramref name="gid"/>). The caller closes the fd.</summary>
    public int MkdirAll(string containerPath, int uid = 0, int gid = 0)
    {
        var parts = Split(containerPath);
        var fd = Libc.Openat2(_root, parts.Length == 0 ? "." : string.Join('/', parts), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, InRoot);
        if (fd >= 0) return fd;
        for (var i = 0; i < parts.Length; i++)
        {
            var prefix = string.Join('/', parts, 0, i + 1);
            fd = Libc.Openat2(_root, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, InRoot);
            if (fd >= 0) { if (i < parts.Length - 1) Libc.close(fd); continue; }
            var err = Marshal.GetLastPInvokeError();
            if (err != ENOENT) throw Errno("open", "/" + prefix, err);
            var parent = Libc.Openat2(_root, i == 0 ? "." : string.Join('/', parts, 0, i), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, InRoot);
            if (parent < 0) throw Errno("open", "/" + prefix);
            try
            {
                if (Libc.mkdirat(parent, parts[i], FileModes.Mode0755) != 0 && Marshal.GetLastPInvokeError() != EEXIST) throw Errno("mkdir", "/" + prefix);
                Libc.fchownat(parent, parts[i], (uint)uid, (uint)gid, AT_SYMLINK_NOFOLLOW);
            }
            finally { Libc.close(parent); }
            fd = Libc.Openat2(_root, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, InRoot);
            if (fd < 0) throw Errno("open", "/" + prefix);
            if (i < parts.Length - 1) Libc.close(fd);
        }
        return fd;
    }

    /// <summary>Whether <paramref name="containerPath"/> is an existing directory (symlinks resolved inside the root).</summary>
    public bool IsDirectory(string containerPath)
    {
        var parts = Split(containerPath);
        var fd = Libc.Openat2(_root, parts.Length == 0 ? "." : string.Join('/', parts), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, InRoot);
        if (fd < 0) return false;
        Libc.close(fd);
        return true;
    }

    /// <summary>The host path of an existing file or directory inside the root (symlinks resolved inside), or null.</summary>
    public string? HostPath(string containerPath)
    {
        var parts = Split(containerPath);
        var fd = Libc.Openat2(_root, parts.Length == 0 ? "." : string.Join('/', parts), O_PATH | O_CLOEXEC, 0, InRoot);
        if (fd < 0) return null;
        try
        {
            var target = Native.ReadLink($"/proc/self/fd/{fd}");
            var root = Path.GetFullPath(RootPath).TrimEnd('/');
            return target == root || target.StartsWith(root + "/", StringComparison.Ordinal) ? target : null;
        }
        finally { Libc.close(fd); }
    }

    public void WriteFile(int dirFd, string name, Stream content, int mode, int uid, int gid, DateTimeOffset mtime)
    {
        RemoveNonDirectory(dirFd, name);
        var fd = Libc.Openat2(dirFd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, FileModes.Mode0600, Beneath);
        if (fd < 0) throw Errno("create", name);
        using (var fs = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write))
        {
            content.CopyTo(fs);
            fs.Flush();
            Libc.fchown(fd, (uint)uid, (uint)gid);
            Libc.fchmod(fd, (uint)mode & 0xFFF);
        }
        SetTime(dirFd, name, mtime);
    }

    public int Mkdir(int dirFd, string name, int mode, int uid, int gid, DateTimeOffset? mtime = null)
    {
        if (Libc.mkdirat(dirFd, name, FileModes.Mode0700) != 0)
        {
            var e = Marshal.GetLastPInvokeError();
            if (e != EEXIST) throw Errno("mkdir", name, e);
            var existing = Libc.Openat2(dirFd, name, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, Beneath);
            if (existing >= 0) return existing; // merge into the existing directory, keep its metadata
            RemoveNonDirectory(dirFd, name);
            if (Libc.mkdirat(dirFd, name, FileModes.Mode0700) != 0) throw Errno("mkdir", name);
        }
        Libc.fchownat(dirFd, name, (uint)uid, (uint)gid, AT_SYMLINK_NOFOLLOW);
        Libc.fchmodat(dirFd, name, (uint)mode & 0xFFF, 0);
        if (mtime is { } t) SetTime(dirFd, name, t);
        var fd = Libc.Openat2(dirFd, name, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, Beneath);
        if (fd < 0) throw Errno("open", name);
        return fd;
    }

    public void Symlink(int dirFd, string name, string target, int uid, int gid, DateTimeOffset mtime)
    {
        RemoveNonDirectory(dirFd, name);
        if (Libc.symlinkat(target, dirFd, name) != 0) throw Errno("symlink", name);
        Libc.fchownat(dirFd, name, (uint)uid, (uint)gid, AT_SYMLINK_NOFOLLOW);
        SetTime(dirFd, name, mtime);
    }

    private static void RemoveNonDirectory(int dirFd, string name)
    {
        if (Libc.unlinkat(dirFd, name, 0) == 0) return;
        var e = Marshal.GetLastPInvokeError();
        if (e == ENOENT) return;
        if (e is EISDIR or EPERM) throw new ContainerOpsException(ErrorKind.Conflict, "CopyOverDirectory", $"cannot replace directory '{name}' with a file", name);
        throw Errno("remove", name, e);
    }

    private static unsafe void SetTime(int dirFd, string name, DateTimeOffset mtime)
    {
        var ts = stackalloc Libc.Timespec[2];
        var secs = mtime.ToUnixTimeSeconds();
        ts[0] = new Libc.Timespec { Sec = secs, Nsec = (mtime.UtcTicks - DateTimeOffset.FromUnixTimeSeconds(secs).UtcTicks) * 100 };
        ts[1] = ts[0];
        Libc.utimensat(dirFd, name, ts, AT_SYMLINK_NOFOLLOW);
    }

    private static Exception Errno(string what, string path, int? errno = null)
    {
        var e = errno ?? Marshal.GetLastPInvokeError();
        return new IOException($"{what} {path}: {Libc.StrError(e)}", e);
    }

    /// <summary>lstat helpers shared with the layer writer.</summary>
    internal static class Native
    {
        public static string ReadLink(string path) => LayerWriter.Native.ReadLink(path);
    }
}
