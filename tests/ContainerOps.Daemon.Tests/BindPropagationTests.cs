using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Bind propagation (`-v SRC:DST:rshared|rslave`), as Docker: a mount made on the host under a shared source
/// appears in the container; with rshared one made in the container appears on the host too, with rslave it does not;
/// a source on a private mount is refused for both, before anything exists.</summary>
public class BindPropagationTests
{
    [Fact]
    public async Task SharedAndSlaveBindsCarryMountsTheWayTheyAskFor()
    {
        using var d = new PrivateDaemon();
        using var dir = new TempDir("coprop");
        await d.ImportBusyboxAsync("prop/busybox:1");
        var shared = Path.Combine(dir.Path, "shared");
        Directory.CreateDirectory(shared);
        var containers = new List<string>();
        try
        {
            // A private source is refused for both, naming the mount it is on.
            var refused = Assert.Throws<InvalidOperationException>(() => d.Cli($"run --rm --network none -v {shared}:/s:rshared prop/busybox:1 true"));
            Assert.Contains("is not a shared mount", refused.Message);
            Assert.Contains("is not a shared or slave mount",
                Assert.Throws<InvalidOperationException>(() => d.Cli($"run --rm --network none -v {shared}:/s:rslave prop/busybox:1 true")).Message);
            Assert.Empty(await d.Client.ListContainersAsync(all: true));

            Shell.Run("mount", $"-t tmpfs prop-shared {shared}");
            Shell.Run("mount", $"--make-shared {shared}");
            foreach (var mode in new[] { "rshared", "rslave" })
            {
                var name = "prop-" + mode;
                containers.Add(name);
                d.Cli($"run -d --name {name} --privileged --network none -v {shared}:/s:{mode} prop/busybox:1 sleep 600");
                // From the host into the container.
                var fromHost = Path.Combine(shared, "from-host-" + mode);
                Directory.CreateDirectory(fromHost);
                Shell.Run("mount", $"-t tmpfs from-host {fromHost}");
                Assert.Contains($"/s/from-host-{mode}", d.Cli($"exec {name} cat /proc/self/mountinfo"));
                // From the container to the host: only when shared.
                d.Cli($"exec {name} sh -c \"mkdir -p /s/from-container-{mode} && mount -t tmpfs from-container /s/from-container-{mode}\"");
                var onHost = File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == Path.Combine(shared, "from-container-" + mode));
                Assert.Equal(mode == "rshared", onHost);
                d.Cli($"rm -f {name}");
            }
        }
        finally
        {
            foreach (var name in containers) d.Cli($"rm -f {name}", check: false);
            // Deepest first: what propagated to the host under the shared tmpfs, then the tmpfs.
            foreach (var mp in File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
                         .Where(p => p == shared || p.StartsWith(shared + "/", StringComparison.Ordinal)).OrderByDescending(p => p.Length).ToList())
                Shell.Run("umount", $"-l {mp}", check: false);
        }
    }
}
