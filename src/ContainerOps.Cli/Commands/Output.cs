using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>Shared output helpers: log entries to the right stream, JSON through the source-generated context.</summary>
internal static class Output
{
    /// <summary>Writes log entries (stdout entries to stdout, stderr entries to stderr) until the sequence ends.</summary>
    public static async Task WriteLogsAsync(CliContext c, IAsyncEnumerable<LogEntry> entries, bool timestamps, bool flushEach)
    {
        await foreach (var e in entries.WithCancellation(c.Cancel).ConfigureAwait(false))
        {
            var w = e.Stream == "stderr" ? c.Err : c.Out;
            if (timestamps) w.Write(e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture) + " ");
            w.Write(e.Log);
            if (flushEach) w.Flush();
        }
        c.Out.Flush();
    }

    public static Utf8JsonWriter IndentedWriter(Stream s) => new(s, new JsonWriterOptions { Indented = true });
}
