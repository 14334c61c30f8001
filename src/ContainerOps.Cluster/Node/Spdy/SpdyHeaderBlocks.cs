using System.Buffers.Binary;
using System.Text;
using ICSharpCode.SharpZipLib.Zip.Compression;

namespace ContainerOps.Cluster.Node.Spdy;

/// <summary>
/// SPDY/3's name/value header blocks, as SYN_STREAM, SYN_REPLY and HEADERS frames carry them: a count, then each name
/// and value with a 32-bit length (several values of one name joined by NUL), compressed with zlib. Each direction of a
/// connection is one zlib stream, flushed (not ended) after every block and primed with the protocol's fixed
/// dictionary — so every block must pass through, in order, even those whose headers nobody reads.
/// </summary>
internal sealed class SpdyHeaderBlocks
{
    private readonly Inflater _inflater = new();
    private readonly byte[] _buffer = new byte[4096];
    private bool _writing;

    /// <summary>The headers of one received block, names lower-case as the protocol requires.</summary>
    public Dictionary<string, string> Read(ReadOnlySpan<byte> compressed)
    {
        _inflater.SetInput(compressed.ToArray());
        using var plain = new MemoryStream();
        while (true)
        {
            var n = _inflater.Inflate(_buffer);
            if (n > 0) { plain.Write(_buffer, 0, n); continue; }
            if (_inflater.IsNeedingDictionary) { _inflater.SetDictionary(Dictionary); continue; }
            if (_inflater.IsNeedingInput || _inflater.IsFinished) break;
        }
        return Parse(plain.GetBuffer().AsSpan(0, (int)plain.Length));
    }

    /// <summary>One block to send, flushed so the peer can read it at once. It is stored, not compressed (deflate's
    /// level 0): a reply's headers are a few bytes, and zlib's sync flush — what the peer's reader needs at the end of
    /// each block, and what SharpZipLib's deflater does not emit — is itself an empty stored block.</summary>
    public byte[] Write(IReadOnlyList<(string Name, string Value)> headers)
    {
        var plain = new MemoryStream();
        var number = new byte[4];
        void Put(int n)
        {
            BinaryPrimitives.WriteInt32BigEndian(number, n);
            plain.Write(number);
        }
        Put(headers.Count);
        foreach (var (name, value) in headers)
        {
            foreach (var text in new[] { name.ToLowerInvariant(), value })
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                Put(bytes.Length);
                plain.Write(bytes);
            }
        }
        var output = new MemoryStream();
        if (!_writing)
        {
            // zlib's header: deflate, 32 KiB window, no preset dictionary (nothing stored refers to one).
            output.Write([0x78, 0x01]);
            _writing = true;
        }
        var data = plain.GetBuffer().AsSpan(0, (int)plain.Length);
        do
        {
            var chunk = data[..Math.Min(data.Length, ushort.MaxValue)];
            data = data[chunk.Length..];
            StoredBlock(output, chunk);
        }
        while (!data.IsEmpty);
        StoredBlock(output, []);
        return output.ToArray();
    }

    /// <summary>A deflate stored block, not the last: its 3 header bits padded to a byte, then LEN and its complement.</summary>
    private static void StoredBlock(MemoryStream output, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[5];
        header[0] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(header[1..], (ushort)data.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header[3..], (ushort)~data.Length);
        output.Write(header);
        output.Write(data);
    }

    private static Dictionary<string, string> Parse(ReadOnlySpan<byte> block)
    {
        static int Length(ReadOnlySpan<byte> b, ref int at)
        {
            if (at + 4 > b.Length) throw new InvalidDataException("SPDY header block ends early");
            var n = BinaryPrimitives.ReadInt32BigEndian(b[at..]);
            at += 4;
            if (n < 0 || at + n > b.Length) throw new InvalidDataException("SPDY header block ends early");
            return n;
        }
        var at = 0;
        if (block.Length < 4) throw new InvalidDataException("SPDY header block ends early");
        var count = BinaryPrimitives.ReadInt32BigEndian(block);
        at = 4;
        if (count < 0) throw new InvalidDataException("SPDY header block has a negative count");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < count; i++)
        {
            var nameLength = Length(block, ref at);
            var name = Encoding.UTF8.GetString(block.Slice(at, nameLength));
            at += nameLength;
            var valueLength = Length(block, ref at);
            headers[name.ToLowerInvariant()] = Encoding.UTF8.GetString(block.Slice(at, valueLength));
            at += valueLength;
        }
        return headers;
    }

    /// <summary>SPDY/3's compression dictionary (section 2.6.10.1 of its draft): these words, each with a 32-bit length,
    /// then the tail text as it is.</summary>
    internal static readonly byte[] Dictionary = BuildDictionary();

    private static byte[] BuildDictionary()
    {
        string[] words =
        [
            "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
            "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
            "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
            "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
            "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate",
            "proxy-authorization", "range", "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
            "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK", "version",
            "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
        ];
        const string tail =
            "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505" +
            "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized" +
            "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable" +
            "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT" +
            "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain," +
            "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
        var bytes = new List<byte>(1423);
        Span<byte> length = stackalloc byte[4];
        foreach (var word in words)
        {
            BinaryPrimitives.WriteInt32BigEndian(length, word.Length);
            bytes.AddRange(length.ToArray());
            bytes.AddRange(Encoding.ASCII.GetBytes(word));
        }
        bytes.AddRange(Encoding.ASCII.GetBytes(tail));
        return bytes.ToArray();
    }
}
