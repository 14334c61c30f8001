using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Tests;

public class HumanTests
{
    [Theory]
    [InlineData(0L, "0B")]
    [InlineData(999L, "999B")]
    [InlineData(1000L, "1kB")]
    [InlineData(1234L, "1.23kB")]
    [InlineData(72_800_000L, "72.8MB")]
    [InlineData(1_500_000_000L, "1.5GB")]
    public void DecimalSizes(long bytes, string text) => Assert.Equal(text, Human.Size(bytes));

    [Theory]
    [InlineData(1536L * 1024, "1.5MiB")]
    [InlineData(2L << 30, "2GiB")]
    public void BinarySizes(long bytes, string text) => Assert.Equal(text, Human.BinarySize(bytes));

    [Theory]
    [InlineData(0.5, "Less than a second")]
    [InlineData(1, "1 second")]
    [InlineData(45, "45 seconds")]
    [InlineData(90, "About a minute")]
    [InlineData(180, "3 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(5 * 3600, "5 hours")]
    [InlineData(3 * 86400, "3 days")]
    [InlineData(21 * 86400, "3 weeks")]
    public void Durations(double seconds, string text) => Assert.Equal(text, Human.Duration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void ShortIds()
    {
        Assert.Equal("0123456789ab", Human.ShortId("sha256:0123456789abcdef"));
        Assert.Equal("0123456789ab", Human.ShortId("0123456789abcdef0123"));
        Assert.Equal("abc", Human.ShortId("abc"));
    }
}
