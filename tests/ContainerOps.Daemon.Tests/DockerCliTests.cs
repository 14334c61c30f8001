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

    internal static (int Code, string Out, string Err) Docker(PrivateDaemon d, params string[] args) => DockerWithInput(d, null, args);

    /// <summary>Runs the docker CLI with <paramref name="input"/> on its stdin (closed after it), or no stdin at all.</summary>
    internal static (int Code, string Out, string Err) DockerWithInput(PrivateDaemon d, string? input, params string[] args) =>
        DockerAt(DockerPath!, d, input, args);

    /// <summary>Runs the docker CLI at <paramref name="binary"/> (another version than the one on PATH) against the daemon.</summary>
    internal static (int Code, string Out, string Err) DockerAt(string binary, PrivateDaemon d, string? input, params string[] args)
    {
        var psi = new ProcessStartInfo(binary, args)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null, UseShellExecute = false,
        };
        psi.Environment["DOCKER_HOST"] = "unix://" + Path.Combine(d.RunRoot, "containerops.sock");
        psi.Environment["DOCKER_CONFIG"] = Path.Combine(d.Root, "docker-cli-config"); // not the host's
        psi.Environment["DOCKER_CLI_HINTS"] = "false";
        using var p = Process.Start(psi)!;
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"docker {string.Join(' ', args)} did not finish\n{d.Output}"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    internal static string Ok(PrivateDaemon d, params string[] args)
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

    /// <summary>The image verbs that name the image in the path: tag, image inspect, history, rmi.</summary>
    [DockerCliFact]
    public async Task TagInspectHistoryAndRemoveAnImage()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        Ok(d, "tag", "dockercli/busybox:1", "127.0.0.1:5000/team/copy:2");
        var id = (await d.Client.ListImagesAsync()).Single().Id;
        Assert.Equal(id + "\n", Ok(d, "image", "inspect", "--format", "{{.Id}}", "127.0.0.1:5000/team/copy:2"));
        Assert.Contains("IMAGE", Ok(d, "history", "127.0.0.1:5000/team/copy:2"));
        Assert.Contains("Untagged: 127.0.0.1:5000/team/copy:2", Ok(d, "rmi", "127.0.0.1:5000/team/copy:2"));
        var removed = Ok(d, "rmi", "dockercli/busybox:1");
        Assert.Contains("Untagged: dockercli/busybox:1", removed);
        Assert.Contains("Deleted: " + id, removed);
        Assert.Empty(await d.Client.ListImagesAsync());
        var (code, _, error) = Docker(d, "rmi", "dockercli/busybox:1");
        Assert.NotEqual(0, code);
        Assert.Contains("No such image", error, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>An attached run: stdout and stderr apart without a terminal, the raw terminal stream with -t, the exit status.</summary>
    [DockerCliFact]
    public async Task AttachedRunShowsItsOutput()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var (code, output, error) = Docker(d, "run", "--rm", "--network", "none", "dockercli/busybox:1", "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.True(code == 3, $"exit {code}: {error}{d.Output}");
        Assert.Equal("out\n", output);
        Assert.Equal("err\n", error);
        Assert.Equal("hi\r\nthere\r\n", Ok(d, "run", "--rm", "-t", "--network", "none", "dockercli/busybox:1", "sh", "-c", "echo hi; echo there >&2"));
        Assert.Empty(await d.Client.ListContainersAsync(all: true));
    }

    /// <summary>docker run -i: the CLI's stdin reaches the container, and its end closes the container's stdin.</summary>
    [DockerCliFact]
    public async Task RunWithInput()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var (code, output, error) = DockerWithInput(d, "hi\nthere\n", "run", "-i", "--rm", "--network", "none", "dockercli/busybox:1", "sh", "-c", "cat; echo done");
        Assert.True(code == 0, $"exit {code}: {error}{d.Output}");
        Assert.Equal("hi\nthere\ndone\n", output);
        Assert.Empty(await d.Client.ListContainersAsync(all: true));
    }

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

    /// <summary>docker exec through the Docker API: output apart, the exit code, -e, -u, -w, input with -i, a terminal with -t, -d.</summary>
    [DockerCliFact]
    public async Task ExecRunsInTheContainer()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var id = Ok(d, "run", "-d", "--network", "none", "--name", "execs", "dockercli/busybox:1", "sleep", "1000").Trim();
        try
        {
            var (code, output, error) = Docker(d, "exec", "-e", "GREETING=hello", "-u", "1000:1000", "-w", "/tmp", "execs",
                "sh", "-c", "echo $GREETING; id -u; pwd; echo oops >&2; exit 4");
            Assert.True(code == 4, $"exit {code}: {error}{d.Output}");
            Assert.Equal("hello\n1000\n/tmp\n", output);
            Assert.Equal("oops\n", error);
            Assert.Equal("in\n", DockerWithInput(d, "in\n", "exec", "-i", "execs", "cat").Out);
            Assert.Equal("tty\r\n", Ok(d, "exec", "-t", "execs", "echo", "tty"));
            Ok(d, "exec", "-d", "execs", "sh", "-c", "echo detached > /tmp/mark");
            for (var i = 0; i < 50 && Docker(d, "exec", "execs", "cat", "/tmp/mark").Out != "detached\n"; i++) await Task.Delay(100);
            Assert.Equal("detached\n", Ok(d, "exec", "execs", "cat", "/tmp/mark"));
            var (missingCode, _, missingError) = Docker(d, "exec", "execs", "/no/such/program");
            Assert.Equal(127, missingCode);
            Assert.NotEmpty(missingError);
        }
        finally { await d.Client.RemoveContainerAsync(id, force: true); }
    }

    /// <summary>docker cp both ways, into a running container and out of a stopped one, and a path that is not there.</summary>
    [DockerCliFact]
    public async Task CopyInAndOut()
    {
        using var d = new PrivateDaemon();
        using var dir = new TempDir();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        File.WriteAllText(Path.Combine(dir.Path, "note.txt"), "from the host\n");
        Directory.CreateDirectory(Path.Combine(dir.Path, "tree", "sub"));
        File.WriteAllText(Path.Combine(dir.Path, "tree", "sub", "leaf"), "leaf\n");
        var id = Ok(d, "run", "-d", "--network", "none", "--name", "copies", "dockercli/busybox:1", "sleep", "1000").Trim();
        try
        {
            Ok(d, "cp", Path.Combine(dir.Path, "note.txt"), "copies:/tmp/");
            Ok(d, "cp", Path.Combine(dir.Path, "note.txt"), "copies:/tmp/renamed.txt");
            Ok(d, "cp", Path.Combine(dir.Path, "tree"), "copies:/tmp/tree");
            Assert.Equal("from the host\nfrom the host\nleaf\n", Ok(d, "exec", "copies", "cat", "/tmp/note.txt", "/tmp/renamed.txt", "/tmp/tree/sub/leaf"));
            Assert.Equal("0\n", Ok(d, "exec", "copies", "stat", "-c", "%u", "/tmp/note.txt"));
            Ok(d, "exec", "copies", "sh", "-c", "mkdir -p /data/out && echo made inside > /data/out/made.txt");
            Ok(d, "stop", "-t", "1", "copies");
            Ok(d, "cp", "copies:/data/out", Path.Combine(dir.Path, "back"));
            Assert.Equal("made inside\n", File.ReadAllText(Path.Combine(dir.Path, "back", "made.txt")));
            Ok(d, "cp", "copies:/tmp/renamed.txt", Path.Combine(dir.Path, "single.txt"));
            Assert.Equal("from the host\n", File.ReadAllText(Path.Combine(dir.Path, "single.txt")));
            var (code, _, error) = Docker(d, "cp", "copies:/no/such/file", dir.Path);
            Assert.NotEqual(0, code);
            Assert.Contains("/no/such/file", error);
        }
        finally { await d.Client.RemoveContainerAsync(id, force: true); }
    }

    /// <summary>run's everyday flags as the kernel shows them inside, and flags that ContainerOps cannot honour refused by
    /// name with docker's 125 instead of being ignored.</summary>
    [DockerCliFact]
    public async Task RunFlagsReachTheContainer()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        string Run(params string[] args) => Ok(d, ["run", "--rm", "--network", "none", .. args]);
        Assert.Equal("512\n1024\n", Run("--ulimit", "nofile=512:1024", "dockercli/busybox:1", "sh", "-c", "ulimit -n; ulimit -Hn"));
        Assert.Equal("0 55 1234\n", Run("--group-add", "1234", "--group-add", "55", "dockercli/busybox:1", "id", "-G"));
        Assert.Equal(File.ReadAllText("/proc/1/comm"), Run("--pid", "host", "dockercli/busybox:1", "cat", "/proc/1/comm"));
        Assert.Equal("example.org\n", Run("--domainname", "example.org", "dockercli/busybox:1", "cat", "/proc/sys/kernel/domainname"));
        Assert.Equal("300\n", Run("--oom-score-adj", "300", "--cpu-quota", "50000", "--cpu-period", "100000", "--memory-reservation", "32m",
            "dockercli/busybox:1", "cat", "/proc/self/oom_score_adj"));
        Assert.StartsWith("c", Run("--device", "/dev/null:/dev/extra-null:rw", "dockercli/busybox:1", "ls", "-l", "/dev/extra-null"));
        Assert.Equal("logged\n", Run("--log-opt", "max-size=1m", "--log-opt", "max-file=2", "dockercli/busybox:1", "echo", "logged"));
        var sleeper = Ok(d, "run", "-d", "--network", "none", "dockercli/busybox:1", "sleep", "1000").Trim();
        try { Assert.Contains("sleep 1000", Run("--pid", "container:" + sleeper, "dockercli/busybox:1", "ps")); }
        finally { await d.Client.RemoveContainerAsync(sleeper, force: true); }

        // --init: the docker CLI sends HostConfig.Init; the command runs under the init, pid 1.
        Assert.Matches(@"(?m)^\s*1\s+docker-init\s*$", Run("--init", "dockercli/busybox:1", "ps", "-o", "pid,comm"));
        // Block I/O: a throttle on the root disk shows in the container's own cgroup; a weight is applied where the host's
        // I/O scheduler has weights and refused by name (docker's 125) where it has none, as on this project's VM.
        var disk = HostDisk.First();
        var v2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        Assert.Contains(v2 ? $"{disk.Numbers} rbps=1048576" : $"{disk.Numbers} 1048576",
            Run("--device-read-bps", disk.Path + ":1mb", "dockercli/busybox:1", "cat", v2 ? "/sys/fs/cgroup/io.max" : "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device"));
        var hostHasWeights = v2 ? File.Exists("/sys/fs/cgroup/io.weight") || File.Exists("/sys/fs/cgroup/io.bfq.weight") : File.Exists("/sys/fs/cgroup/blkio/blkio.weight");
        var (weightCode, _, weightError) = Docker(d, "run", "--rm", "--network", "none", "--blkio-weight=300", "dockercli/busybox:1", "true");
        if (hostHasWeights) Assert.True(weightCode == 0, weightError);
        else
        {
            Assert.True(weightCode == 125, $"--blkio-weight: exit {weightCode} {weightError}");
            Assert.Contains("an I/O weight cannot be enforced on this host", weightError);
        }
        var (deviceCode, _, deviceError) = Docker(d, "run", "--rm", "--network", "none", "--device-write-iops", "/dev/null:10", "dockercli/busybox:1", "true");
        Assert.True(deviceCode == 125, deviceError);
        Assert.Contains("/dev/null is not a block device", deviceError);
        var (logCode, _, logError) = Docker(d, "run", "--rm", "--network", "none", "--log-driver", "none", "dockercli/busybox:1", "true");
        Assert.Equal(125, logCode);
        Assert.Contains("log driver 'none'", logError);
        // A run that cannot start ends (127) and, with --rm, leaves nothing.
        var (missingCode, _, _) = Docker(d, "run", "--rm", "--network", "none", "dockercli/busybox:1", "/no/such/program");
        Assert.Equal(127, missingCode);
        Assert.Empty(await d.Client.ListContainersAsync(all: true));
    }
}
