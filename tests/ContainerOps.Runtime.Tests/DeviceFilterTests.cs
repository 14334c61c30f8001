using ContainerOps.Core.Api;
using ContainerOps.Runtime.Builtin;
using ContainerOps.Runtime.Cgroups;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// Device rules on cgroup v2 are an eBPF program on the container's cgroup. Hosts with the hybrid layout (this one)
/// still mount the unified hierarchy, and the kernel checks its device programs there too, so the real program is
/// attached and a real process is refused a device.
/// </summary>
[Collection("kernel")]
public sealed class DeviceFilterTests : IClassFixture<RuntimeFixture>
{
    private readonly RuntimeFixture _f;
    public DeviceFilterTests(RuntimeFixture f) => _f = f;

    private const string Unified = "/sys/fs/cgroup/unified";

    private static string UnifiedRoot() =>
        File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup"
        : File.Exists(Path.Combine(Unified, "cgroup.procs")) ? Unified
        : throw new InvalidOperationException("no cgroup v2 hierarchy is mounted on this host");

    private static readonly List<OciDeviceRule> DockerLike =
    [
        new() { Allow = false, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },   // /dev/null
        new() { Allow = true, Type = "c", Major = 1, Minor = 9, Access = "r" },     // /dev/urandom, read only
    ];

    [Fact]
    public void A_process_in_the_cgroup_gets_only_the_devices_the_rules_allow()
    {
        var root = UnifiedRoot();
        var cgroupsPath = "/containerops-test-" + Guid.NewGuid().ToString("N")[..8];
        var manager = new CgroupV2(root);
        manager.Create(cgroupsPath, new OciResources { Devices = DockerLike }, "device-test");
        var dir = Path.Combine(root, cgroupsPath.TrimStart('/'));
        try
        {
            var output = Shell.Run("/bin/sh", "-c \"echo $$ > " + dir + "/cgroup.procs; " +
                "(echo x > /dev/null) 2>/dev/null && echo null-write-ok || echo null-write-denied; " +
                "(head -c1 /dev/zero >/dev/null) 2>/dev/null && echo zero-ok || echo zero-denied; " +
                "(head -c1 /dev/urandom >/dev/null) 2>/dev/null && echo urandom-read-ok || echo urandom-read-denied; " +
                "(echo x > /dev/urandom) 2>/dev/null && echo urandom-write-ok || echo urandom-write-denied\"");
            Assert.Contains("null-write-ok", output);
            Assert.Contains("zero-denied", output);
            Assert.Contains("urandom-read-ok", output);
            Assert.Contains("urandom-write-denied", output);
        }
        finally { manager.Remove(cgroupsPath); }
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void An_allow_all_rule_after_the_denial_lets_everything_through()
    {
        var root = UnifiedRoot();
        var cgroupsPath = "/containerops-test-" + Guid.NewGuid().ToString("N")[..8];
        var manager = new CgroupV2(root);
        manager.Create(cgroupsPath, new OciResources { Devices = [new() { Allow = false }, new() { Allow = true, Access = "rwm" }] }, "device-test");
        try
        {
            var dir = Path.Combine(root, cgroupsPath.TrimStart('/'));
            var output = Shell.Run("/bin/sh", "-c \"echo $$ > " + dir + "/cgroup.procs; (head -c1 /dev/zero >/dev/null) 2>/dev/null && echo zero-ok || echo zero-denied\"");
            Assert.Contains("zero-ok", output);
        }
        finally { manager.Remove(cgroupsPath); }
    }

    [Fact]
    public void A_bad_rule_is_refused_naming_it()
    {
        var e = Assert.Throws<ContainerOpsException>(() =>
            DeviceFilter.Compile([new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwx" }], "t"));
        Assert.Equal("Linux.Resources.Devices[0]", e.Error.Field);
        Assert.Contains("rwx", e.Message);
    }

    [Fact]
    public void The_last_rule_is_tested_first_and_a_rule_for_every_device_ends_the_program()
    {
        var program = DeviceFilter.Compile(DockerLike, "t");
        // After the six loads of the context: the last rule's type test (char devices are type 2) …
        Assert.Equal(0x55, program[6].Code);
        Assert.Equal(2, program[6].Immediate);
        // … and the first rule (every device, every access, deny) is just "r0 = 0; exit", and it ends the program.
        Assert.Equal([0x95, 0xb7, 0x95], program[^3..].Select(x => (int)x.Code));
        Assert.Equal(0, program[^2].Immediate);
        // Rules after one that decides for every device are never reached, so they are left out.
        var shadowed = DeviceFilter.Compile([new() { Allow = true, Type = "c", Major = 1, Minor = 3 }, new() { Allow = false }], "t");
        Assert.Equal(8, shadowed.Length);
    }

    [Fact]
    public async Task A_container_in_a_v2_cgroup_can_make_a_device_node_but_not_open_it_and_can_be_paused()
    {
        var runtime = new BuiltinRuntime(new RuntimeContext { StateRoot = Path.Combine(_f.Root.Path, "v2-state"), ShimPath = RuntimeFixture.ShimPath },
            new CgroupV2(UnifiedRoot()));
        var b = _f.Bundle(new[] { "/bin/sh", "-c",
            "mknod /tmp/disk b 8 0 && echo mknod-ok; head -c1 /tmp/disk >/dev/null 2>/tmp/err; cat /tmp/err; head -c1 /dev/zero | wc -c; sleep 60" });
        await runtime.RunAsync(_f.Options(b));
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            string Log() => File.Exists(b.Log) ? File.ReadAllText(b.Log) : "";
            while (!Log().Contains("\"1\\n\"") && DateTime.UtcNow < deadline) await Task.Delay(20);
            var log = Log();
            Assert.Contains("mknod-ok", log);
            Assert.Contains("Operation not permitted", log);
            Assert.Contains("\"1\\n\"", log);
            // The init was cloned into its cgroup (or moved there) before it ran anything.
            var pid = runtime.GetStatus(b.Id).Pid;
            Assert.Contains($"0::/{_f.CgroupParent.Trim('/')}/{b.Id}\n", File.ReadAllText($"/proc/{pid}/cgroup"));
            runtime.Pause(b.Id);
            Assert.Equal(RuntimeState.Paused, runtime.GetStatus(b.Id).State);
            runtime.Resume(b.Id);
            Assert.Equal(RuntimeState.Running, runtime.GetStatus(b.Id).State);
        }
        finally { await runtime.DeleteAsync(b.Id, force: true); }
        Assert.False(Directory.Exists(Path.Combine(UnifiedRoot(), _f.CgroupParent, b.Id)));
    }
}
