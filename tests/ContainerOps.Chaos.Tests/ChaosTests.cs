using Xunit.Abstractions;

namespace ContainerOps.Chaos.Tests;

/// <summary>
/// The daemon is SIGKILLed at random moments under a mixed workload (containers, exec, logs, restart policies, image
/// import, build, pull and removal) and must come back telling the truth: see <see cref="ChaosRun"/>. This short run
/// (at least 60 s and 50 kills unless CHAOS_SECONDS / CHAOS_KILLS say otherwise) is part of the test command;
/// tests/chaos/chaos.sh runs long ones. A failure names its seed: CHAOS_SEED=N replays the same workload.
/// </summary>
public class ChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task NothingAcknowledgedIsLostWhenTheDaemonIsKilledAtRandom()
    {
        var settings = ChaosSettings.FromEnvironment();
        void Log(string line)
        {
            var stamped = $"{DateTime.UtcNow:HH:mm:ss.fff} {line}";
            try { output.WriteLine(stamped); } catch (InvalidOperationException) { }
            if (settings.LogFile is { } f) lock (output) File.AppendAllText(f, stamped + "\n");
        }

        string summary, daemonLog;
        List<string> violations, anomalies;
        await using (var run = new ChaosRun(settings, Log))
        {
            try { await run.RunAsync(); }
            catch (Exception e) { run.Violation($"the run itself failed: {e}"); }
            summary = run.Stats.ToString();
            violations = run.Violations.ToList();
            anomalies = run.Anomalies.ToList();
            daemonLog = violations.Count + anomalies.Count > 0
                ? run.DaemonLogTail(60) + "\n\ndaemon log (the lines about the containers above):\n" + run.DaemonLogAbout(violations.Concat(anomalies), 40) : "";
        }
        var replay = $"seed {settings.Seed} (replay with CHAOS_SEED={settings.Seed})";
        Log($"{replay}: {summary}; {violations.Count} violations, {anomalies.Count} anomalies");
        Assert.True(violations.Count == 0 && anomalies.Count == 0,
            $"{replay}: {summary}\n\nviolations:\n  {string.Join("\n  ", violations)}\n\nunexpected errors:\n  {string.Join("\n  ", anomalies)}\n\ndaemon log (last lines):\n{daemonLog}");
    }
}
