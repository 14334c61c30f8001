using ContainerOps.Core.IO;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Cgroups;

/// <summary>cgroup v1: one directory per controller hierarchy (also the controllers of a hybrid layout).</summary>
public sealed class CgroupV1 : CgroupManager
{
    private static readonly string[] Controllers = { "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio" };
    private readonly Dictionary<string, string> _mounts = new();

    public CgroupV1(IEnumerable<MountInfo> mounts)
    {
        foreach (var m in mounts)
        {
            if (m.FsType == "cgroup2") HybridUnifiedMount ??= m.MountPoint;
            if (m.FsType != "cgroup") continue;
            var options = m.SuperOptions.Split(',');
            foreach (var c in Controllers)
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
        return list;
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
