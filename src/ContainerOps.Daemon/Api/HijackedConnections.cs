using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace ContainerOps.Daemon.Api;

/// <summary>
/// Half-closed hijacked connections, as dockerd keeps them. A Docker client that attaches (or execs) without input
/// closes its sending side at once (CloseWrite) and then reads the output until the daemon closes. Kestrel takes a
/// client's FIN as the end of the connection and aborts the response, so the output would never arrive. Each
/// connection on the socket is therefore wrapped: its "connection closed" signal is passed on to Kestrel unless the
/// request on it has taken the connection over (<see cref="MarkHijacked"/>); then a FIN is only the end of the
/// client's input, and the output goes on until the handler ends it or a write fails.
/// </summary>
internal static class HijackedConnections
{
    private const string MarkerKey = "containerops.hijack";

    private sealed class Marker
    {
        public volatile bool Hijacked;
    }

    private const string BodyKey = "containerops.hijack.body";
    private const int MaxHeaderBytes = 64 * 1024, MaxBodyBytes = 1024 * 1024;

    /// <summary>Connection middleware for a listener (<c>listen.Use(HijackedConnections.Middleware)</c>).</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        var marker = new Marker();
        connection.Items[MarkerKey] = marker;
        try { await PrepareUpgradeAsync(connection); }
        // A client that connects and goes before its first request (a probe of the socket) leaves nothing to serve.
        catch (OperationCanceledException) when (connection.ConnectionClosed.IsCancellationRequested) { return; }
        await next(new HalfCloseTolerantConnection(connection, marker));
    };

    /// <summary>The body of an upgrade request that <see cref="PrepareUpgradeAsync"/> took off the connection.</summary>
    public static byte[]? UpgradeRequestBody(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items is { } items && items.TryGetValue(BodyKey, out var body) ? body as byte[] : null;

    /// <summary>
    /// A connection whose first request asks for `Upgrade: tcp` (Docker's attach and exec start; the client dials a
    /// new connection to hijack) is prepared before Kestrel sees it; every other connection is left exactly as it came.
    /// <list type="bullet">
    /// <item>Its output is sent on the socket as each flush is made rather than by the transport's own send loop, so
    /// that once the 101 answer is flushed it is in the kernel and <see cref="HijackedStream"/> can tell from the
    /// socket's queue whether the client has read it.</item>
    /// <item>Docker clients send `POST /exec/{id}/start` with a JSON body and ask for the upgrade in the same request;
    /// Kestrel ignores an upgrade on a request with a body. The body is set aside (<see cref="UpgradeRequestBody"/>)
    /// and Kestrel reads the request with Content-Length 0.</item>
    /// </list>
    /// </summary>
    private static async Task PrepareUpgradeAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(connection.ConnectionClosed);
            var buffer = result.Buffer;
            var headerEnd = HeaderEnd(buffer);
            if (headerEnd < 0)
            {
                if (result.IsCompleted || result.IsCanceled || buffer.Length > MaxHeaderBytes) { input.AdvanceTo(buffer.Start); return; }
                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }
            var header = System.Text.Encoding.ASCII.GetString(buffer.Slice(0, headerEnd).ToArray());
            var lines = header.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
            bool IsHeader(string line, string name) => line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase);
            string Value(string line) => line[(line.IndexOf(':') + 1)..].Trim();
            if (!lines.Any(l => IsHeader(l, "Upgrade") && Value(l).Equals("tcp", StringComparison.OrdinalIgnoreCase)))
            {
                input.AdvanceTo(buffer.Start);
                return;
            }
            // Made once the connection is taken over (not on each pass that waits for more of the body).
            PipeWriter Output() => connection.Features.Get<IConnectionSocketFeature>()?.Socket is { AddressFamily: AddressFamily.Unix } socket
                ? PipeWriter.Create(new NetworkStream(socket, ownsSocket: false))
                : connection.Transport.Output;
            var lengthLine = lines.FirstOrDefault(l => IsHeader(l, "Content-Length"));
            if (lengthLine is null || !int.TryParse(Value(lengthLine), out var length) || length is <= 0 or > MaxBodyBytes)
            {
                input.AdvanceTo(buffer.Start);
                connection.Transport = new DuplexPipe(input, Output());
                return;
            }
            if (buffer.Length < headerEnd + length)
            {
                if (result.IsCompleted || result.IsCanceled) { input.AdvanceTo(buffer.Start); return; }
                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }
            connection.Items[BodyKey] = buffer.Slice(headerEnd, length).ToArray();
            var rewritten = string.Join("\r\n", lines.Select(l => IsHeader(l, "Content-Length") ? "Content-Length: 0" : l));
            var pipe = new Pipe();
            pipe.Writer.Write(System.Text.Encoding.ASCII.GetBytes(rewritten));
            foreach (var segment in buffer.Slice(headerEnd + length)) pipe.Writer.Write(segment.Span);
            await pipe.Writer.FlushAsync();
            input.AdvanceTo(buffer.End);
            // The rest of the connection flows through unchanged (and its end with it: a half-close is the end of input).
            _ = Task.Run(async () =>
            {
                try { await input.CopyToAsync(pipe.Writer); }
                catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionAbortedException or InvalidOperationException) { }
                await pipe.Writer.CompleteAsync();
            });
            connection.Transport = new DuplexPipe(pipe.Reader, Output());
            return;
        }
    }

    /// <summary>The length of the header block up to and including its blank line, or -1 when it is not complete yet.
    /// Lines may end in a bare LF, as some clients write them (Docker.DotNet) and dockerd accepts.</summary>
    private static int HeaderEnd(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (reader.TryAdvanceTo((byte)'\n'))
        {
            if (reader.IsNext((byte)'\n', advancePast: true) || reader.IsNext("\r\n"u8, advancePast: true)) return (int)reader.Consumed;
        }
        return -1;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    /// <summary>Called by a handler before it answers 101: from then on the client's FIN does not end the connection.</summary>
    public static void MarkHijacked(HttpContext context)
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items is { } items && items.TryGetValue(MarkerKey, out var m) && m is Marker marker)
            marker.Hijacked = true;
    }

    private sealed class HalfCloseTolerantConnection : ConnectionContext
    {
        private readonly ConnectionContext _inner;
        private readonly CancellationTokenSource _closed = new();

        public HalfCloseTolerantConnection(ConnectionContext inner, Marker marker)
        {
            _inner = inner;
            inner.ConnectionClosed.UnsafeRegister(static state =>
            {
                var (self, marker) = ((HalfCloseTolerantConnection, Marker))state!;
                if (!marker.Hijacked) self.FireClosed();
            }, (this, marker));
        }

        private void FireClosed()
        {
            try { _closed.Cancel(); }
            catch (ObjectDisposedException) { }
        }

        public override string ConnectionId { get => _inner.ConnectionId; set => _inner.ConnectionId = value; }
        public override IFeatureCollection Features => _inner.Features;
        public override IDictionary<object, object?> Items { get => _inner.Items; set => _inner.Items = value; }
        public override IDuplexPipe Transport { get => _inner.Transport; set => _inner.Transport = value; }
        public override CancellationToken ConnectionClosed { get => _closed.Token; set { } }
        public override EndPoint? LocalEndPoint { get => _inner.LocalEndPoint; set => _inner.LocalEndPoint = value; }
        public override EndPoint? RemoteEndPoint { get => _inner.RemoteEndPoint; set => _inner.RemoteEndPoint = value; }

        public override void Abort(ConnectionAbortedException abortReason)
        {
            _inner.Abort(abortReason);
            FireClosed();
        }

        public override async ValueTask DisposeAsync()
        {
            await _inner.DisposeAsync();
            _closed.Dispose();
        }
    }
}
