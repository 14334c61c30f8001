using ContainerOps.Client;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>The client starts a daemon when none answers, exactly one for concurrent first calls.</summary>
public class AutoStartTests
{
    private static string DaemonExecutable()
    {
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_DAEMON") is { Length: > 0 } exe) return exe;
        var tfmDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        return Path.Combine(PrivateDaemon.RepoRoot, "src", "ContainerOps.Daemon", "bin", tfmDir.Parent!.Name, tfmDir.Name, "containerops-daemon");
    }

    [Fact]
    public async Task ConcurrentFirstCallsStartOneDaemon()
    {
        using var dir = new TempDir("coa");
        var options = new ClientOptions
        {
            Root = Path.Combine(dir.Path, "root"), RunRoot = Path.Combine(dir.Path, "r"), AutoStart = true, DaemonPath = DaemonExecutable(),
        };
        var pidFile = Path.Combine(options.RunRoot, "daemon.pid");
        try
        {
            var clients = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => ContainerOpsClient.Connect(options))));
            foreach (var c in clients)
            {
                await c.PingAsync();
                c.Dispose();
            }
            var pid = int.Parse(File.ReadAllText(pidFile).Trim());
            var daemons = Directory.GetDirectories("/proc").Select(Path.GetFileName)
                .Where(p => int.TryParse(p, out _))
                .Count(p =>
                {
                    try { return File.ReadAllText($"/proc/{p}/cmdline").Contains(options.RunRoot + "\0", StringComparison.Ordinal); }
                    catch (IOException) { return false; }
                });
            Assert.Equal(1, daemons);
            Assert.True(File.Exists(Path.Combine(options.RunRoot, "daemon.log")));
        }
        finally
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                Shell.Run("kill", $"-TERM {pid}", check: false);
                for (var i = 0; i < 100 && Directory.Exists($"/proc/{pid}"); i++) await Task.Delay(100);
            }
        }
    }

    [Fact]
    public void NoAutoStartMeansAClearError()
    {
        using var dir = new TempDir("coa");
        var options = new ClientOptions { Root = Path.Combine(dir.Path, "root"), RunRoot = Path.Combine(dir.Path, "r"), AutoStart = false };
        var e = Assert.Throws<ContainerOpsException>(() => ContainerOpsClient.Connect(options));
        Assert.Contains(options.EffectiveSocketPath, e.Message);
    }

    [Fact]
    public void ADaemonThatCannotStartIsReported()
    {
        using var dir = new TempDir("coa");
        var fake = Path.Combine(dir.Path, "fake-daemon");
        File.WriteAllText(fake, "#!/bin/sh\necho 'cannot start: no root' >&2\nexit 3\n");
        File.SetUnixFileMode(fake, (UnixFileMode)Convert.ToInt32("755", 8));
        var options = new ClientOptions
        {
            Root = Path.Combine(dir.Path, "root"), RunRoot = Path.Combine(dir.Path, "r"), DaemonPath = fake, StartTimeout = TimeSpan.FromSeconds(10),
        };
        var e = Assert.Throws<ContainerOpsException>(() => ContainerOpsClient.Connect(options));
        Assert.Contains("cannot start: no root", e.Message);
    }

    [Fact]
    public void A_daemon_started_from_the_root_directory_watches_no_files()
    {
        using var daemon = new PrivateDaemon();
        Assert.Equal("/", new DirectoryInfo($"/proc/{daemon.Pid}/cwd").LinkTarget);
        // Every inotify watch shows as an "inotify wd:" line in the fdinfo of its descriptor.
        var watches = Directory.GetFiles($"/proc/{daemon.Pid}/fdinfo")
            .Sum(f => { try { return File.ReadLines(f).Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal)); } catch (IOException) { return 0; } });
        Assert.Equal(0, watches);
    }
}
