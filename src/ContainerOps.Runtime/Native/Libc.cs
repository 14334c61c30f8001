using System.Runtime.InteropServices;

namespace ContainerOps.Runtime.Native;

/// <summary>
/// Process and terminal syscalls the runtime needs. Only calls that are safe from a multithreaded process live here:
/// everything between clone and exec happens in the C shim. File-system syscalls are in Libc.Files.cs.
/// </summary>
public static partial class Libc
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGCHLD = 17, SIGWINCH = 28;
    public const int ESRCH = 3, EINTR = 4, EAGAIN = 11, ECHILD = 10, ENOENT = 2;
    public const int WNOHANG = 1;
    public const int O_RDWR = 2, O_NOCTTY = 0x100, O_CLOEXEC = 0x80000, O_NONBLOCK = 0x800;
    public const ulong TIOCSWINSZ = 0x5414, TIOCGWINSZ = 0x5413;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int waitpid(int pid, out int status, int options);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int posix_openpt(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int grantpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int unlockpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int ptsname_r(int fd, byte* buf, nuint len);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe2(Span<int> fds, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static unsafe partial int ioctl(int fd, ulong request, void* arg);

    /// <summary>FIONREAD: bytes waiting to be read. SIOCOUTQ on a Unix socket: bytes sent that its peer has not read yet.</summary>
    public const ulong FIONREAD = 0x541B, SIOCOUTQ = 0x5411;

    /// <summary>The count a FIONREAD or SIOCOUTQ <paramref name="request"/> gives for <paramref name="handle"/>; 0 when
    /// it is closed or the call fails.</summary>
    public static unsafe int QueuedBytes(SafeHandle handle, ulong request)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int bytes = 0;
            return ioctl((int)handle.DangerousGetHandle(), request, &bytes) == 0 ? bytes : 0;
        }
        catch (ObjectDisposedException) { return 0; }
        finally { if (added) handle.DangerousRelease(); }
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial long syscall(long number, int arg1, int arg2);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkfifo(string path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial nint read(int fd, void* buf, nuint count);

    public const short POLLIN = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd { public int Fd; public short Events, Revents; }

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint strerror_native(int errnum);

    [StructLayout(LayoutKind.Sequential)]
    public struct WinSize { public ushort Rows, Cols, XPixel, YPixel; }

    private const long SYS_pidfd_open = 434;

    /// <summary>A pollable handle on a process that does not get confused by pid reuse (-1 when the process is gone).</summary>
    public static int PidfdOpen(int pid) => (int)syscall(SYS_pidfd_open, pid, 0);

    public static string StrError(int errno) => Marshal.PtrToStringUTF8(strerror_native(errno)) ?? $"errno {errno}";

    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>Whether <paramref name="pid"/> names a live process (zombies count as alive until reaped).</summary>
    public static bool ProcessExists(int pid) => pid > 0 && (kill(pid, 0) == 0 || LastErrno != ESRCH);

    public static unsafe void SetWindowSize(int fd, int rows, int cols)
    {
        var ws = new WinSize { Rows = (ushort)rows, Cols = (ushort)cols };
        if (ioctl(fd, TIOCSWINSZ, &ws) != 0) ThrowErrno("TIOCSWINSZ");
    }

    public static void ThrowErrno(string what, int? errno = null)
    {
        var e = errno ?? LastErrno;
        throw new IOException($"{what}: {StrError(e)}", e);
    }

    /// <summary>Decodes a waitpid status with Docker's conventions (128+signal when killed).</summary>
    public static int ExitCodeFromWaitStatus(int status)
    {
        var signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }
}
