using System.Buffers.Binary;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
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

    /// <summary>`POST /containers/{id}/attach?stream=1&amp;stdout=1&amp;stderr=1` on a hijacked connection: the output of the
    /// container's current or next run, until it ends. Input is not taken this way yet.</summary>
    public static async Task AttachAsync(HttpContext context, ContainerManager manager, string id)
    {
        var request = context.Request;
        if (Flag(request, "stdin"))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "AttachStdinUnsupported",
                $"attaching the input of {id} through the Docker API is not supported yet (containerops run -i and New-Container -Interactive do it)", id, "stdin");
        var tty = manager.Inspect(id).Config.Tty;
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true })
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "UpgradeRequired",
                "attach takes over the connection: send Connection: Upgrade and Upgrade: tcp", id);
        // The run is followed from now; the upgrade answers the client before the container starts. A client that sends no
        // input half-closes the connection at once (which aborts the request): the output goes on until writing fails.
        var output = manager.AttachOutput(id, Flag(request, "stdout"), Flag(request, "stderr"), CancellationToken.None);
        context.Response.Headers.ContentType = tty ? RawStream : MultiplexedStream;
        context.Response.Headers.Upgrade = "tcp";
        context.Response.Headers.Connection = "Upgrade";
        await using var stream = await upgrade.UpgradeAsync();
        try { await CopyAsync(output, stream, tty, false, CancellationToken.None); }
        catch (Exception e) when (e is IOException or OperationCanceledException) { }
    }
}
