using ContainerOps.Core.IO;

namespace ContainerOps.Images.Layers;

/// <summary>
/// Sits between the tar reader and its input and remembers the last 512 bytes read, to check how the archive ended.
/// .NET's TarReader stops (as at the end-of-archive marker) at any header block whose checksum field reads as zero,
/// e.g. one that starts with a NUL byte: a block of garbage, one time in 256, would end the archive quietly and drop
/// everything after it. A real end is a block of zeros, or the input ending where a header would start.
/// </summary>
internal sealed class TarEndCheck(Stream inner) : ForwardReadStream
{
    private readonly byte[] _last = new byte[512];
    private int _filled;
    private long _total;
    private bool _eof;

    /// <summary>Whether the reader stopped at a real end: at a block of zeros, or at the end of the input.</summary>
    public bool EndedCleanly => _eof ? _filled % 512 == 0 : _filled == 512 && !_last.AsSpan().ContainsAnyExcept((byte)0);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        if (n == 0)
        {
            // The reader also asks for nothing at times (between an entry's data and its padding): not the end.
            if (buffer.Length > 0) _eof = true;
            return 0;
        }
        Remember(buffer[..n]);
        return n;
    }

    private void Remember(ReadOnlySpan<byte> data)
    {
        // The tar reader reads in whole blocks from the start; keep the bytes of the block that holds the latest byte
        // (copied, not looped over byte by byte: layers run to gigabytes).
        var end = _total + data.Length;
        var blockStart = (end - 1) / 512 * 512;
        if (blockStart >= _total) data[(int)(blockStart - _total)..].CopyTo(_last);
        else data.CopyTo(_last.AsSpan((int)(_total - blockStart)));
        _total = end;
        _filled = (int)(end - blockStart);
    }
}
