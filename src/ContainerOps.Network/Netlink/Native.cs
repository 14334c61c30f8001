using System.Runtime.InteropServices;

namespace ContainerOps.Network.Netlink;

/// <summary>The few libc calls the network engine needs: netlink sockets and network namespace switching.</summary>
internal static partial class Native
{
    public const int AF_NETLINK = 16;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int NETLINK_ROUTE = 0;
    public const int CLONE_NEWNET = 0x40000000;
    public const int O_RDONLY = 0;
    public const int O_CLOEXEC = 0x80000;
    public const int ENODEV = 19;
    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int EINTR = 4;
    public const int SOL_SOCKET = 1;
    public const int SO_RCVTIMEO = 20;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;

    [LibraryImport("libc", SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
    [LibraryImport("libc", SetLastError = true)] public static unsafe partial nint send(int fd, byte* buf, nint len, int flags);
    [LibraryImport("libc", SetLastError = true)] public static unsafe partial nint recv(int fd, byte* buf, nint len, int flags);
    [LibraryImport("libc", SetLastError = true)] public static unsafe partial int setsockopt(int fd, int level, int name, void* value, int len);
    [LibraryImport("libc", SetLastError = true)] public static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)] public static partial int setns(int fd, int nstype);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int open(string path, int flags);

    public static int OpenNamespace(string path)
    {
        var fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), "open " + path);
        return fd;
    }
}

/// <summary>An rtnetlink request the kernel refused, with its errno.</summary>
public sealed class NetlinkException(int errno, string operation)
    : Exception($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public int Errno { get; } = errno;
}
