using System.Diagnostics;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>A test that needs the docker CLI; skipped, saying why, on a machine without one.</summary>
public sealed class DockerCliFactAttribute : FactAttribute
{
    public DockerCliFactAttribute()
    {
        if (DockerCliTests.DockerPath is null) Skip = "the docker CLI is not installed (Debian's docker.io or docker-ce-cli provides it)";
    }
}

/// <summary>The real docker CLI against a private daemon's socket: the Docker Engine API as a judge nobody here wrote.</summary>
public class DockerCliTests
{
    public static string? DockerPath { get; } =
        new[] { "/usr/local/bin/docker", "/usr/bin/docker" }.FirstOrDefault(File.Exists);

    private static (int Code, string Out, string Err) Docker(PrivateDaemon d, params string[] args)
    {
        var psi = new ProcessStartInfo(DockerPath!, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["DOCKER_HOST"] = "unix://" + Path.Combine(d.RunRoot, "containerops.sock");
        psi.Environment["DOCKER_CONFIG"] = Path.Combine(d.Root, "docker-cli-config"); // not the host's
        psi.Environment["DOCKER_CLI_HINTS"] = "false";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"docker {string.Join(' ', args)} did not finish\n{d.Output}"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Ok(PrivateDaemon d, params string[] args)
    {
        var (code, output, error) = Docker(d, args);
        Assert.True(code == 0, $"docker {string.Join(' ', args)} exited {code}: {error}{output}\n{d.Output}");
        return output;
    }

    [DockerCliFact]
    public void VersionNegotiatesTheApi()
    {
        using var d = new PrivateDaemon();
        var output = Ok(d, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}");
        Assert.Equal($"{DockerApiVersions.Current} linux {DockerApiVersions.Current}\n", output);
        var info = Ok(d, "info", "--format", "{{.OSType}} {{.ServerVersion}} {{.Containers}}");
        Assert.Equal("linux 0.1.0 0\n", info);
    }

    [DockerCliFact]
    public async Task PsInspectImagesAndLogs()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var id = (await d.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = "talker", Image = "dockercli/busybox:1", Cmd = ["sh", "-c", "echo out; echo err >&2; exec sleep 1000"],
        })).Id;
        try
        {
            await d.Client.StartContainerAsync(id);
            var ps = Ok(d, "ps");
            Assert.Contains("talker", ps);
            Assert.Contains(id[..12], ps);
            Assert.Equal("talker dockercli/busybox:1\n", Ok(d, "ps", "--format", "{{.Names}} {{.Image}}"));
            var pid = (await d.Client.InspectContainerAsync(id)).State.Pid;
            Assert.Equal($"{pid}\n", Ok(d, "inspect", "--format", "{{.State.Pid}}", "talker"));
            Assert.Contains("\"Id\": \"" + id, Ok(d, "inspect", "talker"));
            Assert.Contains("dockercli/busybox", Ok(d, "images"));
            for (var i = 0; i < 50 && (await d.Client.InspectContainerAsync(id)).State.Running && !Docker(d, "logs", "talker").Out.Contains("out"); i++) await Task.Delay(100);
            var (code, output, error) = Docker(d, "logs", "talker");
            Assert.Equal(0, code);
            Assert.Equal("out\n", output);
            Assert.Equal("err\n", error);
        }
        finally { await d.Client.RemoveContainerAsync(id, force: true); }
    }

    /// <summary>The run's exit status and --rm work; its output does not reach the CLI yet: the CLI half-closes the hijacked
    /// connection when it sends no input, and Kestrel then ends the connection.</summary>
    [DockerCliFact]
    public async Task RunGivesTheExitStatusAndRemoves()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var (code, _, error) = Docker(d, "run", "--rm", "--network", "none", "dockercli/busybox:1", "sh", "-c", "exit 3");
        Assert.True(code == 3, error + d.Output);
        Assert.Empty(await d.Client.ListContainersAsync(all: true));
        var id = Ok(d, "run", "-d", "--network", "none", "--name", "detached", "dockercli/busybox:1", "sh", "-c", "echo started; exec sleep 1000").Trim();
        try
        {
            Assert.Matches("^[0-9a-f]{64}$", id);
            Assert.True((await d.Client.InspectContainerAsync("detached")).State.Running);
            Assert.Equal("0\n", Ok(d, "inspect", "--format", "{{.RestartCount}}", "detached"));
        }
        finally { await d.Client.RemoveContainerAsync(id, force: true); }
    }
}
