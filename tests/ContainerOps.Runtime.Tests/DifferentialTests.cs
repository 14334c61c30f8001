using System.Diagnostics;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// The same bundle under the built-in runtime (through `containerops oci run` and the `containerops-runtime` binary)
/// and under runc (and crun where it can run on this host's cgroup layout) must show the same observable results.
/// </summary>
[Collection("kernel")]
public sealed partial class DifferentialTests : IClassFixture<RuntimeFixture>
{
    private readonly RuntimeFixture _f;
    public DifferentialTests(RuntimeFixture f) => _f = f;

    private const string Probe =
        "echo pid=$$; hostname; id; grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp:)' /proc/self/status; " +
        "pwd; ls /dev | grep -vE '^(console|core)$' | sort | tr '\\n' ' '; echo; cat /proc/timer_list /proc/keys | wc -c; ls /sys/firmware | wc -l; " +
        "touch /proc/sys/x 2>/dev/null; echo procsys=$?; cat /sys/class/net/lo/operstate; ulimit -n; " +
        "echo $PATH; echo HOME=$HOME; grep -c . /proc/self/mountinfo >/dev/null; exit 5";

    private static string Cli => Environment.GetEnvironmentVariable("CONTAINEROPS_CLI") is { Length: > 0 } p ? p : Path.Combine(RuntimeFixture.RepoRoot, "bin", "containerops");
    private static string RuntimeBinary => Path.Combine(RuntimeFixture.RepoRoot, "bin", "containerops-runtime");

    private static string[] Ours(string front) => front == "runtime" ? new[] { RuntimeBinary } : new[] { Cli, "oci" };

    private (int Code, string Output) RunWith(string runtime, string[] prefixArgs)
    {
        var (code, stdout, stderr) = RunWith(runtime, prefixArgs, new[] { "/bin/sh", "-c", Probe }, stdin: "");
        return (code, stdout + stderr);
    }

    private (int Code, string Stdout, string Stderr) RunWith(string runtime, string[] prefixArgs, string[] command, string stdin, Action<OciSpec>? edit = null)
    {
        var b = _f.Bundle(command, edit: s => { s.Process!.NoNewPrivileges = true; edit?.Invoke(s); });
        var root = Path.Combine(_f.Root.Path, runtime + "-state");
        var psi = new ProcessStartInfo(prefixArgs[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in prefixArgs.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var a in new[] { "--root", root, "run", "--bundle", b.Bundle, b.Id }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), runtime + " timed out");
        return (p.ExitCode, stdout.Result.Replace($"box-{b.Id[..6]}", "HOST"), stderr.Result);
    }

    [Theory]
    [InlineData("cli")]
    [InlineData("runtime")]
    public void In_the_foreground_the_container_has_the_callers_stdin_stdout_and_stderr_as_under_runc(string front)
    {
        var runc = Builtin.ExternalRuntime.Find("runc") ?? throw new InvalidOperationException("runc is not installed (./build.sh deps test installs it)");
        string[] command = { "/bin/sh", "-c", "read first; echo \"got $first\"; cat; echo to-stderr >&2; exit 3" };
        const string input = "line one\nline two\nline three\n";
        var theirs = RunWith("runc", new[] { runc }, command, input);
        var ours = RunWith("builtin", Ours(front), command, input);
        Assert.Equal((3, "got line one\nline two\nline three\n", "to-stderr\n"), theirs);
        Assert.Equal(theirs, ours);
    }

    [Theory]
    [InlineData("cli")]
    [InlineData("runtime")]
    public void Builtin_and_runc_show_the_same_container(string front)
    {
        var ourCommand = Ours(front);
        Assert.True(File.Exists(ourCommand[0]), $"{ourCommand[0]} is missing: ./build.sh build");
        var runc = Builtin.ExternalRuntime.Find("runc") ?? throw new InvalidOperationException("runc is not installed (./build.sh deps test installs it)");
        var ours = RunWith("builtin", ourCommand);
        var theirs = RunWith("runc", new[] { runc });
        Assert.True(theirs.Code == 5, "runc: " + theirs.Output);
        Assert.Equal(theirs.Code, ours.Code);
        Assert.Equal(theirs.Output, ours.Output);
    }

    [Theory]
    [InlineData("cli")]
    [InlineData("runtime")]
    public void A_signal_to_a_foreground_run_reaches_the_container_as_under_runc(string front)
    {
        var runc = Builtin.ExternalRuntime.Find("runc") ?? throw new InvalidOperationException("runc is not installed (./build.sh deps test installs it)");
        (int, string) Interrupted(string runtime, string[] prefixArgs)
        {
            var b = _f.Bundle(new[] { "/bin/sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done" });
            var psi = new ProcessStartInfo(prefixArgs[0]) { RedirectStandardOutput = true, RedirectStandardInput = true };
            foreach (var a in prefixArgs.Skip(1)) psi.ArgumentList.Add(a);
            foreach (var a in new[] { "--root", Path.Combine(_f.Root.Path, runtime + "-signal-state"), "run", "--bundle", b.Bundle, b.Id }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            try
            {
                Assert.Equal("ready", p.StandardOutput.ReadLine());
                Shell.Run("kill", $"-TERM {p.Id}");
                var rest = p.StandardOutput.ReadToEndAsync();
                Assert.True(p.WaitForExit(10_000), runtime + " did not end after SIGTERM");
                return (p.ExitCode, rest.Result);
            }
            finally { if (!p.HasExited) p.Kill(); }
        }
        var theirs = Interrupted("runc", new[] { runc });
        Assert.Equal((7, "got TERM\n"), theirs);
        Assert.Equal(theirs, Interrupted("builtin", Ours(front)));
        // Nothing is left of it: the run deleted the container after its exit.
        Assert.DoesNotContain(Directory.GetDirectories(Path.Combine(_f.Root.Path, "builtin-signal-state")), d => Path.GetFileName(d) is not ("s" or ".seccomp"));
    }

    /// <summary>Conditions on one argument are alternatives, on distinct arguments all must hold (as runc compiles them).</summary>
    private const string OwnProfile = """
        {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[
          {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
          {"names":["keyctl"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
          {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,"args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"},{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
          {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":262144,"op":"SCMP_CMP_MASKED_EQ","valueTwo":262144}]},
          {"names":["unshare"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":268435456,"op":"SCMP_CMP_EQ"},{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}
        """;

    [Theory]
    [InlineData("runtime", true, false)]
    [InlineData("runtime", false, false)]
    [InlineData("cli", false, false)]
    [InlineData("runtime", true, true)]
    [InlineData("runtime", false, true)]
    public void The_same_seccomp_section_filters_the_same_calls_as_under_runc(string front, bool noNewPrivileges, bool ownProfile)
    {
        var runc = Builtin.ExternalRuntime.Find("runc") ?? throw new InvalidOperationException("runc is not installed (./build.sh deps test installs it)");
        SeccompProbe.Install(_f.Rootfs);
        string[] command = { "/bin/sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; rmdir /tmp/scprobe-dir 2>/dev/null; " + SeccompProbe.Command };
        void Edit(OciSpec s)
        {
            s.Process!.NoNewPrivileges = noNewPrivileges;
            if (ownProfile) s.Linux!.Seccomp = Core.Security.SeccompProfile.Parse(OwnProfile);
        }
        var theirs = RunWith("runc", new[] { runc }, command, "", Edit);
        var ours = RunWith("builtin", Ours(front), command, "", Edit);
        Assert.True(theirs.Code == 0, "runc: " + theirs.Stderr);
        Assert.Contains("Seccomp:\t2", theirs.Stdout);
        Assert.Contains(ownProfile ? "keyctl=EACCES" : "keyctl=EPERM", theirs.Stdout);
        Assert.Equal(theirs, ours);
    }

    /// <summary>Signals sent at random moments of a foreground run, from its first milliseconds on: each run ends (by
    /// the container's trap, by the signal before the trap is set, or before anything was made) and leaves no container.
    /// The seed is in the failure message so a failing round replays.</summary>
    [Theory]
    [InlineData("cli")]
    [InlineData("runtime")]
    public void A_signal_at_any_moment_of_a_foreground_run_ends_it_and_leaves_no_container(string front)
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var root = Path.Combine(_f.Root.Path, "builtin-signal-any-" + front);
        var ours = Ours(front);
        for (var round = 0; round < 15; round++)
        {
            // In the host's pid namespace, so the shell is not an init that the kernel shields from a signal it has no
            // handler for yet: a signal that reaches it ends it, trap set or not. No child processes: nothing outlives it.
            var b = _f.Bundle(new[] { "/bin/sh", "-c", "trap 'exit 7' TERM; while :; do :; done" },
                edit: s => s.Linux!.Namespaces.RemoveAll(n => n.Type == "pid"));
            var psi = new ProcessStartInfo(ours[0]) { RedirectStandardOutput = true, RedirectStandardInput = true };
            foreach (var a in ours.Skip(1)) psi.ArgumentList.Add(a);
            foreach (var a in new[] { "--root", root, "run", "--bundle", b.Bundle, b.Id }) psi.ArgumentList.Add(a);
            var delay = random.Next(0, 80);
            using var p = Process.Start(psi)!;
            try
            {
                Thread.Sleep(delay);
                Shell.Run("kill", $"-TERM {p.Id}");
                var what = $"seed {seed}, round {round}, SIGTERM after {delay} ms";
                Assert.True(p.WaitForExit(10_000), $"{what}: the run did not end");
                Assert.True(p.ExitCode is 7 or 143, $"{what}: exit code {p.ExitCode}");
                var left = Directory.Exists(root) ? Directory.GetDirectories(root).Where(d => Path.GetFileName(d) is not ("s" or ".seccomp")).ToList() : new();
                Assert.True(left.Count == 0, $"{what}: left {string.Join(", ", left)}");
            }
            finally { if (!p.HasExited) p.Kill(); }
        }
    }

    // crun 1.8 refuses a hybrid cgroup layout whose unified hierarchy holds a controller. Without that mount, in a
    // private mount namespace, it runs as on a v1-only host; both runtimes are then compared there.
    private static readonly string[] WithoutUnifiedMount =
        { "unshare", "-m", "--propagation", "private", "sh", "-c", "umount /sys/fs/cgroup/unified 2>/dev/null; exec \"$@\"", "sh" };

    [Fact]
    public void Builtin_and_crun_show_the_same_container()
    {
        var crun = Builtin.ExternalRuntime.Find("crun");
        if (crun is null) return; // crun is optional; runc covers the comparison
        var theirs = RunWith("crun", new[] { crun });
        var wrap = Array.Empty<string>();
        if (theirs.Code != 5 && theirs.Output.Contains("hybrid mode not supported"))
        {
            wrap = WithoutUnifiedMount;
            theirs = RunWith("crun", [.. wrap, crun]);
        }
        Assert.True(theirs.Code == 5, "crun: " + theirs.Output);
        var ours = RunWith("builtin", [.. wrap, RuntimeBinary]);
        Assert.Equal(theirs.Code, ours.Code);
        Assert.Equal(theirs.Output, ours.Output);
    }

    [Fact]
    public void Exec_gives_the_process_the_callers_stdio_and_its_exit_status_as_under_runc()
    {
        var runc = Builtin.ExternalRuntime.Find("runc") ?? throw new InvalidOperationException("runc is not installed (./build.sh deps test installs it)");
        Assert.True(File.Exists(RuntimeBinary), $"{RuntimeBinary} is missing: ./build.sh build");
        (int Code, string Output) Exec(string binary, string root, params string[] args)
        {
            var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (var a in new[] { "--root", root, "exec" }.Concat(args)) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(30_000), binary + " exec timed out");
            return (p.ExitCode, stdout.Result + "|" + stderr.Result);
        }
        List<(int, string)> Walk(string name, string binary)
        {
            var b = _f.Bundle(new[] { "/bin/sleep", "60" });
            var root = Path.Combine(_f.Root.Path, name + "-exec-state");
            var processFile = Path.Combine(_f.Root.Path, name + "-process.json");
            File.WriteAllText(processFile, """{"args":["/bin/sh","-c","echo from-the-process-file $HOME; exit 6"],"env":["PATH=/bin","HOME=/home-of-exec"],"cwd":"/","user":{"uid":0,"gid":0}}""");
            try
            {
                Shell.Run("/bin/sh", $"-c \"exec {binary} --root {root} create --bundle {b.Bundle} {b.Id} </dev/null >/dev/null 2>&1\"");
                Shell.Run(binary, $"--root {root} start {b.Id}");
                return
                [
                    Exec(binary, root, "-e", "GREETING=hi", b.Id, "/bin/sh", "-c", "echo $GREETING; echo to-stderr >&2; exit 5"),
                    Exec(binary, root, "--process", processFile, b.Id),
                    Exec(binary, root, "--cwd", "/bin", b.Id, "/bin/sh", "-c", "pwd"),
                ];
            }
            finally { Shell.Run(binary, $"--root {root} delete --force {b.Id}", check: false); }
        }
        var theirs = Walk("runc", runc);
        Assert.Equal((5, "hi\n|to-stderr\n"), theirs[0]);
        Assert.Equal(theirs, Walk("builtin", RuntimeBinary));
    }

    [Fact]
    public void An_error_goes_to_the_log_file_a_caller_names_as_runc_writes_it()
    {
        var log = Path.Combine(_f.Root.Path, "runtime-errors.json");
        var root = Path.Combine(_f.Root.Path, "log-state");
        var psi = new ProcessStartInfo(RuntimeBinary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--root", root, "--log", log, "--log-format", "json", "start", "no-such-container" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(1, p.ExitCode);
        var record = System.Text.Json.JsonDocument.Parse(File.ReadAllLines(log).Single()).RootElement;
        Assert.Equal("error", record.GetProperty("level").GetString());
        Assert.Contains("no-such-container", record.GetProperty("msg").GetString());
        Assert.Contains(record.GetProperty("msg").GetString()!, stderr);
    }

    [Fact]
    public void Runtime_binary_walks_the_oci_lifecycle()
    {
        Assert.True(File.Exists(RuntimeBinary), $"{RuntimeBinary} is missing: ./build.sh build");
        var b = _f.Bundle(new[] { "/bin/sh", "-c", "echo out-$0; echo err-$0 >&2; exec sleep 60", "lifecycle" });
        var root = Path.Combine(_f.Root.Path, "lifecycle-state");
        var output = Path.Combine(_f.Root.Path, "lifecycle-output");
        string Runtime(string args, bool check = true) => Shell.Run(RuntimeBinary, $"--root {root} {args}", check: check);
        string Status() => System.Text.Json.JsonDocument.Parse(Runtime($"state {b.Id}")).RootElement.GetProperty("status").GetString()!;
        try
        {
            // Descriptors beyond stdio are not passed on: asking for them is refused, and nothing is created.
            var refused = Assert.Throws<InvalidOperationException>(() => Runtime($"create --preserve-fds 2 --bundle {b.Bundle} {b.Id}"));
            Assert.Contains("--preserve-fds 2 is not supported", refused.Message);
            Assert.Contains("does not exist", Assert.Throws<InvalidOperationException>(() => Runtime($"state {b.Id}")).Message);
            // `create` hands the container the caller's stdio, as runc's does: here a file, read after the start.
            Shell.Run("/bin/sh", $"-c \"exec {RuntimeBinary} --root {root} create --bundle {b.Bundle} {b.Id} </dev/null >{output} 2>&1\"");
            Assert.Equal("created", Status());
            Runtime($"start {b.Id}");
            Assert.Equal("running", Status());
            var deadline0 = DateTime.UtcNow.AddSeconds(10);
            while (!File.ReadAllText(output).Contains("err-lifecycle") && DateTime.UtcNow < deadline0) Thread.Sleep(20);
            Assert.Equal("out-lifecycle\nerr-lifecycle\n", File.ReadAllText(output));
            // No shim of ours stays as the container's parent: the caller's subreaper (here init) takes it.
            var pid = System.Text.Json.JsonDocument.Parse(Runtime($"state {b.Id}")).RootElement.GetProperty("pid").GetInt32();
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
            Assert.DoesNotContain("containerops-sh", File.ReadAllText($"/proc/{parent}/comm"));
            // list and ps as runc prints them.
            Assert.Equal(b.Id + "\n", Runtime("list -q"));
            var listed = System.Text.Json.JsonDocument.Parse(Runtime("list --format json")).RootElement;
            Assert.Equal((b.Id, "running", pid), (listed[0].GetProperty("id").GetString(), listed[0].GetProperty("status").GetString(), listed[0].GetProperty("pid").GetInt32()));
            Assert.Contains(pid, System.Text.Json.JsonDocument.Parse(Runtime($"ps --format json {b.Id}")).RootElement.EnumerateArray().Select(e => e.GetInt32()));
            Assert.False(System.Text.Json.JsonDocument.Parse(Runtime("features")).RootElement.GetProperty("linux").GetProperty("cgroup").GetProperty("systemd").GetBoolean());
            // update, as runc's: flags and a resources document.
            Runtime($"update --pids-limit 50 {b.Id}");
            var pidsMax = new[] { $"/sys/fs/cgroup/pids/{_f.CgroupParent}/{b.Id}/pids.max", $"/sys/fs/cgroup/{_f.CgroupParent}/{b.Id}/pids.max" }.First(File.Exists);
            Assert.Equal("50", File.ReadAllText(pidsMax).Trim());
            var resources = Path.Combine(_f.Root.Path, "lifecycle-resources.json");
            File.WriteAllText(resources, """{"pids":{"limit":60}}""");
            Runtime($"update --resources {resources} {b.Id}");
            Assert.Equal("60", File.ReadAllText(pidsMax).Trim());
            // events, as runc's: --stats once; otherwise a line per interval until the container stops.
            var stats = System.Text.Json.JsonDocument.Parse(Runtime($"events --stats {b.Id}")).RootElement;
            Assert.Equal(("stats", b.Id), (stats.GetProperty("type").GetString(), stats.GetProperty("id").GetString()));
            var data = stats.GetProperty("data");
            Assert.Equal(60, data.GetProperty("pids").GetProperty("limit").GetInt64());
            Assert.True(data.GetProperty("pids").GetProperty("current").GetInt64() >= 1);
            Assert.True(data.GetProperty("memory").GetProperty("usage").GetProperty("usage").GetInt64() > 0);
            Assert.True(data.GetProperty("cpu").GetProperty("usage").GetProperty("total").GetInt64() > 0);
            Assert.Contains("is not a duration", Assert.Throws<InvalidOperationException>(() => Runtime($"events --interval soon {b.Id}")).Message);
            var psi = new ProcessStartInfo(RuntimeBinary) { RedirectStandardOutput = true };
            foreach (var arg in new[] { "--root", root, "events", "--interval", "100ms", b.Id }) psi.ArgumentList.Add(arg);
            using var events = Process.Start(psi)!;
            for (var n = 0; n < 2; n++)
                Assert.Equal("stats", System.Text.Json.JsonDocument.Parse(events.StandardOutput.ReadLine()!).RootElement.GetProperty("type").GetString());
            // An exec into a paused container is refused at once, not left hanging in the frozen cgroup.
            Runtime($"pause {b.Id}");
            Assert.Contains("is paused", Assert.Throws<InvalidOperationException>(() => Runtime($"exec {b.Id} true")).Message);
            Runtime($"resume {b.Id}");
            Runtime($"exec {b.Id} true");
            Runtime($"kill {b.Id} KILL");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Status() != "stopped" && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.Equal("stopped", Status());
            Assert.True(events.WaitForExit(10_000), "events did not end with the container");
            Assert.Equal(0, events.ExitCode);
            Runtime($"delete {b.Id}");
            var gone = Assert.Throws<InvalidOperationException>(() => Runtime($"state {b.Id}"));
            Assert.Contains("does not exist", gone.Message);
        }
        finally { Runtime($"delete --force {b.Id}", check: false); }
    }
    /// <summary>A container in a user namespace of its own, its ids shifted (root inside is 100000 on the host), as runc
    /// makes it: the maps, the process's ids, the owner of files it did not map (nobody), a file it makes, the device
    /// nodes it cannot create (the host's, bound), and a sysfs of its own network namespace.</summary>
    [Theory]
    [InlineData("runtime")]
    [InlineData("cli")]
    public void A_user_namespace_with_shifted_ids_is_made_as_under_runc(string front)
    {
        var runc = Builtin.ExternalRuntime.Find("runc") ?? throw new InvalidOperationException("runc is not installed (./build.sh deps test installs it)");
        string[] command = { "/bin/sh", "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /bin/busybox; " +
            "touch /dev/shm/made && stat -c %u:%g /dev/shm/made; echo x > /dev/null && echo null-writable; " +
            "ls /dev | grep -vE '^(console|core)$' | sort | tr '\\n' ' '; echo; cat /sys/class/net/lo/operstate; " +
            "grep -E '^(CapEff|CapBnd)' /proc/self/status" };
        static void UserNamespace(OciSpec s)
        {
            s.Linux!.Namespaces.Add(new OciNamespace { Type = "user" });
            s.Linux.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
            s.Linux.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        }
        var theirs = RunWith("runc", new[] { runc }, command, "", UserNamespace);
        Assert.True(theirs.Code == 0, "runc: " + theirs.Stderr);
        Assert.StartsWith("         0     100000      65536\n         0     100000      65536\n0\n0\n65534:65534\n0:0\nnull-writable\n", theirs.Stdout);
        var ours = RunWith("builtin", Ours(front), command, "", UserNamespace);
        Assert.Equal(theirs, ours);
    }

    /// <summary>With the host's network namespace, which a new user namespace does not own, no sysfs can be mounted:
    /// the host's /sys is bound, read-only (as crun does; runc 1.1 fails the container).</summary>
    [Fact]
    public void A_user_namespace_that_shares_the_host_network_gets_the_host_sys()
    {
        string[] command = { "/bin/sh", "-c", "cat /proc/self/uid_map; ls /sys/class/net | grep -qv '^lo$' && echo host-interfaces; touch /sys/x 2>/dev/null || echo sys-read-only" };
        var ours = RunWith("builtin", Ours("runtime"), command, "", s =>
        {
            s.Linux!.Namespaces.RemoveAll(n => n.Type == "network");
            s.Linux.Namespaces.Add(new OciNamespace { Type = "user" });
            s.Linux.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
            s.Linux.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        });
        Assert.Equal((0, "         0     100000      65536\nhost-interfaces\nsys-read-only\n", ""), ours);
    }

    [Fact]
    public void User_namespace_mappings_are_refused_where_they_cannot_apply()
    {
        var b = _f.Bundle(new[] { "true" }, edit: s => s.Linux!.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 10 }]);
        var e = Assert.Throws<Core.Api.ContainerOpsException>(() => SpecValidation.Validate(SpecBuilder.ReadBundle(b.Bundle), b.Id));
        Assert.Equal(("MappingsWithoutUserNamespace", "linux.uidMappings"), (e.Error.Id, e.Error.Field));
        b = _f.Bundle(new[] { "true" }, edit: s => s.Linux!.Namespaces.Add(new OciNamespace { Type = "user" }));
        e = Assert.Throws<Core.Api.ContainerOpsException>(() => SpecValidation.Validate(SpecBuilder.ReadBundle(b.Bundle), b.Id));
        Assert.Equal(("UserNamespaceWithoutMappings", "linux.uidMappings"), (e.Error.Id, e.Error.Field));
    }
}
