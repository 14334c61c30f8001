using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>The json-file log as the shim writes it, written by hand: rotation, tail, since, stream filters, follow.</summary>
public class LogReaderTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly TempDir _dir = new("co-logs");
    private string LogPath => Path.Combine(_dir.Path, "c-json.log");

    public void Dispose() => _dir.Dispose();

    private static string Line(int i, string stream = "stdout") =>
        $"{{\"log\":\"line {i}\\n\",\"stream\":\"{stream}\",\"time\":\"{T0.AddSeconds(i):yyyy-MM-ddTHH:mm:ss.fffffffZ}\"}}\n";

    /// <summary>Lines 0-2 in .2, 3-5 in .1, 6-9 live; odd lines on stderr.</summary>
    private void WriteRotated()
    {
        string Lines(int from, int to) => string.Concat(Enumerable.Range(from, to - from + 1).Select(i => Line(i, i % 2 == 1 ? "stderr" : "stdout")));
        File.WriteAllText(LogPath + ".2", Lines(0, 2));
        File.WriteAllText(LogPath + ".1", Lines(3, 5));
        File.WriteAllText(LogPath, Lines(6, 9));
    }

    private static async Task<List<LogEntry>> Read(string path, bool follow = false, int? tail = null, DateTimeOffset? since = null,
        bool stdout = true, bool stderr = true, Func<bool>? running = null, CancellationToken ct = default)
    {
        var list = new List<LogEntry>();
        await foreach (var e in LogReader.ReadAsync(path, follow, tail, since, stdout, stderr, running ?? (() => false), ct)) list.Add(e);
        return list;
    }

    private static int[] Numbers(IEnumerable<LogEntry> entries) => entries.Select(e => int.Parse(e.Log.Trim()["line ".Length..])).ToArray();

    [Fact]
    public void ParsesAShimLine()
    {
        var e = LogReader.Parse(Line(3, "stderr").TrimEnd('\n'));
        Assert.NotNull(e);
        Assert.Equal("line 3\n", e!.Log);
        Assert.Equal("stderr", e.Stream);
        Assert.Equal(T0.AddSeconds(3), e.Time);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"log\":\"cut off")]
    [InlineData("{\"stream\":\"stdout\"}")]
    [InlineData("not json")]
    public void BrokenLinesAreSkipped(string line) => Assert.Null(LogReader.Parse(line));

    [Fact]
    public async Task ReadsRotatedFilesOldestFirst()
    {
        WriteRotated();
        Assert.Equal(Enumerable.Range(0, 10).ToArray(), Numbers(await Read(LogPath)));
    }

    [Fact]
    public async Task TailCountsAcrossRotatedFiles()
    {
        WriteRotated();
        Assert.Equal(new[] { 5, 6, 7, 8, 9 }, Numbers(await Read(LogPath, tail: 5)));
        Assert.Empty(await Read(LogPath, tail: 0));
        Assert.Equal(10, (await Read(LogPath, tail: 100)).Count);
    }

    [Fact]
    public async Task SinceKeepsEntriesAtOrAfter()
    {
        WriteRotated();
        Assert.Equal(new[] { 4, 5, 6, 7, 8, 9 }, Numbers(await Read(LogPath, since: T0.AddSeconds(4))));
        Assert.Equal(new[] { 8, 9 }, Numbers(await Read(LogPath, since: T0.AddSeconds(4), tail: 2)));
    }

    [Fact]
    public async Task StreamFilters()
    {
        WriteRotated();
        Assert.Equal(new[] { 0, 2, 4, 6, 8 }, Numbers(await Read(LogPath, stderr: false)));
        Assert.Equal(new[] { 1, 3, 5, 7, 9 }, Numbers(await Read(LogPath, stdout: false)));
        Assert.Equal(new[] { 7, 9 }, Numbers(await Read(LogPath, stdout: false, tail: 2)));
    }

    [Fact]
    public async Task ATruncatedLastLineIsIgnored()
    {
        File.WriteAllText(LogPath, Line(0) + Line(1) + "{\"log\":\"half");
        Assert.Equal(new[] { 0, 1 }, Numbers(await Read(LogPath)));
    }

    [Fact]
    public async Task MissingLogIsEmpty() => Assert.Empty(await Read(LogPath));

    [Fact]
    public async Task FollowEndsWhenTheContainerIsNotRunning()
    {
        File.WriteAllText(LogPath, Line(0));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(new[] { 0 }, Numbers(await Read(LogPath, follow: true, running: () => false, ct: cts.Token)));
        Assert.False(cts.IsCancellationRequested);
    }

    [Fact]
    public async Task FollowDeliversAppendedLinesUntilTheContainerStops()
    {
        File.WriteAllText(LogPath, Line(0));
        var running = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<LogEntry>();
        var reader = Task.Run(async () =>
        {
            await foreach (var e in LogReader.ReadAsync(LogPath, true, null, null, true, true, () => Volatile.Read(ref running), cts.Token))
                lock (seen) seen.Add(e);
        });
        await WaitUntil(() => { lock (seen) return seen.Count == 1; });

        // A line written in two pieces arrives once, whole.
        var second = Line(1);
        File.AppendAllText(LogPath, second[..10]);
        await Task.Delay(200);
        File.AppendAllText(LogPath, second[10..] + Line(2));
        await WaitUntil(() => { lock (seen) return seen.Count == 3; });

        // Rotation: the live file starts over.
        File.Move(LogPath, LogPath + ".1");
        File.WriteAllText(LogPath, Line(3));
        await WaitUntil(() => { lock (seen) return seen.Count == 4; });

        Volatile.Write(ref running, false);
        await reader.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(cts.IsCancellationRequested);
        Assert.Equal(new[] { 0, 1, 2, 3 }, Numbers(seen));
    }

    private static async Task WaitUntil(Func<bool> condition, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met");
            await Task.Delay(20);
        }
    }
}
