using ContainerOps.Core.Api;
using ContainerOps.Runtime.Cgroups;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// The spec's block I/O, hugepage and network limits on this host's cgroups: applied where the host has the files,
/// refused naming the field and what the host lacks where it does not — never dropped — and nothing left behind.
/// </summary>
[Collection("kernel")]
public sealed class CgroupResourceTests
{
    private readonly CgroupManager _cgroups = CgroupManager.ForHost();
    private readonly string _path = "/containerops-test-res-" + Guid.NewGuid().ToString("N")[..8];

    private string? SettingFile(string v1Controller, string file) =>
        _cgroups.Version == 1
            ? Path.Combine("/sys/fs/cgroup", v1Controller, _path.TrimStart('/'), file)
            : Path.Combine("/sys/fs/cgroup", _path.TrimStart('/'), file);

    [Fact]
    public void An_io_throttle_is_written_to_the_cgroup()
    {
        var (_, _, major, minor) = HostDisk.First();
        var resources = new OciResources { BlockIo = new OciBlockIo { ThrottleReadBpsDevice = [new OciThrottleDevice { Major = major, Minor = minor, Rate = 1048576 }] } };
        try
        {
            _cgroups.Create(_path, resources, "res-test");
            var text = _cgroups.Version == 1
                ? File.ReadAllText(SettingFile("blkio", "blkio.throttle.read_bps_device")!)
                : File.ReadAllText(SettingFile("", "io.max")!);
            Assert.Contains(_cgroups.Version == 1 ? $"{major}:{minor} 1048576" : $"{major}:{minor} rbps=1048576", text);
        }
        finally { _cgroups.Remove(_path); }
        Assert.False(_cgroups.Exists(_path));
    }

    [Fact]
    public void A_limit_the_host_cannot_enforce_is_refused_with_its_field_and_nothing_stays()
    {
        var hugetlb = _cgroups.Version == 1
            ? File.ReadAllText("/proc/self/mountinfo").Contains(",hugetlb")
            : File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Contains("hugetlb");
        var weight = _cgroups.Version == 1
            ? File.Exists("/sys/fs/cgroup/blkio/blkio.weight")
            : File.Exists("/sys/fs/cgroup/io.weight") || Directory.GetDirectories("/sys/fs/cgroup").Any(d => File.Exists(Path.Combine(d, "io.bfq.weight")));
        var netCls = _cgroups.Version == 1 && File.ReadAllText("/proc/self/mountinfo").Contains(",net_cls");
        var cases = new List<(OciResources Resources, string Field, bool HostCan)>
        {
            (new OciResources { HugepageLimits = [new OciHugepageLimit { PageSize = "2MB", Limit = 2097152 }] }, "linux.resources.hugepageLimits", hugetlb),
            (new OciResources { BlockIo = new OciBlockIo { Weight = 300 } }, "linux.resources.blockIO.weight", weight),
            (new OciResources { Network = new OciNetwork { ClassId = 1048577 } }, _cgroups.Version == 1 ? "linux.resources.network.classID" : "linux.resources.network", netCls),
            (new OciResources { Unified = new() { ["memory.high"] = "max" } }, "linux.resources.unified", _cgroups.Version == 2),
        };
        foreach (var (resources, field, hostCan) in cases)
        {
            try
            {
                if (hostCan) { _cgroups.Create(_path, resources, "res-test"); continue; }
                var e = Assert.Throws<ContainerOpsException>(() => _cgroups.Create(_path, resources, "res-test"));
                Assert.Equal(("CgroupSettingUnsupported", field), (e.Error.Id, e.Error.Field));
                Assert.Contains("cannot be enforced on this host", e.Message);
                Assert.False(_cgroups.Exists(_path), $"{field}: the refused cgroup stayed");
            }
            finally { _cgroups.Remove(_path); }
        }
    }
}
