using System.Management.Automation;
using System.Runtime.InteropServices;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Raw terminal mode for interactive sessions (termios through libc), restored on dispose.</summary>
internal sealed unsafe partial class RawTerminal : IDisposable
{
    // struct termios on Linux: 4 flag words, c_line, c_cc[32], two speeds: 60 bytes. Kept in a larger buffer.
    private const int TermiosSize = 64;
    private const int CcOffset = 17;
    private const int VTIME = 5, VMIN = 6;
    private const int TCSANOW = 0;

    private readonly int _fd;
    private readonly byte[] _saved = new byte[TermiosSize];
    private bool _restored;

    private RawTerminal(int fd) => _fd = fd;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int optionalActions, byte* termios);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint sys_read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, ushort* winsize);

    private const nuint TIOCGWINSZ = 0x5413;

    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>The terminal's size now (read from the kernel, not a cache that SIGWINCH may not have refreshed yet).</summary>
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

/// <summary>Connects this console to an interactive session: raw mode, stdin and stdout copied both ways, the window size
/// sent at the start and on every SIGWINCH. Ends when the process's output ends or it exits, or on <c>stopToken</c>.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class InteractiveTerminal
{
    /// <summary>Whether stdin is a terminal this process may put in raw mode.</summary>
    public static bool Available => RawTerminal.IsTerminal(0) && !System.Console.IsInputRedirected;

    public static ErrorRecord NotATerminal(string message, object? target) =>
        new(new InvalidOperationException(message), "NotATerminal", ErrorCategory.InvalidOperation, target);

    public static int? Run(InteractiveSession session, CancellationToken stopToken, Action<ContainerOpsException> writeError)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stopToken);
        var stdout = System.Console.OpenStandardOutput();
        Task? input = null;
        Task output;
        using (var raw = RawTerminal.Enter(0))
        using (var winch = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ => Resize(session)))
        {
            Resize(session);
            output = Task.Run(async () =>
            {
                var buffer = new byte[16384];
                int n;
                while ((n = await session.Stream.ReadAsync(buffer, done.Token).ConfigureAwait(false)) > 0)
                {
                    await stdout.WriteAsync(buffer.AsMemory(0, n), done.Token).ConfigureAwait(false);
                    await stdout.FlushAsync(done.Token).ConfigureAwait(false);
                }
            });
            input = Task.Run(async () =>
            {
                var buffer = new byte[4096];
                while (!done.IsCancellationRequested)
                {
                    var n = RawTerminal.Read(0, buffer);
                    if (n < 0) break;
                    if (n > 0) await session.Stream.WriteAsync(buffer.AsMemory(0, n), done.Token).ConfigureAwait(false);
                }
            });
            try
            {
                // The session ends when the process's output ends or the process exits (or the pipeline is stopped).
                Task.WaitAny([output, session.ExitCode], done.Token);
                // An exit can overtake the last output: let it drain briefly.
                output.Wait(TimeSpan.FromMilliseconds(500));
            }
            catch (Exception ex) when (ex is OperationCanceledException or AggregateException)
            {
            }
            finally
            {
                done.Cancel();
                try { input.Wait(TimeSpan.FromSeconds(1)); } catch { }
                try { output.Wait(TimeSpan.FromSeconds(1)); } catch { }
            }
        }
        if (stopToken.IsCancellationRequested) throw new PipelineStoppedException();
        try
        {
            return session.ExitCode.Wait(TimeSpan.FromSeconds(5)) ? session.ExitCode.Result : null;
        }
        catch (AggregateException ae) when (ae.InnerException is ContainerOpsException ex)
        {
            writeError(ex);
            return null;
        }
    }

    private static void Resize(InteractiveSession session)
    {
        if ((RawTerminal.Size(1) ?? RawTerminal.Size(0)) is var (rows, cols))
            _ = session.ResizeAsync(rows, cols).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
    }
}
