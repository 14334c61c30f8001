using ContainerOps.Runtime.Native;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>As Docker, a privileged container has the host's devices (dockerd 20.10's runc cannot start a privileged
/// container on this host, so the comparison is with the host itself).</summary>
public class PrivilegedDevicesTests
{
    [Fact]
    public async Task APrivilegedContainerHasTheHostDevicesAndAnOtherOneDoesNot()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("priv/busybox:1");
        var hostDevices = Directory.EnumerateFileSystemEntries("/dev")
            .Where(p => Libc.lstat(p, out var st) == 0 && (st.Mode & 0xF000) is 0x2000 or 0x6000 && p is not ("/dev/console" or "/dev/ptmx"))
            .Select(Path.GetFileName).ToHashSet();
        Assert.NotEmpty(hostDevices);

        var privileged = d.Cli("run --rm --network none --privileged priv/busybox:1 ls /dev").Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.Empty(hostDevices.Except(privileged));
        var numbers = d.Cli("run --rm --network none --privileged priv/busybox:1 stat -c %t:%T /dev/full").Trim();
        Assert.Equal("1:7", numbers);

        var plain = d.Cli("run --rm --network none priv/busybox:1 ls /dev").Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.Contains("null", plain);
        Assert.NotEmpty(hostDevices.Except(plain));
    }
}
