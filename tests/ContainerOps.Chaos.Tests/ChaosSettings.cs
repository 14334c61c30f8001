namespace ContainerOps.Chaos.Tests;

/// <summary>
/// What a chaos run does, from the environment:
/// CHAOS_SEED (default: random, printed), CHAOS_SECONDS (minimum run time, default 60), CHAOS_KILLS (minimum daemon
/// kills, default 50), CHAOS_WORKERS (concurrent clients, default 3), CHAOS_LOG (a file that progress and the summary are appended to, as they happen), CHAOS_KEEP_GOING=1 (do not stop at the
/// first restart that found a violation: list them all).
/// The run ends when both minimums are reached. The seed fixes every choice the workload and the killer make (which
/// operation, which container, how long to wait before a kill); thread timing still varies, so a replay repeats the
/// same workload and kill schedule, not the same instants.
/// </summary>
public sealed record ChaosSettings(int Seed, TimeSpan Duration, int MinKills, int Workers, string? LogFile, bool KeepGoing = false)
{
    public static ChaosSettings FromEnvironment()
    {
        static int Int(string name, int fallback) =>
            Environment.GetEnvironmentVariable(name) is { Length: > 0 } v && int.TryParse(v, out var n) ? n : fallback;
        var seed = Environment.GetEnvironmentVariable("CHAOS_SEED") is { Length: > 0 } s && int.TryParse(s, out var given)
            ? given
            : Random.Shared.Next(1, int.MaxValue);
        return new ChaosSettings(seed, TimeSpan.FromSeconds(Int("CHAOS_SECONDS", 60)), Int("CHAOS_KILLS", 50),
            Math.Max(1, Int("CHAOS_WORKERS", 3)), Environment.GetEnvironmentVariable("CHAOS_LOG") is { Length: > 0 } r ? r : null,
            Environment.GetEnvironmentVariable("CHAOS_KEEP_GOING") == "1");
    }
}
