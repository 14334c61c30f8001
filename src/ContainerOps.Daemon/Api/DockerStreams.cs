using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Core.Terminal;
using ContainerOps.Daemon.Engine;
using ContainerOps.Runtime.Native;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace ContainerOps.Daemon.Api;

/// <summary>
/// Docker's stream shapes, for Docker clients (requests with a version prefix): logs and attach output as raw bytes with
/// a terminal, else multiplexed (a frame header of stream type 1 or 2, three zeros and the big-endian length); attach
/// on a hijacked connection (HTTP 101, Upgrade: tcp). Our own client keeps its NDJSON and WebSocket sessions.
/// </summary>
internal static class DockerStreams
{
    public const byte Stdout = 1, Stderr = 2;
    private const string RawStream = "application/vnd.docker.raw-stream";
    private const string MultiplexedStream = "application/vnd.docker.multiplexed-stream";

    private static bool Flag(HttpRequest r, string name) => r.Query[name].ToString() is "1" or "true" or "True";

    public static async Task WriteFrameAsync(Stream output, bool tty, byte stream, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (!tty)
        {
            var header = new byte[8];
            header[0] = stream;
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)data.Length);
            await output.WriteAsync(header, ct);
        }
        await output.WriteAsync(data, ct);
        await output.FlushAsync(ct);
    }

    private static async Task CopyAsync(IAsyncEnumerable<LogEntry> entries, Stream output, bool tty, bool timestamps, CancellationToken ct)
    {
        await foreach (var e in entries.WithCancellation(ct))
        {
            var text = timestamps ? e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture) + " " + e.Log : e.Log;
            await WriteFrameAsync(output, tty, e.Stream == "stderr" ? Stderr : Stdout, Encoding.UTF8.GetBytes(text), ct);
        }
    }

    /// <summary>`GET /containers/{id}/logs` for a Docker client.</summary>
    public static async Task WriteLogsAsync(HttpContext context, bool tty, IAsyncEnumerable<LogEntry> entries)
    {
        context.Response.ContentType = tty ? RawStream : MultiplexedStream;
        await context.Response.StartAsync();
        await CopyAsync(entries, context.Response.Body, tty, Flag(context.Request, "timestamps"), context.RequestAborted);
    }

    /// <summary>`POST /containers/{id}/attach?stream=1&amp;stdin=1&amp;stdout=1&amp;stderr=1&amp;detachKeys=` on a hijacked
    /// connection: the output of the container's current or next run until it ends, and with stdin (for a container
    /// created with OpenStdin) the client's input to the container. As dockerd: the end of that input closes the
    /// container's stdin only for a container made to take one input without a terminal (StdinOnce, `docker run -i`);
    /// otherwise it ends the attach and the container runs on, as it does when a terminal's input holds the detach keys
    /// (the client's, else ctrl-p,ctrl-q).</summary>
    public static async Task AttachAsync(HttpContext context, ContainerManager manager, ContainerInputs inputs, string id)
    {
        var request = context.Request;
        var config = manager.Inspect(id).Config;
        // As dockerd: input is taken only by a container that keeps its stdin open.
        var stdin = Flag(request, "stdin") && config.OpenStdin;
        var detachKeys = stdin && config.Tty ? DetachKeysOf(request, id) : null;
        using var attachEnded = new CancellationTokenSource();
        HijackedStream? hijacked = null;
        var input = Task.CompletedTask;
        try
        {
            // The run is followed from now; the upgrade answers the client before the container starts.
            await FollowAttachedAsync(manager.AttachOutput(id, Flag(request, "stdout"), Flag(request, "stderr"), attachEnded.Token),
                answer: async () =>
                {
                    hijacked = await HijackedStream.UpgradeAsync(context, config.Tty, id);
                    manager.Emit(id, "attach");
                    if (stdin) input = RelayInputAsync(manager, inputs, id, hijacked.Input, detachKeys, ContainerInputs.EndOfInputClosesStdin(config), attachEnded);
                },
                write: e => hijacked!.WriteAsync(e.Stream == "stderr" ? Stderr : Stdout, Encoding.UTF8.GetBytes(e.Log)),
                attachEnded.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException) { }
        finally
        {
            attachEnded.Cancel();
            await input;
            if (hijacked is not null) await hijacked.DisposeAsync();
        }
    }

    /// <summary>Follows an attached run's <paramref name="output"/>: its first step runs before <paramref name="answer"/>
    /// (up to the wait for the start), so the follower counts as an attached reader before the client can start the
    /// container, and an automatic removal waits until it has read the end; then each entry is written until the run
    /// ends.</summary>
    internal static async Task FollowAttachedAsync(IAsyncEnumerable<LogEntry> output, Func<Task> answer, Func<LogEntry, Task> write, CancellationToken ct)
    {
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var entries = output.GetAsyncEnumerator(ended.Token);
        var next = entries.MoveNextAsync().AsTask();
        try
        {
            await answer();
            while (await next)
            {
                await write(entries.Current);
                next = entries.MoveNextAsync().AsTask();
            }
        }
        finally
        {
            // An iterator is disposed only between steps: the one under way ends first.
            ended.Cancel();
            try { await next; }
            catch (Exception e) when (e is OperationCanceledException or ContainerOpsException or IOException) { }
            await entries.DisposeAsync();
        }
    }

    /// <summary>The detach keys a request names (`detachKeys`), else Docker's ctrl-p,ctrl-q.</summary>
    private static byte[] DetachKeysOf(HttpRequest request, string id)
    {
        try { return DetachKeys.ParseOrDefault(request.Query["detachKeys"].ToString()); }
        catch (ArgumentException e) { throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidDetachKeys", e.Message, id, "detachKeys"); }
    }

    /// <summary>The client's input to the container's stdin (the daemon's shared connection to it), once the
    /// container runs. At the end of the input, or at the detach keys, it closes the container's stdin when
    /// <paramref name="closeStdin"/>, else it ends the attach.</summary>
    private static async Task RelayInputAsync(ContainerManager manager, ContainerInputs inputs, string id, Stream client, byte[]? detachKeys, bool closeStdin, CancellationTokenSource attach)
    {
        var ended = attach.Token;
        try
        {
            var since = DateTimeOffset.UtcNow;
            var (attachPath, _, record, _) = manager.AttachPoints(id);
            while (!record.State.Running)
            {
                if (record.State.FinishedAt >= since) return;
                await Task.Delay(20, ended);
            }
            var stdin = await inputs.OpenAsync(record.Id, attachPath, ended);
            var matcher = detachKeys is null ? null : new DetachKeyMatcher(detachKeys);
            var buffer = new byte[32768];
            try
            {
                int n;
                while ((n = await client.ReadAsync(buffer, ended)) > 0)
                {
                    ReadOnlyMemory<byte> forward = buffer.AsMemory(0, n);
                    var detached = false;
                    if (matcher is not null) (forward, detached) = matcher.Feed(forward.Span);
                    if (!forward.IsEmpty) await stdin.SendAsync(forward, ended);
                    if (detached) break;
                }
            }
            catch (IOException) { } // the client went away: as the end of its input
            if (ended.IsCancellationRequested) return;
            if (closeStdin) stdin.CloseStdin();
            else attach.Cancel();
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or ContainerOpsException) { }
    }
}

/// <summary>A connection a Docker client handed over (HTTP 101, Upgrade: tcp): its input, and output frames written one
/// at a time (multiplexed without a terminal, raw with one).</summary>
internal sealed class HijackedStream : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly bool _tty;
    private readonly Socket? _unixSocket;
    private readonly SemaphoreSlim _write = new(1, 1);
    private bool _answerRead;

    private HijackedStream(Stream stream, bool tty, Socket? unixSocket) => (_stream, _tty, _unixSocket) = (stream, tty, unixSocket);

    public Stream Input => _stream;

    public static async Task<HijackedStream> UpgradeAsync(HttpContext context, bool tty, string target)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true })
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "UpgradeRequired",
                "this request takes over the connection: send Connection: Upgrade and Upgrade: tcp", target);
        context.Response.Headers.ContentType = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        context.Response.Headers.Upgrade = "tcp";
        context.Response.Headers.Connection = "Upgrade";
        HijackedConnections.MarkHijacked(context);
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        return new HijackedStream(await upgrade.UpgradeAsync(), tty, socket is { AddressFamily: AddressFamily.Unix } ? socket : null);
    }

    public async Task WriteAsync(byte stream, ReadOnlyMemory<byte> data)
    {
        await _write.WaitAsync();
        try
        {
            if (!_answerRead) { await ClientReadTheAnswerAsync(); _answerRead = true; }
            await DockerStreams.WriteFrameAsync(_stream, _tty, stream, data, CancellationToken.None);
        }
        finally { _write.Release(); }
    }

    /// <summary>
    /// The first output waits until the client has read the 101 answer, up to 5 s. Python's docker SDK reads the
    /// answer through a buffered reader and then takes the raw socket (docker-compose's exec and attach): output that
    /// came with the answer went into that buffer and was lost. On a Unix socket the answer is in the kernel once it is
    /// flushed (<see cref="HijackedConnections"/>), and SIOCOUTQ counts what the client has not read of it.
    /// </summary>
    private async Task ClientReadTheAnswerAsync()
    {
        if (_unixSocket is null) return;
        var limit = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 5;
        for (var pause = 1; Libc.QueuedBytes(_unixSocket.SafeHandle, Libc.SIOCOUTQ) > 0 && Stopwatch.GetTimestamp() < limit; pause = Math.Min(pause * 2, 20))
            await Task.Delay(pause);
    }

    public async ValueTask DisposeAsync()
    {
        try { await _stream.DisposeAsync(); }
        catch (IOException) { }
    }
}
