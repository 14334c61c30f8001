using ContainerOps.TestSupport;
using static ContainerOps.Daemon.Tests.DockerCliTests;

namespace ContainerOps.Daemon.Tests;

/// <summary>A test that needs Debian's docker CLI 20.10 (package docker.io); skipped, saying why, when it can be neither
/// found nor downloaded.</summary>
public sealed class DebianDockerCliFactAttribute : FactAttribute
{
    public DebianDockerCliFactAttribute()
    {
        if (DockerCli2010Tests.Binary is null) Skip = "Debian's docker CLI 20.10 is neither installed (/usr/bin/docker) nor could its package, docker.io, be downloaded";
    }
}

/// <summary>The older docker CLI Debian ships (API 1.41) against the daemon: version negotiation and the everyday verbs.</summary>
public class DockerCli2010Tests
{
    /// <summary>/usr/bin/docker when it is the 20.10 CLI (the machine's newer CLI lives in /usr/local/bin), else the
    /// CLI of Debian's docker.io package unpacked into .tools/ (its daemon is not installed or run).</summary>
    public static string? Binary { get; } = Find();

    private static string? Find()
    {
        if (File.Exists("/usr/bin/docker") && Shell.Run("/usr/bin/docker", "--version", check: false).Contains("version 20.10", StringComparison.Ordinal))
            return "/usr/bin/docker";
        try
        {
            var unpacked = DebianTools.Unpacked("docker.io", "docker-20.10", "usr/bin/docker");
            return Shell.Run(unpacked, "--version", check: false).Contains("version 20.10", StringComparison.Ordinal) ? unpacked : null;
        }
        catch (Exception) { return null; } // no package list or no network to the mirror: the test says so and is skipped
    }

    private static string Ok(PrivateDaemon d, params string[] args) => OkWithInput(d, null, args);

    private static string OkWithInput(PrivateDaemon d, string? input, params string[] args)
    {
        var (code, output, error) = DockerAt(Binary!, d, input, args);
        Assert.True(code == 0, $"docker 20.10 {string.Join(' ', args)} exited {code}: {error}{output}\n{d.Output}");
        return output;
    }

    [DebianDockerCliFact]
    public async Task TheEverydayVerbsWork()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("debiancli/busybox:1");
        Assert.Equal("1.41 linux\n", Ok(d, "version", "--format", "{{.Client.APIVersion}} {{.Server.Os}}"));

        var (code, output, error) = DockerAt(Binary!, d, null, "run", "--rm", "--network", "none", "debiancli/busybox:1", "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.True(code == 3, $"exit {code}: {error}{d.Output}");
        Assert.Equal(("out\n", "err\n"), (output, error));
        Assert.Equal("in\n", OkWithInput(d, "in\n", "run", "-i", "--rm", "--network", "none", "debiancli/busybox:1", "cat"));

        var id = Ok(d, "run", "-d", "--name", "old-cli", "--network", "none", "-e", "GREETING=hi", "debiancli/busybox:1",
            "sh", "-c", "echo started; exec sleep 1000").Trim();
        try
        {
            Assert.Matches("^[0-9a-f]{64}$", id);
            Assert.Equal("old-cli debiancli/busybox:1\n", Ok(d, "ps", "--format", "{{.Names}} {{.Image}}"));
            Assert.Equal("running GREETING=hi\n", Ok(d, "inspect", "--format", "{{.State.Status}} {{index .Config.Env 1}}", "old-cli"));
            Assert.Equal("hi\n", Ok(d, "exec", "old-cli", "sh", "-c", "echo $GREETING"));
            var (execCode, _, _) = DockerAt(Binary!, d, null, "exec", "old-cli", "sh", "-c", "exit 5");
            Assert.Equal(5, execCode);
            for (var i = 0; i < 50 && Ok(d, "logs", "old-cli").Length == 0; i++) await Task.Delay(100);
            Assert.Equal("started\n", Ok(d, "logs", "old-cli"));
            Ok(d, "stop", "-t", "1", "old-cli");
            Assert.Contains("Exited (137)", Ok(d, "ps", "-a", "--format", "{{.Status}}"));
            await Task.Delay(1100); // --until 0s is sent in whole seconds
            Assert.Contains("container die", Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "container=old-cli"));
        }
        finally { DockerAt(Binary!, d, null, "rm", "-f", "old-cli"); }
    }
}
