using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// Termination messages as the kubelet keeps them: each run of a container gets an empty host file (mode 0666, so any
/// user may write it) bound at its terminationMessagePath (/dev/termination-log by default), in
/// STATE_ROOT/pods/UID/containers/NAME/ATTEMPT; when the run ends its last 4096 bytes are the message. With
/// terminationMessagePolicy FallbackToLogsOnError, a failed run that left the file empty gets the end of its log
/// instead (its last 80 lines, at most 2048 bytes of them).
/// </summary>
internal static class TerminationMessages
{
    public const int MaxFileBytes = 4096;
    public const int MaxLogLines = 80;
    public const int MaxLogBytes = 2048;

    private static string DirOf(NodeAgentOptions node, string podUid, string container) =>
        Path.Combine(node.StateRoot, "pods", podUid, "containers", container);

    private static string FileOf(NodeAgentOptions node, string podUid, string container, int attempt) =>
        Path.Combine(DirOf(node, podUid, container), attempt.ToString(CultureInfo.InvariantCulture));

    /// <summary>The file of run <paramref name="attempt"/>, made empty, and its mount; the files of runs older than the
    /// previous one go (as their containers do). Null when the container has no terminationMessagePath.</summary>
    public static PodMount? Prepare(NodeAgentOptions node, string podUid, JsonObject container, int attempt)
    {
        var target = Json.Str(container["terminationMessagePath"]);
        var name = Json.Str(container["name"]) ?? "";
        if (string.IsNullOrEmpty(target)) return null;
        var dir = DirOf(node, podUid, name);
        Directory.CreateDirectory(dir);
        var file = FileOf(node, podUid, name, attempt);
        File.WriteAllBytes(file, []);
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("666", 8));
        foreach (var old in Directory.GetFiles(dir))
            if (int.TryParse(Path.GetFileName(old), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n < attempt - 1) File.Delete(old);
        return new PodMount(file, target, ReadOnly: false);
    }

    /// <summary>The message of an ended run: its file's end, or with FallbackToLogsOnError and a failure, its log's end;
    /// "" when there is none.</summary>
    public static async Task<string> ReadAsync(INodeRuntime runtime, NodeAgentOptions node, string podUid, JsonObject? container, RuntimeContainer run, CancellationToken ct)
    {
        var message = "";
        if (Json.Str(container?["terminationMessagePath"]) is { Length: > 0 })
        {
            var file = FileOf(node, podUid, run.ContainerName, run.Attempt);
            if (File.Exists(file)) message = ReadEnd(file, MaxFileBytes);
        }
        // A run that never started has no log to fall back on.
        var fallback = Json.Str(container?["terminationMessagePolicy"]) == "FallbackToLogsOnError" && run.ExitCode != 0 && run.Error is null;
        if (message.Length > 0 || !fallback) return message;
        var log = new StringBuilder();
        await foreach (var entry in runtime.ReadLogAsync(run.Id, follow: false, tail: MaxLogLines, since: null, ct)) log.Append(entry.Log);
        var bytes = Encoding.UTF8.GetBytes(log.ToString());
        return bytes.Length <= MaxLogBytes ? log.ToString() : Encoding.UTF8.GetString(bytes, 0, MaxLogBytes);
    }

    private static string ReadEnd(string path, int max)
    {
        using var stream = File.OpenRead(path);
        var start = Math.Max(0, stream.Length - max);
        stream.Seek(start, SeekOrigin.Begin);
        var buffer = new byte[stream.Length - start];
        stream.ReadExactly(buffer);
        return Encoding.UTF8.GetString(buffer);
    }
}
