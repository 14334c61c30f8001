using System.IO.Pipelines;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Runtime;

namespace ContainerOps.Probes.Tests;

/// <summary>A process whose output and exit the test controls.</summary>
internal sealed class FakeProcess : ExecProcess
{
    private readonly Pipe _out = new(), _err = new();
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public readonly List<int> Signals = new();

    public override int Pid => 4242;
    public override Stream? Stdin => null;
    public override Stream? Stdout { get; }
    public override Stream? Stderr { get; }
    public override Stream? Terminal => null;

    public FakeProcess()
    {
        Stdout = _out.Reader.AsStream();
        Stderr = _err.Reader.AsStream();
    }

    public async Task WriteAsync(bool stderr, string text)
    {
        var w = stderr ? _err.Writer : _out.Writer;
        await w.WriteAsync(Encoding.UTF8.GetBytes(text));
    }

    public async Task ExitAsync(int code)
    {
        await _out.Writer.CompleteAsync();
        await _err.Writer.CompleteAsync();
        _exit.TrySetResult(code);
    }

    public override void Resize(int rows, int columns) { }
    public override void Signal(int signal)
    {
        Signals.Add(signal);
        if (signal == 9) _ = ExitAsync(137);
    }
    public override Task<int> WaitForExitAsync(CancellationToken ct = default) => _exit.Task.WaitAsync(ct);
    public override void Dispose() { }
}

public class ExecProbeTests
{
    [Fact]
    public async Task TakesExitCodeAndBothStreams()
    {
        var process = new FakeProcess();
        IReadOnlyList<string>? ran = null;
        var probe = new ExecProbe(["/bin/sh", "-c", "check"], args => { ran = args; return process; });
        var run = probe.RunAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        await process.WriteAsync(false, "out ");
        await Task.Delay(50);
        await process.WriteAsync(true, "err");
        await process.ExitAsync(1);
        var result = await run;
        Assert.Equal(["/bin/sh", "-c", "check"], ran);
        Assert.Equal(1, result.ExitCode);
        Assert.False(result.Succeeded);
        Assert.Equal("out err", result.Output);
        Assert.True(result.End >= result.Start);
    }

    [Fact]
    public async Task ATimedOutCheckIsKilledAndReportedAsDockerDoes()
    {
        var process = new FakeProcess();
        var probe = new ExecProbe(["sleep", "60"], _ => process);
        var result = await probe.RunAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        Assert.Equal(-1, result.ExitCode);
        Assert.Equal("Health check exceeded timeout (200ms)", result.Output);
        Assert.Equal([9], process.Signals);
        Assert.InRange(result.End - result.Start, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ACheckThatCannotStartFailsWithTheReason()
    {
        var probe = new ExecProbe(["/nonexistent"], _ => throw new ContainerOpsException(ErrorKind.CommandNotFound, "CommandNotFound", "exec: \"/nonexistent\": no such file or directory"));
        var result = await probe.RunAsync(TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Equal(-1, result.ExitCode);
        Assert.Contains("no such file", result.Output);
    }

    [Fact]
    public void OutputIsKeptUpTo4096BytesThenMarked()
    {
        var o = new LimitedOutput();
        o.Write(Encoding.UTF8.GetBytes(new string('a', 4000)));
        o.Write(Encoding.UTF8.GetBytes(new string('b', 200)));
        var text = o.ToString();
        Assert.Equal(4096 + 3, text.Length);
        Assert.EndsWith("b...", text);
        Assert.Equal(96, text.Count(c => c == 'b'));
        var exact = new LimitedOutput();
        exact.Write(new byte[4096]);
        Assert.Equal(4096, exact.ToString().Length);
    }

    [Theory]
    [InlineData("30s", 30_000_000_000L)]
    [InlineData("1m30s", 90_000_000_000L)]
    [InlineData("500ms", 500_000_000L)]
    [InlineData("1.5h", 5_400_000_000_000L)]
    [InlineData("0", 0L)]
    [InlineData("10us", 10_000L)]
    public void GoDurationsParse(string text, long nanos)
    {
        Assert.True(GoDuration.TryParseNanos(text, out var n));
        Assert.Equal(nanos, n);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("s")]
    [InlineData("-1s")]
    public void NonDurationsAreRefused(string text) => Assert.False(GoDuration.TryParseNanos(text, out _));

    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(1_000_000_000L, "1s")]
    [InlineData(1_500_000_000L, "1.5s")]
    [InlineData(500_000_000L, "500ms")]
    [InlineData(90_000_000_000L, "1m30s")]
    [InlineData(7_200_000_000_000L, "2h0m0s")]
    public void GoDurationsFormatAsGoDoes(long nanos, string text) => Assert.Equal(text, GoDuration.Format(nanos));
}

public class HealthMonitorTests
{
    /// <summary>Answers from a script, records when it was asked.</summary>
    private sealed class ScriptedProbe(params int[] exitCodes) : IProbe
    {
        public readonly List<DateTimeOffset> Calls = new();
        public Task<ProbeResult> RunAsync(TimeSpan timeout, CancellationToken ct)
        {
            lock (Calls)
            {
                var now = DateTimeOffset.UtcNow;
                var code = exitCodes[Math.Min(Calls.Count, exitCodes.Length - 1)];
                Calls.Add(now);
                return Task.FromResult(new ProbeResult(now, now, code, $"exit {code}"));
            }
        }
    }

    private static HealthPolicy Policy(double intervalMs, int retries, double startPeriodMs = 0, double startIntervalMs = 5000) =>
        new(["CMD", "x"], TimeSpan.FromMilliseconds(intervalMs), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(startPeriodMs),
            TimeSpan.FromMilliseconds(startIntervalMs), retries);

    [Fact]
    public async Task ReportsHealthyThenUnhealthyAfterRetries()
    {
        var probe = new ScriptedProbe(0, 1, 1, 1, 1);
        var changes = new List<string>();
        // The health as it was when it turned unhealthy: probes go on every 30 ms until Stop, which a loaded machine
        // may reach a probe or two later.
        var unhealthy = new TaskCompletionSource<(int Streak, int Logged)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var monitor = new HealthMonitor(Policy(30, retries: 3), probe, DateTimeOffset.UtcNow, null, (h, changed, _) =>
        {
            if (changed) lock (changes) changes.Add(h.Status);
            if (h.Status == HealthStatus.Unhealthy) unhealthy.TrySetResult((h.FailingStreak, h.Log.Count));
            return Task.CompletedTask;
        });
        _ = monitor.Start();
        var (streak, logged) = await unhealthy.Task.WaitAsync(TimeSpan.FromSeconds(10));
        monitor.Stop();
        Assert.Equal([HealthStatus.Healthy, HealthStatus.Unhealthy], changes.Take(2));
        Assert.Equal(3, streak);
        Assert.Equal(4, logged);
    }

    [Fact]
    public async Task UsesTheStartIntervalUntilHealthyWithinTheStartPeriod()
    {
        // Fails twice, then passes: checks come every 20 ms in the start period, then every 2 s.
        var probe = new ScriptedProbe(1, 1, 0);
        var healthy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var monitor = new HealthMonitor(Policy(2000, retries: 1, startPeriodMs: 10_000, startIntervalMs: 20), probe, DateTimeOffset.UtcNow, null,
            (h, _, _) => { if (h.Status == HealthStatus.Healthy) healthy.TrySetResult(); return Task.CompletedTask; });
        var started = DateTimeOffset.UtcNow;
        _ = monitor.Start();
        await healthy.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(1.5), "the start interval, not the interval, was used");
        await Task.Delay(300);
        monitor.Stop();
        Assert.Equal(3, probe.Calls.Count);
        // Failures in the start period did not count, though retries is 1.
        Assert.Equal(0, monitor.Current.FailingStreak);
    }

    [Fact]
    public async Task SkippedWhileTheContainerIsPausedAndSilentOnceStopped()
    {
        var probe = new ScriptedProbe(0);
        var paused = true;
        var reports = 0;
        using var monitor = new HealthMonitor(Policy(20, retries: 1), probe, DateTimeOffset.UtcNow, null,
            (_, _, _) => { Interlocked.Increment(ref reports); return Task.CompletedTask; }, () => paused);
        var loop = monitor.Start();
        await Task.Delay(200);
        Assert.Empty(probe.Calls);
        paused = false;
        // Probed again once it runs: every 20 ms, though a loaded machine may take longer to get there.
        for (var waited = 0; probe.Calls.Count == 0 && waited < 5000; waited += 20) await Task.Delay(20);
        Assert.NotEmpty(probe.Calls);
        monitor.Stop();
        await loop.WaitAsync(TimeSpan.FromSeconds(5));
        var after = Volatile.Read(ref reports);
        await Task.Delay(100);
        Assert.Equal(after, Volatile.Read(ref reports));
    }
}
