using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace ContainerOps.Runtime.Native;

/// <summary>
/// A connected Unix stream socket as a plain blocking <see cref="FileStream"/>. For one-shot command lines only:
/// System.Net.Sockets starts its event-loop thread the first time any socket is made, which costs the OCI
/// command line several milliseconds per container start. Long-running processes use System.Net.Sockets.
/// </summary>
public static partial class UnixSocketFile
{
    private const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000;
    private const int SunPathLength = 108;

    /// <summary>The connected socket, or null when nothing listens at <paramref name="path"/>.</summary>
    public static unsafe FileStream? TryConnect(string path)
    {
        var name = Encoding.UTF8.GetBytes(path);
        if (name.Length >= SunPathLength) throw new ArgumentException($"socket path {path} is longer than {SunPathLength - 1} bytes", nameof(path));
        var fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) Libc.ThrowErrno("socket");
        // struct sockaddr_un: sa_family_t (2 bytes) then sun_path.
        var address = stackalloc byte[2 + SunPathLength];
        new Span<byte>(address, 2 + SunPathLength).Clear();
        *(ushort*)address = AF_UNIX;
        name.CopyTo(new Span<byte>(address + 2, SunPathLength));
        int rc;
        do rc = connect(fd, address, (uint)(2 + name.Length + 1));
        while (rc != 0 && Marshal.GetLastPInvokeError() == Libc.EINTR);
        if (rc != 0)
        {
            Libc.close(fd);
            return null;
        }
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.ReadWrite, bufferSize: 0);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int connect(int fd, byte* address, uint length);
}
