using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Cgroups;

/// <summary>cgroup v2: one directory in the unified hierarchy; controllers enabled down the path through cgroup.subtree_control.
/// Device rules become an eBPF program attached to the directory (<see cref="DeviceFilter"/>).</summary>
public sealed class CgroupV2 : CgroupManager
{
    private readonly string _root;
    public CgroupV2(string root) => _root = root;
    public override int Version => 2;

    private string Dir(string cgroupsPath) => Path.Combine(_root, cgroupsPath.TrimStart('/'));

    public override void Create(string cgroupsPath, OciResources? resources, string target)
    {
        var created = new List<string>();
        try
        {
            var current = _root;
            var available = SmallFile.ReadText(Path.Combine(_root, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var wanted = new[] { "cpu", "cpuset", "memory", "pids", "io", "hugetlb" }.Where(available.Contains).ToList();
            foreach (var part in cgroupsPath.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                // Enable controllers for the children of every level on the way down (no-internal-process rule aside, the parent is ours).
                try { SmallFile.WriteText(Path.Combine(current, "cgroup.subtree_control"), string.Join(' ', wanted.Select(c => "+" + c))); }
                catch (IOException) { }
                current = Path.Combine(current, part);
                if (!Directory.Exists(current)) { Directory.CreateDirectory(current); created.Add(current); }
            }
            Apply(current, resources, target);
        }
        catch
        {
            for (var i = created.Count - 1; i >= 0; i--) TryRmdir(created[i]);
            throw;
        }
    }

    public override void Update(string cgroupsPath, OciResources resources, string target) =>
        Apply(Dir(cgroupsPath), new OciResources { Memory = resources.Memory, Cpu = resources.Cpu, Pids = resources.Pids }, target);

    private static ContainerOpsException Unsupported(string what, string field, string target) =>
        new(ErrorKind.InvalidArgument, "CgroupSettingUnsupported", $"{what} is not available with cgroup v2 (the host's hierarchy)", target, field);

    private static void Apply(string dir, OciResources? r, string target)
    {
        if (r is null) return;
        if (r.Memory is { } memory)
        {
            if (memory.Limit is long limit)
            {
                WriteSetting(dir, "memory.max", limit.ToString(), target, "HostConfig.Memory");
                if (memory.Swap is long swap && File.Exists(Path.Combine(dir, "memory.swap.max")))
                    WriteSetting(dir, "memory.swap.max", swap < 0 ? "max" : Math.Max(0, swap - limit).ToString(), target, "HostConfig.MemorySwap");
            }
            // v2 has a protection (memory.low) where v1 has a soft limit, and no per-group swappiness, OOM-killer switch or
            // TCP buffer limit: those are refused rather than dropped.
            if (memory.Reservation is long soft) WriteSetting(dir, "memory.low", soft.ToString(), target, "HostConfig.MemoryReservation");
            if (memory.Swappiness is ulong swappiness && swappiness != 60)
                throw Unsupported("memory swappiness", "HostConfig.MemorySwappiness", target);
            if (memory.DisableOomKiller == true) throw Unsupported("disabling the OOM killer", "HostConfig.OomKillDisable", target);
            if (memory.KernelTcp is not null) throw Unsupported("a kernel TCP memory limit", "HostConfig.KernelMemoryTCP", target);
            if (memory.Kernel is long kernel) WriteKernelMemory(dir, "memory.kmem.limit_in_bytes", kernel, target); // v2 has none: the warning
        }
        if (r.Cpu is { } cpu)
        {
            if (cpu.Shares is ulong shares)
                WriteSetting(dir, "cpu.weight", (1 + (shares - 2) * 9999 / 262142).ToString(), target, "HostConfig.CpuShares");
            if (cpu.Quota is long quota)
                WriteSetting(dir, "cpu.max", $"{quota} {cpu.Period ?? SpecBuilder.CpuPeriod}", target, "HostConfig.NanoCpus");
            if (cpu.Cpus is { Length: > 0 } cpus) WriteSetting(dir, "cpuset.cpus", cpus, target, "HostConfig.CpusetCpus");
            if (cpu.Mems is { Length: > 0 } mems) WriteSetting(dir, "cpuset.mems", mems, target, "HostConfig.CpusetMems");
        }
        if (r.BlockIo is { } io) ApplyBlockIo(dir, io, target);
        foreach (var hugepages in r.HugepageLimits ?? [])
            WriteIfAvailable(dir, $"hugetlb.{hugepages.PageSize}.max", hugepages.Limit.ToString(), $"a {hugepages.PageSize} hugepage limit", target, "linux.resources.hugepageLimits");
        if (r.Network is { ClassId: not null } or { Priorities.Count: > 0 })
            throw Unavailable("a network class id or priorities", "net_cls and net_prio are cgroup v1 controllers", "linux.resources.network", target);
        foreach (var (file, value) in r.Unified ?? [])
        {
            // A name such as "../x" would leave the container's directory.
            if (file.Contains('/') || file is "." or "..")
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidUnifiedResource", $"linux.resources.unified: '{file}' is not a cgroup file name", target, "linux.resources.unified");
            WriteIfAvailable(dir, file, value, $"linux.resources.unified[{file}]", target, "linux.resources.unified");
        }
        if (r.Pids is { } pids) WriteSetting(dir, "pids.max", pids.Limit > 0 ? pids.Limit.ToString() : "max", target, "HostConfig.PidsLimit");
        if (r.Devices is { Count: > 0 } rules) DeviceFilter.Attach(dir, rules, target);
    }

    /// <summary>v1's blkio settings in v2's io files: weights on io.bfq.weight (BFQ) or io.weight, limits on io.max.</summary>
    private static void ApplyBlockIo(string dir, OciBlockIo io, string target)
    {
        const string field = "linux.resources.blockIO";
        var weightFile = File.Exists(Path.Combine(dir, "io.bfq.weight")) ? "io.bfq.weight" : "io.weight";
        // v1's weights run 10-1000, v2's 1-10000: the conversion runc and crun use.
        static string V2Weight(ushort w) => (1 + (w - 10L) * 9999 / 990).ToString();
        var bfq = weightFile == "io.bfq.weight";
        if (io.Weight is ushort weight) WriteIfAvailable(dir, weightFile, bfq ? weight.ToString() : "default " + V2Weight(weight), "an I/O weight", target, field + ".weight");
        if (io.LeafWeight is not null) throw Unsupported("an I/O leaf weight", field + ".leafWeight", target);
        foreach (var d in io.WeightDevice ?? [])
        {
            if (d.Weight is ushort w) WriteIfAvailable(dir, weightFile, $"{d.Major}:{d.Minor} {(bfq ? w.ToString() : V2Weight(w))}", "a device's I/O weight", target, field + ".weightDevice");
            if (d.LeafWeight is not null) throw Unsupported("an I/O leaf weight", field + ".weightDevice", target);
        }
        foreach (var (devices, key, name) in new[]
        {
            (io.ThrottleReadBpsDevice, "rbps", "throttleReadBpsDevice"), (io.ThrottleWriteBpsDevice, "wbps", "throttleWriteBpsDevice"),
            (io.ThrottleReadIopsDevice, "riops", "throttleReadIOPSDevice"), (io.ThrottleWriteIopsDevice, "wiops", "throttleWriteIOPSDevice"),
        })
            foreach (var d in devices ?? [])
                WriteIfAvailable(dir, "io.max", $"{d.Major}:{d.Minor} {key}={d.Rate}", "an I/O limit", target, $"{field}.{name}");
    }

    public override IReadOnlyList<string> ProcsFiles(string cgroupsPath) => new[] { Path.Combine(Dir(cgroupsPath), "cgroup.procs") };
    public override bool Exists(string cgroupsPath) => Directory.Exists(Dir(cgroupsPath));

    public override void Freeze(string cgroupsPath, bool frozen)
    {
        var dir = Dir(cgroupsPath);
        SmallFile.WriteText(Path.Combine(dir, "cgroup.freeze"), frozen ? "1" : "0");
        if (!frozen) return;
        for (var i = 0; i < 1000 && ReadKey(Path.Combine(dir, "cgroup.events"), "frozen") != 1; i++) Thread.Sleep(1);
    }

    public override bool IsFrozen(string cgroupsPath) =>
        Exists(cgroupsPath) && ReadLong(Path.Combine(Dir(cgroupsPath), "cgroup.freeze")) == 1;

    public override CgroupStats ReadStats(string cgroupsPath)
    {
        var dir = Dir(cgroupsPath);
        return new CgroupStats(
            ReadKey(Path.Combine(dir, "cpu.stat"), "usage_usec") * 1000,
            ReadLong(Path.Combine(dir, "memory.current")),
            ReadLong(Path.Combine(dir, "memory.max")),
            ReadLong(Path.Combine(dir, "pids.current")),
            ReadLong(Path.Combine(dir, "pids.max")),
            OomKills(cgroupsPath));
    }

    public override long OomKills(string cgroupsPath) => ReadKey(Path.Combine(Dir(cgroupsPath), "memory.events"), "oom_kill");

    protected override bool TryRemoveDirectories(string cgroupsPath) => TryRmdir(Dir(cgroupsPath));
}
