using ContainerOps.Client.Terminal;
using System.Runtime.InteropServices;
using System.Text;

namespace ContainerOps.PowerShell.Tests;

/// <summary>Raw mode and window size on a real pseudo-terminal (the termios layout is checked against the kernel's).</summary>
public sealed unsafe class TerminalTests : IDisposable
{
    [DllImport("libc", SetLastError = true)] private static extern int posix_openpt(int flags);
    [DllImport("libc", SetLastError = true)] private static extern int grantpt(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int unlockpt(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int ptsname_r(int fd, byte* buf, nuint len);
    [DllImport("libc", SetLastError = true)] private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int tcgetattr(int fd, byte* termios);
    [DllImport("libc", SetLastError = true)] private static extern int ioctl(int fd, nuint request, ushort* winsize);
    [DllImport("libc", SetLastError = true)] private static extern nint write(int fd, byte* buf, nuint count);

    private const int O_RDWR = 2, O_NOCTTY = 0x100;
    private const uint ICANON = 0x2, ECHO = 0x8;
    private readonly int _master, _slave;

    public TerminalTests()
    {
        _master = posix_openpt(O_RDWR | O_NOCTTY);
        Assert.True(_master >= 0 && grantpt(_master) == 0 && unlockpt(_master) == 0);
        var name = new byte[128];
        fixed (byte* n = name) Assert.Equal(0, ptsname_r(_master, n, 128));
        _slave = open(Encoding.ASCII.GetString(name, 0, Array.IndexOf(name, (byte)0)), O_RDWR | O_NOCTTY);
        Assert.True(_slave >= 0);
    }

    public void Dispose()
    {
        close(_slave);
        close(_master);
    }

    private uint LocalFlags()
    {
        var t = stackalloc byte[64];
        Assert.Equal(0, tcgetattr(_slave, t));
        return *(uint*)(t + 12);
    }

    [Fact]
    public void RawModeIsEnteredAndRestored()
    {
        Assert.True(RawTerminal.IsTerminal(_slave));
        Assert.NotEqual(0u, LocalFlags() & (ICANON | ECHO));
        using (var raw = RawTerminal.Enter(_slave))
        {
            Assert.NotNull(raw);
            Assert.Equal(0u, LocalFlags() & (ICANON | ECHO));
            // Reads return after VTIME without input instead of blocking.
            Assert.Equal(0, RawTerminal.Read(_slave, new byte[16]));
            var b = stackalloc byte[] { (byte)'x' };
            Assert.Equal(1, (int)write(_master, b, 1));
            var buffer = new byte[16];
            Assert.Equal(1, RawTerminal.Read(_slave, buffer));
            Assert.Equal((byte)'x', buffer[0]);
        }
        Assert.NotEqual(0u, LocalFlags() & (ICANON | ECHO));
    }

    [Fact]
    public void SizeComesFromTheKernel()
    {
        var ws = stackalloc ushort[] { 33, 111, 0, 0 };
        Assert.Equal(0, ioctl(_master, 0x5414 /* TIOCSWINSZ */, ws));
        Assert.Equal((33, 111), RawTerminal.Size(_slave));
    }

    [Fact]
    public void NotATerminalIsRecognised()
    {
        var path = Path.GetTempFileName();
        var fd = open(path, O_RDWR);
        try
        {
            Assert.False(RawTerminal.IsTerminal(fd));
            Assert.Null(RawTerminal.Enter(fd));
            Assert.Null(RawTerminal.Size(fd));
        }
        finally
        {
            close(fd);
            File.Delete(path);
        }
    }
}
