using ContainerOps.Core.Api;

namespace ContainerOps.Probes;

/// <summary>
/// Runs a container's health check on its schedule until stopped: waits the next delay, runs the probe, feeds the
/// tracker, and hands each new state to <c>report</c> (with whether the status changed). Stopping does not wait for a
/// probe in flight; <c>report</c> gets the stop token and must drop a result that arrives after it.
/// </summary>
public sealed class HealthMonitor : IDisposable
{
    private readonly HealthPolicy _policy;
    private readonly IProbe _probe;
    private readonly HealthTracker _tracker;
    private readonly Func<ContainerHealth, bool, CancellationToken, Task> _report;
    private readonly Func<bool>? _skip;
    private readonly CancellationTokenSource _stop = new();

    /// <param name="skip">When it answers true the check is not run this time (a paused container).</param>
    public HealthMonitor(HealthPolicy policy, IProbe probe, DateTimeOffset startedAt, ContainerHealth? current,
        Func<ContainerHealth, bool, CancellationToken, Task> report, Func<bool>? skip = null)
    {
        _policy = policy;
        _probe = probe;
        _tracker = new HealthTracker(policy, startedAt, current);
        _report = report;
        _skip = skip;
    }

    public ContainerHealth Current => _tracker.Current;

    /// <summary>Runs the loop in the background; the task ends when the monitor is stopped.</summary>
    public Task Start() => Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var ct = _stop.Token;
        try
        {
            while (true)
            {
                await Task.Delay(_tracker.NextDelay(DateTimeOffset.UtcNow), ct);
                if (_skip?.Invoke() == true) continue;
                var result = await _probe.RunAsync(_policy.Timeout, ct);
                ct.ThrowIfCancellationRequested();
                var changed = _tracker.Apply(result);
                await _report(_tracker.Current, changed, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    public void Stop() => _stop.Cancel();

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
