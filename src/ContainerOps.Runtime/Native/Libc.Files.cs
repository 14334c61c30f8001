using System.Runtime.InteropServices;

namespace ContainerOps.Runtime.Native;

/// <summary>
/// File-system syscalls: path resolution confined to a root (openat2), *at() creation calls that never follow a
/// final symlink, xattrs, and mount/umount. Constants live in <see cref="Fs"/> so they cannot collide with the
/// process constants in Libc.cs.
/// </summary>
public static partial class Libc
{
    /// <summary>Flags and errno values for the file-system calls (x86_64 / generic Linux values).</summary>
    public static class Fs
    {
        public const int AT_FDCWD = -100;
        public const int AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400, AT_EMPTY_PATH = 0x1000;

        public const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80, O_TRUNC = 0x200;
        public const int O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;

        public const ulong RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_NO_SYMLINKS = 0x04,
            RESOLVE_BENEATH = 0x08, RESOLVE_IN_ROOT = 0x10;

        public const uint S_IFMT = 0xF000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFDIR = 0x4000, S_IFBLK = 0x6000, S_IFREG = 0x8000;

        public const int MS_RDONLY = 1, MS_BIND = 0x1000, MS_REC = 0x4000, MS_PRIVATE = 1 << 18;
        public const int MNT_FORCE = 1, MNT_DETACH = 2;

        public const int EPERM = 1, ENOENT = 2, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, EISDIR = 21, EINVAL = 22,
            EBUSY = 16, ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EOPNOTSUPP = 95;

        /// <summary>Special value of timespec.tv_nsec: leave this time unchanged.</summary>
        public const long UTIME_OMIT = (1L << 30) - 2;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct OpenHow { public ulong Flags, Mode, Resolve; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec { public long Sec, Nsec; }

    private const long SYS_openat2 = 437;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long syscall_openat2(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    /// <summary>openat2(2): opens <paramref name="path"/> relative to <paramref name="dirfd"/> under the given resolve rules.
    /// Returns the fd or -1 (errno in <see cref="LastErrno"/>).</summary>
    public static unsafe int Openat2(int dirfd, string path, int flags, uint mode, ulong resolve)
    {
        var how = new OpenHow { Flags = (ulong)(uint)flags, Mode = (flags & Fs.O_CREAT) != 0 ? mode : 0, Resolve = resolve };
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return (int)syscall_openat2(SYS_openat2, dirfd, p, &how, (nuint)sizeof(OpenHow));
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mknodat(int dirfd, string path, uint mode, ulong dev);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int symlinkat(string target, int newdirfd, string linkpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int linkat(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(int dirfd, string path, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int renameat(int olddirfd, string oldpath, int newdirfd, string newpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fchownat(int dirfd, string path, uint uid, uint gid, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fchmodat(int dirfd, string path, uint mode, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchown(int fd, uint uid, uint gid);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int utimensat(int dirfd, string path, Timespec* times, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int fsetxattr(int fd, string name, byte* value, nuint size, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial nint lgetxattr(string path, string name, byte* value, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string? source, string target, string? fstype, ulong flags, string? data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    /// <summary>makedev(3) for Linux's dev_t encoding.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}
