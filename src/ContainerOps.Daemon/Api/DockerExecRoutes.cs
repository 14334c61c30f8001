using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Core.Terminal;
using ContainerOps.Daemon.Engine;

namespace ContainerOps.Daemon.Api;

/// <summary>Docker's exec endpoints: create, start on a hijacked connection (or detached), inspect and resize.</summary>
internal static class DockerExecRoutes
{
    private static readonly ApiJsonContext J = ApiJsonContext.Default;

    public static void Map(WebApplication app)
    {
        app.MapPost("/containers/{id}/exec", async (string id, HttpRequest req, ExecRegistry execs) =>
        {
            var body = await Json.ReadAsync(req, J.ExecCreateRequest, "exec create request");
            var exec = execs.Create(id, body);
            return Results.Text(JsonSerializer.Serialize(new ContainerCreateResponse { Id = exec.Id }, J.ContainerCreateResponse),
                "application/json", System.Text.Encoding.UTF8, StatusCodes.Status201Created);
        });
        app.MapPost("/exec/{id}/start", async (string id, HttpContext ctx, ExecRegistry execs) =>
        {
            var body = HijackedConnections.UpgradeRequestBody(ctx) is { } setAside ? ReadStartRequest(setAside)
                : ctx.Request.ContentLength is 0 ? new ExecStartRequest() : await Json.ReadAsync(ctx.Request, J.ExecStartRequest, "exec start request");
            await StartAsync(ctx, execs, execs.Get(id), body);
            return Results.Empty;
        });
        app.MapGet("/exec/{id}/json", (string id, ExecRegistry execs) => Json.Ok(execs.Inspect(id), J.ExecInspectResponse));
        app.MapPost("/exec/{id}/resize", (string id, HttpRequest req, ExecRegistry execs) =>
        {
            var exec = execs.Get(id);
            var (height, width) = TerminalSize(req, id);
            if (exec.Running) exec.Process?.Resize(height, width);
            return Results.Ok();
        });
    }

    private static ExecStartRequest ReadStartRequest(byte[] body)
    {
        try { return JsonSerializer.Deserialize(body, J.ExecStartRequest) ?? new ExecStartRequest(); }
        catch (JsonException e)
        {
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidRequestBody", $"the exec start request is not valid JSON: {e.Message}", null, e.Path);
        }
    }

    /// <summary>h and w of a resize request, as Docker checks them.</summary>
    public static (int Height, int Width) TerminalSize(HttpRequest req, string target)
    {
        int Dimension(string name) => int.TryParse(req.Query[name], out var v) && v is > 0 and <= ushort.MaxValue ? v
            : throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidTerminalSize", $"resize of {target}: {name} must be a number from 1 to 65535", target, name);
        return (Dimension("h"), Dimension("w"));
    }

    private static async Task StartAsync(HttpContext ctx, ExecRegistry execs, ExecRegistry.ExecInstance exec, ExecStartRequest body)
    {
        var request = exec.Request;
        var process = execs.Start(exec, body.ConsoleSize);
        if (body.Detach)
        {
            // Nobody reads the output: it is drained so the process never blocks on a full pipe.
            if (!request.AttachStdin && process.Stdin is { } unused) unused.Dispose();
            var drains = new[] { process.Terminal, process.Stdout, process.Stderr }.OfType<Stream>().Select(s => s.CopyToAsync(Stream.Null)).ToArray();
            _ = Task.Run(async () =>
            {
                var code = await process.WaitForExitAsync();
                await OutputDrain.AfterExitAsync(Task.WhenAll(drains), () => process.OutputPending);
                execs.Ended(exec, code);
                process.Dispose();
            });
            return;
        }
        try
        {
            await using var hijacked = await HijackedStream.UpgradeAsync(ctx, request.Tty, exec.Id);
            var pumps = new OutputPumps();
            Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> To(byte stream) => (data, _) => new ValueTask(hijacked.WriteAsync(stream, data));
            if (process.Terminal is { } terminal) pumps.Add(terminal, To(DockerStreams.Stdout));
            else
            {
                pumps.Add(process.Stdout!, request.AttachStdout ?? true ? To(DockerStreams.Stdout) : null);
                pumps.Add(process.Stderr!, request.AttachStderr ?? true ? To(DockerStreams.Stderr) : null);
                if (!request.AttachStdin) process.Stdin!.Dispose();
            }
            // A terminal's input is watched for the detach keys, as dockerd watches it: they end the attach, the process runs on.
            var detachKeys = process.Terminal is null ? null : DetachKeys.ParseOrDefault(request.DetachKeys);
            _ = request.AttachStdin ? RelayInputAsync(hijacked.Input, process.Terminal ?? process.Stdin!, closeAtEnd: process.Terminal is null, detachKeys, ctx.Abort) : Task.CompletedTask;
            var code = await process.WaitForExitAsync();
            await OutputDrain.AfterExitAsync(pumps, () => process.OutputPending);
            // Before the stream ends: the client asks for the exit code as soon as it has read the end.
            execs.Ended(exec, code);
        }
        finally
        {
            if (exec.Running) { process.Signal(9); execs.Ended(exec, await process.WaitForExitAsync()); }
            process.Dispose();
        }
    }

    /// <summary>The client's input to the process; the detach keys, when given, are not passed on but end the attach
    /// (<paramref name="detach"/> closes the connection; the process runs on).</summary>
    private static async Task RelayInputAsync(Stream input, Stream stdin, bool closeAtEnd, byte[]? detachKeys, Action detach)
    {
        var matcher = detachKeys is null ? null : new DetachKeyMatcher(detachKeys);
        var buffer = new byte[32768];
        try
        {
            int n;
            while ((n = await input.ReadAsync(buffer)) > 0)
            {
                ReadOnlyMemory<byte> forward = buffer.AsMemory(0, n);
                var detached = false;
                if (matcher is not null) (forward, detached) = matcher.Feed(forward.Span);
                if (forward.Length > 0)
                {
                    await stdin.WriteAsync(forward);
                    await stdin.FlushAsync();
                }
                if (detached) { detach(); return; }
            }
            if (closeAtEnd) stdin.Dispose();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException) { }
    }
}
