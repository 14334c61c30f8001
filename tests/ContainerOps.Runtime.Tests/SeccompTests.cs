using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>The probe of SeccompProbe.c, compiled once per test run with <c>cc -static</c>.</summary>
public static class SeccompProbe
{
    private static readonly Lazy<string> Binary = new(() =>
    {
        // Beside the test assembly, so nothing is left in /tmp; built under a private name, then renamed into place.
        var output = Path.Combine(AppContext.BaseDirectory, "scprobe");
        var building = $"{output}.{Environment.ProcessId}";
        Shell.Run("cc", $"-static -O2 -o {building} {Path.Combine(AppContext.BaseDirectory, "SeccompProbe.c")}");
        File.Move(building, output, overwrite: true);
        return output;
    });

    /// <summary>Puts /bin/scprobe into <paramref name="rootfs"/> (once).</summary>
    public static void Install(string rootfs)
    {
        var target = Path.Combine(rootfs, "bin", "scprobe");
        if (!File.Exists(target)) File.Copy(Binary.Value, target);
    }

    /// <summary>The calls each probe run makes, and what the default profile answers for each.</summary>
    public static readonly (string Call, string UnderDefaultProfile)[] Expectations =
    {
        ("keyctl", "EPERM"), ("add_key", "EPERM"), ("request_key", "EPERM"), ("kexec_load", "EPERM"), ("bpf", "EPERM"),
        ("perf_event_open", "EPERM"), ("swapon", "EPERM"), ("reboot", "EPERM"), ("mount", "EPERM"), ("unshare_user", "EPERM"),
        ("unshare_ns", "EPERM"), ("personality_norandom", "EPERM"), ("socket_vsock", "EPERM"), ("clone3", "ENOSYS"),
        ("personality_query", "ok"), ("socket_unix", "ok"), ("mkdir", "ok"), ("getpid", "ok"), ("fchmodat2", "ENOSYS"),
    };

    public static string Command => "/bin/scprobe " + string.Join(' ', Expectations.Select(e => e.Call));

    public static Dictionary<string, string> Parse(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains('=')).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
}

/// <summary>System call filters in real containers under the built-in runtime: the default profile, what
/// privileges and capabilities open, custom profiles, exec and create/start.</summary>
[Collection("kernel")]
public sealed class SeccompTests : IClassFixture<RuntimeFixture>
{
    private readonly RuntimeFixture _f;

    public SeccompTests(RuntimeFixture f)
    {
        _f = f;
        SeccompProbe.Install(_f.Rootfs);
    }

    private async Task<(RuntimeStatus Status, string Stdout, string Stderr)> Sh(string script, HostConfig? hc = null, string? user = null, Action<OciSpec>? edit = null) =>
        await _f.RunToEnd(_f.Bundle(new[] { "/bin/sh", "-c", script }, hc, user, edit: edit));

    private async Task<Dictionary<string, string>> Probe(HostConfig? hc = null, string? user = null, Action<OciSpec>? edit = null)
    {
        var (status, stdout, stderr) = await Sh("rmdir /tmp/scprobe-dir 2>/dev/null; " + SeccompProbe.Command, hc, user, edit);
        Assert.True(status.ExitCode == 0, $"probe exited {status.ExitCode}: {stderr}");
        return SeccompProbe.Parse(stdout);
    }

    private const string Status = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -d ' \\t' | tr '\\n' ' '";

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, "app")]
    [InlineData(true, "app")]
    public async Task A_default_container_is_filtered_with_or_without_no_new_privileges_and_as_any_user(bool noNewPrivileges, string? user)
    {
        // Without no_new_privs the filter is loaded before the capability drop: a non-root user could not load it later.
        var (status, stdout, stderr) = await Sh(Status, user: user, edit: s => s.Process!.NoNewPrivileges = noNewPrivileges);
        Assert.True(status.ExitCode == 0, stderr);
        Assert.Equal($"NoNewPrivs:{(noNewPrivileges ? 1 : 0)} Seccomp:2 ", stdout);
    }

    [Fact]
    public async Task The_default_profile_denies_what_dockers_denies()
    {
        var results = await Probe();
        foreach (var (call, expected) in SeccompProbe.Expectations)
            Assert.True(results.GetValueOrDefault(call) == expected, $"{call}: expected {expected}, got {results.GetValueOrDefault(call)}");

        var (status, stdout, stderr) = await Sh("unshare -U true; echo unshare=$?; mount -t tmpfs none /mnt; echo mount=$?; swapon /dev/null; echo swapon=$?; " +
            "sh -c 'echo threads and processes still start' &  wait");
        Assert.Equal(0, status.ExitCode);
        Assert.Equal("unshare=1\nmount=1\nswapon=1\nthreads and processes still start\n", stdout);
        Assert.Contains("Operation not permitted", stderr);
    }

    [Fact]
    public async Task Privileged_containers_run_unconfined()
    {
        var (_, stdout, _) = await Sh(Status, new HostConfig { Privileged = true });
        Assert.Equal("NoNewPrivs:0 Seccomp:0 ", stdout);
        var results = await Probe(new HostConfig { Privileged = true });
        // With every capability and no filter the kernel looks at the (harmless, invalid) arguments: nothing is EPERM.
        foreach (var call in new[] { "keyctl", "add_key", "request_key", "kexec_load", "bpf", "perf_event_open", "swapon", "reboot", "mount",
                     "unshare_user", "personality_norandom", "clone3" })
            Assert.True(results[call] != "EPERM", $"{call}: {results[call]}");
        Assert.Equal("EINVAL", results["reboot"]); // the wrong magic, checked after CAP_SYS_BOOT
        Assert.Equal("EINVAL", results["clone3"]); // no ENOSYS rule: the kernel rejects the empty arguments
        Assert.Equal("ENOENT", results["swapon"]);
        Assert.Equal("ENOENT", results["fchmodat2"]);
    }

    [Fact]
    public async Task Seccomp_unconfined_removes_the_filter_and_nothing_else()
    {
        var hc = new HostConfig { SecurityOpt = { "seccomp=unconfined" } };
        var (_, stdout, _) = await Sh(Status + "; grep CapEff /proc/self/status", hc);
        Assert.StartsWith("NoNewPrivs:0 Seccomp:0 ", stdout);
        Assert.Contains("00000000a80425fb", stdout); // still Docker's 14 capabilities
        var results = await Probe(hc);
        Assert.Equal("ok", results["unshare_user"]); // a user namespace needs no capability, only the filter stood in the way
        Assert.Equal("ok", results["keyctl"]);
        Assert.Equal("EINVAL", results["clone3"]);
        Assert.Equal("ENOENT", results["mount"]); // the kernel looks the mount point up before it checks CAP_SYS_ADMIN
        var (status, _, _) = await Sh("unshare -U true", hc);
        Assert.Equal(0, status.ExitCode);
    }

    [Fact]
    public async Task Adding_SYS_ADMIN_opens_unshare_mount_and_clone3()
    {
        var hc = new HostConfig { CapAdd = { "SYS_ADMIN" } };
        var (status, stdout, stderr) = await Sh(Status + "; echo; unshare -U true && echo unshare-ok; mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && grep -c ' /tmp/m ' /proc/mounts", hc);
        Assert.True(status.ExitCode == 0, stderr);
        Assert.Equal("NoNewPrivs:0 Seccomp:2 \nunshare-ok\n1\n", stdout);
        var results = await Probe(hc);
        Assert.Equal("ok", results["unshare_user"]);
        Assert.Equal("EINVAL", results["clone3"]);
        Assert.Equal("ENOENT", results["mount"]);
        Assert.Equal("EPERM", results["reboot"]); // CAP_SYS_BOOT was not added
        Assert.Equal("EPERM", results["keyctl"]);
    }

    [Fact]
    public async Task A_profile_of_its_own_replaces_the_default()
    {
        const string profile = """
            seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
              {"names":["rmdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
              {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var hc = new HostConfig { SecurityOpt = { profile } };
        var (status, stdout, stderr) = await Sh(Status + "; echo; mkdir /tmp/d; echo mkdir=$?; rmdir /tmp; echo rmdir=$?; unshare -U true; echo unshare=$?", hc);
        Assert.Equal(0, status.ExitCode);
        Assert.Equal("NoNewPrivs:0 Seccomp:2 \nmkdir=1\nrmdir=1\nunshare=0\n", stdout);
        Assert.Contains("mkdir: can't create directory '/tmp/d': Operation not permitted", stderr);
        Assert.Contains("Permission denied", stderr); // errnoRet 13
        var results = await Probe(hc);
        Assert.Equal(("EPERM", "ok", "ok"), (results["mkdir"], results["keyctl"], results["personality_norandom"]));
    }

    [Fact]
    public async Task Filter_flags_and_the_default_errno_are_applied()
    {
        var results = await Probe(edit: s =>
        {
            s.Linux!.Seccomp!.DefaultErrnoRet = 13;
            s.Linux.Seccomp.Flags = new() { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW" };
        });
        Assert.Equal(("EACCES", "EACCES", "ENOSYS", "ok"), (results["keyctl"], results["mount"], results["clone3"], results["getpid"]));
    }

    [Fact]
    public async Task Exec_gets_the_containers_filter()
    {
        var b = _f.Bundle(new[] { "/bin/sleep", "60" });
        await _f.Runtime.RunAsync(_f.Options(b));
        try
        {
            foreach (var uid in new uint?[] { null, 1000 })
            {
                using var p = _f.Runtime.Exec(b.Id, new ExecOptions { Args = new[] { "/bin/sh", "-c", Status + "; echo; /bin/scprobe keyctl unshare_user clone3" }, Uid = uid, Gid = uid });
                p.Stdin!.Dispose();
                var stdout = await new StreamReader(p.Stdout!).ReadToEndAsync();
                var stderr = await new StreamReader(p.Stderr!).ReadToEndAsync();
                Assert.True(await p.WaitForExitAsync() == 0, stderr);
                Assert.Equal("NoNewPrivs:0 Seccomp:2 \nkeyctl=EPERM\nunshare_user=EPERM\nclone3=ENOSYS\n", stdout);
            }
        }
        finally { await _f.Runtime.DeleteAsync(b.Id, force: true); }
    }

    [Fact]
    public async Task Create_then_start_loads_the_filter_after_the_exec_fifo()
    {
        foreach (var nnp in new[] { false, true })
        {
            var b = _f.Bundle(new[] { "/bin/sh", "-c", Status }, edit: s => s.Process!.NoNewPrivileges = nnp);
            _f.Runtime.Create(_f.Options(b));
            _f.Runtime.Start(b.Id);
            var status = await _f.Runtime.WaitAsync(b.Id);
            Assert.Equal(0, status.ExitCode);
            Assert.Equal($"NoNewPrivs:{(nnp ? 1 : 0)} Seccomp:2 ", RuntimeFixture.ReadLog(b.Log).Stdout);
            await _f.Runtime.DeleteAsync(b.Id);
        }
    }

    [Fact]
    public async Task A_profile_the_runtime_cannot_load_fails_the_start_by_name_and_leaves_nothing()
    {
        var b = _f.Bundle(new[] { "/bin/true" }, edit: s => s.Linux!.Seccomp = Core.Security.SeccompProfile.Parse(
            """{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_LOONGARCH64"]}"""));
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(b)));
        Assert.Contains("linux.seccomp.architectures[0]: SCMP_ARCH_LOONGARCH64 is not known to libseccomp", e.Message);
        Assert.Equal(RuntimeState.Unknown, _f.Runtime.GetStatus(b.Id).State);
        Assert.False(Directory.Exists(Path.Combine(_f.Root.Path, "state", b.Id)));
    }

    [Fact]
    public async Task A_filter_that_denies_what_setup_needs_fails_at_that_stage()
    {
        // Without no_new_privs the filter is in force from before the credential change, as under runc: denying
        // setresuid fails the container at the uid step, with the stage named.
        var b = _f.Bundle(new[] { "/bin/true" }, user: "app", edit: s => s.Linux!.Seccomp = Core.Security.SeccompProfile.Parse(
            """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["setresuid"],"action":"SCMP_ACT_ERRNO"}]}"""));
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => _f.Runtime.RunAsync(_f.Options(b)));
        Assert.Contains("uid: setresuid 1000: Operation not permitted", e.Message);
    }
}
