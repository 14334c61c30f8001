using ContainerOps.Core.Api;

namespace ContainerOps.Probes;

/// <summary>A health check with Docker's defaults filled in: interval 30 s, timeout 30 s, no start period, start interval
/// 5 s, 3 retries.</summary>
public sealed record HealthPolicy(
    IReadOnlyList<string> Test, TimeSpan Interval, TimeSpan Timeout, TimeSpan StartPeriod, TimeSpan StartInterval, int Retries)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultStartInterval = TimeSpan.FromSeconds(5);
    public const int DefaultRetries = 3;

    /// <summary>The policy of a container's Healthcheck; null when it has none or it is off (Test ["NONE"]).</summary>
    public static HealthPolicy? For(HealthConfig? config)
    {
        if (config?.Test is not { Count: > 1 } test || config.Disabled) return null;
        return new HealthPolicy(test,
            Or(config.Interval, DefaultInterval), Or(config.Timeout, DefaultTimeout), Or(config.StartPeriod, TimeSpan.Zero),
            Or(config.StartInterval, DefaultStartInterval), config.Retries > 0 ? config.Retries : DefaultRetries);
    }

    private static TimeSpan Or(long nanos, TimeSpan fallback) => nanos > 0 ? TimeSpan.FromTicks(nanos / 100) : fallback;

    /// <summary>The command line to exec: CMD's arguments as they are, CMD-SHELL's string through <paramref name="shell"/>
    /// (the container's SHELL, /bin/sh -c by default).</summary>
    public IReadOnlyList<string> Command(IReadOnlyList<string>? shell = null) =>
        Test[0] == "CMD-SHELL" ? [.. shell is { Count: > 0 } ? shell : ["/bin/sh", "-c"], Test[1]] : Test.Skip(1).ToList();
}
