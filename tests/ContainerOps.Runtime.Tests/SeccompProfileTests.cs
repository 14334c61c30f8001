using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Core.Security;
using ContainerOps.Runtime.Seccomp;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>Profiles without a kernel: Docker's format read and checked, resolved per container, the default profile,
/// --security-opt, and compilation with libseccomp into the cache.</summary>
public sealed class SeccompProfileTests : IDisposable
{
    private readonly TempDir _root = new("co-seccomp");

    public void Dispose() => _root.Dispose();

    private static readonly string[] DefaultCaps = Capabilities.DockerDefault.ToArray();

    [Theory]
    [InlineData("""{"syscalls":[]}""", "defaultAction: missing")]
    [InlineData("""{"defaultAction":"SCMP_ACT_DENY"}""", "defaultAction: unknown action 'SCMP_ACT_DENY'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},{"names":["rmdir"],"action":"SCMP_ACT_EPERM"}]}""",
        "syscalls[1].action: unknown action 'SCMP_ACT_EPERM'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}""",
        "syscalls[0].args[0].index: 6 is out of range")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"EQ"}]}]}""",
        "syscalls[0].args[0].op: unknown operator 'EQ'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ALLOW","errnoRet":1}]}""",
        "syscalls[0].errnoRet: an errno return is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","names":["rmdir"],"action":"SCMP_ACT_ERRNO"}]}""",
        "syscalls[0].name: give either name or names, not both")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}""", "syscalls[0].names: missing")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"mkdir","action":"SCMP_ACT_ERRNO"}]}""", "syscalls[0].names: expected an array, found \"mkdir\"")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}""",
        "archMap: give either architectures or archMap, not both")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["x86_64"]}""", "architectures[0]: unknown architecture 'x86_64'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_FAST"]}""", "flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_FAST'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"four"}}]}""",
        "syscalls[0].includes.minKernel: 'four' is not a kernel version")]
    [InlineData("""[]""", "(the profile): expected an object")]
    public void A_bad_profile_names_the_member_at_fault(string json, string expected)
    {
        var e = Assert.Throws<JsonException>(() => SeccompProfile.Parse(json));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void Rules_are_resolved_for_the_containers_capabilities_architecture_and_kernel()
    {
        var profile = SeccompProfile.Parse("""
        {
          "defaultAction": "SCMP_ACT_ERRNO",
          "archMap": [ { "architecture": "SCMP_ARCH_X86_64", "subArchitectures": [ "SCMP_ARCH_X86" ] },
                       { "architecture": "SCMP_ARCH_AARCH64", "subArchitectures": [ "SCMP_ARCH_ARM" ] } ],
          "syscalls": [
            { "names": [ "read" ], "action": "SCMP_ACT_ALLOW", "comment": "always" },
            { "name": "mount", "action": "SCMP_ACT_ALLOW", "includes": { "caps": [ "CAP_SYS_ADMIN" ] } },
            { "names": [ "clone" ], "action": "SCMP_ACT_ALLOW", "excludes": { "caps": [ "SYS_ADMIN" ] },
              "args": [ { "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" } ] },
            { "names": [ "arch_prctl" ], "action": "SCMP_ACT_ALLOW", "includes": { "arches": [ "amd64" ] } },
            { "names": [ "ptrace" ], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "4.8" } }
          ]
        }
        """);
        var plain = profile.Resolve(DefaultCaps, "amd64", new Version(6, 1));
        Assert.Equal(new[] { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86" }, plain.Architectures);
        Assert.Equal(new[] { "read", "clone", "arch_prctl", "ptrace" }, plain.Syscalls!.Select(s => s.Names!.Single()));
        Assert.Null(plain.ArchMap);
        Assert.All(plain.Syscalls!, s => Assert.True(s.Includes is null && s.Excludes is null && s.Name is null && s.Comment is null));
        Assert.Equal(2114060288UL, plain.Syscalls![1].Args!.Single().Value);

        var admin = profile.Resolve(DefaultCaps.Append("CAP_SYS_ADMIN"), "arm64", new Version(4, 4));
        Assert.Equal(new[] { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" }, admin.Architectures);
        Assert.Equal(new[] { "read", "mount" }, admin.Syscalls!.Select(s => s.Names!.Single()));
    }

    [Fact]
    public void The_default_profile_opens_calls_with_the_capabilities_that_govern_them()
    {
        var plain = DefaultSeccompProfile.Profile.Resolve(DefaultCaps, "amd64", new Version(6, 1));
        Assert.Equal("SCMP_ACT_ERRNO", plain.DefaultAction);
        Assert.Equal(1u, plain.DefaultErrnoRet);
        Assert.Equal(new[] { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" }, plain.Architectures);
        var allowed = plain.Syscalls!.Where(s => s.Action == "SCMP_ACT_ALLOW" && s.Args is null).SelectMany(s => s.Names!).ToHashSet();
        foreach (var call in new[] { "read", "execve", "openat", "mkdir", "arch_prctl", "chroot", "ptrace", "setuid" })
            Assert.Contains(call, allowed);
        foreach (var call in new[] { "mount", "unshare", "setns", "bpf", "perf_event_open", "reboot", "init_module", "keyctl", "add_key",
                     "kexec_load", "swapon", "io_uring_setup", "userfaultfd", "clone", "clone3", "socket", "personality", "s390_runtime_instr" })
            Assert.DoesNotContain(call, allowed);
        var clone = Assert.Single(plain.Syscalls!, s => s.Names!.Contains("clone"));
        Assert.Equal(("SCMP_CMP_MASKED_EQ", 0u, DefaultSeccompProfile.NamespaceFlags, 0UL),
            (clone.Args![0].Op, clone.Args[0].Index, clone.Args[0].Value, clone.Args[0].ValueTwo));
        var clone3 = Assert.Single(plain.Syscalls!, s => s.Names!.Contains("clone3"));
        Assert.Equal(("SCMP_ACT_ERRNO", (uint?)38), (clone3.Action, clone3.ErrnoRet));
        var socket = Assert.Single(plain.Syscalls!, s => s.Names!.Contains("socket"));
        Assert.Equal(("SCMP_CMP_NE", 40UL), (socket.Args![0].Op, socket.Args[0].Value));
        Assert.Equal(5, plain.Syscalls!.Count(s => s.Names!.Contains("personality")));

        var admin = DefaultSeccompProfile.Profile.Resolve(DefaultCaps.Append("CAP_SYS_ADMIN").Append("CAP_SYS_BOOT"), "amd64", new Version(6, 1));
        var opened = admin.Syscalls!.Where(s => s.Action == "SCMP_ACT_ALLOW" && s.Args is null).SelectMany(s => s.Names!).ToHashSet();
        foreach (var call in new[] { "mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf", "reboot" })
            Assert.Contains(call, opened);
        Assert.DoesNotContain(admin.Syscalls!, s => s.Action == "SCMP_ACT_ERRNO");
        Assert.DoesNotContain("kexec_load", opened);

        var ptrace = DefaultSeccompProfile.Profile.Resolve(DefaultCaps, "amd64", new Version(4, 4));
        Assert.DoesNotContain(ptrace.Syscalls!, s => s.Names!.Contains("ptrace"));
    }

    [Fact]
    public void Security_options_are_read_as_docker_reads_them()
    {
        Assert.True(SecurityOptions.Parse(new[] { "no-new-privileges" }).NoNewPrivileges);
        Assert.True(SecurityOptions.Parse(new[] { "no-new-privileges:true" }).NoNewPrivileges);
        Assert.False(SecurityOptions.Parse(new[] { "no-new-privileges=false" }).NoNewPrivileges);
        Assert.True(SecurityOptions.Parse(new[] { "seccomp=unconfined" }).SeccompUnconfined);
        Assert.True(SecurityOptions.Parse(new[] { "seccomp:unconfined" }).SeccompUnconfined);
        Assert.Null(SecurityOptions.Parse(new[] { "seccomp=builtin" }).SeccompProfile);
        Assert.Equal("SCMP_ACT_LOG", SecurityOptions.Parse(new[] { """seccomp={"defaultAction":"SCMP_ACT_LOG"}""" }).SeccompProfile!.DefaultAction);
        Assert.True(SecurityOptions.Parse(new[] { "systempaths=unconfined" }).SystemPathsUnconfined);

        var unknown = Assert.Throws<ContainerOpsException>(() => SecurityOptions.Parse(new[] { "seccomp=unconfined", "selinux-type=x" }, "c1"));
        Assert.Equal(("InvalidSecurityOpt", "HostConfig.SecurityOpt"), (unknown.Error.Id, unknown.Error.Field));
        Assert.Contains("unknown security option 'selinux-type=x'", unknown.Message);
        Assert.Contains("unknown security option 'seccompx=1'", Assert.Throws<ContainerOpsException>(() => SecurityOptions.Parse(new[] { "seccompx=1" })).Message);
        var path = Assert.Throws<ContainerOpsException>(() => SecurityOptions.Parse(new[] { "seccomp=/etc/profile.json" }));
        Assert.Contains("read the file and send its JSON", path.Message);
        var bad = Assert.Throws<ContainerOpsException>(() => SecurityOptions.Parse(new[] { """seccomp={"defaultAction":"SCMP_ACT_NOPE"}""" }));
        Assert.Equal("InvalidSeccompProfile", bad.Error.Id);
        Assert.Contains("defaultAction: unknown action 'SCMP_ACT_NOPE'", bad.Message);

        // This host has neither AppArmor nor SELinux: asking for a profile or a label is a warning, not silence.
        var warnings = SecurityOptions.Parse(new[] { "apparmor=docker-default", "label=type:svirt_t", "label=disable" }).Warnings();
        Assert.Equal(2, warnings.Count);
        Assert.Empty(SecurityOptions.Parse(new[] { "apparmor=unconfined", "label=disable" }).Warnings());
        Assert.Contains("apparmor=docker-default is ignored", warnings[0]);
        Assert.Contains("label=type:svirt_t is ignored", warnings[1]);
    }

    [Fact]
    public void A_profile_file_is_checked_and_sent_as_compact_json()
    {
        var file = Path.Combine(_root.Path, "p.json");
        File.WriteAllText(file, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [ { \"names\": [ \"mkdir\" ], \"action\": \"SCMP_ACT_ERRNO\" } ]\n}\n");
        Assert.Equal("""seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}""",
            SecurityOptions.ExpandProfileFile("seccomp=" + file));
        Assert.Equal("seccomp=unconfined", SecurityOptions.ExpandProfileFile("seccomp=unconfined"));
        Assert.Equal("no-new-privileges", SecurityOptions.ExpandProfileFile("no-new-privileges"));

        File.WriteAllText(file, """{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": [ "mkdir" ], "action": "SCMP_ACT_EPERM" } ] }""");
        var e = Assert.Throws<ContainerOpsException>(() => SecurityOptions.ExpandProfileFile("seccomp=" + file));
        Assert.Equal($"seccomp profile {file}: syscalls[0].action: unknown action 'SCMP_ACT_EPERM' (one of {string.Join(", ", SeccompNames.Actions)})", e.Message);
        File.WriteAllText(file, """{ "defaultAction": "SCMP_ACT_ALLOW", """);
        Assert.StartsWith($"seccomp profile {file}: ", Assert.Throws<ContainerOpsException>(() => SecurityOptions.ExpandProfileFile("seccomp=" + file)).Message);
        Assert.Contains("cannot read seccomp profile", Assert.Throws<ContainerOpsException>(() => SecurityOptions.ExpandProfileFile("seccomp=/nonexistent.json")).Message);
    }

    [Fact]
    public void The_spec_builder_applies_the_default_profile_unless_privileged_or_unconfined()
    {
        var rootfs = Path.Combine(_root.Path, "rootfs");
        Directory.CreateDirectory(rootfs);
        OciSpec Build(HostConfig hc) => SpecBuilder.Build(new ContainerSpecInput { Id = "c1", RootfsPath = rootfs, Args = new[] { "true" }, HostConfig = hc });

        var seccomp = Build(new HostConfig()).Linux!.Seccomp!;
        Assert.Equal("SCMP_ACT_ERRNO", seccomp.DefaultAction);
        Assert.DoesNotContain(seccomp.Syscalls!, s => s.Names!.Contains("mount"));
        Assert.Contains(Build(new HostConfig { CapAdd = { "SYS_ADMIN" } }).Linux!.Seccomp!.Syscalls!, s => s.Names!.Contains("mount") && s.Args is null);
        Assert.Null(Build(new HostConfig { Privileged = true }).Linux!.Seccomp);
        Assert.Null(Build(new HostConfig { SecurityOpt = { "seccomp=unconfined" } }).Linux!.Seccomp);
        var own = Build(new HostConfig { SecurityOpt = { """seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}""" } });
        Assert.Equal("SCMP_ACT_ALLOW", own.Linux!.Seccomp!.DefaultAction);
        Assert.Null(Build(new HostConfig { SecurityOpt = { "systempaths=unconfined" } }).Linux!.MaskedPaths);

        var notify = Assert.Throws<ContainerOpsException>(() => Build(new HostConfig { SecurityOpt = { """seccomp={"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}""" } }));
        Assert.Equal(("SeccompNotSupported", "HostConfig.SecurityOpt"), (notify.Error.Id, notify.Error.Field));
        Assert.Contains("listenerPath: seccomp user notification", notify.Message);
        // crun and runc are handed the profile as it is.
        Assert.NotNull(Build(new HostConfig { Runtime = "runc", SecurityOpt = { """seccomp={"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}""" } }).Linux!.Seccomp);
    }

    [Fact]
    public void The_section_round_trips_through_config_json()
    {
        var rootfs = Path.Combine(_root.Path, "rootfs");
        Directory.CreateDirectory(rootfs);
        var spec = SpecBuilder.Build(new ContainerSpecInput { Id = "c1", RootfsPath = rootfs, Args = new[] { "true" } });
        SpecBuilder.WriteBundle(_root.Path, spec);
        var text = File.ReadAllText(Path.Combine(_root.Path, "config.json"));
        Assert.Contains("\"defaultErrnoRet\": 1", text);
        Assert.DoesNotContain("archMap", text);
        Assert.DoesNotContain("includes", text);
        var read = SpecBuilder.ReadBundle(_root.Path).Linux!.Seccomp!;
        Assert.Equal(SeccompCompiler.Key(spec.Linux!.Seccomp!), SeccompCompiler.Key(read));
        Assert.Null(SpecBuilder.ReadBundle(_root.Path).Linux!.Extra);
    }

    [Theory]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_KILL_ALL"}]}}}""",
        "$.linux.seccomp.syscalls[0].action: unknown action 'SCMP_ACT_KILL_ALL'")]
    [InlineData("""{"linux":{"seccomp":{"syscalls":[]}}}""", "$.linux.seccomp.defaultAction: missing")]
    public void A_bad_section_in_a_bundle_names_its_path(string json, string expected)
    {
        File.WriteAllText(Path.Combine(_root.Path, "config.json"), json);
        var e = Assert.Throws<ContainerOpsException>(() => SpecBuilder.ReadBundle(_root.Path));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Programs_are_compiled_once_and_cached_by_content()
    {
        var state = Path.Combine(_root.Path, "state");
        var profile = DefaultSeccompProfile.Profile.Resolve(DefaultCaps);
        var first = SeccompCompiler.Prepare(profile, state, "c1");
        var size = new FileInfo(first.Path).Length;
        Assert.True(size > 0 && size % 8 == 0 && size / 8 <= 4096, $"{size} bytes is not a sock_filter array");
        var written = File.GetLastWriteTimeUtc(first.Path);
        Assert.Equal(first, SeccompCompiler.Prepare(DefaultSeccompProfile.Profile.Resolve(DefaultCaps), state, "c2"));
        Assert.Equal(written, File.GetLastWriteTimeUtc(first.Path));
        var admin = SeccompCompiler.Prepare(DefaultSeccompProfile.Profile.Resolve(DefaultCaps.Append("CAP_SYS_ADMIN")), state, "c3");
        Assert.NotEqual(first.Path, admin.Path);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(state, ".seccomp")).Length);

        var flagged = SeccompProfile.Parse("""{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}""");
        Assert.Equal(6u, SeccompCompiler.Prepare(flagged, state, "c4").Flags);
    }

    [Fact]
    public void What_the_built_in_runtime_cannot_load_is_refused_by_name()
    {
        var state = Path.Combine(_root.Path, "state");
        var listener = SeccompProfile.Parse("""{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock"}""");
        Assert.Contains("linux.seccomp.listenerPath: seccomp user notification", Assert.Throws<ContainerOpsException>(() => SeccompCompiler.Prepare(listener, state, "c1")).Message);
        var notify = SeccompProfile.Parse("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}""");
        Assert.Contains("linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY", Assert.Throws<ContainerOpsException>(() => SeccompCompiler.Prepare(notify, state, "c1")).Message);
        var arch = SeccompProfile.Parse("""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_LOONGARCH64"]}""");
        Assert.Contains("linux.seccomp.architectures[0]: SCMP_ARCH_LOONGARCH64 is not known to libseccomp", Assert.Throws<ContainerOpsException>(() => SeccompCompiler.Prepare(arch, state, "c1")).Message);
        Assert.False(Directory.Exists(Path.Combine(state, ".seccomp")) && Directory.EnumerateFileSystemEntries(Path.Combine(state, ".seccomp")).Any(),
            "a failed compile leaves nothing in the cache");
    }
}
