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

    /// <summary>glibc's major() and minor() of a dev_t.</summary>
    public static (long Major, long Minor) DeviceNumbers(ulong dev) =>
        ((long)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffUL)), (long)((dev & 0xff) | ((dev >> 12) & ~0xffUL)));
}
