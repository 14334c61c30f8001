using System.Text.Encodings.Web;
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

    /// <summary>JSON for people and scripts: quotes, '+' and '&lt;' written as themselves (as docker writes them).</summary>
    public static Utf8JsonWriter JsonWriter(Stream s, bool indented) =>
        new(s, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>How docker shows an image reference: without the default registry and library/ prefix.</summary>
    public static string FamiliarName(string reference) => ImageNames.Familiar(reference);
}
