using ContainerOps.Core.Api;

namespace ContainerOps.Probes;

/// <summary>
/// Docker's health state machine for one run of a container: starting until the first success; healthy after any
/// success (and the failing streak back to 0); unhealthy once <see cref="HealthPolicy.Retries"/> failures follow each
/// other. Failures during the start period do not count while the container has not been healthy yet. Every result is
/// logged (the last 5 kept). No clock and no I/O here: the monitor feeds it results.
/// </summary>
public sealed class HealthTracker
{
    public const int MaxLogEntries = 5;
    private readonly HealthPolicy _policy;
    private readonly DateTimeOffset _startedAt;

    public HealthTracker(HealthPolicy policy, DateTimeOffset startedAt, ContainerHealth? current = null)
    {
        _policy = policy;
        _startedAt = startedAt;
        Current = current ?? new ContainerHealth();
    }

    /// <summary>The state after the last result; a new object after each one.</summary>
    public ContainerHealth Current { get; private set; }

    /// <summary>The state a new run of the container begins with: starting, no failures, the earlier results kept (as Docker does).</summary>
    public static ContainerHealth Restarted(ContainerHealth? previous) =>
        new() { Status = HealthStatus.Starting, Log = previous?.Log.ToList() ?? new() };

    /// <summary>What a container that stopped shows: unhealthy, as Docker reports a check that no longer runs.</summary>
    public static ContainerHealth? Stopped(ContainerHealth? previous) => previous is null ? null
        : new() { Status = HealthStatus.Unhealthy, FailingStreak = previous.FailingStreak, Log = previous.Log.ToList() };

    /// <summary>Takes one result in; true when the status changed.</summary>
    public bool Apply(ProbeResult result)
    {
        var before = Current;
        var next = new ContainerHealth { Status = before.Status, FailingStreak = before.FailingStreak, Log = before.Log.ToList() };
        next.Log.Add(new HealthcheckResult { Start = result.Start, End = result.End, ExitCode = result.ExitCode, Output = result.Output });
        if (next.Log.Count > MaxLogEntries) next.Log.RemoveRange(0, next.Log.Count - MaxLogEntries);
        if (result.Succeeded)
        {
            next.Status = HealthStatus.Healthy;
            next.FailingStreak = 0;
        }
        else if (!(before.Status == HealthStatus.Starting && result.Start - _startedAt < _policy.StartPeriod))
        {
            next.FailingStreak++;
            if (next.FailingStreak >= _policy.Retries) next.Status = HealthStatus.Unhealthy;
        }
        Current = next;
        return next.Status != before.Status;
    }

    /// <summary>How long until the next check: the start interval while the container is starting within its start
    /// period, the interval otherwise.</summary>
    public TimeSpan NextDelay(DateTimeOffset now) =>
        now - _startedAt < _policy.StartPeriod && Current.Status == HealthStatus.Starting ? _policy.StartInterval : _policy.Interval;
}
