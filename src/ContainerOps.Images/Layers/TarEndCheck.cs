namespace ContainerOps.Images.Layers;

/// <summary>
/// Sits between the tar reader and its input and remembers the last 512 bytes read, to check how the archive ended.
/// .NET's TarReader stops (as at the end-of-archive marker) at any header block whose checksum field reads as zero,
/// e.g. one that starts with a NUL byte: a block of garbage, one time in 256, would end the archive quietly and drop
/// everything after it. A real end is a block of zeros, or the input ending where a header would start.
/// </summary>
internal sealed class TarEndCheck(Stream inner) : Stream
{
    private readonly byte[] _last = new byte[512];
    private int _filled;
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
        // The tar reader reads in whole blocks from the start; keep the latest block's bytes.
        foreach (var b in data)
        {
            if (_filled == 512) _filled = 0;
            _last[_filled++] = b;
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
