using System.IO.Compression;
using ContainerOps.Core.IO;
using ContainerOps.Images.Content;

namespace ContainerOps.Images.Layers;

/// <summary>Recognises compressed streams by their magic bytes: gzip (1f 8b) and zstd (28 b5 2f fd, decoded by
/// ZstdSharp, a maintained managed port of the reference implementation).</summary>
public static class StreamSniffer
{
    private static ReadOnlySpan<byte> ZstdMagic => [0x28, 0xb5, 0x2f, 0xfd];

    /// <summary>Returns a stream that yields the uncompressed bytes of <paramref name="s"/>, whether it is gzip, zstd or
    /// plain; <paramref name="gzip"/> tells whether it was gzip.</summary>
    public static Stream Decompressed(Stream s, out bool gzip)
    {
        var head = new byte[4];
        var n = 0;
        while (n < head.Length)
        {
            var r = s.Read(head, n, head.Length - n);
            if (r == 0) break;
            n += r;
        }
        var whole = new PrefixedStream(head.AsSpan(0, n).ToArray(), s);
        gzip = n >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        // GZipStream reads its input 8 KiB at a time: let those small reads come from a larger buffer.
        if (gzip) return new GZipStream(new BufferedStream(whole, 256 * 1024), CompressionMode.Decompress);
        if (n == 4 && head.AsSpan().SequenceEqual(ZstdMagic)) return new ZstdSharp.DecompressionStream(whole);
        return whole;
    }

    /// <summary>The OCI layer media type for the blob at <paramref name="path"/>, from its first bytes.</summary>
    public static string LayerMediaType(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var f = File.OpenRead(path);
        var n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return MediaTypes.OciLayerGzip;
        if (n == 4 && head.SequenceEqual(ZstdMagic)) return MediaTypes.OciLayerZstd;
        return MediaTypes.OciLayer;
    }

    private sealed class PrefixedStream(byte[] prefix, Stream rest) : ForwardReadStream
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

    }
}
