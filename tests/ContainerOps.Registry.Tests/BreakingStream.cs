using ContainerOps.Core.IO;

namespace ContainerOps.Registry.Tests;

/// <summary>A response body that fails like a reset connection after <paramref name="limit"/> bytes.</summary>
internal sealed class BreakingStream(Stream inner, long limit) : ForwardReadStream
{
    private long _read;

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_read >= limit) throw new IOException("connection reset (test)");
        var n = inner.Read(buffer, offset, (int)Math.Min(count, limit - _read));
        _read += n;
        return n;
    }

    public override long Position { get => _read; }

    protected override void Dispose(bool d) { if (d) inner.Dispose(); base.Dispose(d); }
}
