using System.Diagnostics;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// The built-in runtime under containerd's runc shim (Debian's containerd 1.6, `ctr run --runc-binary`): a task's output
/// and exit status, a detached task, exec into it, kill. containerd runs with a private root, state and socket, its CRI
/// plugin off, and the tasks' cgroups under a parent of this class, removed at the end.
/// </summary>
public sealed class ContainerdDropInTests : IClassFixture<RuntimeFixture>, IDisposable
{
    private readonly RuntimeFixture _f;
    private readonly string _dir;
    private readonly string _cgroupParent;
    private readonly Process _containerd;
    private static string RuntimeBinary => Path.Combine(RuntimeFixture.RepoRoot, "bin", "containerops-runtime");

    public ContainerdDropInTests(RuntimeFixture f)
    {
        _f = f;
        Assert.True(File.Exists(RuntimeBinary), $"{RuntimeBinary} is missing: ./build.sh build");
        if (!File.Exists("/usr/bin/containerd")) throw new InvalidOperationException("containerd is not installed (./build.sh test installs it)");
        _dir = Path.Combine(f.Root.Path, "containerd-" + Guid.NewGuid().ToString("N")[..6]);
        _cgroupParent = f.CgroupParent + "-containerd";
        Directory.CreateDirectory(_dir);
        var config = Path.Combine(_dir, "config.toml");
        File.WriteAllText(config, $"""
            version = 2
            root = "{_dir}/root"
            state = "{_dir}/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "{_dir}/containerd.sock"
            """);
        var psi = new ProcessStartInfo("/usr/bin/containerd") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "--config", config, "--log-level", "warn" }) psi.ArgumentList.Add(a);
        _containerd = Process.Start(psi)!;
        _containerd.StandardInput.Close();
        _containerd.OutputDataReceived += (_, _) => { };
        _containerd.ErrorDataReceived += (_, _) => { };
        _containerd.BeginOutputReadLine();
        _containerd.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Ctr(false, "version").Code != 0)
        {
            if (DateTime.UtcNow > deadline || _containerd.HasExited) throw new InvalidOperationException("containerd did not start");
            Thread.Sleep(50);
        }
    }

    private (int Code, string Stdout, string Stderr) Ctr(bool check, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/ctr") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "--address", Path.Combine(_dir, "containerd.sock") }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException("ctr " + string.Join(' ', args) + " timed out"); }
        if (check && p.ExitCode != 0) throw new InvalidOperationException($"ctr {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result.Trim()}");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private string[] Run(string id, params string[] more) =>
        // --rootfs is a switch: the root filesystem's path comes as the first argument, where an image's name would.
        ["run", "--runc-binary", RuntimeBinary, "--cgroup", $"{_cgroupParent}/{id}", .. more, "--rootfs", _f.Rootfs, id];

    [Fact]
    public void Containerd_runs_a_task_with_its_output_and_exit_status()
    {
        var run = Ctr(false, [.. Run("co-task-fg", "--rm"), "/bin/sh", "-c", "echo hi from the task; exit 3"]);
        Assert.True(run.Code == 3, $"ctr run exited {run.Code}: {run.Stderr}");
        Assert.Equal("hi from the task\n", run.Stdout);
    }

    [Fact]
    public void Containerd_runs_a_detached_task_execs_in_it_and_kills_it()
    {
        Ctr(true, [.. Run("co-task-bg", "-d"), "/bin/sleep", "60"]);
        try
        {
            Assert.Matches(@"co-task-bg\s+\d+\s+RUNNING", Ctr(true, "task", "ls").Stdout);
            var exec = Ctr(false, "task", "exec", "--exec-id", "e1", "co-task-bg", "/bin/sh", "-c", "echo in the task; exit 5");
            Assert.Equal((5, "in the task\n"), (exec.Code, exec.Stdout));
            Ctr(true, "task", "kill", "-s", "KILL", "co-task-bg");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!Ctr(true, "task", "ls").Stdout.Contains("STOPPED") && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.Matches(@"co-task-bg\s+\d+\s+STOPPED", Ctr(true, "task", "ls").Stdout);
        }
        finally
        {
            Ctr(false, "task", "kill", "-s", "KILL", "co-task-bg");
            Ctr(false, "task", "rm", "-f", "co-task-bg");
            Ctr(false, "container", "rm", "co-task-bg");
        }
    }

    public void Dispose()
    {
        try { _containerd.Kill(); _containerd.WaitForExit(10_000); } catch (InvalidOperationException) { }
        _containerd.Dispose();
        RuntimeFixture.RemoveCgroupTree(_cgroupParent);
    }
}
