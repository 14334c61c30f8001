using System.Runtime.InteropServices;

namespace ContainerOps.Runtime.Native;

/// <summary>stat and lstat with the kernel's struct (device numbers included, which System.IO does not give).</summary>
public static partial class Libc
{
    /// <summary>struct stat as the x86_64 kernel and glibc lay it out (144 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RawStat
    {
        public ulong Dev, Ino, NLink;
        public uint Mode, Uid, Gid;
        public int Pad0;
        public ulong RDev;
        public long Size, BlkSize, Blocks;
        public long ATimeSec, ATimeNsec, MTimeSec, MTimeNsec, CTimeSec, CTimeNsec;
        public long R0, R1, R2;
    }

    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lstat(string path, out RawStat st);

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int stat(string path, out RawStat st);

    /// <summary>Whether <paramref name="path"/> (not followed if a symlink) is the root of a mount: statx(2)'s
    /// STATX_ATTR_MOUNT_ROOT (Linux 5.8), one system call where a scan of /proc/self/mountinfo reads and splits every
    /// mount of the namespace. Null when the kernel does not report the attribute (the caller falls back to the
    /// scan); false when the path does not exist.</summary>
    public static unsafe bool? IsMountRoot(string path)
    {
        // struct statx is 256 bytes; only stx_attributes (offset 8) and stx_attributes_mask (offset 56) are read.
        var buffer = stackalloc byte[256];
        if (statx(Fs.AT_FDCWD, path, Fs.AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, buffer) != 0)
            return Marshal.GetLastPInvokeError() == Fs.ENOENT ? false : null;
        var attributes = *(ulong*)(buffer + 8);
        var supported = *(ulong*)(buffer + 56);
        if ((supported & STATX_ATTR_MOUNT_ROOT) == 0) return null;
        return (attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    }

    private const int AT_NO_AUTOMOUNT = 0x800;
    private const ulong STATX_ATTR_MOUNT_ROOT = 0x2000;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>glibc's major() and minor() of a dev_t.</summary>
    public static (long Major, long Minor) DeviceNumbers(ulong dev) =>
        ((long)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffUL)), (long)((dev & 0xff) | ((dev >> 12) & ~0xffUL)));
}
