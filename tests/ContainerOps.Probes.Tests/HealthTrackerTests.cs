using ContainerOps.Core.Api;

namespace ContainerOps.Probes.Tests;

public class HealthTrackerTests
{
    private static readonly DateTimeOffset Started = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static HealthPolicy Policy(int retries = 3, double startPeriodSeconds = 0) => new(["CMD", "true"],
        TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(startPeriodSeconds), TimeSpan.FromSeconds(5), retries);

    private static ProbeResult Result(double secondsAfterStart, int exitCode, string output = "") =>
        new(Started.AddSeconds(secondsAfterStart), Started.AddSeconds(secondsAfterStart + 0.1), exitCode, output);

    [Fact]
    public void StartsStartingThenHealthyOnFirstSuccess()
    {
        var t = new HealthTracker(Policy(), Started);
        Assert.Equal(HealthStatus.Starting, t.Current.Status);
        Assert.True(t.Apply(Result(30, 0, "ok\n")));
        Assert.Equal(HealthStatus.Healthy, t.Current.Status);
        Assert.Equal(0, t.Current.FailingStreak);
        Assert.Equal("ok\n", Assert.Single(t.Current.Log).Output);
    }

    [Fact]
    public void UnhealthyOnlyAfterRetriesFailuresInARow()
    {
        var t = new HealthTracker(Policy(retries: 3), Started);
        t.Apply(Result(1, 0));
        Assert.False(t.Apply(Result(2, 1)));
        Assert.False(t.Apply(Result(3, 1)));
        Assert.Equal(HealthStatus.Healthy, t.Current.Status);
        Assert.Equal(2, t.Current.FailingStreak);
        Assert.True(t.Apply(Result(4, 1)));
        Assert.Equal(HealthStatus.Unhealthy, t.Current.Status);
        Assert.Equal(3, t.Current.FailingStreak);
        // One success makes it healthy again and clears the streak.
        Assert.True(t.Apply(Result(5, 0)));
        Assert.Equal(HealthStatus.Healthy, t.Current.Status);
        Assert.Equal(0, t.Current.FailingStreak);
    }

    [Fact]
    public void FailuresDuringTheStartPeriodDoNotCountUntilHealthy()
    {
        var t = new HealthTracker(Policy(retries: 1, startPeriodSeconds: 10), Started);
        t.Apply(Result(2, 1));
        t.Apply(Result(4, 1));
        Assert.Equal(HealthStatus.Starting, t.Current.Status);
        Assert.Equal(0, t.Current.FailingStreak);
        Assert.Equal(2, t.Current.Log.Count);
        // After the start period a failure counts.
        Assert.True(t.Apply(Result(11, 1)));
        Assert.Equal(HealthStatus.Unhealthy, t.Current.Status);
    }

    [Fact]
    public void FailuresInTheStartPeriodCountOnceTheContainerWasHealthy()
    {
        var t = new HealthTracker(Policy(retries: 1, startPeriodSeconds: 60), Started);
        t.Apply(Result(1, 0));
        Assert.True(t.Apply(Result(2, 1)));
        Assert.Equal(HealthStatus.Unhealthy, t.Current.Status);
    }

    [Fact]
    public void KeepsTheLastFiveResults()
    {
        var t = new HealthTracker(Policy(), Started);
        for (var i = 0; i < 8; i++) t.Apply(Result(i, 0, $"run {i}"));
        Assert.Equal(["run 3", "run 4", "run 5", "run 6", "run 7"], t.Current.Log.Select(l => l.Output));
    }

    [Fact]
    public void EachResultMakesANewStateObject()
    {
        var t = new HealthTracker(Policy(), Started);
        var before = t.Current;
        t.Apply(Result(1, 1));
        Assert.NotSame(before, t.Current);
        Assert.Empty(before.Log);
        Assert.Equal(0, before.FailingStreak);
    }

    [Fact]
    public void StartIntervalDuringTheStartPeriodWhileStarting()
    {
        var t = new HealthTracker(Policy(startPeriodSeconds: 20), Started);
        Assert.Equal(TimeSpan.FromSeconds(5), t.NextDelay(Started.AddSeconds(1)));
        Assert.Equal(TimeSpan.FromSeconds(30), t.NextDelay(Started.AddSeconds(21)));
        t.Apply(Result(2, 0));
        Assert.Equal(TimeSpan.FromSeconds(30), t.NextDelay(Started.AddSeconds(3)));
        Assert.Equal(TimeSpan.FromSeconds(30), new HealthTracker(Policy(), Started).NextDelay(Started));
    }

    [Fact]
    public void ARestartBeginsStartingAndKeepsTheLog_AStopShowsUnhealthy()
    {
        var t = new HealthTracker(Policy(), Started);
        t.Apply(Result(1, 0, "fine"));
        var stopped = HealthTracker.Stopped(t.Current)!;
        Assert.Equal(HealthStatus.Unhealthy, stopped.Status);
        Assert.Equal("fine", Assert.Single(stopped.Log).Output);
        var restarted = HealthTracker.Restarted(stopped);
        Assert.Equal(HealthStatus.Starting, restarted.Status);
        Assert.Equal(0, restarted.FailingStreak);
        Assert.Single(restarted.Log);
        Assert.Null(HealthTracker.Stopped(null));
    }

    [Fact]
    public void PolicyDefaultsAndCommands()
    {
        var p = HealthPolicy.For(new HealthConfig { Test = ["CMD-SHELL", "curl -f localhost"] })!;
        Assert.Equal(TimeSpan.FromSeconds(30), p.Interval);
        Assert.Equal(TimeSpan.FromSeconds(30), p.Timeout);
        Assert.Equal(TimeSpan.Zero, p.StartPeriod);
        Assert.Equal(TimeSpan.FromSeconds(5), p.StartInterval);
        Assert.Equal(3, p.Retries);
        Assert.Equal(["/bin/sh", "-c", "curl -f localhost"], p.Command());
        Assert.Equal(["pwsh", "-Command", "curl -f localhost"], p.Command(["pwsh", "-Command"]));
        Assert.Equal(["/bin/check", "--quick"], HealthPolicy.For(new HealthConfig { Test = ["CMD", "/bin/check", "--quick"], Interval = 2_000_000 })!.Command());
        Assert.Equal(TimeSpan.FromMilliseconds(2), HealthPolicy.For(new HealthConfig { Test = ["CMD", "x"], Interval = 2_000_000 })!.Interval);
        Assert.Null(HealthPolicy.For(new HealthConfig { Test = ["NONE"] }));
        Assert.Null(HealthPolicy.For(new HealthConfig()));
        Assert.Null(HealthPolicy.For(null));
    }

    [Fact]
    public void RequestMergesOverTheImageFieldByField()
    {
        var image = new HealthConfig { Test = ["CMD", "/check"], Interval = 10, Retries = 7 };
        var merged = HealthConfig.Merge(image, new HealthConfig { Interval = 20, Timeout = 30 })!;
        Assert.Equal(["CMD", "/check"], merged.Test);
        Assert.Equal(20, merged.Interval);
        Assert.Equal(30, merged.Timeout);
        Assert.Equal(7, merged.Retries);
        Assert.Same(image, HealthConfig.Merge(image, null));
        Assert.True(HealthConfig.Merge(image, new HealthConfig { Test = ["NONE"] })!.Disabled);
    }

    [Theory]
    [InlineData("Healthcheck.Test", "BOGUS", "x")]
    [InlineData("Healthcheck.Test", "CMD")]
    public void BadTestsAreRefused(string field, params string[] test)
    {
        var e = Assert.Throws<ContainerOpsException>(() => new HealthConfig { Test = test.ToList() }.Validate("web"));
        Assert.Equal(field, e.Error.Field);
        Assert.Equal("web", e.Error.Target);
    }

    [Fact]
    public void DurationsUnderAMillisecondAndNegativeRetriesAreRefused()
    {
        var e = Assert.Throws<ContainerOpsException>(() => new HealthConfig { Test = ["CMD", "x"], Timeout = 999_999 }.Validate("web"));
        Assert.Equal("Timeout in Healthcheck cannot be less than 1ms", e.Message);
        Assert.Equal("Healthcheck.Timeout", e.Error.Field);
        Assert.Equal("Healthcheck.Retries", Assert.Throws<ContainerOpsException>(() => new HealthConfig { Retries = -1 }.Validate(null)).Error.Field);
        new HealthConfig { Test = ["CMD", "x"], Interval = 1_000_000 }.Validate(null);
    }
}
