using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Core.IO;
using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// Kubernetes' remote command protocol over a WebSocket (v5.channel.k8s.io, and v4 for older clients; over SPDY, see
/// <see cref="RemoteCommandOverSpdy"/>), as `kubectl
/// exec` speaks it: each binary message starts with its channel — 0 stdin, 1 stdout, 2 stderr, 3 the final status,
/// 4 terminal resize — and v5 adds 255, by which a side says it closed one of its channels (stdin's end). The
/// status is a metav1.Status: Success, or Failure with reason NonZeroExitCode and the code as its ExitCode cause,
/// from which kubectl takes its own exit code. Hand-written: no library here serves this protocol, and it is small.
/// </summary>
internal sealed class RemoteCommand
{
    public const string V5 = "v5.channel.k8s.io";
    public const string V4 = "v4.channel.k8s.io";
    private const byte StdinChannel = 0, StdoutChannel = 1, StderrChannel = 2, ErrorChannel = 3, ResizeChannel = 4, CloseSignal = 255;

    private readonly WebSocket _socket;
    private readonly SemaphoreSlim _sending = new(1, 1);

    private RemoteCommand(WebSocket socket) => _socket = socket;

    /// <summary>The protocol the client asked for over SPDY (kubectl before 1.30): <see cref="RemoteCommandOverSpdy"/>.</summary>
    public const string OverSpdy = "SPDY/3.1+" + V4;

    /// <summary>The protocol to speak with this request's client, or an error a client can read before any upgrade.</summary>
    public static string Negotiate(HttpContext ctx)
    {
        if (!ctx.WebSockets.IsWebSocketRequest)
        {
            if (!Spdy.SpdyUpgrade.IsRequested(ctx)) throw StatusException.BadRequest("Upgrade request required");
            Spdy.SpdyUpgrade.RequireProtocol(ctx, V4);
            return OverSpdy;
        }
        var offered = ctx.WebSockets.WebSocketRequestedProtocols;
        return offered.Contains(V5) ? V5 : offered.Contains(V4) ? V4
            : throw StatusException.BadRequest($"none of the offered protocols [{string.Join(", ", offered)}] is served; this server speaks {V5} and {V4}");
    }

    /// <summary>Connects the client to <paramref name="process"/> until it ends, then sends its exit status and closes.</summary>
    public static async Task RunAsync(HttpContext ctx, string protocol, IPodExecProcess process, bool stdin, bool stdout, bool stderr, bool tty, IReadOnlyList<string> command)
    {
        if (protocol == OverSpdy)
        {
            await RemoteCommandOverSpdy.RunAsync(ctx, process, stdin, stdout, stderr, tty, command);
            return;
        }
        using var socket = await ctx.WebSockets.AcceptWebSocketAsync(protocol);
        var session = new RemoteCommand(socket);
        var aborted = ctx.RequestAborted;
        var pumps = new OutputPumps();
        Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask>? To(byte channel, bool attached) =>
            attached ? (data, ct) => new ValueTask(session.SendAsync(channel, data, ct)) : null;
        if (process.Terminal is { } terminal) pumps.Add(terminal, To(StdoutChannel, stdout), aborted);
        else
        {
            pumps.Add(process.Stdout!, To(StdoutChannel, stdout), aborted);
            pumps.Add(process.Stderr!, To(StderrChannel, stderr), aborted);
            if (!stdin) process.Stdin?.Dispose();
        }
        var input = session.ReceiveAsync(process, stdin ? process.Terminal ?? process.Stdin : null, closeStdin: process.Terminal is null, aborted);
        try
        {
            var code = await process.WaitForExitAsync(aborted);
            // What is still in the pipes is delivered; a child that keeps them open does not hold the session.
            await OutputDrain.AfterExitAsync(pumps, () => process.OutputPending, aborted);
            await session.SendAsync(ErrorChannel, StatusBytes(code, command), aborted);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, aborted);
            await Task.WhenAny(input, Task.Delay(1000, aborted));
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException) { }
        finally
        {
            if (!process.WaitForExitAsync(CancellationToken.None).IsCompleted) process.ClientGone();
        }
    }

    /// <summary>The final status as the client reads it: Success, or Failure with the exit code as its cause.</summary>
    internal static byte[] StatusBytes(int code, IReadOnlyList<string> command) => Encoding.UTF8.GetBytes(Status(code, command).ToJsonString());

    private static JsonObject Status(int code, IReadOnlyList<string> command) => code == 0
        ? new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Success" }
        : new JsonObject
        {
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = $"command terminated with non-zero exit code: error executing command [{string.Join(" ", command)}], exit code {code}",
            ["reason"] = "NonZeroExitCode",
            ["details"] = new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ExitCode", ["message"] = code.ToString() }) },
        };

    private async Task SendAsync(byte channel, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var message = new byte[data.Length + 1];
        message[0] = channel;
        data.CopyTo(message.AsMemory(1));
        await _sending.WaitAsync(ct);
        try { await _socket.SendAsync(message, WebSocketMessageType.Binary, true, ct); }
        finally { _sending.Release(); }
    }

    /// <summary>The client's messages: stdin data, terminal sizes, and (v5) the end of its stdin.</summary>
    private async Task ReceiveAsync(IPodExecProcess process, Stream? stdin, bool closeStdin, CancellationToken ct)
    {
        var buffer = new byte[32768];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                message.SetLength(0);
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, ct);
                    if (result.MessageType == WebSocketMessageType.Close) { if (closeStdin) stdin?.Dispose(); return; }
                    message.Write(buffer, 0, result.Count);
                } while (!result.EndOfMessage);
                var data = message.GetBuffer().AsMemory(0, (int)message.Length);
                if (data.Length == 0) continue;
                switch (data.Span[0])
                {
                    case StdinChannel when stdin is not null && data.Length > 1:
                        await stdin.WriteAsync(data[1..], ct);
                        await stdin.FlushAsync(ct);
                        break;
                    case ResizeChannel:
                        if (TerminalSize(data[1..].Span) is { } size) process.Resize(size.Height, size.Width);
                        break;
                    case CloseSignal when data.Length > 1 && data.Span[1] == StdinChannel:
                        if (closeStdin) stdin?.Dispose();
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or WebSocketException) { }
    }

    /// <summary>{"Width":80,"Height":24}, as kubectl sends a terminal's size; null when it is not one.</summary>
    internal static (int Width, int Height)? TerminalSize(ReadOnlySpan<byte> json)
    {
        try
        {
            var size = JsonNode.Parse(json) as JsonObject;
            var width = size?["Width"]?.GetValue<int>() ?? 0;
            var height = size?["Height"]?.GetValue<int>() ?? 0;
            return width is > 0 and <= ushort.MaxValue && height is > 0 and <= ushort.MaxValue ? (width, height) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { return null; }
    }
}
