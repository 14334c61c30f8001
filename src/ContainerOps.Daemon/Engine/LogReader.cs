using System.Runtime.CompilerServices;
using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Reads a container's json-file log as the shim writes it (one {"log","stream","time"} object per line,
/// rotated to path.1, path.2 …): tail, since, stream filters, and follow until the container stops.
/// </summary>
public static class LogReader
{
    public static LogEntry? Parse(string line)
    {
        if (line.Length == 0) return null;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            return new LogEntry
            {
                Log = root.GetProperty("log").GetString() ?? "",
                Stream = root.GetProperty("stream").GetString() ?? "stdout",
                Time = DateTimeOffset.Parse(root.GetProperty("time").GetString() ?? "", System.Globalization.CultureInfo.InvariantCulture),
            };
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            return null; // a line cut by a crash mid-write
        }
    }

    private static bool Wanted(LogEntry e, DateTimeOffset? since, bool stdout, bool stderr) =>
        (since is null || e.Time >= since) && (e.Stream == "stderr" ? stderr : stdout);

    /// <summary>Rotated files oldest first, then the live file.</summary>
    public static List<string> Files(string path)
    {
        var files = new List<string>();
        for (var i = 9; i >= 1; i--)
            if (File.Exists($"{path}.{i}")) files.Add($"{path}.{i}");
        if (File.Exists(path)) files.Add(path);
        return files;
    }

    public static async IAsyncEnumerable<LogEntry> ReadAsync(string path, bool follow, int? tail, DateTimeOffset? since, bool stdout, bool stderr,
        Func<bool> isRunning, [EnumeratorCancellation] CancellationToken ct, Func<Task>? stopped = null)
    {
        var existing = new List<LogEntry>();
        long position = 0;
        foreach (var file in Files(path))
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(fs);
            string? line;
            while ((line = await reader.ReadLineAsync(ct)) is not null)
                if (Parse(line) is { } e && Wanted(e, since, stdout, stderr)) existing.Add(e);
            if (file == path) position = fs.Position;
        }
        var start = tail is int t && t >= 0 ? Math.Max(0, existing.Count - t) : 0;
        for (var i = start; i < existing.Count; i++) yield return existing[i];
        if (!follow) yield break;

        // Follow the live file; a rotation shows as the file getting shorter (or replaced).
        var partial = "";
        while (!ct.IsCancellationRequested)
        {
            var running = isRunning();
            var grew = false;
            if (File.Exists(path))
            {
                using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (fs.Length < position) position = 0;
                if (fs.Length > position)
                {
                    fs.Position = position;
                    using var reader = new StreamReader(fs);
                    var text = partial + await reader.ReadToEndAsync(ct);
                    position = fs.Length;
                    var lines = text.Split('\n');
                    partial = lines[^1];
                    foreach (var line in lines[..^1])
                        if (Parse(line) is { } e && Wanted(e, since, stdout, stderr)) yield return e;
                    grew = true;
                }
            }
            if (!running && !grew) yield break;
            if (!grew)
            {
                // Wake on new output (polled) or at once when the container stops.
                try { await Task.WhenAny(Task.Delay(50, ct), stopped?.Invoke() ?? Task.Delay(Timeout.Infinite, ct)); }
                catch (OperationCanceledException) { yield break; }
                if (ct.IsCancellationRequested) yield break;
            }
        }
    }
}
