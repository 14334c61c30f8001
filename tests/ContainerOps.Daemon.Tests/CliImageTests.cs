using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Debian's docker-registry over plain HTTP on 127.0.0.1 and a free port, storing in a temp dir.</summary>
public sealed class LoopbackRegistry : IDisposable
{
    private readonly TempDir _dir = new("co-lreg");
    private readonly Process _process;
    public string Host { get; }

    public LoopbackRegistry()
    {
        if (!File.Exists("/usr/bin/docker-registry"))
            Shell.Run("apt-get", "install -y -q docker-registry", timeoutMs: 600_000);
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        Host = $"127.0.0.1:{port}";
        var config = Path.Combine(_dir.Path, "config.yml");
        File.WriteAllLines(config,
        [
            "version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
            "storage:", "  filesystem:", $"    rootdirectory: {Path.Combine(_dir.Path, "data")}",
            "http:", $"  addr: {Host}", "  secret: containerops-test",
        ]);
        _process = Process.Start(new ProcessStartInfo("/usr/bin/docker-registry", $"serve {config}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try { using var c = new TcpClient(); c.Connect(IPAddress.Loopback, port); return; }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited) { Thread.Sleep(50); }
        }
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(10_000);
        _process.Dispose();
        _dir.Dispose();
    }
}

/// <summary>The containerops executable (bin/containerops, from ./build.sh build) against private daemons: build, push to
/// a registry, pull into a fresh root and run; save/load, history, diff, commit, prune, df.</summary>
public class CliImageTests
{
    private static string Cli => PrivateDaemon.CliPath;

    [Fact]
    public void On_a_terminal_the_cli_leaves_the_keypad_mode_alone()
    {
        // script(1) gives the program a terminal; .NET's own console streams would write ESC[?1h ESC= (keypad_xmit) there.
        var output = Shell.Run("script", $"-qec \"{Cli} version; {Cli} nosuchverb\" /dev/null", check: false,
            env: new Dictionary<string, string> { ["TERM"] = "xterm" });
        Assert.Contains("containerops version", output);
        Assert.Contains("is not a containerops command", output);
        Assert.DoesNotContain("\u001b[?1h", output);
        Assert.DoesNotContain("\u001b=", output);
    }

    private static string Run(PrivateDaemon d, string args, bool check = true) => d.Cli(args, check);

    [Fact]
    public async Task BuildPushPullRunThroughTheCli()
    {
        using var registry = new LoopbackRegistry();
        using var a = new PrivateDaemon();
        using var b = new PrivateDaemon();
        await a.ImportBusyboxAsync("cli/busybox:1", "CMD [\"sh\"]");
        var ctx = Directory.CreateTempSubdirectory("co-cli-ctx-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(ctx, "Dockerfile"), "FROM cli/busybox:1\nARG WHO=nobody\nRUN echo \"hello $WHO\" > /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n");
            var image = $"{registry.Host}/e2e/app:1";
            var build = Run(a, $"build -t {image} --build-arg WHO=registry {ctx}");
            Assert.Contains("Step 1/4 : FROM cli/busybox:1", build);
            Assert.Contains("Successfully tagged " + image, build);

            var push = Run(a, $"push {image}");
            Assert.Contains("digest: sha256:", push);

            // Not here: --pull never refuses; the default (missing, as docker's) pulls it and runs.
            Assert.Contains("No such image", Assert.Throws<InvalidOperationException>(() => Run(b, $"run --rm --pull never {image}")).Message);
            Assert.Equal("hello registry\n", Run(b, $"run --rm {image}"));
            Assert.Single(await b.Client.ListImagesAsync());
            var pull = Run(b, $"pull {image}");
            Assert.Contains("Status: Downloaded image for " + image, pull);

            var history = Run(b, $"history {image}");
            Assert.Contains("RUN", history);
            Assert.Contains("IMAGE", history.Split('\n')[0]);
            Assert.Contains("Images", Run(b, "system df"));
        }
        finally { Directory.Delete(ctx, true); }
    }

    [Fact]
    public async Task SaveLoadCommitDiffExportAndPruneThroughTheCli()
    {
        using var a = new PrivateDaemon();
        using var b = new PrivateDaemon();
        await a.ImportBusyboxAsync("cli/busybox:1", "CMD [\"sh\"]");
        var dir = Directory.CreateTempSubdirectory("co-cli-save-").FullName;
        try
        {
            Run(a, "run --name changer cli/busybox:1 sh -c \"echo x > /added && rm /etc/group\"");
            var diff = Run(a, "diff changer");
            Assert.Contains("A /added", diff);
            Assert.Contains("D /etc/group", diff);
            var id = Run(a, "commit -m snapshot -c \"CMD [\\\"cat\\\", \\\"/added\\\"]\" changer cli/committed:1").Trim();
            Assert.StartsWith("sha256:", id);
            Run(a, $"export -o {dir}/rootfs.tar changer");
            Assert.Contains("added", Shell.Run("tar", $"-tf {dir}/rootfs.tar"));

            foreach (var format in new[] { "docker", "oci" })
            {
                Run(a, $"save --format {format} -o {dir}/{format}.tar cli/committed:1");
                Assert.Contains("Loaded image: cli/committed:1", Run(b, $"load -i {dir}/{format}.tar"));
                Assert.Equal("x\n", Run(b, "run --rm cli/committed:1"));
                Run(b, "rmi cli/committed:1");
            }

            Run(a, "rm changer");
            Run(a, "commit " + Run(a, "create cli/busybox:1 true").Trim()); // an untagged image
            var prune = Run(a, "image prune -f");
            Assert.Contains("deleted: sha256:", prune);
            Assert.Contains("Total reclaimed space:", prune);
            Assert.Contains("Deleted Containers:", Run(a, "container prune -f"));
            Assert.Contains("Total reclaimed space:", Run(a, "system prune -a -f"));
            Assert.Contains("Build Cache", Run(a, "system df"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
