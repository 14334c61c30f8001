using System.Diagnostics;
using System.Text.Json;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// The runtime command line's create/start/delete as the OCI runtime spec has them, for the cases the runtime-tools
/// suite found: a created container's process that died, a user namespace whose root is not the host's, a filter that
/// forbids getcwd, a shared root, and a mount namespace joined by path or not made at all.
/// </summary>
public sealed partial class DifferentialTests
{
    /// <summary>Runs `create` with the container's stdio on a file, then `start`, and waits for the container to stop:
    /// what it printed, then deleted.</summary>
    private string CreateStartToEnd(string[] runtime, (string Id, string Bundle, string Log) b, string stateName)
    {
        var root = Path.Combine(_f.Root.Path, stateName);
        var output = Path.Combine(_f.Root.Path, stateName + "-" + b.Id + ".out");
        var prefix = string.Join(' ', runtime) + $" --root {root}";
        try
        {
            Shell.Run("/bin/sh", $"-c \"exec {prefix} create --bundle {b.Bundle} {b.Id} </dev/null >{output} 2>&1\"");
            Shell.Run("/bin/sh", $"-c \"exec {prefix} start {b.Id}\"", timeoutMs: 30_000);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (StatusOf(prefix, b.Id) != "stopped" && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.Equal("stopped", StatusOf(prefix, b.Id));
            return File.ReadAllText(output);
        }
        finally { Shell.Run("/bin/sh", $"-c \"exec {prefix} delete --force {b.Id}\"", check: false); }
    }

    private static string StatusOf(string prefix, string id) =>
        JsonDocument.Parse(Shell.Run("/bin/sh", $"-c \"exec {prefix} state {id}\"")).RootElement.GetProperty("status").GetString()!;

    /// <summary>A process's namespace of a kind as the kernel names it ("mnt:[4026531841]").</summary>
    private static string Namespace(string pid, string kind) => new FileInfo($"/proc/{pid}/ns/{kind}").LinkTarget ?? "";

    private static string Runc => Builtin.ExternalRuntime.Find("runc") ?? throw new InvalidOperationException("runc is not installed (./build.sh deps test installs it)");

    /// <summary>The created init opens the exec fifo again as the namespace's root, which is not the host's: the fifo
    /// belongs to that root (it was the host's root's alone, and the init died, leaving `start` waiting for ever).</summary>
    [Fact]
    public void Create_and_start_run_a_user_namespace_whose_root_is_not_the_hosts_as_under_runc()
    {
        string[] command = { "/bin/sh", "-c", "cat /proc/self/uid_map; id -u" };
        static void UserNamespace(OciSpec s)
        {
            s.Linux!.Namespaces.Add(new OciNamespace { Type = "user" });
            s.Linux.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
            s.Linux.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        }
        var theirs = CreateStartToEnd(new[] { Runc }, _f.Bundle(command, edit: UserNamespace), "runc-userns");
        Assert.Equal("         0     100000      65536\n0\n", theirs);
        Assert.Equal(theirs, CreateStartToEnd(new[] { RuntimeBinary }, _f.Bundle(command, edit: UserNamespace), "ours-userns"));
    }

    /// <summary>`start` of a created container whose process is gone fails at once instead of waiting for a writer
    /// that will never come; `delete` refuses a created container without --force, as the spec's delete does.</summary>
    [Fact]
    public void Start_fails_at_once_when_the_created_process_died_and_delete_needs_force_for_a_created_container()
    {
        var root = Path.Combine(_f.Root.Path, "died-state");
        string Runtime(string args, bool check = true) => Shell.Run(RuntimeBinary, $"--root {root} {args}", check: check, timeoutMs: 30_000);
        var b = _f.Bundle(new[] { "sleep", "60" });
        try
        {
            Shell.Run("/bin/sh", $"-c \"exec {RuntimeBinary} --root {root} create --bundle {b.Bundle} {b.Id} </dev/null >/dev/null 2>&1\"");
            var refused = Assert.Throws<InvalidOperationException>(() => Runtime($"delete {b.Id}"));
            Assert.Contains($"container {b.Id} is created: kill it first or use --force", refused.Message);
            Assert.Equal("created", StatusOf($"{RuntimeBinary} --root {root}", b.Id));

            var pid = JsonDocument.Parse(Runtime($"state {b.Id}")).RootElement.GetProperty("pid").GetInt32();
            Assert.Equal(0, Native.Libc.kill(pid, Native.Libc.SIGKILL));
            var clock = Stopwatch.StartNew();
            var failed = Assert.Throws<InvalidOperationException>(() => Runtime($"start {b.Id}"));
            Assert.Contains("its process exited before start", failed.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"start took {clock.Elapsed}");
            Runtime($"delete --force {b.Id}");
            Assert.Contains("does not exist", Assert.Throws<InvalidOperationException>(() => Runtime($"state {b.Id}")).Message);
        }
        finally { Runtime($"delete --force {b.Id}", check: false); }
    }

    /// <summary>A `start` killed after it released the init (the init took its byte from the fifo) but before it wrote
    /// the record: the container runs, so `state` says running (the init no longer holds the fifo) and another `start`
    /// is refused instead of waiting for ever on a fifo nobody will write.</summary>
    [Fact]
    public void A_start_cut_off_after_the_release_leaves_a_running_container()
    {
        var root = Path.Combine(_f.Root.Path, "cutstart-state");
        var output = Path.Combine(_f.Root.Path, "cutstart.out");
        var prefix = $"{RuntimeBinary} --root {root}";
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "echo started; exec sleep 60" });
        try
        {
            Shell.Run("/bin/sh", $"-c \"exec {prefix} create --bundle {b.Bundle} {b.Id} </dev/null >{output} 2>&1\"");
            Assert.Equal("created", StatusOf(prefix, b.Id));
            // What `start` does before it records anything: the byte read from the fifo, and no more.
            using (var fifo = new FileStream(new ContainerStateDir(root, b.Id).ExecFifo, FileMode.Open, FileAccess.Read))
                Assert.Equal('0', (char)fifo.ReadByte());
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!File.ReadAllText(output).Contains("started") && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.Equal("started\n", File.ReadAllText(output));
            Assert.Equal("running", StatusOf(prefix, b.Id));
            var again = Assert.Throws<InvalidOperationException>(() => Shell.Run("/bin/sh", $"-c \"exec {prefix} start {b.Id}\"", timeoutMs: 20_000));
            Assert.Contains("is not in the created state", again.Message);
        }
        finally { Shell.Run("/bin/sh", $"-c \"exec {prefix} delete --force {b.Id}\"", check: false); }
    }

    /// <summary>Without no_new_privs the filter is loaded before the credentials change; the check that the working
    /// directory is inside the root (getcwd) now comes before it, so a profile that forbids getcwd still starts.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_profile_that_forbids_getcwd_still_starts_the_container(bool noNewPrivileges)
    {
        const string profile = """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ERRNO"}]}""";
        string[] command = { "/bin/sh", "-c", "realpath . || echo getcwd-refused; echo started" };
        void Edit(OciSpec s)
        {
            s.Process!.NoNewPrivileges = noNewPrivileges;
            s.Linux!.Seccomp = Core.Security.SeccompProfile.Parse(profile);
        }
        var ours = RunWith("builtin", Ours("runtime"), command, "", Edit);
        Assert.Equal((0, "getcwd-refused\nstarted\n"), (ours.Code, ours.Stdout));
        // runc 1.1 starts such a container only with no_new_privs (without, it fails to start it at all).
        if (!noNewPrivileges) return;
        var theirs = RunWith("runc", new[] { Runc }, command, "", Edit);
        Assert.Equal((theirs.Code, theirs.Stdout), (ours.Code, ours.Stdout));
    }

    /// <summary>With rootfsPropagation shared the container's root is a shared mount: a bind of it follows the mounts
    /// made under the root afterwards (pivot_root refuses a shared root, so it is made shared once in place).</summary>
    [Theory]
    [InlineData("shared", "mounted\nf\n")]
    [InlineData("slave", "mounted\n")]
    [InlineData("private", "mounted\n")]
    public void The_root_propagation_decides_whether_a_bind_of_the_root_sees_later_mounts(string propagation, string seen)
    {
        string[] command = { "/bin/sh", "-c",
            "d=/tmp/prop-$$; mkdir -p $d/t $d/m $d/s && touch $d/s/f && mount --bind / $d/t && mount --bind $d/s $d/m && echo mounted; " +
            "ls $d/t$d/m; umount $d/m; umount $d/t; rm -rf $d" };
        void Edit(OciSpec s)
        {
            s.Linux!.RootfsPropagation = propagation;
            s.Linux.Seccomp = null; // the default profile allows mount only to a container that had CAP_SYS_ADMIN when it was made
            foreach (var set in new[] { s.Process!.Capabilities!.Bounding, s.Process.Capabilities.Effective, s.Process.Capabilities.Permitted })
                set!.Add("CAP_SYS_ADMIN");
        }
        var ours = RunWith("builtin", Ours("runtime"), command, "", Edit);
        Assert.True((0, seen) == (ours.Code, ours.Stdout), ours.Stderr);
        // Under runc 1.1.5 a bind of a shared root does not follow later mounts: only ours is judged there.
        if (propagation == "shared") return;
        var theirs = RunWith("runc", new[] { Runc }, command, "", Edit);
        Assert.Equal((theirs.Code, theirs.Stdout), (ours.Code, ours.Stdout));
    }

    /// <summary>A spec without a mount namespace shares the caller's: the container is chrooted into its rootfs and no
    /// mount is made (it would land in the caller's table), the spec's mounts named in a warning.</summary>
    [Fact]
    public void Without_a_mount_namespace_the_container_shares_the_callers_and_is_chrooted()
    {
        var marker = "marker-" + Guid.NewGuid().ToString("N")[..8];
        var b = _f.Bundle(new[] { "/bin/sh", "-c", $"ls / | grep -x {marker}; ls /proc | wc -l" },
            edit: s => s.Linux!.Namespaces.RemoveAll(n => n.Type == "mount"));
        var rootfs = Path.Combine(_f.Root.Path, "rootfs-" + b.Id);
        Shell.Run("cp", $"-a {_f.Rootfs} {rootfs}");
        File.WriteAllText(Path.Combine(rootfs, marker), "");
        var spec = SpecBuilder.ReadBundle(b.Bundle);
        spec.Root!.Path = rootfs;
        SpecBuilder.WriteBundle(b.Bundle, spec);
        var root = Path.Combine(_f.Root.Path, "shared-mnt-state");
        var prefix = $"{RuntimeBinary} --root {root}";
        var mountsBefore = File.ReadAllLines("/proc/self/mountinfo").Length;
        try
        {
            var create = new ProcessStartInfo("/bin/sh", $"-c \"exec {prefix} create --bundle {b.Bundle} {b.Id} </dev/null >{rootfs}.out 2>{rootfs}.err\"");
            using (var p = Process.Start(create)!) { p.WaitForExit(); Assert.Equal(0, p.ExitCode); }
            Assert.Contains($"warning: container {b.Id} shares the caller's mount namespace", File.ReadAllText(rootfs + ".err"));
            var pid = JsonDocument.Parse(Shell.Run("/bin/sh", $"-c \"exec {prefix} state {b.Id}\"")).RootElement.GetProperty("pid").GetInt32();
            Assert.Equal(Namespace("self", "mnt"), Namespace(pid.ToString(), "mnt"));
            Assert.NotEqual(Namespace("self", "pid"), Namespace(pid.ToString(), "pid"));
            Assert.Equal(mountsBefore, File.ReadAllLines("/proc/self/mountinfo").Length);
            Shell.Run("/bin/sh", $"-c \"exec {prefix} start {b.Id}\"", timeoutMs: 30_000);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (StatusOf(prefix, b.Id) != "stopped" && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.Equal(marker + "\n0\n", File.ReadAllText(rootfs + ".out")); // its root is the rootfs, with no /proc mounted
        }
        finally
        {
            Shell.Run("/bin/sh", $"-c \"exec {prefix} delete --force {b.Id}\"", check: false);
            Directory.Delete(rootfs, true);
        }
    }

    /// <summary>A mount namespace given by path is joined and the root set up there, as runc does.</summary>
    [Fact]
    public void A_mount_namespace_given_by_path_is_joined()
    {
        using var holder = Process.Start(new ProcessStartInfo("unshare", "--mount --propagation private sleep 120") { RedirectStandardInput = true })!;
        try
        {
            // unshare execs sleep once the namespace is made: its pid keeps, its mount namespace changes.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (File.ReadAllText($"/proc/{holder.Id}/comm").Trim() != "sleep" && DateTime.UtcNow < deadline) Thread.Sleep(20);
            var holderNs = Namespace(holder.Id.ToString(), "mnt");
            Assert.NotEqual(Namespace("self", "mnt"), holderNs);
            var path = $"/proc/{holder.Id}/ns/mnt";
            var b = _f.Bundle(new[] { "/bin/sh", "-c", "cat /proc/self/uid_map >/dev/null && readlink /proc/self/ns/mnt" }, edit: s =>
            {
                s.Linux!.Namespaces.RemoveAll(n => n.Type == "mount");
                s.Linux.Namespaces.Add(new OciNamespace { Type = "mount", Path = path });
            });
            Assert.Equal(holderNs + "\n", CreateStartToEnd(new[] { RuntimeBinary }, b, "joined-mnt-state"));
        }
        finally { holder.Kill(); holder.WaitForExit(); }
    }
}
