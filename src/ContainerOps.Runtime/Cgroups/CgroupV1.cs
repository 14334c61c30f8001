using ContainerOps.Core.IO;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Cgroups;

/// <summary>cgroup v1: one directory per controller hierarchy (also the controllers of a hybrid layout).</summary>
public sealed class CgroupV1 : CgroupManager
{
    private static readonly string[] Controllers = { "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio" };
    /// <summary>Hierarchies a container joins only when its spec limits them: most containers never pay for their
    /// directories.</summary>
    private static readonly string[] OptionalControllers = { "hugetlb", "net_cls", "net_prio" };
    private readonly Dictionary<string, string> _mounts = new();

    public CgroupV1(IEnumerable<MountInfo> mounts)
    {
        foreach (var m in mounts)
        {
            if (m.FsType == "cgroup2") HybridUnifiedMount ??= m.MountPoint;
            if (m.FsType != "cgroup") continue;
            var options = m.SuperOptions.Split(',');
            foreach (var c in Controllers.Concat(OptionalControllers))
                if (options.Contains(c) && !_mounts.ContainsKey(c)) _mounts[c] = m.MountPoint;
        }
    }

    /// <summary>The cgroup2 mount beside the v1 hierarchies of a hybrid layout (such as /sys/fs/cgroup/unified), or null.</summary>
    public string? HybridUnifiedMount { get; }

    /// <summary>Whether that unified hierarchy holds a controller (hugetlb on some hosts), a layout crun 1.8 refuses.</summary>
    public bool HybridUnifiedHoldsControllers
    {
        get
        {
            if (HybridUnifiedMount is null) return false;
            try { return SmallFile.ReadText(Path.Combine(HybridUnifiedMount, "cgroup.controllers")).Trim().Length > 0; }
            catch (IOException) { return false; }
        }
    }

    public override int Version => 1;

    /// <summary>Distinct directories (co-mounted controllers such as cpu,cpuacct share one).</summary>
    private List<(string Controller, string Dir)> Dirs(string cgroupsPath)
    {
        var seen = new HashSet<string>();
        var list = new List<(string, string)>();
        foreach (var c in Controllers)
        {
            if (!_mounts.TryGetValue(c, out var mount)) continue;
            var dir = Path.Combine(mount, cgroupsPath.TrimStart('/'));
            if (seen.Add(dir)) list.Add((c, dir));
        }
        foreach (var c in OptionalControllers)
        {
            if (!_mounts.TryGetValue(c, out var mount)) continue;
            var dir = Path.Combine(mount, cgroupsPath.TrimStart('/'));
            if (Directory.Exists(dir) && seen.Add(dir)) list.Add((c, dir));
        }
        return list;
    }

    /// <summary>The optional hierarchies <paramref name="r"/> limits.</summary>
    private static IEnumerable<string> OptionalControllersFor(OciResources? r)
    {
        if (r?.HugepageLimits is { Count: > 0 }) yield return "hugetlb";
        if (r?.Network?.ClassId is not null) yield return "net_cls";
        if (r?.Network?.Priorities is { Count: > 0 }) yield return "net_prio";
    }

    private string? Dir(string controller, string cgroupsPath) =>
        _mounts.TryGetValue(controller, out var mount) ? Path.Combine(mount, cgroupsPath.TrimStart('/')) : null;

    public override void Create(string cgroupsPath, OciResources? resources, string target)
    {
        var created = new List<string>();
        try
        {
            foreach (var (controller, dir) in Dirs(cgroupsPath))
            {
                if (controller == "cpuset") CreateCpusetChain(_mounts["cpuset"], cgroupsPath, created);
                else CreateChain(dir, created);
            }
            foreach (var controller in OptionalControllersFor(resources))
                if (Dir(controller, cgroupsPath) is { } dir) CreateChain(dir, created);
            Apply(cgroupsPath, resources, target);
        }
        catch
        {
            for (var i = created.Count - 1; i >= 0; i--) TryRmdir(created[i]);
            throw;
        }
    }

    private static void CreateChain(string dir, List<string> created)
    {
        var missing = new Stack<string>();
        for (var d = dir; !Directory.Exists(d); d = Path.GetDirectoryName(d)!) missing.Push(d);
        while (missing.Count > 0)
        {
            var d = missing.Pop();
            Directory.CreateDirectory(d);
            created.Add(d);
        }
    }

    /// <summary>A new cpuset cgroup starts with empty cpus/mems, which refuses every task: copy the parent's at each level.</summary>
    private static void CreateCpusetChain(string mount, string cgroupsPath, List<string> created)
    {
        var current = mount;
        foreach (var part in cgroupsPath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var parent = current;
            current = Path.Combine(current, part);
            if (!Directory.Exists(current))
            {
                Directory.CreateDirectory(current);
                created.Add(current);
            }
            foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" })
            {
                var path = Path.Combine(current, file);
                if (SmallFile.ReadText(path).Trim().Length == 0)
                    SmallFile.WriteText(path, SmallFile.ReadText(Path.Combine(parent, file)).Trim());
            }
        }
    }

    public override void Update(string cgroupsPath, OciResources resources, string target) =>
        Apply(cgroupsPath, new OciResources { Memory = resources.Memory, Cpu = resources.Cpu, Pids = resources.Pids }, target);

    private void Apply(string cgroupsPath, OciResources? r, string target)
    {
        if (r is null) return;
        if (r.Memory is { } memory && Dir("memory", cgroupsPath) is { } mem)
        {
            if (memory.Limit is long limit)
            {
                WriteSetting(mem, "memory.limit_in_bytes", limit.ToString(), target, "HostConfig.Memory");
                if (memory.Swap is long swap && File.Exists(Path.Combine(mem, "memory.memsw.limit_in_bytes")))
                    WriteSetting(mem, "memory.memsw.limit_in_bytes", swap.ToString(), target, "HostConfig.MemorySwap");
            }
            if (memory.Reservation is long soft) WriteSetting(mem, "memory.soft_limit_in_bytes", soft.ToString(), target, "HostConfig.MemoryReservation");
            if (memory.Swappiness is ulong swappiness)
            {
                if (swappiness > 100)
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidSwappiness", $"memory swappiness {swappiness} is not between 0 and 100", target, "HostConfig.MemorySwappiness");
                WriteSetting(mem, "memory.swappiness", swappiness.ToString(), target, "HostConfig.MemorySwappiness");
            }
            if (memory.DisableOomKiller == true) WriteSetting(mem, "memory.oom_control", "1", target, "HostConfig.OomKillDisable");
            if (memory.KernelTcp is long tcp) WriteSetting(mem, "memory.kmem.tcp.limit_in_bytes", tcp.ToString(), target, "HostConfig.KernelMemoryTCP");
            if (memory.Kernel is long kernel) WriteKernelMemory(mem, "memory.kmem.limit_in_bytes", kernel, target);
        }
        if (r.Cpu is { } cpu && Dir("cpu", cgroupsPath) is { } cpuDir)
        {
            if (cpu.Shares is ulong shares) WriteSetting(cpuDir, "cpu.shares", shares.ToString(), target, "HostConfig.CpuShares");
            if (cpu.Period is ulong period) WriteSetting(cpuDir, "cpu.cfs_period_us", period.ToString(), target, "HostConfig.NanoCpus");
            if (cpu.Quota is long quota) WriteSetting(cpuDir, "cpu.cfs_quota_us", quota.ToString(), target, "HostConfig.NanoCpus");
        }
        if (r.Cpu?.Cpus is { Length: > 0 } cpus && Dir("cpuset", cgroupsPath) is { } cpuset)
            WriteSetting(cpuset, "cpuset.cpus", cpus, target, "HostConfig.CpusetCpus");
        if (r.Pids is { } pids && Dir("pids", cgroupsPath) is { } pidsDir)
            WriteSetting(pidsDir, "pids.max", pids.Limit > 0 ? pids.Limit.ToString() : "max", target, "HostConfig.PidsLimit");
        if (r.Cpu?.Mems is { Length: > 0 } mems && Dir("cpuset", cgroupsPath) is { } cpusetMems)
            WriteSetting(cpusetMems, "cpuset.mems", mems, target, "HostConfig.CpusetMems");
        if (r.BlockIo is { } io) ApplyBlockIo(cgroupsPath, io, target);
        foreach (var hugepages in r.HugepageLimits ?? [])
        {
            var file = $"hugetlb.{hugepages.PageSize}.limit_in_bytes";
            var dir = Dir("hugetlb", cgroupsPath) ?? throw Unavailable($"a {hugepages.PageSize} hugepage limit", "no hugetlb cgroup hierarchy is mounted", "linux.resources.hugepageLimits", target);
            WriteIfAvailable(dir, file, hugepages.Limit.ToString(), $"a {hugepages.PageSize} hugepage limit", target, "linux.resources.hugepageLimits");
        }
        if (r.Network is { } network) ApplyNetwork(cgroupsPath, network, target);
        if (r.Unified is { Count: > 0 })
            throw Unavailable("linux.resources.unified", "its files are cgroup v2's and this host's controllers are v1", "linux.resources.unified", target);
        if (r.Devices is { Count: > 0 } rules && Dir("devices", cgroupsPath) is { } devices)
        {
            foreach (var rule in rules)
            {
                var type = rule.Type ?? "a";
                var line = type == "a" ? "a" : $"{type} {(rule.Major?.ToString() ?? "*")}:{(rule.Minor?.ToString() ?? "*")} {rule.Access ?? "rwm"}";
                WriteSetting(devices, rule.Allow ? "devices.allow" : "devices.deny", line, target, "Linux.Resources.Devices");
            }
        }
    }

    private void ApplyBlockIo(string cgroupsPath, OciBlockIo io, string target)
    {
        const string field = "linux.resources.blockIO";
        var dir = Dir("blkio", cgroupsPath) ?? throw Unavailable("block I/O limits", "no blkio cgroup hierarchy is mounted", field, target);
        // Weights need an I/O scheduler that has them (BFQ); without one the files are missing.
        if (io.Weight is ushort weight) WriteIfAvailable(dir, "blkio.weight", weight.ToString(), "an I/O weight", target, field + ".weight");
        if (io.LeafWeight is ushort leaf) WriteIfAvailable(dir, "blkio.leaf_weight", leaf.ToString(), "an I/O leaf weight", target, field + ".leafWeight");
        foreach (var d in io.WeightDevice ?? [])
        {
            if (d.Weight is ushort w) WriteIfAvailable(dir, "blkio.weight_device", $"{d.Major}:{d.Minor} {w}", "a device's I/O weight", target, field + ".weightDevice");
            if (d.LeafWeight is ushort lw) WriteIfAvailable(dir, "blkio.leaf_weight_device", $"{d.Major}:{d.Minor} {lw}", "a device's I/O leaf weight", target, field + ".weightDevice");
        }
        foreach (var (devices, file, name) in new[]
        {
            (io.ThrottleReadBpsDevice, "blkio.throttle.read_bps_device", "throttleReadBpsDevice"),
            (io.ThrottleWriteBpsDevice, "blkio.throttle.write_bps_device", "throttleWriteBpsDevice"),
            (io.ThrottleReadIopsDevice, "blkio.throttle.read_iops_device", "throttleReadIOPSDevice"),
            (io.ThrottleWriteIopsDevice, "blkio.throttle.write_iops_device", "throttleWriteIOPSDevice"),
        })
            foreach (var d in devices ?? [])
                WriteIfAvailable(dir, file, $"{d.Major}:{d.Minor} {d.Rate}", "an I/O throttle", target, $"{field}.{name}");
    }

    private void ApplyNetwork(string cgroupsPath, OciNetwork network, string target)
    {
        const string field = "linux.resources.network";
        if (network.ClassId is uint classId)
        {
            var dir = Dir("net_cls", cgroupsPath) ?? throw Unavailable("a network class id", "no net_cls cgroup hierarchy is mounted", field + ".classID", target);
            WriteSetting(dir, "net_cls.classid", classId.ToString(), target, field + ".classID");
        }
        if (network.Priorities is { Count: > 0 } priorities)
        {
            var dir = Dir("net_prio", cgroupsPath) ?? throw Unavailable("network priorities", "no net_prio cgroup hierarchy is mounted", field + ".priorities", target);
            foreach (var p in priorities) WriteSetting(dir, "net_prio.ifpriomap", $"{p.Name} {p.Priority}", target, field + ".priorities");
        }
    }

    public override IReadOnlyList<string> ProcsFiles(string cgroupsPath) =>
        Dirs(cgroupsPath).Select(d => Path.Combine(d.Dir, "cgroup.procs")).ToList();

    public override bool Exists(string cgroupsPath) => Dirs(cgroupsPath).Any(d => Directory.Exists(d.Dir));

    public override void Freeze(string cgroupsPath, bool frozen)
    {
        var dir = Dir("freezer", cgroupsPath) ?? throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NoFreezer", "the freezer cgroup controller is not mounted", cgroupsPath);
        SmallFile.WriteText(Path.Combine(dir, "freezer.state"), frozen ? "FROZEN" : "THAWED");
        if (!frozen) return;
        for (var i = 0; i < 1000 && IsFreezing(dir); i++) Thread.Sleep(1);
    }

    private static bool IsFreezing(string dir) => SmallFile.ReadText(Path.Combine(dir, "freezer.state")).Trim() == "FREEZING";

    public override bool IsFrozen(string cgroupsPath)
    {
        var dir = Dir("freezer", cgroupsPath);
        if (dir is null || !Directory.Exists(dir)) return false;
        try { return SmallFile.ReadText(Path.Combine(dir, "freezer.state")).Trim() != "THAWED"; }
        catch (IOException) { return false; }
    }

    public override CgroupStats ReadStats(string cgroupsPath)
    {
        var mem = Dir("memory", cgroupsPath);
        var limit = mem is null ? 0 : ReadLong(Path.Combine(mem, "memory.limit_in_bytes"));
        if (limit >= long.MaxValue / 2) limit = 0; // "unlimited" is a page-rounded LONG_MAX
        var pidsDir = Dir("pids", cgroupsPath);
        var acct = Dir("cpuacct", cgroupsPath);
        return new CgroupStats(
            acct is null ? 0 : ReadLong(Path.Combine(acct, "cpuacct.usage")),
            mem is null ? 0 : ReadLong(Path.Combine(mem, "memory.usage_in_bytes")),
            limit,
            pidsDir is null ? 0 : ReadLong(Path.Combine(pidsDir, "pids.current")),
            pidsDir is null ? 0 : ReadLong(Path.Combine(pidsDir, "pids.max")),
            OomKills(cgroupsPath));
    }

    public override long OomKills(string cgroupsPath)
    {
        var mem = Dir("memory", cgroupsPath);
        return mem is null ? 0 : ReadKey(Path.Combine(mem, "memory.oom_control"), "oom_kill");
    }

    protected override bool TryRemoveDirectories(string cgroupsPath)
    {
        var ok = true;
        foreach (var (_, dir) in Dirs(cgroupsPath)) ok &= TryRmdir(dir);
        return ok;
    }
}
