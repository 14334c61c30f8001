using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

public sealed class SpecBuilderTests : IDisposable
{
    private readonly TempDir _root = new("co-spec");

    public SpecBuilderTests()
    {
        Directory.CreateDirectory(Path.Combine(_root.Path, "etc"));
        File.WriteAllText(Path.Combine(_root.Path, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1001:web:/home/web:/bin/sh\n");
        File.WriteAllText(Path.Combine(_root.Path, "etc/group"), "root:x:0:\nwebgrp:x:1001:\naudio:x:29:web\nstaff:x:50:web,other\n");
    }

    public void Dispose() => _root.Dispose();

    private ContainerSpecInput Input(HostConfig? hc = null, string? user = null, IReadOnlyList<string>? args = null, string? initBinary = null) => new()
    {
        Id = "abc123", RootfsPath = _root.Path, Args = args ?? new[] { "/bin/true" }, HostConfig = hc ?? new HostConfig(), User = user, InitBinary = initBinary,
    };

    private static ContainerOpsException Refused(Action a) => Assert.Throws<ContainerOpsException>(a);

    [Fact]
    public void Defaults_match_dockers_capabilities_and_masks()
    {
        var spec = SpecBuilder.Build(Input());
        Assert.Equal(14, spec.Process!.Capabilities!.Bounding!.Count);
        Assert.Contains("CAP_NET_BIND_SERVICE", spec.Process.Capabilities.Effective!);
        Assert.DoesNotContain("CAP_SYS_ADMIN", spec.Process.Capabilities.Bounding);
        Assert.Contains("/proc/kcore", spec.Linux!.MaskedPaths!);
        Assert.Contains("/proc/sys", spec.Linux.ReadonlyPaths!);
        Assert.Contains(spec.Linux.Namespaces, n => n.Type == "network" && n.Path is null);
        Assert.Equal("/containerops/abc123", spec.Linux.CgroupsPath);
        Assert.Contains(spec.Process.Env, e => e.StartsWith("PATH=", StringComparison.Ordinal));
        Assert.Equal("abc123", spec.Hostname);
        Assert.False(spec.Process.NoNewPrivileges);
    }

    [Fact]
    public void Cap_add_and_drop_and_privileged()
    {
        var spec = SpecBuilder.Build(Input(new HostConfig { CapAdd = { "net_admin" }, CapDrop = { "CAP_CHOWN", "kill" } }));
        Assert.Contains("CAP_NET_ADMIN", spec.Process!.Capabilities!.Bounding!);
        Assert.DoesNotContain("CAP_CHOWN", spec.Process.Capabilities.Bounding!);
        Assert.DoesNotContain("CAP_KILL", spec.Process.Capabilities.Bounding!);

        var all = SpecBuilder.Build(Input(new HostConfig { CapDrop = { "ALL" }, CapAdd = { "SETUID" } }));
        Assert.Equal(new[] { "CAP_SETUID" }, all.Process!.Capabilities!.Bounding);

        var privileged = SpecBuilder.Build(Input(new HostConfig { Privileged = true }));
        Assert.Contains("CAP_SYS_ADMIN", privileged.Process!.Capabilities!.Bounding!);
        Assert.Null(privileged.Linux!.MaskedPaths);

        var e = Refused(() => SpecBuilder.Build(Input(new HostConfig { CapAdd = { "FLY" } })));
        Assert.Equal("HostConfig.CapAdd", e.Error.Field);
    }

    /// <summary>As Docker, a privileged container has the host's devices (not its console, ptmx or pseudo-terminals,
    /// which it gets of its own), each once, with the host's numbers; an unprivileged one has only the defaults.</summary>
    [Fact]
    public void A_privileged_container_gets_the_host_devices()
    {
        var privileged = SpecBuilder.Build(Input(new HostConfig { Privileged = true })).Linux!.Devices!;
        var plain = SpecBuilder.Build(Input(new HostConfig())).Linux!.Devices!;
        Assert.Equal(privileged.Count, privileged.Select(d => d.Path).Distinct().Count());
        Assert.Single(privileged, d => d.Path == "/dev/null");
        Assert.DoesNotContain(privileged, d => d.Path is "/dev/console" or "/dev/ptmx" || d.Path.StartsWith("/dev/pts/", StringComparison.Ordinal));
        Assert.Contains(privileged, d => d.Path == "/dev/full" && (d.Type, d.Major, d.Minor) == ("c", 1, 7));
        var hostBlockDevice = Directory.EnumerateFileSystemEntries("/dev").FirstOrDefault(p =>
            Native.Libc.lstat(p, out var st) == 0 && (st.Mode & 0xF000) == 0x6000);
        if (hostBlockDevice is not null) Assert.Contains(privileged, d => d.Path == hostBlockDevice && d.Type == "b");
        Assert.True(privileged.Count > plain.Count);
        Assert.All(plain, d => Assert.Contains(privileged, p => p.Path == d.Path));
    }

    /// <summary>Docker's block I/O options: devices named by path become their numbers; a path that is no block device,
    /// or a weight out of 10..1000, is refused with the field named before anything exists.</summary>
    [Fact]
    public void Block_io_options_name_devices_by_their_numbers()
    {
        var disk = Directory.EnumerateFileSystemEntries("/dev").FirstOrDefault(p => Native.Libc.lstat(p, out var st) == 0 && (st.Mode & 0xF000) == 0x6000);
        Assert.NotNull(disk);
        Native.Libc.stat(disk!, out var st);
        var (major, minor) = Native.Libc.DeviceNumbers(st.RDev);
        var io = SpecBuilder.Build(Input(new HostConfig
        {
            BlkioWeight = 300, BlkioWeightDevice = [new WeightDevice { Path = disk!, Weight = 500 }],
            BlkioDeviceReadBps = [new ThrottleDevice { Path = disk!, Rate = 1 << 20 }], BlkioDeviceWriteIOps = [new ThrottleDevice { Path = disk!, Rate = 100 }],
        })).Linux!.Resources!.BlockIo!;
        Assert.Equal((ushort?)300, io.Weight);
        Assert.Equal((major, minor, (ushort?)500), (io.WeightDevice![0].Major, io.WeightDevice[0].Minor, io.WeightDevice[0].Weight));
        Assert.Equal((major, minor, 1UL << 20), (io.ThrottleReadBpsDevice![0].Major, io.ThrottleReadBpsDevice[0].Minor, io.ThrottleReadBpsDevice[0].Rate));
        Assert.Equal(100UL, io.ThrottleWriteIopsDevice![0].Rate);
        Assert.Null(io.ThrottleWriteBpsDevice);
        Assert.Null(SpecBuilder.Build(Input(new HostConfig())).Linux!.Resources?.BlockIo);

        Assert.Equal(("InvalidBlkioWeight", "HostConfig.BlkioWeight"), Field(Refused(() => SpecBuilder.Build(Input(new HostConfig { BlkioWeight = 5 })))));
        Assert.Equal(("InvalidDevice", "HostConfig.BlkioDeviceReadBps"),
            Field(Refused(() => SpecBuilder.Build(Input(new HostConfig { BlkioDeviceReadBps = [new ThrottleDevice { Path = "/dev/null", Rate = 1 }] })))));
        Assert.Equal(("InvalidDevice", "HostConfig.BlkioWeightDevice"),
            Field(Refused(() => SpecBuilder.Build(Input(new HostConfig { BlkioWeightDevice = [new WeightDevice { Path = "/dev/no-such-disk", Weight = 100 }] })))));
        static (string, string?) Field(ContainerOpsException e) => (e.Error.Id, e.Error.Field);
    }

    [Fact]
    public void Limits_are_validated_with_the_field_named()
    {
        Assert.Equal("HostConfig.Memory", Refused(() => SpecBuilder.Build(Input(new HostConfig { Memory = 1024 * 1024 }))).Error.Field);
        Assert.Equal("HostConfig.MemorySwap", Refused(() => SpecBuilder.Build(Input(new HostConfig { Memory = 64 << 20, MemorySwap = 32 << 20 }))).Error.Field);
        Assert.Equal("HostConfig.MemorySwap", Refused(() => SpecBuilder.Build(Input(new HostConfig { MemorySwap = 64 << 20 }))).Error.Field);
        Assert.Equal("HostConfig.NanoCpus", Refused(() => SpecBuilder.Build(Input(new HostConfig { NanoCpus = 1000 }))).Error.Field);
        Assert.Equal("HostConfig.NanoCpus", Refused(() => SpecBuilder.Build(Input(new HostConfig { NanoCpus = (Environment.ProcessorCount + 1) * 1_000_000_000L }))).Error.Field);
        Assert.Equal("HostConfig.CpuShares", Refused(() => SpecBuilder.Build(Input(new HostConfig { CpuShares = 1 }))).Error.Field);
        Assert.Equal("HostConfig.CpusetCpus", Refused(() => SpecBuilder.Build(Input(new HostConfig { CpusetCpus = "0-x" }))).Error.Field);
        Assert.Equal("HostConfig.CpusetCpus", Refused(() => SpecBuilder.Build(Input(new HostConfig { CpusetCpus = "999" }))).Error.Field);
        Assert.Equal("HostConfig.PidsLimit", Refused(() => SpecBuilder.Build(Input(new HostConfig { PidsLimit = -5 }))).Error.Field);
        Assert.Equal("HostConfig.Sysctls", Refused(() => SpecBuilder.Build(Input(new HostConfig { Sysctls = { ["kernel.panic"] = "1" } }))).Error.Field);
        Assert.Equal("HostConfig.Binds", Refused(() => SpecBuilder.Build(Input(new HostConfig { Binds = { "relative:/x" } }))).Error.Field);

        var ok = SpecBuilder.Build(Input(new HostConfig { Memory = 64 << 20, NanoCpus = 500_000_000, CpuShares = 512, PidsLimit = 20, CpusetCpus = "0" }));
        Assert.Equal(64L << 20, ok.Linux!.Resources!.Memory!.Limit);
        Assert.Equal(128L << 20, ok.Linux.Resources.Memory.Swap);
        Assert.Equal(50_000, ok.Linux.Resources.Cpu!.Quota);
        Assert.Equal(20, ok.Linux.Resources.Pids!.Limit);
    }

    [Fact]
    public void Command_env_and_workdir_are_checked()
    {
        Assert.Equal("Cmd", Refused(() => SpecBuilder.Build(Input(args: Array.Empty<string>()))).Error.Field);
        Assert.Equal("WorkingDir", Refused(() => SpecBuilder.Build(new ContainerSpecInput { Id = "a", RootfsPath = _root.Path, Args = new[] { "x" }, WorkingDir = "rel" })).Error.Field);
        Assert.Equal("Env", Refused(() => SpecBuilder.Build(new ContainerSpecInput { Id = "a", RootfsPath = _root.Path, Args = new[] { "x" }, Env = new[] { "=oops" } })).Error.Field);
        Assert.Equal("HostConfig.NetworkMode", Refused(() => SpecBuilder.Build(Input(new HostConfig { NetworkMode = "bogus" }))).Error.Field);
    }

    [Fact]
    public void Users_resolve_from_the_images_passwd_and_group()
    {
        var named = SpecBuilder.Build(Input(user: "web"));
        Assert.Equal(1000u, named.Process!.User.Uid);
        Assert.Equal(1001u, named.Process.User.Gid);
        Assert.Equal(new uint[] { 29, 50 }, named.Process.User.AdditionalGids);
        Assert.Contains("HOME=/home/web", named.Process.Env);

        var numeric = SpecBuilder.Build(Input(user: "4242:4343"));
        Assert.Equal(4242u, numeric.Process!.User.Uid);
        Assert.Equal(4343u, numeric.Process.User.Gid);

        var withGroup = SpecBuilder.Build(Input(user: "web:staff"));
        Assert.Equal(50u, withGroup.Process!.User.Gid);

        Assert.Equal("User", Refused(() => SpecBuilder.Build(Input(user: "nobody-here"))).Error.Field);
        Assert.Equal("User", Refused(() => SpecBuilder.Build(Input(user: "web:nogroup"))).Error.Field);
    }

    [Fact]
    public void Passwd_behind_a_symlink_is_not_read()
    {
        using var other = new TempDir("co-spec-link");
        Directory.CreateDirectory(Path.Combine(other.Path, "etc"));
        File.CreateSymbolicLink(Path.Combine(other.Path, "etc/passwd"), "/etc/passwd");
        var e = Refused(() => SpecBuilder.Build(new ContainerSpecInput { Id = "a", RootfsPath = other.Path, Args = new[] { "x" }, User = "root" }));
        Assert.Equal("InvalidUser", e.Error.Id);
    }

    [Fact]
    public void Dockers_process_and_cgroup_options_reach_the_spec()
    {
        var hc = new HostConfig
        {
            Ulimits = [new Ulimit { Name = "nofile", Soft = 512, Hard = 1024 }, new Ulimit { Name = "core", Soft = -1, Hard = -1 }],
            GroupAdd = ["audio", "4242"], PidMode = "host", CgroupParent = "/batch/", CpuQuota = 50_000, CpuPeriod = 100_000,
            MemoryReservation = 32 << 20, OomScoreAdj = 300, OomKillDisable = true,
            Devices = [new DeviceMapping { PathOnHost = "/dev/null", PathInContainer = "/dev/other-null", CgroupPermissions = "rw" }],
            DeviceCgroupRules = ["b 8:* r"],
        };
        var spec = SpecBuilder.Build(new ContainerSpecInput { Id = "abc123", RootfsPath = _root.Path, Args = ["/bin/true"], HostConfig = hc, Domainname = "example.org" });
        Assert.Equal(new[] { ("RLIMIT_NOFILE", 512UL, 1024UL), ("RLIMIT_CORE", ulong.MaxValue, ulong.MaxValue) },
            spec.Process!.Rlimits!.Select(r => (r.Type, r.Soft, r.Hard)));
        Assert.Equal(new uint[] { 29, 4242 }, spec.Process.User.AdditionalGids);
        Assert.DoesNotContain(spec.Linux!.Namespaces, n => n.Type == "pid");
        Assert.Equal("/batch/abc123", spec.Linux.CgroupsPath);
        Assert.Equal((50_000L, 100_000UL), (spec.Linux.Resources!.Cpu!.Quota, spec.Linux.Resources.Cpu.Period));
        Assert.Equal(32L << 20, spec.Linux.Resources.Memory!.Reservation);
        Assert.True(spec.Linux.Resources.Memory.DisableOomKiller);
        Assert.Equal(300, spec.Process.OomScoreAdj);
        Assert.Equal("example.org", spec.Domainname);
        Assert.Contains(spec.Linux.Devices!, d => d is { Path: "/dev/other-null", Type: "c", Major: 1, Minor: 3 });
        Assert.Contains(spec.Linux.Resources.Devices!, r => r is { Allow: true, Type: "c", Major: 1, Minor: 3, Access: "rw" });
        Assert.Contains(spec.Linux.Resources.Devices!, r => r is { Allow: true, Type: "b", Major: 8, Minor: null, Access: "r" });
    }

    [Fact]
    public void Init_runs_the_command_under_the_mounted_init()
    {
        var binary = Path.Combine(_root.Path, "init-binary");
        File.WriteAllText(binary, "");
        var spec = SpecBuilder.Build(Input(new HostConfig { Init = true }, args: ["sleep", "5"], initBinary: binary));
        Assert.Equal(["/sbin/docker-init", "--", "sleep", "5"], spec.Process.Args);
        var mount = Assert.Single(spec.Mounts, m => m.Destination == "/sbin/docker-init");
        Assert.Equal(("bind", binary), (mount.Type, mount.Source));
        Assert.Contains("ro", mount.Options!);

        Assert.Equal(["sleep", "5"], SpecBuilder.Build(Input(new HostConfig { Init = false }, args: ["sleep", "5"], initBinary: binary)).Process.Args);
        var e = Refused(() => SpecBuilder.Build(Input(new HostConfig { Init = true })));
        Assert.Equal(("InitUnavailable", "HostConfig.Init"), (e.Error.Id, e.Error.Field));
    }

    [Theory]
    [InlineData("ulimit", "HostConfig.Ulimits")]
    [InlineData("group", "HostConfig.GroupAdd")]
    [InlineData("pid", "HostConfig.PidMode")]
    [InlineData("cgroup-parent", "HostConfig.CgroupParent")]
    [InlineData("cpus-and-quota", "HostConfig.CpuQuota")]
    [InlineData("oom-score", "HostConfig.OomScoreAdj")]
    [InlineData("device", "HostConfig.Devices")]
    [InlineData("device-rule", "HostConfig.DeviceCgroupRules")]
    public void Bad_docker_options_are_refused_by_field(string what, string field)
    {
        var hc = new HostConfig();
        switch (what)
        {
            case "ulimit": hc.Ulimits = [new Ulimit { Name = "nofile", Soft = 2048, Hard = 1024 }]; break;
            case "group": hc.GroupAdd = ["nosuchgroup"]; break;
            case "pid": hc.PidMode = "sideways"; break;
            case "cgroup-parent": hc.CgroupParent = "../escape"; break;
            case "cpus-and-quota": (hc.NanoCpus, hc.CpuQuota) = (1_000_000_000, 50_000); break;
            case "oom-score": hc.OomScoreAdj = 1001; break;
            case "device": hc.Devices = [new DeviceMapping { PathOnHost = "/etc/passwd" }]; break;
            case "device-rule": hc.DeviceCgroupRules = ["c 1 rwm"]; break;
        }
        Assert.Equal(field, Refused(() => SpecBuilder.Build(Input(hc))).Error.Field);
    }
}
