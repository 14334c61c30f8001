using System.Runtime.InteropServices;

namespace ContainerOps.Client.Terminal;

/// <summary>Raw terminal mode for interactive sessions (termios through libc), restored on dispose.</summary>
public sealed unsafe partial class RawTerminal : IDisposable
{
    // struct termios on Linux: 4 flag words, c_line, c_cc[32], two speeds: 60 bytes. Kept in a larger buffer.
    private const int TermiosSize = 64;
    private const int CcOffset = 17;
    private const int VTIME = 5, VMIN = 6;
    private const int TCSANOW = 0;
    private const nuint TIOCGWINSZ = 0x5413;

    private readonly int _fd;
    private readonly byte[] _saved = new byte[TermiosSize];
    private bool _restored;

    private RawTerminal(int fd) => _fd = fd;

    [LibraryImport("libc", SetLastError = true)] private static partial int tcgetattr(int fd, byte* termios);
    [LibraryImport("libc", SetLastError = true)] private static partial int tcsetattr(int fd, int optionalActions, byte* termios);
    [LibraryImport("libc")] private static partial void cfmakeraw(byte* termios);
    [LibraryImport("libc", SetLastError = true)] private static partial int isatty(int fd);
    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)] private static partial nint sys_read(int fd, byte* buffer, nuint count);
    [LibraryImport("libc", SetLastError = true)] private static partial int ioctl(int fd, nuint request, ushort* winsize);

    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>The terminal's size now (read from the kernel).</summary>
    public static (int Rows, int Columns)? Size(int fd)
    {
        ushort* ws = stackalloc ushort[4];
        return ioctl(fd, TIOCGWINSZ, ws) == 0 && ws[0] > 0 && ws[1] > 0 ? (ws[0], ws[1]) : null;
    }

    /// <summary>Puts <paramref name="fd"/> in raw mode with reads that return after 0.1 s without input (VMIN 0, VTIME 1),
    /// so the reader can notice the session's end. Null when <paramref name="fd"/> is not a terminal.</summary>
    public static RawTerminal? Enter(int fd)
    {
        var t = new RawTerminal(fd);
        var raw = new byte[TermiosSize];
        fixed (byte* saved = t._saved)
        fixed (byte* r = raw)
        {
            if (tcgetattr(fd, saved) != 0) return null;
            Buffer.MemoryCopy(saved, r, TermiosSize, TermiosSize);
            cfmakeraw(r);
            r[CcOffset + VMIN] = 0;
            r[CcOffset + VTIME] = 1;
            if (tcsetattr(fd, TCSANOW, r) != 0) return null;
        }
        return t;
    }

    /// <summary>Reads what is available: &gt;0 bytes, 0 on timeout, -1 on end or error.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        while (true)
        {
            nint n;
            fixed (byte* b = buffer) n = sys_read(fd, b, (nuint)buffer.Length);
            if (n >= 0) return (int)n;
            if (Marshal.GetLastPInvokeError() == 4 /* EINTR */) continue;
            return -1;
        }
    }

    public void Dispose()
    {
        if (_restored) return;
        _restored = true;
        fixed (byte* saved = _saved) tcsetattr(_fd, TCSANOW, saved);
    }
}
