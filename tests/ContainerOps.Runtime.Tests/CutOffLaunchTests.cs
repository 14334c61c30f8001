using System.Diagnostics;
using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// A runtime process killed in the middle of a launch (the `containerops-runtime` command at a crash point, as a
/// daemon could be) and a shim killed under a running container: a later runtime instance must find the truth.
/// </summary>
[Collection("kernel")]
public sealed class CutOffLaunchTests : IClassFixture<RuntimeFixture>
{
    private readonly RuntimeFixture _f;
    public CutOffLaunchTests(RuntimeFixture f) => _f = f;

    private string StateRoot => Path.Combine(_f.Root.Path, "state");

    /// <summary>Runs bin/containerops-runtime with the fixture's state root, armed to die at <paramref name="crashPoint"/>.</summary>
    private int RuntimeCommand(string crashPoint, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(RuntimeFixture.RepoRoot, "bin", "containerops-runtime"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "--root", StateRoot }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["CONTAINEROPS_CRASH_AT"] = crashPoint;
        psi.Environment["CONTAINEROPS_SHIM"] = RuntimeFixture.ShimPath;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(60_000), "the runtime command hangs");
        return p.ExitCode;
    }

    private List<string> Cgroups(string id) =>
        Directory.GetDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, _f.CgroupParent, id)).Where(Directory.Exists).ToList();

    [Fact]
    public async Task A_create_killed_after_starting_the_shim_is_found_created_from_the_pid_file()
    {
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "exit 4" });
        Assert.Equal(137, RuntimeCommand("runtime-after-shim", "create", "--bundle", b.Bundle, b.Id));
        Assert.Equal(0, new ContainerStateDir(StateRoot, b.Id).Read()!.Pid); // cut off before it was written

        var status = _f.Runtime.GetStatus(b.Id);
        Assert.Equal(RuntimeState.Created, status.State);
        Assert.True(Directory.Exists($"/proc/{status.Pid}"), "the created init is not there");
        Assert.Equal(status.Pid, new ContainerStateDir(StateRoot, b.Id).Read()!.Pid);

        _f.Runtime.Start(b.Id);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // The OCI `create` leaves no shim: the caller's subreaper reaps the container, so only its end is known.
        Assert.Equal(RuntimeState.Exited, (await _f.Runtime.WaitAsync(b.Id, cts.Token)).State);
        await _f.Runtime.DeleteAsync(b.Id);
        Assert.Empty(Cgroups(b.Id));
    }

    /// <summary>A removal of a created container cut off right after its kill: the kill is not the container's exit
    /// (it never ran its command), nothing reports it any more, and a plain `delete` finishes the removal.</summary>
    [Fact]
    public void A_delete_of_a_created_container_killed_after_the_kill_is_finished_by_a_plain_delete()
    {
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "sleep 60" });
        Assert.Equal(0, RuntimeCommand("none", "create", "--bundle", b.Bundle, b.Id));
        var init = new ContainerStateDir(StateRoot, b.Id).Read()!.Pid;
        Assert.Equal(137, RuntimeCommand("runtime-delete-after-kill", "delete", "--force", b.Id));

        Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(b.Id).State);
        // Killed (a zombie until whoever inherited it reaps it).
        bool Runs() => ContainerStateDir.ReadStat(init) is { State: not ('Z' or 'X' or 'x') };
        for (var i = 0; i < 100 && Runs(); i++) Thread.Sleep(50);
        Assert.False(Runs(), "the created init still runs");
        Assert.NotEqual(0, RuntimeCommand("none", "state", b.Id)); // does not exist, as far as anyone asks
        Assert.Equal(0, RuntimeCommand("none", "delete", b.Id));
        Assert.False(Directory.Exists(Path.Combine(StateRoot, b.Id)), "its state is left");
        Assert.Empty(Cgroups(b.Id));
    }

    [Fact]
    public async Task A_run_killed_after_starting_the_shim_is_running_and_is_not_launched_twice()
    {
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "sleep 60" });
        Assert.Equal(137, RuntimeCommand("runtime-after-shim", "run", "-d", "--bundle", b.Bundle, b.Id));

        var status = _f.Runtime.GetStatus(b.Id);
        Assert.Equal(RuntimeState.Running, status.State);
        var again = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(b)));
        Assert.Equal("ContainerExists", again.Error.Id);
        Assert.Equal(status.Pid, _f.Runtime.GetStatus(b.Id).Pid);

        await _f.Runtime.DeleteAsync(b.Id, force: true);
        Assert.False(Directory.Exists($"/proc/{status.Pid}"));
        Assert.Empty(Cgroups(b.Id));
    }

    [Fact]
    public async Task A_create_killed_before_the_shim_leaves_a_record_through_which_its_cgroup_goes()
    {
        var b = _f.Bundle(new[] { "/bin/true" });
        Assert.Equal(137, RuntimeCommand("runtime-before-shim", "create", "--bundle", b.Bundle, b.Id));
        Assert.NotEmpty(Cgroups(b.Id));

        Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(b.Id).State);
        await _f.Runtime.DeleteAsync(b.Id);
        Assert.Empty(Cgroups(b.Id));
        Assert.False(Directory.Exists(Path.Combine(StateRoot, b.Id)));
    }

    [Fact]
    public async Task A_container_dies_with_its_shim_and_is_reported_killed()
    {
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "sleep 60" });
        var started = await _f.Runtime.RunAsync(_f.Options(b));
        var record = new ContainerStateDir(StateRoot, b.Id).Read()!;
        Assert.True(record.ShimPid > 0);
        Process.GetProcessById(record.ShimPid).Kill();

        // The parent-death signal kills the init without anyone asking the runtime.
        for (var i = 0; i < 50 && Directory.Exists($"/proc/{started.Pid}"); i++) await Task.Delay(100);
        Assert.False(Directory.Exists($"/proc/{started.Pid}"), "the container outlived its shim");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var status = await _f.Runtime.WaitAsync(b.Id, cts.Token);
        Assert.Equal((RuntimeState.Exited, 137, 9), (status.State, status.ExitCode, status.Signal));
        await _f.Runtime.DeleteAsync(b.Id);
        Assert.Empty(Cgroups(b.Id));
    }
}
