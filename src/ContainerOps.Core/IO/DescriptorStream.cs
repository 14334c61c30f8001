using System.Runtime.InteropServices;

namespace ContainerOps.Core.IO;

/// <summary>
/// A stream over an inherited file descriptor (stdin, stdout, stderr) that reads and writes with read(2) and write(2).
/// Not FileStream: on a regular file it keeps its own offset and writes with pwrite, so the offset the descriptor
/// shares with the shell and with other programs does not move, and `{ echo a; containerops ps; echo b; } &gt; f`
/// lost output. Errors are IOExceptions whose HResult is the errno (EPIPE 32 for a closed pipe).
/// </summary>
public sealed unsafe partial class DescriptorStream : Stream
{
    private const int EINTR = 4, EAGAIN = 11;
    private const short POLLIN = 1, POLLOUT = 4;
    private readonly int _fd;
    private readonly FileAccess _access;

    public DescriptorStream(int fd, FileAccess access)
    {
        _fd = fd;
        _access = access;
    }

    public override bool CanRead => _access.HasFlag(FileAccess.Read);
    public override bool CanWrite => _access.HasFlag(FileAccess.Write);
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = read(_fd, p, buffer.Length);
                if (n >= 0) return (int)n;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno == EAGAIN) { Wait(POLLIN); continue; } // an inherited non-blocking descriptor
                throw Error(errno, "read");
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = write(_fd, p + done, buffer.Length - done);
                if (n >= 0) { done += (int)n; continue; }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno == EAGAIN) { Wait(POLLOUT); continue; }
                throw Error(errno, "write");
            }
        }
    }

    private void Wait(short events)
    {
        var fd = new PollFd { Fd = _fd, Events = events };
        poll(&fd, 1, -1);
    }

    private IOException Error(int errno, string operation) =>
        new($"{operation} on descriptor {_fd}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd { public int Fd; public short Events; public short Revents; }

    [LibraryImport("libc", SetLastError = true)] private static partial nint read(int fd, byte* buffer, nint count);
    [LibraryImport("libc", SetLastError = true)] private static partial nint write(int fd, byte* buffer, nint count);
    [LibraryImport("libc", SetLastError = true)] private static partial int poll(PollFd* fds, nuint count, int timeout);
}
