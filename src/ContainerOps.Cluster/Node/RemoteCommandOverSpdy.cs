using System.Collections.Concurrent;
using ContainerOps.Cluster.Node.Spdy;
using ContainerOps.Core.IO;
using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// The remote command protocol (v4.channel.k8s.io) over SPDY, as kubectl before 1.30 speaks it for exec and attach:
/// instead of channel numbers, the client opens one stream per channel, named by its streamType header — error,
/// stdin, stdout, stderr (without a terminal), resize (with one, a JSON size per line). The server closes stdout and
/// stderr when the process's output ends and writes the final status (a metav1.Status, as <see cref="RemoteCommand"/>
/// sends it) on the error stream before closing it.
/// </summary>
internal static class RemoteCommandOverSpdy
{
    public const string Protocol = RemoteCommand.V4;
    /// <summary>How long the kubelet waits for the client to open the streams it asked for.</summary>
    private static readonly TimeSpan StreamWait = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(HttpContext ctx, IPodExecProcess process, bool stdin, bool stdout, bool stderr, bool tty, IReadOnlyList<string> command)
    {
        Stream transport;
        try { transport = await SpdyUpgrade.AcceptAsync(ctx, Protocol); }
        catch
        {
            process.ClientGone();
            throw;
        }
        await using var session = new SpdySession(transport);
        var expected = new HashSet<string> { "error" };
        if (stdin) expected.Add("stdin");
        if (stdout) expected.Add("stdout");
        if (stderr && !tty) expected.Add("stderr");
        if (tty) expected.Add("resize");
        var streams = new ConcurrentDictionary<string, SpdyStream>();
        var accepted = new ConcurrentBag<Task>();
        var allOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = session.RunAsync(stream =>
        {
            var type = stream.Header("streamtype") ?? "";
            if (!expected.Contains(type) || !streams.TryAdd(type, stream))
            {
                _ = stream.ResetAsync(SpdySession.RefusedStream);
                return;
            }
            accepted.Add(stream.AcceptAsync());
            if (expected.All(streams.ContainsKey)) allOpen.TrySetResult();
        }, ctx.RequestAborted);
        try
        {
            try { await allOpen.Task.WaitAsync(StreamWait, session.Ended); }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException) { return; }
            await Task.WhenAll(accepted);
            SpdyStream? Stream(string type) => streams.TryGetValue(type, out var s) ? s : null;

            var pumps = new OutputPumps();
            // Each output stream is closed once its pipe ends.
            void Pump(Stream output, SpdyStream? to) =>
                pumps.Add(output, to is null ? null : (data, ct) => new ValueTask(to.WriteAsync(data, ct)), session.Ended, to is null ? null : to.CloseAsync);
            if (process.Terminal is { } terminal) Pump(terminal, Stream("stdout"));
            else
            {
                Pump(process.Stdout!, Stream("stdout"));
                Pump(process.Stderr!, Stream("stderr"));
                if (!stdin) process.Stdin?.Dispose();
            }
            if (Stream("stdin") is { } input) _ = FeedAsync(input, process.Terminal ?? process.Stdin, closeAtEnd: process.Terminal is null);
            if (Stream("resize") is { } resize) _ = ResizeAsync(resize, process);

            var code = await process.WaitForExitAsync(session.Ended);
            // What is still in the pipes is delivered; a child that keeps them open does not hold the session.
            await OutputDrain.AfterExitAsync(pumps, () => process.OutputPending, session.Ended);
            var error = Stream("error")!;
            await error.WriteAsync(RemoteCommand.StatusBytes(code, command), session.Ended);
            await error.CloseAsync();
            foreach (var open in new[] { Stream("stdout"), Stream("stderr") }) if (open is not null) await open.CloseAsync();
            // The client hangs up once it has read the status.
            await Task.WhenAny(reading, Task.Delay(1000, session.Ended));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or System.Net.WebSockets.WebSocketException) { }
        finally
        {
            if (!process.WaitForExitAsync(CancellationToken.None).IsCompleted) process.ClientGone();
        }
    }

    private static async Task FeedAsync(SpdyStream input, Stream? target, bool closeAtEnd)
    {
        var buffer = new byte[32768];
        try
        {
            int n;
            while ((n = await input.ReadAsync(buffer, CancellationToken.None)) > 0)
            {
                if (target is null) continue;
                await target.WriteAsync(buffer.AsMemory(0, n));
                await target.FlushAsync();
            }
            if (closeAtEnd) target?.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }

    /// <summary>Terminal sizes, one JSON object per line as kubectl's encoder writes them.</summary>
    private static async Task ResizeAsync(SpdyStream resize, IPodExecProcess process)
    {
        var buffer = new byte[4096];
        var line = new MemoryStream();
        int n;
        while ((n = await resize.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            foreach (var b in buffer.AsSpan(0, n))
            {
                if (b != (byte)'\n') { line.WriteByte(b); continue; }
                if (RemoteCommand.TerminalSize(line.ToArray()) is { } size) process.Resize(size.Height, size.Width);
                line.SetLength(0);
            }
        }
    }
}
