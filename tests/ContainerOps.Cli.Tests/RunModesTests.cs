using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Terminal;

namespace ContainerOps.Cli.Tests;

/// <summary>--cidfile, --pull, --platform, -a, --sig-proxy and --detach-keys: parsed and checked before anything is made.</summary>
public class RunModesTests
{
    private static RunModes Modes(params string[] args)
    {
        var a = ArgParser.Parse(RunOptions.RunSpec, args);
        return RunModes.Parse(a, a.Flag("detach"));
    }

    [Fact]
    public void DefaultsAreDockers()
    {
        var m = Modes("busybox");
        Assert.Null(m.CidFile);
        Assert.Null(m.Pull);
        Assert.Null(m.Attach);
        Assert.True(m.SigProxy);
        Assert.True(m.ShowsStdout && m.ShowsStderr);
        Assert.False(m.AttachesStdin);
    }

    [Fact]
    public void AttachPicksStreamsCaseInsensitively()
    {
        var m = Modes("-a", "STDOUT", "--attach", "stdin", "busybox");
        Assert.True(m.ShowsStdout);
        Assert.False(m.ShowsStderr);
        Assert.True(m.AttachesStdin);
        Assert.Contains("valid streams", Assert.Throws<UsageException>(() => Modes("-a", "stdlog", "busybox")).Message);
        Assert.Contains("--attach and --detach", Assert.Throws<UsageException>(() => Modes("-d", "-a", "stdout", "busybox")).Message);
    }

    [Fact]
    public void SigProxyCanBeTurnedOff()
    {
        Assert.False(Modes("--sig-proxy=false", "busybox").SigProxy);
        Assert.True(Modes("--sig-proxy", "busybox").SigProxy);
    }

    [Theory]
    [InlineData("always")]
    [InlineData("missing")]
    [InlineData("never")]
    public void PullTakesDockersPolicies(string policy) => Assert.Equal(policy, Modes("--pull", policy, "busybox").Pull);

    [Fact]
    public void PullRefusesOthersByName() =>
        Assert.Contains("'sometimes'", Assert.Throws<UsageException>(() => Modes("--pull", "sometimes", "busybox")).Message);

    [Theory]
    [InlineData("linux")]
    [InlineData("linux/amd64")]
    [InlineData("LINUX/AMD64")]
    [InlineData("linux/x86_64")]
    [InlineData("linux/amd64/v2")]
    public void TheHostsPlatformIsAccepted(string platform) => RunModes.CheckPlatform(platform, "amd64");

    [Theory]
    [InlineData("linux/arm64")]
    [InlineData("windows/amd64")]
    [InlineData("linux/amd64/v9")]
    [InlineData("linux/arm/v7")]
    public void OtherPlatformsAreRefusedByName(string platform)
    {
        var e = Assert.Throws<UsageException>(() => RunModes.CheckPlatform(platform, "amd64"));
        Assert.Contains($"\"{platform}\"", e.Message);
        Assert.Contains("linux/amd64", e.Message);
    }

    [Fact]
    public void AnExistingCidFileIsRefusedBeforeAnythingIsMade()
    {
        var path = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<UsageException>(() => Modes("--cidfile", path, "busybox"));
            Assert.Contains("container ID file found", e.Message);
            File.Delete(path);
            Assert.Equal(path, Modes("--cidfile", path, "busybox").CidFile);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void DetachKeysAreDockers()
    {
        Assert.Equal(new byte[] { 0x10, 0x11 }, DetachKeys.Parse(DetachKeys.Default));
        Assert.Equal(new byte[] { (byte)'a', 0x1d, 0x00 }, DetachKeys.Parse("a,ctrl-],ctrl-@"));
        Assert.Throws<ArgumentException>(() => DetachKeys.Parse("ctrl-1"));
        Assert.Throws<ArgumentException>(() => DetachKeys.Parse("ab"));
        Assert.Contains("invalid detach keys", Assert.Throws<UsageException>(() => Modes("--detach-keys", "ctrl-", "busybox")).Message);
    }

    private static string Fed(DetachKeyMatcher m, params byte[] input)
    {
        var (forward, detach) = m.Feed(input);
        return Convert.ToHexString(forward) + (detach ? " detach" : "");
    }

    [Fact]
    public void TheDetachSequenceIsHeldBackUntilItIsCompleteOrBroken()
    {
        var m = new DetachKeyMatcher([0x10, 0x11]);
        Assert.Equal("6162", Fed(m, (byte)'a', (byte)'b', 0x10));
        Assert.Equal("1063", Fed(m, (byte)'c'));
        Assert.Equal("", Fed(m, 0x10));
        Assert.Equal(" detach", Fed(m, 0x11, (byte)'z'));
        Assert.Equal("10 detach", Fed(new DetachKeyMatcher([0x10, 0x11]), 0x10, 0x10, 0x11));
    }
}
