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
    /// <summary>`X inspect NAME...`: a JSON array of what each name denotes; names that fail are reported after it, status 1.</summary>
    public static async Task<int> InspectEach<T>(CliContext c, IReadOnlyList<string> names, Func<string, Task<T>> get, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        var status = 0;
        var errors = new List<string>();
        c.Out.Flush();
        using (var w = JsonWriter(c.Out.BaseStream, indented: true))
        {
            w.WriteStartArray();
            foreach (var name in names)
            {
                try { System.Text.Json.JsonSerializer.Serialize(w, await get(name), type); }
                catch (ContainerOpsException e) { errors.Add(e.Error.Message); status = 1; }
            }
            w.WriteEndArray();
        }
        c.Out.BaseStream.WriteByte((byte)'\n');
        c.Out.BaseStream.Flush();
        foreach (var e in errors) c.Err.WriteLine($"containerops: {e}");
        return status;
    }

    /// <summary>`X rm NAME...`: each name is printed once removed; failures are reported and make the status 1.</summary>
    public static async Task<int> RemoveEach(CliContext c, IReadOnlyList<string> names, Func<string, Task> remove)
    {
        var status = 0;
        foreach (var name in names)
        {
            try
            {
                await remove(name);
                c.Out.WriteLine(name);
            }
            catch (ContainerOpsException e)
            {
                c.Out.Flush();
                c.Err.WriteLine($"containerops: {e.Error.Message}");
                status = 1;
            }
        }
        return status;
    }

    public static Utf8JsonWriter JsonWriter(Stream s, bool indented) =>
        new(s, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>How docker shows an image reference: without the default registry and library/ prefix.</summary>
    public static string FamiliarName(string reference) => ImageNames.Familiar(reference);
}
