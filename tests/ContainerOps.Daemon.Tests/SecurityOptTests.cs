using System.Diagnostics;
using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>`--security-opt` and seccomp through the containerops CLI (bin/containerops) and the daemon: the default filter,
/// what --privileged, seccomp=unconfined and --cap-add open, a profile file, inspect, warnings and refusals.</summary>
[Collection("daemon")]
public class SecurityOptTests(DaemonFixture fx)
{
    private static string Cli => PrivateDaemon.CliPath;

    private (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Cli) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-H", "unix://" + Path.Combine(fx.Daemon.RunRoot, "containerops.sock") }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "containerops " + string.Join(' ', args) + " timed out");
        return (p.ExitCode, stdout, stderr.Result);
    }

    private const string Status = "grep -E '^Seccomp:' /proc/self/status | tr -d ' \\t'";

    private string Sh(string script, params string[] options)
    {
        var (code, stdout, stderr) = Run(["run", "--rm", .. options, DaemonFixture.Image, "sh", "-c", script]);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        return stdout;
    }

    [Fact]
    public void The_default_filter_and_what_opens_it()
    {
        Assert.Equal("Seccomp:2\nunshare=1\n", Sh(Status + "; unshare -U true 2>/dev/null; echo unshare=$?"));
        Assert.Equal("Seccomp:0\nunshare=0\n", Sh(Status + "; unshare -U true; echo unshare=$?", "--privileged"));
        Assert.Equal("Seccomp:0\nunshare=0\n", Sh(Status + "; unshare -U true; echo unshare=$?", "--security-opt", "seccomp=unconfined"));
        Assert.Equal("Seccomp:2\nunshare=0\nmount=0\n",
            Sh(Status + "; unshare -U true; echo unshare=$?; mkdir -p /tmp/m && mount -t tmpfs none /tmp/m; echo mount=$?", "--cap-add", "SYS_ADMIN"));
    }

    [Fact]
    public void A_profile_file_is_applied_and_shown_by_inspect()
    {
        var file = Path.Combine(Path.GetTempPath(), $"co-profile-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [ { "names": [ "mkdir", "mkdirat" ], "action": "SCMP_ACT_ERRNO", "comment": "no new directories" } ]
            }
            """);
        var name = DaemonFixture.UniqueName("sc");
        try
        {
            var (code, stdout, stderr) = Run("run", "--name", name, "--security-opt", "seccomp=" + file, DaemonFixture.Image,
                "sh", "-c", Status + "; mkdir /tmp/new; echo mkdir=$?");
            Assert.True(code == 0, stderr);
            Assert.Equal("Seccomp:2\nmkdir=1\n", stdout);
            Assert.Contains("can't create directory '/tmp/new': Operation not permitted", stderr);

            using var inspect = JsonDocument.Parse(Run("inspect", name).Stdout);
            var opts = inspect.RootElement[0].GetProperty("HostConfig").GetProperty("SecurityOpt");
            Assert.Equal("""seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","comment":"no new directories"}]}""",
                opts[0].GetString());

            // exec'd processes get the container's filter.
            var longRunning = DaemonFixture.UniqueName("sc");
            Assert.Equal(0, Run("run", "-d", "--name", longRunning, "--security-opt", "seccomp=" + file, DaemonFixture.Image, "sleep", "60").Code);
            try { Assert.Equal("Seccomp:2\nmkdir=1\n", Run("exec", longRunning, "sh", "-c", Status + "; mkdir /tmp/x 2>/dev/null; echo mkdir=$?").Stdout); }
            finally { Run("rm", "-f", longRunning); }

            using var unconfined = JsonDocument.Parse(Run("inspect", CreateWith("seccomp=unconfined")).Stdout);
            Assert.Equal("seccomp=unconfined", unconfined.RootElement[0].GetProperty("HostConfig").GetProperty("SecurityOpt")[0].GetString());
        }
        finally
        {
            Run("rm", "-f", name);
            File.Delete(file);
        }
    }

    private string CreateWith(string option)
    {
        var name = DaemonFixture.UniqueName("sc");
        var (code, _, stderr) = Run("create", "--name", name, "--security-opt", option, DaemonFixture.Image, "true");
        Assert.True(code == 0, stderr);
        return name;
    }

    [Fact]
    public void A_bad_profile_or_option_is_refused_by_name_and_creates_nothing()
    {
        var file = Path.Combine(Path.GetTempPath(), $"co-profile-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": [ "mkdir" ], "action": "SCMP_ACT_DENY" } ] }""");
        var before = Run("ps", "-a", "-q", "--no-trunc").Stdout;
        try
        {
            var name = DaemonFixture.UniqueName("sc");
            var bad = Run("run", "--name", name, "--security-opt", "seccomp=" + file, DaemonFixture.Image, "true");
            Assert.Equal(125, bad.Code);
            Assert.Contains($"seccomp profile {file}: syscalls[0].action: unknown action 'SCMP_ACT_DENY'", bad.Stderr);

            var unknown = Run("run", "--name", name, "--security-opt", "seccomp-profile=x", DaemonFixture.Image, "true");
            Assert.Equal(125, unknown.Code);
            Assert.Contains("unknown security option 'seccomp-profile=x'", unknown.Stderr);

            var missing = Run("run", "--name", name, "--security-opt", "seccomp=/nonexistent/profile.json", DaemonFixture.Image, "true");
            Assert.Equal(125, missing.Code);
            Assert.Contains("cannot read seccomp profile /nonexistent/profile.json", missing.Stderr);
            Assert.Equal(before, Run("ps", "-a", "-q", "--no-trunc").Stdout);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public async Task Profiles_sent_through_the_api_are_checked_by_the_daemon()
    {
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => fx.Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Image = DaemonFixture.Image, Cmd = ["true"],
            HostConfig = new HostConfig { SecurityOpt = { """seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"op":"SCMP_CMP_EQ"}]}]}""" } },
        }));
        Assert.Equal(("InvalidSeccompProfile", "HostConfig.SecurityOpt"), (e.Error.Id, e.Error.Field));
        Assert.Contains("syscalls[0].args[0].index: 9 is out of range", e.Message);
    }

    [Fact]
    public void AppArmor_and_label_options_warn_on_a_host_without_them()
    {
        var (code, stdout, stderr) = Run("run", "--rm", "--security-opt", "apparmor=docker-default", "--security-opt", "label=level:s0:c100,c200",
            DaemonFixture.Image, "echo", "ran");
        Assert.True(code == 0, stderr);
        Assert.Equal("ran\n", stdout);
        Assert.Contains("WARNING: apparmor=docker-default is ignored: AppArmor is not enabled on this host", stderr);
        Assert.Contains("WARNING: label=level:s0:c100,c200 is ignored: SELinux is not enabled on this host", stderr);
    }
}
