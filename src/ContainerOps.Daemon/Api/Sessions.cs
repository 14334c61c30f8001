using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Daemon.Engine;
using ContainerOps.Runtime;
using ContainerOps.Runtime.Shim;

namespace ContainerOps.Daemon.Api;

/// <summary>The daemon side of exec and attach sessions (protocol: <see cref="SessionControl"/>).</summary>
internal sealed class Sessions
{
    private readonly ContainerManager _manager;
    private readonly ILogger<Sessions> _log;

    public Sessions(ContainerManager manager, ILogger<Sessions> log)
    {
        _manager = manager;
        _log = log;
    }

    private sealed class Channel
    {
        private readonly WebSocket _ws;
        private readonly SemaphoreSlim _send = new(1, 1);
        public Channel(WebSocket ws) => _ws = ws;

        public async Task SendOutputAsync(byte stream, ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            var message = new byte[data.Length + 1];
            message[0] = stream;
            data.CopyTo(message.AsMemory(1));
            await _send.WaitAsync(ct);
            try { await _ws.SendAsync(message, WebSocketMessageType.Binary, true, ct); }
            finally { _send.Release(); }
        }

        public async Task SendControlAsync(SessionControl control, CancellationToken ct)
        {
            await _send.WaitAsync(ct);
            try { await _ws.SendAsync(JsonSerializer.SerializeToUtf8Bytes(control, ApiJsonContext.Default.SessionControl), WebSocketMessageType.Text, true, ct); }
            finally { _send.Release(); }
        }

        /// <summary>Next client message: (isText, bytes), or null when the client closed.</summary>
        public async Task<(bool Text, byte[] Data)?> ReceiveAsync(CancellationToken ct)
        {
            var buffer = new byte[65536];
            using var message = new MemoryStream();
            while (true)
            {
                var result = await _ws.ReceiveAsync(buffer.AsMemory(), ct);
                if (result.MessageType == WebSocketMessageType.Close) return null;
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage) return (result.MessageType == WebSocketMessageType.Text, message.ToArray());
            }
        }

        public async Task CloseAsync()
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException) { }
        }
    }

    public async Task ExecAsync(HttpContext context, string id)
    {
        using var ws = await context.WebSockets.AcceptWebSocketAsync();
        var channel = new Channel(ws);
        var ct = context.RequestAborted;
        ExecProcess? process = null;
        try
        {
            var first = await channel.ReceiveAsync(ct);
            if (first is null) return;
            var request = JsonSerializer.Deserialize(first.Value.Data, ApiJsonContext.Default.ExecCreateRequest)
                ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidRequestBody", "the exec request is empty");
            (process, _) = _manager.Exec(id, request);
            _manager.Emit(id, ContainerManager.ExecAction("exec_start", request.Cmd));
            var pumps = new OutputPumps();
            Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> To(byte stream) => (data, token) => new ValueTask(channel.SendOutputAsync(stream, data, token));
            if (process.Terminal is { } terminal) pumps.Add(terminal, To(SessionStreams.Stdout), ct);
            else
            {
                pumps.Add(process.Stdout!, To(SessionStreams.Stdout), ct);
                pumps.Add(process.Stderr!, To(SessionStreams.Stderr), ct);
                if (!request.AttachStdin) process.Stdin!.Dispose();
            }
            var input = ReadInputAsync(channel, process, ct);
            var exitCode = await process.WaitForExitAsync(ct);
            _manager.Emit(id, "exec_die", ("exitCode", exitCode.ToString()));
            // Output still in the pipes is delivered; children that keep them open do not hold the session.
            await OutputDrain.AfterExitAsync(pumps, () => process.OutputPending, ct);
            await channel.SendControlAsync(new SessionControl { Exit = exitCode }, ct);
            await channel.CloseAsync();
            _ = input;
        }
        catch (ContainerOpsException e)
        {
            await TrySendErrorAsync(channel, e.Error, ct);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            process?.Signal(9);
        }
        finally { process?.Dispose(); }
    }

    private static async Task ReadInputAsync(Channel channel, ExecProcess process, CancellationToken ct)
    {
        var stdin = process.Terminal ?? process.Stdin;
        try
        {
            while (await channel.ReceiveAsync(ct) is { } message)
            {
                if (!message.Text)
                {
                    if (stdin is not null && stdin.CanWrite) { await stdin.WriteAsync(message.Data, ct); await stdin.FlushAsync(ct); }
                    continue;
                }
                var control = JsonSerializer.Deserialize(message.Data, ApiJsonContext.Default.SessionControl);
                if (control?.Resize is [var rows, var cols]) process.Resize(rows, cols);
                if (control?.CloseStdin == true && process.Terminal is null) process.Stdin?.Dispose();
            }
        }
        catch (Exception e) when (e is IOException or WebSocketException or OperationCanceledException or ObjectDisposedException or JsonException) { }
    }

    private static async Task TrySendErrorAsync(Channel channel, ApiError error, CancellationToken ct)
    {
        try
        {
            await channel.SendControlAsync(new SessionControl { Error = error }, ct);
            await channel.CloseAsync();
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
    }

    public async Task AttachAsync(HttpContext context, string id, bool start)
    {
        using var ws = await context.WebSockets.AcceptWebSocketAsync();
        var channel = new Channel(ws);
        var ct = context.RequestAborted;
        try
        {
            var first = await channel.ReceiveAsync(ct);
            if (first is null) return;
            if (start) await _manager.StartAsync(id, createOnly: true);
            var (attachPath, controlPath, record, exit) = _manager.AttachPoints(id);
            if (!record.State.Running)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {record.Name} is not running", record.Name);
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(attachPath), ct);
            _manager.Emit(record.Id, "attach");
            if (start) _manager.ReleaseCreated(record.Id);
            var stream = new NetworkStream(socket, ownsSocket: true);
            var input = RelayInputAsync(channel, socket, controlPath, ct);
            var containerEnded = await RelayFramesAsync(stream, channel, ct);
            if (!containerEnded)
            {
                // The client went away (detach): the shim would take a closed connection as the end of stdin, so the
                // connection stays open, drained, until the container ends.
                _ = Task.Run(async () =>
                {
                    try { await stream.CopyToAsync(Stream.Null); }
                    catch (Exception e) when (e is IOException or SocketException) { }
                    finally { await stream.DisposeAsync(); }
                });
                return;
            }
            await stream.DisposeAsync();
            var status = await exit.WaitAsync(TimeSpan.FromSeconds(30), ct);
            await channel.SendControlAsync(new SessionControl { Exit = status.StatusCode }, ct);
            await channel.CloseAsync();
            _ = input;
        }
        catch (ContainerOpsException e)
        {
            await TrySendErrorAsync(channel, e.Error, ct);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or SocketException or TimeoutException)
        {
            _log.LogDebug("attach to {Id} ended: {Message}", id, e.Message);
        }
    }

    /// <summary>Relays the shim's attach frames to the client.
    /// True when the container's output ended; false when the client side failed first.</summary>
    private static async Task<bool> RelayFramesAsync(Stream source, Channel channel, CancellationToken ct)
    {
        try
        {
            while (await AttachFrames.ReadAsync(source, ct) is { } frame)
            {
                try { await channel.SendOutputAsync(frame.Stream == AttachFrames.Stderr ? SessionStreams.Stderr : SessionStreams.Stdout, frame.Data, ct); }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException) { return false; }
            }
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException) { return true; }
        catch (OperationCanceledException) { return false; }
    }

    private static async Task RelayInputAsync(Channel channel, Socket socket, string controlPath, CancellationToken ct)
    {
        try
        {
            while (await channel.ReceiveAsync(ct) is { } message)
            {
                if (!message.Text)
                {
                    await socket.SendAsync(message.Data, SocketFlags.None, ct);
                    continue;
                }
                var control = JsonSerializer.Deserialize(message.Data, ApiJsonContext.Default.SessionControl);
                if (control?.Resize is [var rows, var cols]) await ControlAsync(controlPath, $"resize {rows} {cols}\n", ct);
                if (control?.CloseStdin == true) socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is IOException or WebSocketException or OperationCanceledException or SocketException or ObjectDisposedException or JsonException) { }
    }

    public static async Task ControlAsync(string path, string command, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
        await socket.SendAsync(Encoding.ASCII.GetBytes(command), SocketFlags.None, ct);
        var reply = new byte[256];
        await socket.ReceiveAsync(reply, SocketFlags.None, ct);
    }
}
