using System.Diagnostics;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// The built-in runtime as a drop-in OCI runtime under podman and conmon (Debian's podman 4.3): run in the foreground and
/// detached, logs, stop, exec, exit statuses. podman keeps everything in a private root here (vfs storage: no overlay
/// mounts to leak), with its containers' cgroups under a parent of this class, removed at the end.
/// </summary>
public sealed class PodmanDropInTests : IClassFixture<RuntimeFixture>, IDisposable
{
    private readonly RuntimeFixture _f;
    private readonly string _root;
    private readonly string _cgroupParent;
    private static string RuntimeBinary => Path.Combine(RuntimeFixture.RepoRoot, "bin", "containerops-runtime");

    public PodmanDropInTests(RuntimeFixture f)
    {
        _f = f;
        _root = Path.Combine(f.Root.Path, "podman");
        _cgroupParent = f.CgroupParent + "-podman";
        Assert.True(File.Exists(RuntimeBinary), $"{RuntimeBinary} is missing: ./build.sh build");
        var image = Path.Combine(f.Root.Path, "podman-busybox.tar");
        if (!File.Exists(image)) Shell.Run("tar", $"-C {f.Rootfs} -cf {image} .");
        Podman("import", image, "co-dropin-busybox");
    }

    private (int Code, string Stdout, string Stderr) Podman(params string[] args) => PodmanWith(checkCode: true, args);

    /// <summary>podman with this class's private root and our runtime, then <paramref name="args"/>.</summary>
    private string[] PodmanCommandLine(string[] args)
    {
        var podman = File.Exists("/usr/bin/podman") ? "/usr/bin/podman"
            : throw new InvalidOperationException("podman is not installed (./build.sh test installs it)");
        return
        [
            podman, "--root", Path.Combine(_root, "storage"), "--runroot", Path.Combine(_root, "run"), "--tmpdir", Path.Combine(_root, "tmp"),
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", RuntimeBinary, .. args,
        ];
    }

    private (int Code, string Stdout, string Stderr) PodmanWith(bool checkCode, params string[] args)
    {
        var command = PodmanCommandLine(args);
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException("podman " + string.Join(' ', args) + " timed out"); }
        if (checkCode && p.ExitCode != 0)
            throw new InvalidOperationException($"podman {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result.Trim()}");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    // podman on this kind of host needs explicit limits (it cannot read the defaults it wants) and runs without networks here.
    private string[] RunFlags(params string[] more) =>
        ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768", "--network", "none", "--cgroup-parent", "/" + _cgroupParent, .. more];

    [Fact]
    public void Podman_runs_a_container_in_the_foreground_with_its_output_and_exit_status()
    {
        Assert.Equal("hi from the container\n", Podman(["run", "--rm", .. RunFlags(), "co-dropin-busybox", "echo", "hi from the container"]).Stdout);
        var failed = PodmanWith(false, ["run", "--rm", .. RunFlags(), "co-dropin-busybox", "sh", "-c", "echo to-stderr >&2; exit 3"]);
        Assert.Equal((3, "to-stderr\n"), (failed.Code, failed.Stderr));
        Assert.Equal("", Podman("ps", "-aq").Stdout);
    }

    [Fact]
    public void Podman_runs_a_container_with_a_terminal_through_the_console_socket()
    {
        // podman -t wants a terminal of its own: script(1) gives it one.
        var podman = string.Join(' ', PodmanCommandLine(["run", "--rm", "-it", .. RunFlags(), "co-dropin-busybox", "sh", "-c", "tty; echo on-a-terminal; exit 7"])
            .Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        var psi = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-qec", podman, "/dev/null" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "podman run -it timed out");
        Assert.True(p.ExitCode == 7, $"exit {p.ExitCode}: {stdout.Result} {stderr.Result}");
        Assert.Equal("/dev/pts/0\r\non-a-terminal\r\n", stdout.Result);
    }

    [Fact]
    public void Podman_runs_a_detached_container_shows_its_logs_execs_in_it_and_stops_it()
    {
        var id = Podman(["run", "-d", .. RunFlags(), "co-dropin-busybox", "sh", "-c",
            "trap 'echo stopping; exit 0' TERM; echo started; while :; do sleep 0.1; done"]).Stdout.Trim();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!Podman("logs", id).Stdout.Contains("started") && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.Equal("started\n", Podman("logs", id).Stdout);
            var exec = PodmanWith(false, "exec", "-e", "GREETING=hello", id, "sh", "-c", "echo $GREETING from exec; exit 4");
            Assert.Equal((4, "hello from exec\n"), (exec.Code, exec.Stdout));
            Podman("stop", "-t", "10", id);
            Assert.Equal("started\nstopping\n", Podman("logs", id).Stdout);
            Assert.Equal("exited 0", Podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id).Stdout.Trim());
        }
        finally { PodmanWith(false, "rm", "-f", "-t", "0", id); }
        Assert.Equal("", Podman("ps", "-aq").Stdout);
    }

    public void Dispose()
    {
        PodmanWith(false, "rm", "-af", "-t", "0");
        PodmanWith(false, "rmi", "-af");
        // conmon's and the containers' cgroups under this class's parent, innermost first.
        RuntimeFixture.RemoveCgroupTree(_cgroupParent);
    }
}
