using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Threading.Channels;

namespace ContainerOps.Cluster.Node.Spdy;

/// <summary>
/// SPDY/3.1 framing, the server's side, as Kubernetes' streaming protocols use it: the client opens streams (SYN_STREAM
/// with headers), the server takes each with a SYN_REPLY, and both send DATA frames, a FIN flag closing one direction and
/// RST_STREAM both. PINGs are answered; GOAWAY or the end of the transport ends the session. Flow control (WINDOW_UPDATE)
/// is not enforced, as Kubernetes' own peers do not enforce it: a stream whose reader lags holds the reading of the
/// whole connection instead. Hand-written: no .NET library speaks SPDY, and the framing is small.
/// </summary>
internal sealed class SpdySession : IAsyncDisposable
{
    private const ushort Version = 3;
    private const ushort SynStream = 1, SynReply = 2, RstStream = 3, Ping = 6, GoAway = 7, Headers = 8;
    private const byte FlagFin = 1, FlagUnidirectional = 2;
    /// <summary>RST_STREAM status codes.</summary>
    public const int ProtocolError = 1, RefusedStream = 3, Cancel = 5;
    private const int MaxDataPayload = 16 * 1024;

    private readonly Stream _transport;
    private readonly SpdyHeaderBlocks _inbound = new(), _outbound = new();
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly ConcurrentDictionary<uint, SpdyStream> _streams = new();
    private readonly CancellationTokenSource _ended = new();

    public SpdySession(Stream transport) => _transport = transport;

    /// <summary>Cancelled when the session has ended (the client went away, said GOAWAY, or broke the protocol).</summary>
    public CancellationToken Ended => _ended.Token;

    /// <summary>Reads frames until the session ends; each stream the client opens goes to <paramref name="opened"/>,
    /// which must not block (it starts the stream's work and returns).</summary>
    public async Task RunAsync(Action<SpdyStream> opened, CancellationToken ct)
    {
        var header = new byte[8];
        try
        {
            while (await ReadExactlyAsync(header, ct))
            {
                var flags = header[4];
                var length = (int)(BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)) & 0xFFFFFF);
                var payload = new byte[length];
                if (!await ReadExactlyAsync(payload, ct)) break;
                if ((header[0] & 0x80) == 0)
                {
                    var id = BinaryPrimitives.ReadUInt32BigEndian(header) & 0x7FFFFFFF;
                    if (_streams.TryGetValue(id, out var target)) await target.DeliverAsync(payload, (flags & FlagFin) != 0, ct);
                    continue;
                }
                var version = BinaryPrimitives.ReadUInt16BigEndian(header) & 0x7FFF;
                if (version != Version) throw new InvalidDataException($"SPDY version {version} is not spoken here (3 is)");
                var type = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                switch (type)
                {
                    case SynStream:
                    {
                        if (payload.Length < 10) throw new InvalidDataException("SYN_STREAM frame too short");
                        var id = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFFFFFF;
                        var headers = _inbound.Read(payload.AsSpan(10));
                        var stream = new SpdyStream(this, id, headers, remoteClosed: (flags & FlagFin) != 0, localClosed: (flags & FlagUnidirectional) != 0);
                        if (id == 0 || !_streams.TryAdd(id, stream)) { await ResetAsync(id, ProtocolError); continue; }
                        opened(stream);
                        break;
                    }
                    case SynReply or Headers:
                        // Nobody reads these here, but they move the header compression along.
                        if (payload.Length >= 4) _inbound.Read(payload.AsSpan(4));
                        break;
                    case RstStream:
                        if (payload.Length >= 4 && _streams.TryRemove(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFFFFFF, out var reset))
                            reset.Abort();
                        break;
                    case Ping:
                        await SendControlAsync(Ping, 0, payload, ct);
                        break;
                    case GoAway:
                        return;
                    // SETTINGS, WINDOW_UPDATE and the rest ask nothing of a peer that does not do flow control.
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException or ObjectDisposedException
                                      or System.Net.WebSockets.WebSocketException or ICSharpCode.SharpZipLib.SharpZipBaseException) { }
        finally
        {
            _ended.Cancel();
            foreach (var stream in _streams.Values) stream.Abort();
            _streams.Clear();
        }
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _transport.ReadAsync(buffer.AsMemory(read), ct);
            if (n == 0)
            {
                if (read == 0) return false;
                throw new InvalidDataException("SPDY frame cut short");
            }
            read += n;
        }
        return true;
    }

    internal async Task ReplyAsync(uint id)
    {
        await _writing.WaitAsync(_ended.Token);
        try
        {
            // Compressed under the write lock: the peer decompresses blocks in the order the frames arrive.
            var block = _outbound.Write([]);
            var payload = new byte[4 + block.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, id);
            block.CopyTo(payload, 4);
            await WriteFrameAsync(Control(SynReply, 0, payload));
        }
        finally { _writing.Release(); }
    }

    internal async Task SendDataAsync(uint id, ReadOnlyMemory<byte> data, bool fin, CancellationToken ct)
    {
        do
        {
            var chunk = data[..Math.Min(data.Length, MaxDataPayload)];
            data = data[chunk.Length..];
            var frame = new byte[8 + chunk.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame, id & 0x7FFFFFFF);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)((fin && data.IsEmpty ? FlagFin : 0) << 24 | chunk.Length));
            chunk.CopyTo(frame.AsMemory(8));
            await SendAsync(frame, ct);
        }
        while (!data.IsEmpty);
    }

    internal async Task ResetAsync(uint id, int status)
    {
        _streams.TryRemove(id, out _);
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(payload, id & 0x7FFFFFFF);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), status);
        try { await SendControlAsync(RstStream, 0, payload, CancellationToken.None); }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or System.Net.WebSockets.WebSocketException) { }
    }

    internal void Forget(uint id) => _streams.TryRemove(id, out _);

    private Task SendControlAsync(ushort type, byte flags, byte[] payload, CancellationToken ct) => SendAsync(Control(type, flags, payload), ct);

    private static byte[] Control(ushort type, byte flags, byte[] payload)
    {
        var frame = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, 0x8000 | Version);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), type);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)(flags << 24 | payload.Length));
        payload.CopyTo(frame, 8);
        return frame;
    }

    private async Task SendAsync(byte[] frame, CancellationToken ct)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(ct, _ended.Token);
        await _writing.WaitAsync(either.Token);
        try { await WriteFrameAsync(frame); }
        finally { _writing.Release(); }
    }

    /// <summary>One frame in one write (over a WebSocket tunnel: one message), flushed.</summary>
    private async Task WriteFrameAsync(byte[] frame)
    {
        await _transport.WriteAsync(frame, _ended.Token);
        await _transport.FlushAsync(_ended.Token);
    }

    public async ValueTask DisposeAsync()
    {
        _ended.Cancel();
        await _transport.DisposeAsync();
        _ended.Dispose();
    }
}

/// <summary>One stream of a <see cref="SpdySession"/>: the headers the client opened it with, what it sends (read until
/// 0, its FIN), and what the server sends back.</summary>
internal sealed class SpdyStream
{
    private readonly SpdySession _session;
    private readonly Channel<byte[]> _incoming = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _reset = new();
    private byte[]? _current;
    private int _offset;
    private bool _localClosed, _remoteClosed, _discard;

    internal SpdyStream(SpdySession session, uint id, IReadOnlyDictionary<string, string> headers, bool remoteClosed, bool localClosed)
    {
        _session = session;
        Id = id;
        Headers = headers;
        _localClosed = localClosed;
        if (remoteClosed) { _remoteClosed = true; _incoming.Writer.TryComplete(); }
    }

    public uint Id { get; }
    public IReadOnlyDictionary<string, string> Headers { get; }
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;

    /// <summary>Cancelled when the stream is reset (by either side) or the session ends.</summary>
    public CancellationToken Reset => _reset.Token;

    /// <summary>Takes the stream (SYN_REPLY): the client waits for this before it sends data.</summary>
    public Task AcceptAsync() => _session.ReplyAsync(Id);

    public async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (_localClosed) throw new InvalidOperationException($"SPDY stream {Id} is closed for writing");
        await _session.SendDataAsync(Id, data, fin: false, ct);
    }

    /// <summary>Ends this side (FIN); the client's side may go on.</summary>
    public async Task CloseAsync()
    {
        if (_localClosed || _reset.IsCancellationRequested) return;
        _localClosed = true;
        try { await _session.SendDataAsync(Id, ReadOnlyMemory<byte>.Empty, fin: true, CancellationToken.None); }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or System.Net.WebSockets.WebSocketException) { }
        if (_remoteClosed) _session.Forget(Id);
    }

    /// <summary>Ends both sides at once (RST_STREAM), dropping what is still on the way.</summary>
    public async Task ResetAsync(int status = SpdySession.Cancel)
    {
        if (_reset.IsCancellationRequested) return;
        Abort();
        await _session.ResetAsync(Id, status);
    }

    /// <summary>What the client sent next: 0 at its FIN, at a reset, or when the session ends.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct)
    {
        while (_current is null || _offset == _current.Length)
        {
            try
            {
                if (!await _incoming.Reader.WaitToReadAsync(ct)) return 0;
            }
            catch (ChannelClosedException) { return 0; }
            if (!_incoming.Reader.TryRead(out _current)) continue;
            _offset = 0;
        }
        var n = Math.Min(buffer.Length, _current.Length - _offset);
        _current.AsMemory(_offset, n).CopyTo(buffer);
        _offset += n;
        return n;
    }

    /// <summary>The server reads no more of this stream: what else arrives is dropped, and holds nothing up.</summary>
    public void StopReading()
    {
        _discard = true;
        _incoming.Writer.TryComplete();
    }

    internal async ValueTask DeliverAsync(byte[] data, bool fin, CancellationToken ct)
    {
        if (data.Length > 0 && !_discard && !_remoteClosed)
        {
            try
            {
                using var either = CancellationTokenSource.CreateLinkedTokenSource(ct, _reset.Token);
                await _incoming.Writer.WriteAsync(data, either.Token);
            }
            catch (Exception e) when (e is ChannelClosedException or OperationCanceledException && !ct.IsCancellationRequested) { }
        }
        if (fin)
        {
            _remoteClosed = true;
            _incoming.Writer.TryComplete();
            if (_localClosed) _session.Forget(Id);
        }
    }

    internal void Abort()
    {
        _localClosed = _remoteClosed = true;
        _incoming.Writer.TryComplete();
        try { _reset.Cancel(); } catch (ObjectDisposedException) { }
    }
}
