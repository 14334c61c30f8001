using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Tests;

public class UnitsTests
{
    [Theory]
    [InlineData("1024", 1024L)]
    [InlineData("100b", 100L)]
    [InlineData("4k", 4096L)]
    [InlineData("64m", 64L << 20)]
    [InlineData("64M", 64L << 20)]
    [InlineData("64mb", 64L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("2t", 2L << 40)]
    public void MemorySizes(string text, long bytes) => Assert.Equal(bytes, Units.ParseMemory(text, "memory"));

    [Theory]
    [InlineData("")]
    [InlineData("12q")]
    [InlineData("-5m")]
    [InlineData("m")]
    public void BadMemorySizes(string text) => Assert.Throws<UsageException>(() => Units.ParseMemory(text, "memory"));

    [Fact]
    public void SwapMinusOneIsUnlimited()
    {
        Assert.Equal(-1, Units.ParseMemorySwap("-1"));
        Assert.Equal(256L << 20, Units.ParseMemorySwap("256m"));
    }

    [Theory]
    [InlineData("1", 1_000_000_000L)]
    [InlineData("0.5", 500_000_000L)]
    [InlineData("1.25", 1_250_000_000L)]
    public void Cpus(string text, long nano) => Assert.Equal(nano, Units.ParseCpus(text));

    [Theory]
    [InlineData("10s", 10)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("1.5h", 5400)]
    [InlineData("1500ms", 1.5)]
    [InlineData("0", 0)]
    public void Durations(string text, double seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), Units.ParseDuration(text));

    [Theory]
    [InlineData("10")]
    [InlineData("10x")]
    [InlineData("s")]
    [InlineData("")]
    public void BadDurations(string text) => Assert.Throws<FormatException>(() => Units.ParseDuration(text));

    [Fact]
    public void SinceAcceptsDurationsBeforeNow()
    {
        var now = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(now.AddSeconds(-10), Units.ParseSince("10s", now));
        Assert.Equal(now.AddMinutes(-5), Units.ParseSince("5m", now));
    }

    [Fact]
    public void SinceAcceptsRfc3339AndUnixSeconds()
    {
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 10, 30, 0, TimeSpan.Zero), Units.ParseSince("2026-11-22T10:30:00Z", now));
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 8, 30, 0, TimeSpan.Zero), Units.ParseSince("2026-11-22T10:30:00+02:00", now));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), Units.ParseSince("1700000000", now));
        Assert.Throws<UsageException>(() => Units.ParseSince("yesterday", now));
    }

    [Theory]
    [InlineData("no", "no", 0)]
    [InlineData("always", "always", 0)]
    [InlineData("unless-stopped", "unless-stopped", 0)]
    [InlineData("on-failure", "on-failure", 0)]
    [InlineData("on-failure:5", "on-failure", 5)]
    public void RestartPolicies(string text, string name, int max)
    {
        var p = Units.ParseRestart(text);
        Assert.Equal(name, p.Name);
        Assert.Equal(max, p.MaximumRetryCount);
    }

    [Theory]
    [InlineData("sometimes")]
    [InlineData("always:3")]
    [InlineData("on-failure:x")]
    [InlineData("on-failure:-1")]
    public void BadRestartPolicies(string text) => Assert.Throws<UsageException>(() => Units.ParseRestart(text));
}
