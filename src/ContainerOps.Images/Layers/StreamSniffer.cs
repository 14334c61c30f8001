using System.IO.Compression;

namespace ContainerOps.Images.Layers;

/// <summary>Recognises compressed streams by their magic bytes.</summary>
public static class StreamSniffer
{
    /// <summary>Returns a stream that yields the uncompressed bytes of <paramref name="s"/>, whether it is gzip or plain.</summary>
    public static Stream Decompressed(Stream s, out bool gzip)
    {
        var head = new byte[2];
        var n = 0;
        while (n < 2)
        {
            var r = s.Read(head, n, 2 - n);
            if (r == 0) break;
            n += r;
        }
        var whole = new PrefixedStream(head.AsSpan(0, n).ToArray(), s);
        gzip = n == 2 && head[0] == 0x1f && head[1] == 0x8b;
        // GZipStream reads its input 8 KiB at a time: let those small reads come from a larger buffer.
        return gzip ? new GZipStream(new BufferedStream(whole, 256 * 1024), CompressionMode.Decompress) : whole;
    }

    public static bool IsGzipFile(string path)
    {
        using var f = File.OpenRead(path);
        return f.ReadByte() == 0x1f && f.ReadByte() == 0x8b;
    }

    private sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        private int _pos;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_pos < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _pos);
                prefix.AsSpan(_pos, n).CopyTo(buffer);
                _pos += n;
                return n;
            }
            return rest.Read(buffer);
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
}
