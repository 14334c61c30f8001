using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

/// <summary>The client side of an exec/attach session (protocol: <see cref="SessionControl"/>).</summary>
internal sealed class WebSocketSession : IAsyncDisposable
{
    private readonly ClientWebSocket _ws;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WebSocketSession(ClientWebSocket ws) => _ws = ws;

    public Task<int> Exit => _exit.Task;

    public async Task SendTextAsync(string text, CancellationToken ct)
    {
        await _sendLock.WaitAsync(ct);
        try { await _ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, ct); }
        finally { _sendLock.Release(); }
    }

    public Task SendControlAsync(SessionControl control, CancellationToken ct) =>
        SendTextAsync(JsonSerializer.Serialize(control, ApiJsonContext.Default.SessionControl), ct);

    public async Task SendInputAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        await _sendLock.WaitAsync(ct);
        try { await _ws.SendAsync(data, WebSocketMessageType.Binary, true, ct); }
        finally { _sendLock.Release(); }
    }

    public async Task PumpInputAsync(Stream input, CancellationToken ct)
    {
        var buffer = new byte[16384];
        try
        {
            int n;
            while ((n = await input.ReadAsync(buffer, ct)) > 0)
                await SendInputAsync(buffer.AsMemory(0, n), ct);
            await SendControlAsync(new SessionControl { CloseStdin = true }, ct);
        }
        catch (WebSocketException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>One received message: output (stream byte + data), or null at the end of the session.</summary>
    public async Task<(byte Stream, byte[] Data)?> ReceiveAsync(CancellationToken ct)
    {
        var buffer = new byte[65536];
        using var message = new MemoryStream();
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try { result = await _ws.ReceiveAsync(buffer.AsMemory(), ct); }
            catch (WebSocketException)
            {
                _exit.TrySetException(new ContainerOpsException(ErrorKind.Internal, "SessionLost", "the daemon closed the session unexpectedly"));
                return null;
            }
            if (result.MessageType == WebSocketMessageType.Close)
            {
                _exit.TrySetException(new ContainerOpsException(ErrorKind.Internal, "SessionLost", "the daemon closed the session without an exit status"));
                return null;
            }
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage) continue;
            var bytes = message.ToArray();
            message.SetLength(0);
            if (result.MessageType == WebSocketMessageType.Binary)
            {
                if (bytes.Length == 0) continue;
                return (bytes[0], bytes[1..]);
            }
            var control = JsonSerializer.Deserialize(bytes, ApiJsonContext.Default.SessionControl);
            if (control?.Error is { } error)
            {
                var e = new ContainerOpsException(error);
                _exit.TrySetException(e);
                throw e;
            }
            if (control?.Exit is int code)
            {
                _exit.TrySetResult(code);
                return null;
            }
        }
    }

    public async IAsyncEnumerable<StreamFrame> ReadFramesAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var decoders = new[] { Encoding.UTF8.GetDecoder(), Encoding.UTF8.GetDecoder() };
        while (await ReceiveAsync(ct) is { } message)
        {
            var index = message.Stream == SessionStreams.Stderr ? 1 : 0;
            var chars = new char[Encoding.UTF8.GetMaxCharCount(message.Data.Length)];
            var count = decoders[index].GetChars(message.Data, 0, message.Data.Length, chars, 0);
            if (count > 0) yield return new StreamFrame { Stream = index == 1 ? "stderr" : "stdout", Data = new string(chars, 0, count) };
        }
        yield return new StreamFrame { Stream = "exit", ExitCode = await _exit.Task };
    }

    public InteractiveSession AsInteractive() => new Interactive(this);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_ws.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
        }
        catch (WebSocketException) { }
        catch (OperationCanceledException) { }
        _ws.Dispose();
        _exit.TrySetException(new ContainerOpsException(ErrorKind.Internal, "SessionClosed", "the session was closed before the process ended"));
        _ = _exit.Task.Exception;
    }

    private sealed class Interactive : InteractiveSession
    {
        private readonly WebSocketSession _session;
        private readonly SessionStream _stream;

        public Interactive(WebSocketSession session)
        {
            _session = session;
            _stream = new SessionStream(session);
        }

        public override Stream Stream => _stream;
        public override Task ResizeAsync(int rows, int columns, CancellationToken ct = default) =>
            _session.SendControlAsync(new SessionControl { Resize = new[] { rows, columns } }, ct);
        public override Task<int> ExitCode => _session.Exit;
        public override ValueTask DisposeAsync() => _session.DisposeAsync();
    }

    /// <summary>Reads give the process's output (both streams); writes go to its stdin; Flush is a no-op.</summary>
    private sealed class SessionStream : Stream
    {
        private readonly WebSocketSession _session;
        private byte[] _pending = Array.Empty<byte>();
        private int _offset;
        private bool _ended;

        public SessionStream(WebSocketSession session) => _session = session;

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            while (_offset >= _pending.Length)
            {
                if (_ended) return 0;
                var message = await _session.ReceiveAsync(ct);
                if (message is null) { _ended = true; return 0; }
                _pending = message.Value.Data;
                _offset = 0;
            }
            var n = Math.Min(buffer.Length, _pending.Length - _offset);
            _pending.AsMemory(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) =>
            await _session.SendInputAsync(buffer, ct);

        /// <summary>Closing the writing side tells the process its input ended.</summary>
        public override void Close()
        {
            try { _session.SendControlAsync(new SessionControl { CloseStdin = true }, CancellationToken.None).GetAwaiter().GetResult(); }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException) { }
            base.Close();
        }
    }
}
