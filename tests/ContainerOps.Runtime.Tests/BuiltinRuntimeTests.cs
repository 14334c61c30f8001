using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Tests;

/// <summary>Real containers under the built-in runtime (root). Each asserts what a process inside observes.</summary>
[Collection("kernel")]
public sealed class BuiltinRuntimeTests : IClassFixture<RuntimeFixture>
{
    private readonly RuntimeFixture _f;
    public BuiltinRuntimeTests(RuntimeFixture f) => _f = f;

    private Task<(RuntimeStatus Status, string Stdout, string Stderr)> Sh(string script, HostConfig? hc = null, string? user = null, string? workingDir = null) =>
        _f.RunToEnd(_f.Bundle(new[] { "/bin/sh", "-c", script }, hc, user, workingDir));

    [Fact]
    public async Task Output_goes_to_the_log_by_stream_and_the_exit_code_is_kept()
    {
        var (status, stdout, stderr) = await Sh("echo out; echo err >&2; exit 3");
        Assert.Equal(RuntimeState.Exited, status.State);
        Assert.Equal(3, status.ExitCode);
        Assert.Equal("out\n", stdout);
        Assert.Equal("err\n", stderr);
        Assert.NotNull(status.FinishedAt);
    }

    [Fact]
    public async Task Pid_uts_ipc_mount_and_net_namespaces_are_private()
    {
        var hostIpc = File.ReadAllText("/proc/sysvipc/shm").Split('\n').Length;
        var (status, stdout, _) = await Sh("echo pid=$$; hostname; ls /proc | grep -c '^[0-9]'; cat /proc/net/dev | grep -c ':'; ip link 2>/dev/null | head -1; cat /proc/sysvipc/shm | wc -l; cat /proc/self/mountinfo | wc -l");
        Assert.Equal(0, status.ExitCode);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("pid=1", lines[0]);
        Assert.StartsWith("box-", lines[1]);
        Assert.True(int.Parse(lines[2]) <= 3, "only the container's processes are visible: " + lines[2]);
        Assert.Equal("1", lines[3]); // only lo
        Assert.True(int.Parse(lines[^1]) < 40, "the container sees its own mount table");
        _ = hostIpc;
    }

    [Fact]
    public async Task A_namespace_path_of_another_kind_is_refused_and_one_of_the_right_kind_is_joined()
    {
        static void JoinNet(OciSpec s, string path) =>
            s.Linux!.Namespaces = s.Linux.Namespaces.Where(n => n.Type != "network").Append(new OciNamespace { Type = "network", Path = path }).ToList();
        var wrong = _f.Bundle(new[] { "/bin/true" }, edit: s => JoinNet(s, "/proc/self/ns/uts"));
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(wrong)));
        Assert.Contains("not a namespace of that kind", e.Message);
        Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(wrong.Id).State);

        var ours = $"/proc/{Environment.ProcessId}/ns/net";
        var joined = _f.Bundle(new[] { "/bin/sh", "-c", "readlink /proc/self/ns/net" }, edit: s => JoinNet(s, ours));
        var (status, stdout, _) = await _f.RunToEnd(joined);
        Assert.Equal(0, status.ExitCode);
        Assert.Equal(new FileInfo(ours).LinkTarget, stdout.Trim());
    }

    [Fact]
    public async Task Loopback_is_up_in_a_new_network_namespace()
    {
        var (status, stdout, _) = await Sh("cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags");
        Assert.Equal(0, status.ExitCode);
        var flags = Convert.ToInt32(stdout.Split('\n')[1].Trim(), 16);
        Assert.Equal(1, flags & 1); // IFF_UP
    }

    [Fact]
    public async Task Host_network_shares_the_hosts_interfaces()
    {
        var hostLinks = Directory.GetFileSystemEntries("/sys/class/net").Length;
        var (status, stdout, _) = await Sh("ls /sys/class/net | wc -l", new HostConfig { NetworkMode = "host" });
        Assert.Equal(0, status.ExitCode);
        Assert.Equal(hostLinks, int.Parse(stdout.Trim()));
    }

    [Fact]
    public async Task Default_capabilities_are_dockers_and_can_be_changed()
    {
        var (_, stdout, _) = await Sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status");
        Assert.Contains("CapEff:\t00000000a80425fb", stdout);
        Assert.Contains("CapBnd:\t00000000a80425fb", stdout);

        var (_, dropped, _) = await Sh("grep CapEff /proc/self/status; chown 1 /tmp 2>&1; echo rc=$?", new HostConfig { CapDrop = { "CHOWN" } });
        Assert.Contains("CapEff:\t00000000a80425fa", dropped);
        Assert.Contains("rc=1", dropped);

        var (_, privileged, _) = await Sh("grep CapEff /proc/self/status", new HostConfig { Privileged = true });
        var hostBounding = File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapBnd:", StringComparison.Ordinal))[7..].Trim();
        Assert.Contains("CapEff:\t" + hostBounding, privileged);
    }

    [Fact]
    public async Task Masked_and_readonly_paths_and_no_new_privs()
    {
        var (_, stdout, stderr) = await Sh("cat /proc/timer_list /proc/keys | wc -c; ls /sys/firmware | wc -l; echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; echo w=$?; touch /sys/x 2>/dev/null; echo s=$?; grep NoNewPrivs /proc/self/status",
            new HostConfig { SecurityOpt = { "no-new-privileges" } });
        var lines = stdout.Split('\n');
        Assert.True(lines.Length > 4, "output: " + stdout);
        Assert.True(lines[0].Trim() == "0" && lines[1].Trim() == "0", "output: " + stdout + stderr);
        Assert.Equal("w=1", lines[2]);
        Assert.Equal("s=1", lines[3]);
        Assert.Contains("NoNewPrivs:\t1", stdout);
    }

    [Fact]
    public async Task Dev_is_minimal()
    {
        var (status, stdout, _) = await Sh("ls /dev | sort | tr '\\n' ' '; echo; echo x > /dev/null && head -c 4 /dev/zero | wc -c");
        Assert.Equal(0, status.ExitCode);
        foreach (var d in new[] { "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd", "stdin", "stdout", "stderr", "mqueue" })
            Assert.Contains(d + " ", stdout);
        Assert.DoesNotContain("sda", stdout);
        Assert.Equal("4", stdout.Split('\n')[1].Trim());
    }

    [Fact]
    public async Task User_switching_by_number()
    {
        var (status, stdout, _) = await Sh("id -u; id -g; touch /root-owned 2>/dev/null; echo rc=$?", user: "1000:1000");
        Assert.Equal(0, status.ExitCode);
        Assert.Equal("1000\n1000\nrc=1\n", stdout);
    }

    [Fact]
    public async Task Working_directory_is_used_and_created_when_missing()
    {
        var (_, stdout, _) = await Sh("pwd", workingDir: "/tmp");
        Assert.Equal("/tmp\n", stdout);
        // As with Docker, a missing working directory is created inside the root.
        var (_, created, _) = await Sh("pwd", workingDir: "/new/work/dir");
        Assert.Equal("/new/work/dir\n", created);
        Assert.True(Directory.Exists(Path.Combine(_f.Rootfs, "new/work/dir")));
        Directory.Delete(Path.Combine(_f.Rootfs, "new"), true);
    }

    [Fact]
    public async Task Working_directory_through_a_symlink_stays_inside_the_root()
    {
        using var rootfs = new TestSupport.TempDir("co-rt-escape");
        TestSupport.Busybox.CreateRootfs(rootfs.Path);
        var outside = Path.Combine(Path.GetTempPath(), "co-outside-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(outside);
        try
        {
            File.CreateSymbolicLink(Path.Combine(rootfs.Path, "escape"), outside);
            // The link resolves inside the new root, where its target does not exist: the start fails, nothing lands outside.
            Directory.CreateDirectory(Path.Combine(outside, "sub"));
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.RunToEnd(_f.Bundle(new[] { "/bin/sh", "-c", "pwd; touch marker" }, workingDir: "/escape/sub", rootfs: rootfs.Path)));
            Assert.Equal("WorkingDir", e.Error.Field);
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(outside, "sub")));
        }
        finally { Directory.Delete(outside, true); }
    }

    [Fact]
    public async Task Readonly_rootfs_refuses_writes()
    {
        var (_, stdout, _) = await Sh("touch /bin/x 2>/dev/null; echo rc=$?; touch /dev/shm/ok; echo shm=$?", new HostConfig { ReadonlyRootfs = true });
        Assert.Contains("rc=1", stdout);
        Assert.Contains("shm=0", stdout);
    }

    [Fact]
    public async Task Poststart_and_poststop_hooks_get_the_state_on_stdin()
    {
        var dir = Path.Combine(_f.Root.Path, "hooks-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        OciHook Writes(string file) => new() { Path = "/bin/sh", Args = ["sh", "-c", $"cat > {dir}/{file}"], Timeout = 10 };
        var b = _f.Bundle(new[] { "/bin/sleep", "30" }, edit: s => s.Hooks = new OciHooks
        {
            Poststart = [Writes("poststart"), new OciHook { Path = "/bin/false" }, Writes("poststart-after-a-failure")],
            Poststop = [Writes("poststop")],
        });
        var started = await _f.Runtime.RunAsync(_f.Options(b));
        var poststart = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "poststart"))).RootElement;
        Assert.Equal((b.Id, "running", started.Pid), (poststart.GetProperty("id").GetString(), poststart.GetProperty("status").GetString(), poststart.GetProperty("pid").GetInt32()));
        Assert.True(File.Exists(Path.Combine(dir, "poststart-after-a-failure")), "a failing hook stopped the ones after it");
        Assert.False(File.Exists(Path.Combine(dir, "poststop")));
        await _f.Runtime.DeleteAsync(b.Id, force: true);
        var poststop = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "poststop"))).RootElement;
        Assert.Equal("stopped", poststop.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Setup_hooks_run_in_order_where_the_spec_says_with_the_state_on_stdin()
    {
        var dir = Path.Combine(_f.Root.Path, "setup-hooks-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        // Each hook appends its name, whose root it sees (the host's has the test's directory) and the state on stdin.
        OciHook Records(string name, string log) => new()
        {
            Path = "/bin/sh", Timeout = 10,
            Args = ["sh", "-c", $"state=$(cat); root=container; [ -d {dir} ] && root=host; echo \"{name} $root $state\" >> {log}"],
        };
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "echo process >> /hooklog/log" }, edit: s =>
        {
            s.Hooks = new OciHooks
            {
                Prestart = [Records("prestart", $"{dir}/log")], CreateRuntime = [Records("createRuntime", $"{dir}/log")],
                CreateContainer = [Records("createContainer", $"{dir}/log")], StartContainer = [Records("startContainer", "/hooklog/log")],
            };
            s.Mounts.Add(new OciMount { Destination = "/hooklog", Type = "bind", Source = dir, Options = ["rbind", "rw"] });
            s.Annotations = new() { ["org.example/test"] = "hooks" };
        });
        var created = _f.Runtime.Create(_f.Options(b));
        try
        {
            var lines = File.ReadAllLines(Path.Combine(dir, "log"));
            Assert.Equal(["prestart host", "createRuntime host", "createContainer host"], lines.Select(l => string.Join(' ', l.Split(' ').Take(2))));
            var state = System.Text.Json.JsonDocument.Parse(lines[0][lines[0].IndexOf('{')..]).RootElement;
            Assert.Equal((b.Id, created.Pid, "hooks", "created"), (state.GetProperty("id").GetString(), state.GetProperty("pid").GetInt32(),
                state.GetProperty("annotations").GetProperty("org.example/test").GetString(), state.GetProperty("status").GetString()));
            Assert.Equal(Path.GetFullPath(b.Bundle), state.GetProperty("bundle").GetString());
            Assert.Equal(created.Pid, System.Text.Json.JsonDocument.Parse(lines[2][lines[2].IndexOf('{')..]).RootElement.GetProperty("pid").GetInt32());

            _f.Runtime.Start(b.Id);
            for (var i = 0; i < 100 && File.ReadAllLines(Path.Combine(dir, "log")).Length < 5; i++) await Task.Delay(50);
            lines = File.ReadAllLines(Path.Combine(dir, "log"));
            Assert.StartsWith("startContainer container ", lines[3]);
            Assert.Equal(created.Pid, System.Text.Json.JsonDocument.Parse(lines[3][lines[3].IndexOf('{')..]).RootElement.GetProperty("pid").GetInt32());
            Assert.Equal("process", lines[4]);
        }
        finally { await _f.Runtime.DeleteAsync(b.Id, force: true); }
    }

    [Fact]
    public async Task A_failing_setup_hook_fails_the_create_and_leaves_nothing()
    {
        var dir = Path.Combine(_f.Root.Path, "failing-hook-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        foreach (var phase in new[] { "prestart", "createRuntime", "createContainer" })
        {
            var b = _f.Bundle(new[] { "/bin/sleep", "30" }, edit: s =>
            {
                var failing = new List<OciHook> { new() { Path = "/bin/sh", Args = ["sh", "-c", "echo no way; exit 3"] } };
                s.Hooks = phase switch
                {
                    "prestart" => new OciHooks { Prestart = failing },
                    "createRuntime" => new OciHooks { CreateRuntime = failing },
                    _ => new OciHooks { CreateContainer = failing },
                };
                s.Hooks.Poststart = [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", $"touch {dir}/{phase}"] }];
            });
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(b)));
            Assert.Contains($"{phase} /bin/sh: exited 3: no way", e.Message);
            Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(b.Id).State);
            Assert.False(File.Exists(Path.Combine(dir, phase)), "the container did not start");
        }
        var slow = _f.Bundle(new[] { "/bin/true" }, edit: s => s.Hooks = new OciHooks { CreateRuntime = [new() { Path = "/bin/sleep", Args = ["sleep", "30"], Timeout = 1 }] });
        var timedOut = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(slow)));
        Assert.Contains("did not end within 1 s", timedOut.Message);
        var relative = _f.Bundle(new[] { "/bin/true" }, edit: s => s.Hooks = new OciHooks { Prestart = [new() { Path = "sh" }] });
        Assert.Contains("a hook's path must be absolute", (await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(relative)))).Message);
        var noTime = _f.Bundle(new[] { "/bin/true" }, edit: s => s.Hooks = new OciHooks { CreateContainer = [new() { Path = "/bin/true", Timeout = 0 }] });
        var refused = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(noTime)));
        Assert.Equal(("InvalidHook", "hooks.createContainer[0].timeout"), (refused.Error.Id, refused.Error.Field));
    }

    [Fact]
    public async Task The_memory_settings_of_the_spec_reach_the_cgroup()
    {
        var b = _f.Bundle(new[] { "/bin/sleep", "30" }, edit: s => (s.Linux!.Resources ??= new()).Memory = new OciMemory
        {
            Limit = 256 << 20, Reservation = 64 << 20, Swappiness = 10, DisableOomKiller = true, KernelTcp = 8 << 20,
        });
        if (!Directory.Exists("/sys/fs/cgroup/memory"))
        {
            // cgroup v2 has no per-group swappiness, OOM-killer switch or TCP buffer limit: refused, not dropped.
            var refused = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(b)));
            Assert.Equal("CgroupSettingUnsupported", refused.Error.Id);
            return;
        }
        await _f.Runtime.RunAsync(_f.Options(b));
        try
        {
            string Read(string file) => File.ReadAllText($"/sys/fs/cgroup/memory/{_f.CgroupParent}/{b.Id}/{file}").Trim();
            Assert.Equal((64L << 20).ToString(), Read("memory.soft_limit_in_bytes"));
            Assert.Equal("10", Read("memory.swappiness"));
            Assert.Contains("oom_kill_disable 1", Read("memory.oom_control"));
            Assert.Equal((8L << 20).ToString(), Read("memory.kmem.tcp.limit_in_bytes"));
        }
        finally { await _f.Runtime.DeleteAsync(b.Id, force: true); }
    }

    [Theory]
    [InlineData("unbindable")]
    [InlineData("runbindable")]
    public async Task An_unbindable_rootfs_propagation_makes_the_containers_root_unbindable(string propagation)
    {
        // The rootfs, the masked and the read-only paths are bind mounts, which an unbindable tree refuses: runc 1.1
        // fails here with EINVAL; the propagation is applied once they are made, as crun does.
        var (status, stdout, stderr) = await _f.RunToEnd(_f.Bundle(new[] { "/bin/sh", "-c", "head -1 /proc/self/mountinfo; cat /proc/keys" },
            edit: s => s.Linux!.RootfsPropagation = propagation));
        Assert.True(status.ExitCode == 0, stderr);
        Assert.Contains(" unbindable ", stdout);
    }

    [Theory]
    [InlineData("ociVersion", "InvalidOciVersion", "ociVersion")]
    [InlineData("2.0.0", "InvalidOciVersion", "ociVersion")]
    [InlineData("capability", "UnknownCapability", "process.capabilities.bounding[1]")]
    public async Task A_bundle_the_spec_does_not_allow_is_refused_by_field_and_leaves_nothing(string change, string error, string field)
    {
        var b = _f.Bundle(new[] { "/bin/true" }, edit: s =>
        {
            if (change == "capability") s.Process!.Capabilities!.Bounding = ["CAP_CHOWN", "CAP_NO_SUCH_THING"];
            else s.OciVersion = change;
        });
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(b)));
        Assert.Equal((error, field), (e.Error.Id, e.Error.Field));
        Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(b.Id).State);
        Assert.False(Directory.Exists(Path.Combine(_f.Root.Path, "state", b.Id)));
        Assert.False(_f.Runtime.Cgroups.Exists($"/{_f.CgroupParent}/{b.Id}"));
    }

    [Fact]
    public async Task Missing_command_is_127_and_leaves_nothing()
    {
        var b = _f.Bundle(new[] { "/bin/no-such-command" });
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(b)));
        Assert.Equal(127, e.CliExitCode);
        Assert.Contains("no-such-command", e.Message);
        Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(b.Id).State);
        Assert.False(Directory.Exists(Path.Combine(_f.Root.Path, "state", b.Id)));
        Assert.False(_f.Runtime.Cgroups.Exists($"/{_f.CgroupParent}/{b.Id}"));

        var notExecutable = _f.Bundle(new[] { "/etc" });
        var e2 = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(notExecutable)));
        Assert.Equal(126, e2.CliExitCode);
    }

    [Fact]
    public async Task Memory_limit_kills_with_oom_reported()
    {
        var (status, _, _) = await Sh("x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done", new HostConfig { Memory = 8 << 20, MemorySwap = 8 << 20 });
        Assert.Equal(137, status.ExitCode);
        Assert.True(status.OomKilled);
    }

    [Fact]
    public async Task Pids_limit_stops_forks()
    {
        var (_, stdout, stderr) = await Sh("i=0; while [ $i -lt 12 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo started", new HostConfig { PidsLimit = 5 });
        Assert.Contains("can't fork", stdout + stderr);
    }

    [Fact]
    public async Task Cgroup_limits_are_written()
    {
        var b = _f.Bundle(new[] { "/bin/sleep", "30" }, new HostConfig { Memory = 64 << 20, NanoCpus = 500_000_000, CpuShares = 512, PidsLimit = 50, CpusetCpus = "0" });
        await _f.Runtime.RunAsync(_f.Options(b));
        try
        {
            var stats = _f.Runtime.ReadStats(b.Id);
            Assert.Equal(64L << 20, stats.MemoryLimit);
            Assert.Equal(50, stats.PidsLimit);
            Assert.Equal(1, stats.Pids);
            var path = $"/{_f.CgroupParent}/{b.Id}";
            if (_f.Runtime.Cgroups.Version == 1)
            {
                Assert.Equal("50000", File.ReadAllText($"/sys/fs/cgroup/cpu{path}/cpu.cfs_quota_us").Trim());
                Assert.Equal("512", File.ReadAllText($"/sys/fs/cgroup/cpu{path}/cpu.shares").Trim());
                Assert.Equal("0", File.ReadAllText($"/sys/fs/cgroup/cpuset{path}/cpuset.cpus").Trim());
            }
            Assert.Single(_f.Runtime.ListPids(b.Id));
        }
        finally { await _f.Runtime.DeleteAsync(b.Id, force: true); }
    }

    [Fact]
    public async Task Exec_joins_the_container_and_passes_the_exit_code()
    {
        var b = _f.Bundle(new[] { "/bin/sleep", "60" });
        await _f.Runtime.RunAsync(_f.Options(b));
        try
        {
            using var p = _f.Runtime.Exec(b.Id, new ExecOptions { Args = new[] { "/bin/sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; id -u; echo oops >&2; exit 7" }, Uid = 1000, Gid = 1000 });
            p.Stdin!.Dispose();
            var stdout = await new StreamReader(p.Stdout!).ReadToEndAsync();
            var stderr = await new StreamReader(p.Stderr!).ReadToEndAsync();
            Assert.Equal(7, await p.WaitForExitAsync());
            Assert.Equal($"box-{b.Id[..6]}\n/bin/sleep 60 \n1000\n", stdout);
            Assert.Equal("oops\n", stderr);
            Assert.Single(_f.Runtime.ListPids(b.Id));

            using var missing = _f.Runtime.Exec(b.Id, new ExecOptions { Args = new[] { "nope" } });
            missing.Stdin!.Dispose();
            Assert.Equal(127, await missing.WaitForExitAsync());
        }
        finally { await _f.Runtime.DeleteAsync(b.Id, force: true); }
    }

    [Fact]
    public async Task Exec_with_a_terminal()
    {
        var b = _f.Bundle(new[] { "/bin/sleep", "60" });
        await _f.Runtime.RunAsync(_f.Options(b));
        try
        {
            // The size asked for at the start is in place before the process runs; a resize later reaches it at once.
            using var p = _f.Runtime.Exec(b.Id, new ExecOptions
            {
                Args = new[] { "/bin/sh", "-c", "stty size; tty; read line; stty size; exit 4" }, Tty = true, ConsoleSize = (33, 101),
            });
            var output = new MemoryStream();
            var copy = p.Terminal!.CopyToAsync(output);
            string Text() { lock (output) return System.Text.Encoding.UTF8.GetString(output.ToArray()); }
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!Text().Contains("/dev/pts/") && DateTime.UtcNow < deadline) await Task.Delay(10);
            p.Resize(40, 120);
            await p.Terminal.WriteAsync("go\n"u8.ToArray());
            Assert.Equal(4, await p.WaitForExitAsync());
            await Task.WhenAny(copy, Task.Delay(10_000));
            var text = Text();
            Assert.Contains("33 101", text);
            Assert.Contains("40 120", text);
            // The pty comes from the container's own devpts, so the process can name its terminal.
            Assert.Contains("/dev/pts/0", text);
            Assert.DoesNotContain("not a tty", text);
        }
        finally { await _f.Runtime.DeleteAsync(b.Id, force: true); }
    }

    [Fact]
    public async Task Kill_pause_resume_and_delete()
    {
        var b = _f.Bundle(new[] { "/bin/sleep", "60" });
        var started = await _f.Runtime.RunAsync(_f.Options(b));
        Assert.Equal(RuntimeState.Running, started.State);
        Assert.True(started.Pid > 0);
        var refused = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.DeleteAsync(b.Id));
        Assert.Equal(ErrorKind.Conflict, refused.Error.Kind);

        _f.Runtime.Pause(b.Id);
        Assert.Equal(RuntimeState.Paused, _f.Runtime.GetStatus(b.Id).State);
        _f.Runtime.Resume(b.Id);
        Assert.Equal(RuntimeState.Running, _f.Runtime.GetStatus(b.Id).State);

        _f.Runtime.Kill(b.Id, 9);
        var status = await _f.Runtime.WaitAsync(b.Id);
        Assert.Equal(137, status.ExitCode);
        Assert.Equal(9, status.Signal);
        await _f.Runtime.DeleteAsync(b.Id);
        Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(b.Id).State);
    }

    [Fact]
    public async Task A_new_runtime_instance_finds_running_containers()
    {
        var b = _f.Bundle(new[] { "/bin/sleep", "60" });
        var started = await _f.Runtime.RunAsync(_f.Options(b));
        try
        {
            var fresh = new Builtin.BuiltinRuntime(new RuntimeContext { StateRoot = Path.Combine(_f.Root.Path, "state"), ShimPath = RuntimeFixture.ShimPath });
            var seen = fresh.GetStatus(b.Id);
            Assert.Equal(RuntimeState.Running, seen.State);
            Assert.Equal(started.Pid, seen.Pid);
            fresh.Kill(b.Id, 15);
            // pid 1 ignores SIGTERM without a handler: still running.
            await Task.Delay(100);
            Assert.Equal(RuntimeState.Running, fresh.GetStatus(b.Id).State);
        }
        finally { await _f.Runtime.DeleteAsync(b.Id, force: true); }
    }

    [Fact]
    public async Task Create_then_start_through_the_exec_fifo()
    {
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "echo started" });
        var created = _f.Runtime.Create(_f.Options(b));
        Assert.Equal(RuntimeState.Created, _f.Runtime.GetStatus(b.Id).State);
        Assert.Empty(RuntimeFixture.ReadLog(b.Log).Stdout);
        _f.Runtime.Start(b.Id);
        var status = await _f.Runtime.WaitAsync(b.Id);
        Assert.Equal(0, status.ExitCode);
        Assert.Equal("started\n", RuntimeFixture.ReadLog(b.Log).Stdout);
        Assert.True(created.Pid > 0);
        await _f.Runtime.DeleteAsync(b.Id);
    }
}

[CollectionDefinition("kernel", DisableParallelization = true)]
public sealed class KernelCollection { }
