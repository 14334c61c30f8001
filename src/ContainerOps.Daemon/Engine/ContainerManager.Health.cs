using ContainerOps.Core.Api;
using ContainerOps.Probes;
using ContainerOps.Runtime;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Health checks (Docker's HEALTHCHECK): each running container with a check has a <see cref="HealthMonitor"/> that
/// execs the check in it on schedule. Results go into State.Health of the record, on disk, under the container's lock,
/// so inspect, ps and a restarted daemon see them. The status never restarts or stops a container, as with Docker.
/// </summary>
public sealed partial class ContainerManager
{
    /// <summary>Called with the entry locked once the container runs: (re)starts its check. A new run begins as
    /// "starting"; a container re-adopted after a daemon restart keeps the status it had and carries on.</summary>
    private void StartHealthCheck(Entry entry, bool resume = false)
    {
        StopHealthCheck(entry);
        var r = entry.Record;
        if (HealthPolicy.For(r.Config.Healthcheck) is not { } policy) return;
        if (!resume || r.State.Health is null) r.State.Health = HealthTracker.Restarted(r.State.Health);
        var runtime = Runtime(r.HostConfig.Runtime);
        var probe = new ExecProbe(policy.Command(r.Config.Shell), args => runtime.Exec(r.Id, new ExecOptions { Args = args }));
        var monitor = new HealthMonitor(policy, probe, r.State.StartedAt ?? DateTimeOffset.UtcNow, r.State.Health,
            (health, changed, ct) => RecordHealthAsync(entry, health, changed, ct), () => r.State.Paused);
        entry.Health = monitor;
        monitor.Start();
    }

    /// <summary>Stops the container's check (a probe in flight is dropped).</summary>
    private static void StopHealthCheck(Entry entry)
    {
        entry.Health?.Dispose();
        entry.Health = null;
    }

    private async Task RecordHealthAsync(Entry entry, ContainerHealth health, bool changed, CancellationToken ct)
    {
        try
        {
            await entry.Lock.WaitAsync(ct);
            try
            {
                var r = entry.Record;
                if (ct.IsCancellationRequested || !r.State.Running || !_containers.ContainsKey(r.Id)) return;
                var state = r.State.Copy();
                state.Health = health;
                r.SaveState(entry.Dir, state);
                if (changed)
                {
                    _log.LogInformation("container {Name} ({Id}) is {Status}", r.Name, r.Id[..12], health.Status);
                    Emit(r, "health_status: " + health.Status);
                }
            }
            finally { entry.Lock.Release(); }
        }
        catch (OperationCanceledException) { }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.LogWarning("recording the health of {Id}: {Message}", entry.Record.Id[..12], e.Message);
        }
    }
}
