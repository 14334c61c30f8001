using System.Text;
using ContainerOps.Runtime.Native;
using Microsoft.Win32.SafeHandles;

namespace ContainerOps.Runtime.Shim;

/// <summary>A process run inside a container by `containerops-shim exec`, with pipes or a pseudo-terminal as its stdio.</summary>
internal sealed class ShimExecProcess : ExecProcess
{
    private readonly int _pid;
    private readonly Task<int> _exit;
    private readonly string _planFile;
    private readonly FileStream? _stdin, _stdout, _stderr, _terminal;
    private readonly int _masterFd = -1;

    private ShimExecProcess(int pid, string planFile, FileStream? stdin, FileStream? stdout, FileStream? stderr, FileStream? terminal, int masterFd)
    {
        _pid = pid;
        _planFile = planFile;
        _stdin = stdin; _stdout = stdout; _stderr = stderr; _terminal = terminal;
        _masterFd = masterFd;
        _exit = Spawn.WaitForExitAsync(pid).ContinueWith(t =>
        {
            try { File.Delete(planFile); } catch (IOException) { }
            return t.Result;
        }, TaskScheduler.Default);
    }

    /// <summary>Starts <paramref name="args"/> (the shim in exec mode, or an external runtime's exec) with pipes or a pty
    /// of <paramref name="consoleSize"/>; <paramref name="tempFile"/> is deleted when the process ends.</summary>
    public static ShimExecProcess Start(string program, string[] args, string tempFile, bool tty, (int Rows, int Columns)? consoleSize = null)
    {
        var shimPath = program;
        var planFile = tempFile;
        if (tty)
        {
            var (master, slave) = OpenPty();
            if (consoleSize is var (rows, columns)) Libc.SetWindowSize(master, rows, columns);
            int pid;
            try { pid = Spawn.Start(shimPath, args, slave, slave, slave); }
            catch { Libc.close(master); throw; }
            finally { Libc.close(slave); }
            var stream = new FileStream(new SafeFileHandle(master, true), FileAccess.ReadWrite, 1);
            return new ShimExecProcess(pid, planFile, null, null, null, stream, master);
        }

        Span<int> inPipe = stackalloc int[2], outPipe = stackalloc int[2], errPipe = stackalloc int[2];
        if (Libc.pipe2(inPipe, Libc.O_CLOEXEC) != 0) Libc.ThrowErrno("pipe2");
        if (Libc.pipe2(outPipe, Libc.O_CLOEXEC) != 0) Libc.ThrowErrno("pipe2");
        if (Libc.pipe2(errPipe, Libc.O_CLOEXEC) != 0) Libc.ThrowErrno("pipe2");
        int child;
        try { child = Spawn.Start(shimPath, args, inPipe[0], outPipe[1], errPipe[1]); }
        catch
        {
            foreach (var fd in new[] { inPipe[0], inPipe[1], outPipe[0], outPipe[1], errPipe[0], errPipe[1] }) Libc.close(fd);
            throw;
        }
        Libc.close(inPipe[0]); Libc.close(outPipe[1]); Libc.close(errPipe[1]);
        return new ShimExecProcess(child, planFile,
            new FileStream(new SafeFileHandle(inPipe[1], true), FileAccess.Write, 1),
            new FileStream(new SafeFileHandle(outPipe[0], true), FileAccess.Read, 1),
            new FileStream(new SafeFileHandle(errPipe[0], true), FileAccess.Read, 1),
            null, -1);
    }

    internal static unsafe (int Master, int Slave) OpenPty()
    {
        var master = Libc.posix_openpt(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        if (master < 0) Libc.ThrowErrno("posix_openpt");
        if (Libc.grantpt(master) != 0 || Libc.unlockpt(master) != 0) { Libc.close(master); Libc.ThrowErrno("unlockpt"); }
        var buf = stackalloc byte[128];
        if (Libc.ptsname_r(master, buf, 128) != 0) { Libc.close(master); Libc.ThrowErrno("ptsname"); }
        var name = Encoding.UTF8.GetString(buf, new ReadOnlySpan<byte>(buf, 128).IndexOf((byte)0));
        var slave = Libc.open(name, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (slave < 0) { Libc.close(master); Libc.ThrowErrno("open " + name); }
        return (master, slave);
    }

    public override int Pid => _pid;
    public override Stream? Stdin => _stdin;
    public override Stream? Stdout => _stdout;
    public override Stream? Stderr => _stderr;
    public override Stream? Terminal => _terminal;

    public override void Resize(int rows, int columns)
    {
        if (_masterFd >= 0 && !_exit.IsCompleted) Libc.SetWindowSize(_masterFd, rows, columns);
    }

    public override void Signal(int signal)
    {
        if (!_exit.IsCompleted) Libc.kill(_pid, signal);
    }

    public override Task<int> WaitForExitAsync(CancellationToken ct = default) => _exit.WaitAsync(ct);

    public override bool OutputPending =>
        new[] { _stdout, _stderr, _terminal }.Any(s => s is not null && Libc.QueuedBytes(s.SafeFileHandle, Libc.FIONREAD) > 0);

    public override void Dispose()
    {
        _stdin?.Dispose();
        _stdout?.Dispose();
        _stderr?.Dispose();
        _terminal?.Dispose();
    }
}
