using ContainerOps.Core.Api;
using ContainerOps.Runtime.Native;

namespace ContainerOps.Runtime.Spec;

/// <summary>Docker's process, namespace and cgroup options of a create request in the OCI spec: --ulimit, --group-add,
/// --pid, --cgroup-parent, --cpu-quota/--cpu-period, --memory-reservation, --oom-score-adj, --oom-kill-disable,
/// --blkio-weight and the device throttles, --device, --device-cgroup-rule and --domainname. Each is checked here, before anything exists.</summary>
public static partial class SpecBuilder
{
    /// <summary>Docker's ulimit names and the rlimits they set.</summary>
    private static readonly Dictionary<string, string> UlimitNames = new(StringComparer.Ordinal)
    {
        ["core"] = "RLIMIT_CORE", ["cpu"] = "RLIMIT_CPU", ["data"] = "RLIMIT_DATA", ["fsize"] = "RLIMIT_FSIZE",
        ["locks"] = "RLIMIT_LOCKS", ["memlock"] = "RLIMIT_MEMLOCK", ["msgqueue"] = "RLIMIT_MSGQUEUE", ["nice"] = "RLIMIT_NICE",
        ["nofile"] = "RLIMIT_NOFILE", ["nproc"] = "RLIMIT_NPROC", ["rss"] = "RLIMIT_RSS", ["rtprio"] = "RLIMIT_RTPRIO",
        ["rttime"] = "RLIMIT_RTTIME", ["sigpending"] = "RLIMIT_SIGPENDING", ["stack"] = "RLIMIT_STACK", ["as"] = "RLIMIT_AS",
    };

    private static ContainerOpsException Invalid(string id, string message, string target, string field) =>
        new(ErrorKind.InvalidArgument, id, message, target, field);

    private static List<OciRlimit>? BuildRlimits(HostConfig hc, string target)
    {
        if (hc.Ulimits.Count == 0) return null;
        var limits = new List<OciRlimit>();
        foreach (var u in hc.Ulimits)
        {
            if (!UlimitNames.TryGetValue(u.Name, out var type))
                throw Invalid("InvalidUlimit", $"ulimit '{u.Name}' is not one of {string.Join(", ", UlimitNames.Keys)}", target, "HostConfig.Ulimits");
            // Docker's -1 is unlimited; the rlimit value for it is all ones.
            ulong Value(long v, string which) => v == -1 ? ulong.MaxValue : v >= 0 ? (ulong)v
                : throw Invalid("InvalidUlimit", $"ulimit {u.Name}: {which} limit {v} is negative", target, "HostConfig.Ulimits");
            var (soft, hard) = (Value(u.Soft, "soft"), Value(u.Hard, "hard"));
            if (soft > hard)
                throw Invalid("InvalidUlimit", $"ulimit {u.Name}: soft limit {u.Soft} is above the hard limit {u.Hard}", target, "HostConfig.Ulimits");
            if (limits.Any(l => l.Type == type))
                throw Invalid("InvalidUlimit", $"ulimit {u.Name} is given twice", target, "HostConfig.Ulimits");
            limits.Add(new OciRlimit { Type = type, Soft = soft, Hard = hard });
        }
        return limits;
    }

    private static List<uint>? AdditionalGroups(UserResolver.ResolvedUser user, HostConfig hc, string rootfs, string target)
    {
        var gids = user.AdditionalGids.ToList();
        foreach (var g in hc.GroupAdd)
        {
            var gid = UserResolver.ResolveGroup(rootfs, g, target);
            if (!gids.Contains(gid)) gids.Add(gid);
        }
        return gids.Count > 0 ? gids : null;
    }

    /// <summary>The pid namespace: the container's own, the host's (none in the spec), or another container's.</summary>
    private static OciNamespace? PidNamespace(HostConfig hc, string? pidNamespacePath, string target) => hc.PidMode switch
    {
        null or "" or "private" => new OciNamespace { Type = "pid" },
        "host" => null,
        var mode when mode.StartsWith("container:", StringComparison.Ordinal) =>
            new OciNamespace { Type = "pid", Path = pidNamespacePath ?? throw Invalid("InvalidPidMode", $"pid mode {mode}: the container is not known", target, "HostConfig.PidMode") },
        var mode => throw Invalid("InvalidPidMode", $"pid mode '{mode}' is not one of host, container:<name|id>", target, "HostConfig.PidMode"),
    };

    private static string CgroupsPath(HostConfig hc, string defaultParent, string id, string target)
    {
        var parent = hc.CgroupParent is { Length: > 0 } p ? p : defaultParent;
        if (parent.Split('/').Any(part => part is "." or ".."))
            throw Invalid("InvalidCgroupParent", $"cgroup parent '{parent}' must not contain . or .. components", target, "HostConfig.CgroupParent");
        return "/" + parent.Trim('/') + "/" + id;
    }

    private static void ApplyCpuQuota(HostConfig hc, OciCpu cpu, string target)
    {
        if (hc.CpuQuota == 0 && hc.CpuPeriod == 0) return;
        if (hc.NanoCpus != 0)
            throw Invalid("ConflictingCpuOptions", "conflicting options: --cpus (NanoCpus) and --cpu-quota/--cpu-period cannot both be set", target, "HostConfig.CpuQuota");
        if (hc.CpuPeriod != 0 && hc.CpuPeriod is < 1000 or > 1_000_000)
            throw Invalid("InvalidCpuPeriod", $"cpu period {hc.CpuPeriod} is out of range 1000..1000000 microseconds", target, "HostConfig.CpuPeriod");
        if (hc.CpuQuota != 0 && hc.CpuQuota != -1 && hc.CpuQuota < 1000)
            throw Invalid("InvalidCpuQuota", $"cpu quota {hc.CpuQuota} is below the minimum of 1000 microseconds (or -1 for none)", target, "HostConfig.CpuQuota");
        if (hc.CpuPeriod != 0) cpu.Period = (ulong)hc.CpuPeriod;
        if (hc.CpuQuota != 0) cpu.Quota = hc.CpuQuota;
    }

    private static void ApplyMemoryOptions(HostConfig hc, OciResources r, string target)
    {
        if (hc.MemoryReservation < 0)
            throw Invalid("InvalidMemoryReservation", $"memory reservation {hc.MemoryReservation} is negative", target, "HostConfig.MemoryReservation");
        if (hc.Memory > 0 && hc.MemoryReservation > hc.Memory)
            throw Invalid("InvalidMemoryReservation", $"memory reservation {hc.MemoryReservation} must be below the memory limit {hc.Memory}", target, "HostConfig.MemoryReservation");
        if (hc.MemoryReservation > 0) (r.Memory ??= new OciMemory()).Reservation = hc.MemoryReservation;
        if (hc.OomKillDisable == true) (r.Memory ??= new OciMemory()).DisableOomKiller = true;
    }

    /// <summary>--blkio-weight, --blkio-weight-device and the four --device-read/write-bps/iops throttles, as Docker
    /// sets them: devices named by path become the block device numbers the cgroup files take.</summary>
    private static void ApplyBlockIo(HostConfig hc, OciResources r, string target)
    {
        var io = new OciBlockIo();
        var any = false;
        if (hc.BlkioWeight != 0)
        {
            if (hc.BlkioWeight is < 10 or > 1000)
                throw Invalid("InvalidBlkioWeight", $"blkio weight {hc.BlkioWeight} is out of range 10..1000", target, "HostConfig.BlkioWeight");
            io.Weight = hc.BlkioWeight;
            any = true;
        }
        foreach (var d in hc.BlkioWeightDevice ?? [])
        {
            if (d.Weight is < 10 or > 1000)
                throw Invalid("InvalidBlkioWeight", $"blkio weight {d.Weight} for {d.Path} is out of range 10..1000", target, "HostConfig.BlkioWeightDevice");
            var (major, minor) = BlockDevice(d.Path, target, "HostConfig.BlkioWeightDevice");
            (io.WeightDevice ??= []).Add(new OciWeightDevice { Major = major, Minor = minor, Weight = d.Weight });
            any = true;
        }
        List<OciThrottleDevice>? Throttles(List<ThrottleDevice>? devices, string field)
        {
            if (devices is not { Count: > 0 }) return null;
            any = true;
            return devices.Select(d =>
            {
                var (major, minor) = BlockDevice(d.Path, target, field);
                return new OciThrottleDevice { Major = major, Minor = minor, Rate = d.Rate };
            }).ToList();
        }
        io.ThrottleReadBpsDevice = Throttles(hc.BlkioDeviceReadBps, "HostConfig.BlkioDeviceReadBps");
        io.ThrottleWriteBpsDevice = Throttles(hc.BlkioDeviceWriteBps, "HostConfig.BlkioDeviceWriteBps");
        io.ThrottleReadIopsDevice = Throttles(hc.BlkioDeviceReadIOps, "HostConfig.BlkioDeviceReadIOps");
        io.ThrottleWriteIopsDevice = Throttles(hc.BlkioDeviceWriteIOps, "HostConfig.BlkioDeviceWriteIOps");
        if (any) r.BlockIo = io;
    }

    private static (long Major, long Minor) BlockDevice(string path, string target, string field)
    {
        if (Libc.stat(path, out var st) != 0)
            throw Invalid("InvalidDevice", $"{path}: no such device on this host", target, field);
        if ((st.Mode & 0xF000) != 0x6000)
            throw Invalid("InvalidDevice", $"{path} is not a block device", target, field);
        return Libc.DeviceNumbers(st.RDev);
    }

    private static int? OomScoreAdj(HostConfig hc, string target) => hc.OomScoreAdj switch
    {
        0 => null,
        < -1000 or > 1000 => throw Invalid("InvalidOomScoreAdj", $"oom score adjustment {hc.OomScoreAdj} is out of range -1000..1000", target, "HostConfig.OomScoreAdj"),
        var adj => adj,
    };

    /// <summary>--device: the host's node (character or block) made at the container path, and allowed in the device
    /// cgroup with the given permissions. --device-cgroup-rule: rules as Docker writes them ('c 1:3 rwm', 'b *:* m').</summary>
    private static void ApplyDevices(HostConfig hc, OciLinux linux, string target)
    {
        // As Docker: a privileged container has every device of the host (its device cgroup allows them all).
        if (hc.Privileged)
        {
            linux.Devices ??= new();
            foreach (var device in HostDevices("/dev"))
                if (!linux.Devices.Any(d => d.Path == device.Path)) linux.Devices.Add(device);
        }
        if (hc.Devices.Count == 0 && hc.DeviceCgroupRules.Count == 0) return;
        linux.Resources ??= new OciResources();
        linux.Resources.Devices ??= new();
        linux.Devices ??= new();
        foreach (var d in hc.Devices)
        {
            var inContainer = d.PathInContainer is { Length: > 0 } c ? c : d.PathOnHost;
            var access = d.CgroupPermissions is { Length: > 0 } a ? a : "rwm";
            if (!inContainer.StartsWith('/'))
                throw Invalid("InvalidDevice", $"device {d.PathOnHost}: the container path '{inContainer}' must be absolute", target, "HostConfig.Devices");
            CheckAccess(access, $"device {d.PathOnHost}", target, "HostConfig.Devices");
            if (Libc.stat(d.PathOnHost, out var st) != 0)
                throw Invalid("InvalidDevice", $"device {d.PathOnHost}: no such device on this host", target, "HostConfig.Devices");
            var type = (st.Mode & 0xF000) switch
            {
                0x2000 => "c",
                0x6000 => "b",
                _ => throw Invalid("InvalidDevice", $"device {d.PathOnHost} is not a character or block device", target, "HostConfig.Devices"),
            };
            var (major, minor) = Libc.DeviceNumbers(st.RDev);
            linux.Devices.RemoveAll(x => x.Path == inContainer);
            linux.Devices.Add(new OciDevice { Path = inContainer, Type = type, Major = major, Minor = minor, FileMode = st.Mode & 0xFFF, Uid = st.Uid, Gid = st.Gid });
            linux.Resources.Devices.Add(new OciDeviceRule { Allow = true, Type = type, Major = major, Minor = minor, Access = access });
        }
        foreach (var rule in hc.DeviceCgroupRules) linux.Resources.Devices.Add(ParseDeviceRule(rule, target));
    }

    /// <summary>Directories of /dev that hold no devices of the host's to give (file systems a container gets its own
    /// of, or a container manager's), skipped as containerd skips them for Docker's privileged containers.</summary>
    private static readonly HashSet<string> NotHostDeviceDirectories = new(StringComparer.Ordinal) { "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev" };

    /// <summary>The character and block devices under <paramref name="dir"/> with their numbers, mode and owner; symbolic
    /// links, other files, the console and ptmx (a container gets its own, and ptmx a link to its devpts') are not
    /// devices to give.</summary>
    internal static IEnumerable<OciDevice> HostDevices(string dir)
    {
        IEnumerable<string> entries;
        try { entries = Directory.EnumerateFileSystemEntries(dir).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var path in entries.Order(StringComparer.Ordinal))
        {
            if (Libc.lstat(path, out var st) != 0) continue;
            var kind = st.Mode & 0xF000;
            if (kind == 0x4000)
            {
                if (NotHostDeviceDirectories.Contains(Path.GetFileName(path))) continue;
                foreach (var device in HostDevices(path)) yield return device;
                continue;
            }
            if (kind is not (0x2000 or 0x6000) || path is "/dev/console" or "/dev/ptmx") continue;
            var (major, minor) = Libc.DeviceNumbers(st.RDev);
            yield return new OciDevice { Path = path, Type = kind == 0x2000 ? "c" : "b", Major = major, Minor = minor, FileMode = st.Mode & 0xFFF, Uid = st.Uid, Gid = st.Gid };
        }
    }

    private static void CheckAccess(string access, string what, string target, string field)
    {
        if (access.Length == 0 || access.Any(ch => ch is not ('r' or 'w' or 'm')) || access.Distinct().Count() != access.Length)
            throw Invalid("InvalidDevice", $"{what}: permissions '{access}' must be letters of rwm", target, field);
    }

    /// <summary>'c 1:3 rwm', 'b 8:* r', 'a *:* m' (Docker's --device-cgroup-rule).</summary>
    public static OciDeviceRule ParseDeviceRule(string rule, string target)
    {
        var parts = rule.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var numbers = parts.Length == 3 ? parts[1].Split(':') : [];
        long? Number(string s) => s == "*" ? null : long.TryParse(s, out var n) && n >= 0 ? n
            : throw Invalid("InvalidDeviceCgroupRule", $"device cgroup rule '{rule}': '{s}' is not a device number or *", target, "HostConfig.DeviceCgroupRules");
        if (parts.Length != 3 || parts[0] is not ("a" or "b" or "c") || numbers.Length != 2)
            throw Invalid("InvalidDeviceCgroupRule", $"device cgroup rule '{rule}' is not 'TYPE MAJOR:MINOR PERMISSIONS' (e.g. 'c 1:3 rwm')", target, "HostConfig.DeviceCgroupRules");
        CheckAccess(parts[2], $"device cgroup rule '{rule}'", target, "HostConfig.DeviceCgroupRules");
        return new OciDeviceRule { Allow = true, Type = parts[0], Major = Number(numbers[0]), Minor = Number(numbers[1]), Access = parts[2] };
    }

    private static string? Domainname(string? domainname, string target)
    {
        if (string.IsNullOrEmpty(domainname)) return null;
        if (domainname.Length > 64 || !HostnamePattern().IsMatch(domainname))
            throw Invalid("InvalidDomainname", $"domain name '{domainname}' is not a valid RFC 1123 name", target, "Domainname");
        return domainname;
    }
}
