using ContainerOps.Core.Processes;
using ContainerOps.Runtime.Shim;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

public sealed class PlanWriterTests
{
    [Fact]
    public void Mount_options_become_flags_and_data()
    {
        var (flags, data) = PlanWriter.MountFlags(new[] { "nosuid", "noexec", "mode=755", "size=65536k", "rbind", "ro", "rprivate" });
        Assert.Equal(PlanWriter.MS_NOSUID | PlanWriter.MS_NOEXEC | PlanWriter.MS_BIND | PlanWriter.MS_REC | PlanWriter.MS_RDONLY, flags);
        Assert.Equal("mode=755,size=65536k", data);
    }

    [Fact]
    public void Plan_escapes_arguments_and_carries_capability_masks()
    {
        using var root = new TempDir("co-plan");
        var spec = SpecBuilder.Build(new ContainerSpecInput { Id = "p1", RootfsPath = root.Path, Args = new[] { "/bin/sh", "-c", "printf 'a\tb\n' \\" } });
        var plan = PlanWriter.ForContainer("p1", spec, root.Path, new[] { "/sys/fs/cgroup/memory/x/cgroup.procs" }, new ShimPaths { ExitFile = "/run/x/exit" });
        var lines = plan.Split('\n');
        Assert.Equal("version\t1", lines[0]);
        Assert.Contains("arg\tprintf 'a\\tb\\n' \\\\", lines);
        var expected = Capabilities.Mask(Capabilities.DockerDefault).ToString("x");
        Assert.Equal("a80425fb", expected);
        Assert.Contains(lines, l => l.StartsWith("caps\ta80425fb\ta80425fb\ta80425fb\t0\t0", StringComparison.Ordinal));
        Assert.Contains("cgroup\t/sys/fs/cgroup/memory/x/cgroup.procs", lines);
        Assert.Contains("namespace\tnet", lines);
        Assert.Contains("masked\t/proc/kcore", lines);
        Assert.Contains(lines, l => l.StartsWith("mount\tproc\t/proc\tproc\t", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("seccomp", StringComparison.Ordinal));

        var filtered = PlanWriter.ForContainer("p1", spec, root.Path, Array.Empty<string>(), new ShimPaths(), new Seccomp.SeccompProgram("/run/x/.seccomp/ab/filter.bpf", 5));
        Assert.Contains("seccomp\t/run/x/.seccomp/ab/filter.bpf\t5", filtered.Split('\n'));
        var exec = PlanWriter.ForExec("p1", 42, spec.Linux!.Namespaces, spec.Process!, Array.Empty<string>(), new Seccomp.SeccompProgram("/f.bpf", 0));
        Assert.Contains("seccomp\t/f.bpf\t0", exec.Split('\n'));
    }

    /// <summary>A bind's own propagation is applied when it makes a difference: a shared one always, a private one
    /// only under a root that is not private (one bind asked for rshared, so another's rprivate must be set).</summary>
    [Fact]
    public void A_binds_propagation_is_applied_where_the_root_does_not_give_it()
    {
        using var root = new TempDir("co-plan");
        string MountLine(string rootPropagation, params string[] options)
        {
            var spec = SpecBuilder.Build(new ContainerSpecInput { Id = "p1", RootfsPath = root.Path, Args = new[] { "true" } });
            spec.Linux!.RootfsPropagation = rootPropagation;
            spec.Mounts.Add(new OciMount { Destination = "/data", Type = "bind", Source = root.Path, Options = ["rbind", .. options] });
            return PlanWriter.ForContainer("p1", spec, root.Path, [], new ShimPaths()).Split('\n').Single(l => l.StartsWith("mount\t" + root.Path + "\t/data", StringComparison.Ordinal));
        }
        var sharedFlags = (PlanWriter.MS_REC | PlanWriter.MS_SHARED).ToString();
        var privateFlags = (PlanWriter.MS_REC | PlanWriter.MS_PRIVATE).ToString();
        Assert.EndsWith("\t" + sharedFlags, MountLine("rprivate", "rshared"));
        Assert.Equal(5, MountLine("rprivate", "rprivate").Count(c => c == '\t'));   // private already: no 6th argument
        Assert.Equal(5, MountLine("rprivate").Count(c => c == '\t'));
        Assert.EndsWith("\t" + privateFlags, MountLine("rshared", "rprivate"));
        Assert.EndsWith("\t" + sharedFlags, MountLine("rshared", "rprivate", "rshared")); // the last one named counts
    }

    [Fact]
    public void Front_reports_map_to_dockers_error_kinds()
    {
        Assert.Equal((4242, 4200), Builtin.BuiltinRuntime.ParseFrontReport("ok 4242 4200", 0, "c", "x"));
        Assert.Equal((4242, 0), Builtin.BuiltinRuntime.ParseFrontReport("ok 4242", 0, "c", "x"));
        var notFound = Assert.Throws<Core.Api.ContainerOpsException>(() => Builtin.BuiltinRuntime.ParseFrontReport("error 2 exec: /nope: No such file or directory", 1, "c", "/nope"));
        Assert.Equal(127, notFound.CliExitCode);
        var cannot = Assert.Throws<Core.Api.ContainerOpsException>(() => Builtin.BuiltinRuntime.ParseFrontReport("error 13 exec: /etc: Permission denied", 1, "c", "/etc"));
        Assert.Equal(126, cannot.CliExitCode);
        var setup = Assert.Throws<Core.Api.ContainerOpsException>(() => Builtin.BuiltinRuntime.ParseFrontReport("error 2 cwd: /nowhere: No such file or directory", 1, "c", "x"));
        Assert.Equal(125, setup.CliExitCode);
        Assert.Equal("WorkingDir", setup.Error.Field);
        Assert.Throws<Core.Api.ContainerOpsException>(() => Builtin.BuiltinRuntime.ParseFrontReport(null, 139, "c", "x"));
    }

    [Theory]
    [InlineData("KILL", 9)]
    [InlineData("sigterm", 15)]
    [InlineData("1", 1)]
    [InlineData("SIGRTMIN+1", 35)]
    public void Signals_parse(string name, int number) => Assert.Equal(number, Signals.Parse(name));

    [Fact]
    public void Bad_signal_is_refused() => Assert.Throws<Core.Api.ContainerOpsException>(() => Signals.Parse("NOPE"));
}
