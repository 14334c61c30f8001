using System.Text.Json;
using System.Text.RegularExpressions;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Core.Security;
using ContainerOps.Runtime.Seccomp;

namespace ContainerOps.Runtime.Spec;

/// <summary>
/// Request + image config → OCI runtime spec with Docker's defaults: the 14 capabilities, masked and
/// read-only /proc and /sys paths, a minimal /dev, a devices cgroup allow-list, and the cgroup limits asked for.
/// All validation happens here, before any kernel object exists, and each error names its field.
/// </summary>
public static partial class SpecBuilder
{
    /// <summary>Docker refuses memory limits below 6 MB: the container could not even start.</summary>
    public const long MinimumMemory = 6 * 1024 * 1024;
    public const ulong CpuPeriod = 100_000;

    public static readonly string[] DefaultMaskedPaths =
    {
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    };

    public static readonly string[] DefaultReadonlyPaths =
    {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    };

    private static readonly (string Path, long Major, long Minor)[] DefaultDevices =
    {
        ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
    };

    public static OciSpec Build(ContainerSpecInput input)
    {
        var hc = input.HostConfig;
        var target = input.Id;
        if (input.Args.Count == 0 || string.IsNullOrEmpty(input.Args[0]))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "NoCommand",
                "no command specified: the image has no CMD or ENTRYPOINT and none was given", target, "Cmd");

        var user = UserResolver.Resolve(input.RootfsPath, input.User, target);
        var hostNetwork = string.Equals(hc.NetworkMode, "host", StringComparison.Ordinal);
        if (!hostNetwork && hc.NetworkMode is not ("none" or "" or "default" or "bridge") && !hc.NetworkMode.StartsWith("container:", StringComparison.Ordinal))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidNetworkMode",
                $"network mode '{hc.NetworkMode}' is not supported (none, host or container:<id>)", target, "HostConfig.NetworkMode");

        var hostname = hostNetwork ? Environment.MachineName : (input.Hostname is { Length: > 0 } h ? h : input.Id[..Math.Min(12, input.Id.Length)]);
        if (hostname.Length > 64 || !HostnamePattern().IsMatch(hostname))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidHostname",
                $"hostname '{hostname}' is not a valid RFC 1123 host name", target, "Hostname");

        var env = new List<string>(input.Env);
        if (!DefaultEnvironment.SetsPath(env)) env.Insert(0, DefaultEnvironment.Path);
        if (!env.Any(e => e.StartsWith("HOSTNAME=", StringComparison.Ordinal))) env.Add("HOSTNAME=" + hostname);
        if (!env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal))) env.Add("HOME=" + user.Home);
        if (input.Tty && !env.Any(e => e.StartsWith("TERM=", StringComparison.Ordinal))) env.Add("TERM=xterm");
        foreach (var e in env)
            if (!e.Contains('=') || e.StartsWith('='))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidEnvironment",
                    $"environment entry '{e}' is not KEY=VALUE", target, "Env");

        var cwd = string.IsNullOrEmpty(input.WorkingDir) ? "/" : input.WorkingDir;
        if (!cwd.StartsWith('/'))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidWorkingDir",
                $"working directory '{cwd}' must be an absolute path", target, "WorkingDir");

        var caps = BuildCapabilities(hc, target);
        var security = SecurityOptions.Parse(hc.SecurityOpt, target);
        var confined = !hc.Privileged && !security.SystemPathsUnconfined;

        var spec = new OciSpec
        {
            Process = new OciProcess
            {
                Terminal = input.Tty,
                User = new OciUser { Uid = user.Uid, Gid = user.Gid, AdditionalGids = AdditionalGroups(user, hc, input.RootfsPath, target) },
                Args = input.Args.ToList(),
                Env = env,
                Cwd = cwd,
                Capabilities = new OciCapabilities { Bounding = caps, Effective = caps, Permitted = caps },
                // No rlimits by default: the container inherits the daemon's, as with runc when the spec names none
                // (raising a hard limit needs CAP_SYS_RESOURCE in the initial namespace, which a nested host may not have).
                Rlimits = BuildRlimits(hc, target),
                OomScoreAdj = OomScoreAdj(hc, target),
                NoNewPrivileges = security.NoNewPrivileges,
            },
            Root = new OciRoot { Path = input.RootfsPath, Readonly = hc.ReadonlyRootfs },
            Hostname = hostNetwork ? null : hostname,
            Domainname = Domainname(input.Domainname, target),
            Mounts = DefaultMounts(hc.Privileged),
            Linux = new OciLinux
            {
                Namespaces = BuildNamespaces(hc, input.IpcNamespacePath, input.UtsNamespacePath, PidNamespace(hc, input.PidNamespacePath, target)),
                CgroupsPath = CgroupsPath(hc, input.CgroupParent, input.Id, target),
                Resources = BuildResources(hc, target),
                MaskedPaths = confined ? DefaultMaskedPaths.ToList() : null,
                ReadonlyPaths = confined ? DefaultReadonlyPaths.ToList() : null,
                Devices = DefaultDevices.Select(d => new OciDevice { Path = d.Path, Type = "c", Major = d.Major, Minor = d.Minor, FileMode = 438, Uid = 0, Gid = 0 }).ToList(),
                Sysctl = BuildSysctls(hc, hostNetwork, target),
                Seccomp = BuildSeccomp(hc, security, caps, target),
            },
        };

        ApplyDevices(hc, spec.Linux, target);
        if (input.HostnameFile is not null) spec.Mounts.Add(BindFile(input.HostnameFile, "/etc/hostname", hc.ReadonlyRootfs));
        if (input.HostsFile is not null) spec.Mounts.Add(BindFile(input.HostsFile, "/etc/hosts", hc.ReadonlyRootfs));
        if (input.ResolvConfFile is not null) spec.Mounts.Add(BindFile(input.ResolvConfFile, "/etc/resolv.conf", hc.ReadonlyRootfs));
        ApplyShm(spec, hc, input, target);
        foreach (var m in input.Mounts ?? MountRequests.Parse(hc, target).Select(m => CheckStandalone(m, target)).ToList())
        {
            spec.Mounts.RemoveAll(d => d.Destination == m.Destination);
            spec.Mounts.Add(MountRequests.ToOci(m));
        }
        if (hc.Init == true) ApplyInit(spec, input, target);
        ApplyMountPropagation(spec, target);
        return spec;
    }

    /// <summary>As Docker: a bind that shares mounts with the host (shared) or receives them (slave) needs the
    /// container's tree to stay connected to the host's — the root's propagation becomes rshared or rslave — and a source
    /// on a mount that is itself shared (or, for slave, shared or a slave), which is checked here, before anything exists.</summary>
    private static void ApplyMountPropagation(OciSpec spec, string target)
    {
        List<Cgroups.MountInfo>? table = null;
        var (shared, slave) = (false, false);
        foreach (var m in spec.Mounts)
        {
            var options = m.Options ?? [];
            var wantsShared = options.Any(o => o is "shared" or "rshared");
            var wantsSlave = !wantsShared && options.Any(o => o is "slave" or "rslave");
            if (!wantsShared && !wantsSlave || m.Source is not { Length: > 0 } source) continue;
            table ??= Cgroups.MountInfo.Read();
            var on = Cgroups.MountInfo.Containing(Path.GetFullPath(source), table);
            if (on is null) continue;
            if (wantsShared && !on.IsShared)
                throw Invalid("InvalidMount", $"path {source} is mounted on {on.MountPoint} but it is not a shared mount (mount --make-shared {on.MountPoint}, or ask for another propagation)", target, "HostConfig.Binds");
            if (wantsSlave && !on.IsShared && !on.IsSlave)
                throw Invalid("InvalidMount", $"path {source} is mounted on {on.MountPoint} but it is not a shared or slave mount (mount --make-shared {on.MountPoint}, or ask for another propagation)", target, "HostConfig.Binds");
            shared |= wantsShared;
            slave |= wantsSlave;
        }
        if (shared) spec.Linux!.RootfsPropagation = "rshared";
        else if (slave && spec.Linux!.RootfsPropagation is null or "" or "private" or "rprivate") spec.Linux.RootfsPropagation = "rslave";
    }

    /// <summary>Where `--init` puts the init in the container, as Docker does.</summary>
    public const string InitPath = "/sbin/docker-init";

    /// <summary>`--init`: the host's init binary, read-only at <see cref="InitPath"/>, runs the command as its child
    /// (`/sbin/docker-init -- CMD…`), for any runtime, since it is only a mount and the arguments.</summary>
    private static void ApplyInit(OciSpec spec, ContainerSpecInput input, string target)
    {
        if (input.InitBinary is not { Length: > 0 } binary || !File.Exists(binary))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InitUnavailable",
                $"--init needs the init binary (the containerops-shim), which is not at '{input.InitBinary}'", target, "HostConfig.Init");
        spec.Mounts.RemoveAll(m => m.Destination == InitPath);
        spec.Mounts.Add(BindFile(binary, InitPath, readOnly: true));
        spec.Process!.Args.InsertRange(0, [InitPath, "--"]);
    }

    /// <summary>A bundle's config.json to start from, as `runc spec` writes one: `sh` on a terminal in ./rootfs (read-only),
    /// with this builder's defaults (capabilities, mounts, masked paths, device rules) and the default seccomp profile.</summary>
    public static OciSpec Template()
    {
        var caps = Capabilities.DockerDefault.ToList();
        return new OciSpec
        {
            Process = new OciProcess
            {
                Terminal = true, Args = new() { "sh" }, Env = new() { DefaultEnvironment.Path, "TERM=xterm" },
                Capabilities = new OciCapabilities { Bounding = caps, Effective = caps, Permitted = caps }, NoNewPrivileges = true,
                Rlimits = new() { new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 } },
            },
            Root = new OciRoot { Path = "rootfs", Readonly = true },
            Hostname = "containerops",
            Mounts = DefaultMounts(false),
            Linux = new OciLinux
            {
                Namespaces = new() { new() { Type = "pid" }, new() { Type = "network" }, new() { Type = "ipc" }, new() { Type = "uts" }, new() { Type = "mount" } },
                Resources = new OciResources { Devices = new() { new OciDeviceRule { Allow = false, Access = "rwm" } } },
                MaskedPaths = DefaultMaskedPaths.ToList(),
                ReadonlyPaths = DefaultReadonlyPaths.ToList(),
                Seccomp = DefaultSeccompProfile.Profile.Resolve(caps),
            },
        };
    }

    /// <summary>As Docker: none when privileged or with seccomp=unconfined; otherwise the container's own profile or the
    /// default one, resolved for its capabilities (the bounding set) and this host. A profile the built-in runtime
    /// cannot load is refused now, before anything exists, rather than at the first start.</summary>
    private static SeccompProfile? BuildSeccomp(HostConfig hc, SecurityOptions security, List<string> caps, string target)
    {
        if (hc.Privileged || security.SeccompUnconfined) return null;
        var profile = (security.SeccompProfile ?? DefaultSeccompProfile.Profile).Resolve(caps);
        if (hc.Runtime is null or "" or "builtin") SeccompCompiler.CheckSupported(profile, target, "seccomp profile", "HostConfig.SecurityOpt");
        return profile;
    }

    /// <summary>What a create request asks for that will not be applied (Docker's ContainerCreateResponse.Warnings).</summary>
    public static List<string> Warnings(HostConfig hc) => SecurityOptions.Parse(hc.SecurityOpt).Warnings();

    public static void WriteBundle(string bundleDir, OciSpec spec)
    {
        Directory.CreateDirectory(bundleDir);
        // Not durable: a bundle is written anew at every start, and nothing runs from it after a power loss.
        AtomicFile.WriteAllBytes(Path.Combine(bundleDir, "config.json"), JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonContext.Default.OciSpec), durable: false);
    }

    public static OciSpec ReadBundle(string bundleDir)
    {
        var path = Path.Combine(bundleDir, "config.json");
        if (!File.Exists(path))
            throw new ContainerOpsException(ErrorKind.NotFound, "BundleNotFound", $"bundle '{bundleDir}' has no config.json", bundleDir);
        try
        {
            return OciSpecReader.Read(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBundle", $"{path}: {e.Message}", bundleDir, "config.json");
        }
    }

    private static List<string> BuildCapabilities(HostConfig hc, string target)
    {
        if (hc.Privileged) return Capabilities.HostBounding();
        var add = hc.CapAdd.Select(c => Capabilities.Normalize(c, "HostConfig.CapAdd", target)).ToList();
        var drop = hc.CapDrop.Select(c => Capabilities.Normalize(c, "HostConfig.CapDrop", target)).ToList();
        var set = drop.Contains("ALL") ? new List<string>() : Capabilities.DockerDefault.Where(c => !drop.Contains(c)).ToList();
        if (add.Contains("ALL")) set = Capabilities.All.Where(c => !drop.Contains(c)).ToList();
        else foreach (var c in add) if (!set.Contains(c)) set.Add(c);
        return set;
    }

    private static List<OciNamespace> BuildNamespaces(HostConfig hc, string? ipcPath, string? utsPath, OciNamespace? pid)
    {
        var ns = new List<OciNamespace> { new() { Type = "uts", Path = utsPath }, new() { Type = "mount" } };
        if (pid is not null) ns.Insert(0, pid);
        if (hc.IpcMode != "host") ns.Add(new OciNamespace { Type = "ipc", Path = ipcPath });
        if (hc.NetworkMode == "host") { }
        else if (hc.NetworkMode.StartsWith("container:", StringComparison.Ordinal))
            ns.Add(new OciNamespace { Type = "network", Path = hc.NetworkMode["container:".Length..] });
        else ns.Add(new OciNamespace { Type = "network" });
        return ns;
    }

    private static OciResources BuildResources(HostConfig hc, string target)
    {
        var r = new OciResources();
        if (hc.Privileged) r.Devices = new() { new OciDeviceRule { Allow = true, Access = "rwm" } };
        else
        {
            // Docker's allow-list: deny all, then mknod of anything and the standard character devices and ptys.
            r.Devices = [new OciDeviceRule { Allow = false, Access = "rwm" }, .. Cgroups.DefaultDevices.Rules()];
        }

        if (hc.Memory < 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMemoryLimit", $"memory limit {hc.Memory} is negative", target, "HostConfig.Memory");
        if (hc.Memory > 0 && hc.Memory < MinimumMemory)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMemoryLimit",
                $"memory limit {hc.Memory} bytes is below the minimum of 6MB a container needs", target, "HostConfig.Memory");
        if (hc.MemorySwap != 0)
        {
            if (hc.Memory == 0)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMemorySwap",
                    "a memory-swap limit needs a memory limit too", target, "HostConfig.MemorySwap");
            if (hc.MemorySwap > 0 && hc.MemorySwap < hc.Memory)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMemorySwap",
                    $"memory-swap limit {hc.MemorySwap} must be at least the memory limit {hc.Memory} (or -1 for unlimited)", target, "HostConfig.MemorySwap");
            if (hc.MemorySwap < -1)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMemorySwap", $"memory-swap limit {hc.MemorySwap} is invalid", target, "HostConfig.MemorySwap");
        }
        if (hc.Memory > 0)
            r.Memory = new OciMemory { Limit = hc.Memory, Swap = hc.MemorySwap == 0 ? hc.Memory * 2 : hc.MemorySwap };

        var cpu = new OciCpu();
        var any = false;
        if (hc.NanoCpus != 0)
        {
            var max = (long)Environment.ProcessorCount * 1_000_000_000L;
            if (hc.NanoCpus < 10_000_000 || hc.NanoCpus > max)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCpus",
                    $"cpus {hc.NanoCpus / 1e9} out of range: the range of CPUs is from 0.01 to {Environment.ProcessorCount}", target, "HostConfig.NanoCpus");
            cpu.Period = CpuPeriod;
            cpu.Quota = (long)(hc.NanoCpus * (long)CpuPeriod / 1_000_000_000L);
            any = true;
        }
        if (hc.CpuShares != 0)
        {
            if (hc.CpuShares < 2 || hc.CpuShares > 262144)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCpuShares",
                    $"cpu shares {hc.CpuShares} out of range 2..262144", target, "HostConfig.CpuShares");
            cpu.Shares = (ulong)hc.CpuShares;
            any = true;
        }
        if (!string.IsNullOrEmpty(hc.CpusetCpus))
        {
            foreach (var cpuIndex in ParseCpuList(hc.CpusetCpus, target))
                if (cpuIndex >= Environment.ProcessorCount)
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCpuset",
                        $"cpuset {hc.CpusetCpus}: CPU {cpuIndex} does not exist (this node has {Environment.ProcessorCount})", target, "HostConfig.CpusetCpus");
            cpu.Cpus = hc.CpusetCpus;
            any = true;
        }
        ApplyCpuQuota(hc, cpu, target);
        if (any || cpu.Quota is not null || cpu.Period is not null) r.Cpu = cpu;
        ApplyMemoryOptions(hc, r, target);
        ApplyBlockIo(hc, r, target);

        if (hc.PidsLimit < -1)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidPidsLimit", $"pids limit {hc.PidsLimit} is invalid", target, "HostConfig.PidsLimit");
        if (hc.PidsLimit > 0) r.Pids = new OciPids { Limit = hc.PidsLimit };
        return r;
    }

    internal static List<int> ParseCpuList(string list, string target)
    {
        var result = new List<int>();
        foreach (var part in list.Split(','))
        {
            var range = part.Split('-');
            if (range.Length is < 1 or > 2 || !int.TryParse(range[0], out var lo) || lo < 0
                || (range.Length == 2 && (!int.TryParse(range[1], out var hi) || hi < lo)))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCpuset", $"cpuset '{list}' is not a CPU list like 0-1,3", target, "HostConfig.CpusetCpus");
            var end = range.Length == 2 ? int.Parse(range[1]) : lo;
            for (var i = lo; i <= end; i++) result.Add(i);
        }
        return result;
    }

    private static Dictionary<string, string>? BuildSysctls(HostConfig hc, bool hostNetwork, string target)
    {
        if (hc.Sysctls.Count == 0) return null;
        foreach (var key in hc.Sysctls.Keys)
        {
            var namespaced = key.StartsWith("kernel.msg", StringComparison.Ordinal) || key is "kernel.sem" || key.StartsWith("kernel.shm", StringComparison.Ordinal)
                || key.StartsWith("fs.mqueue.", StringComparison.Ordinal) || (key.StartsWith("net.", StringComparison.Ordinal) && !hostNetwork);
            if (!namespaced || key.Contains("..") || key.Contains('/'))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidSysctl",
                    $"sysctl '{key}' is not allowed: only namespaced sysctls (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.* without host network) can be set",
                    target, "HostConfig.Sysctls");
        }
        return new Dictionary<string, string>(hc.Sysctls);
    }

    private static List<OciMount> DefaultMounts(bool privileged) => new()
    {
        new() { Destination = "/proc", Type = "proc", Source = "proc", Options = new() { "nosuid", "noexec", "nodev" } },
        new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = new() { "nosuid", "strictatime", "mode=755", "size=65536k" } },
        new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = new() { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
        new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = privileged ? new() { "nosuid", "noexec", "nodev" } : new() { "nosuid", "noexec", "nodev", "ro" } },
        new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = new() { "nosuid", "noexec", "nodev", "relatime", "ro" } },
        new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = new() { "nosuid", "noexec", "nodev" } },
        new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = new() { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
    };

    private static OciMount BindFile(string source, string destination, bool readOnly) => new()
    {
        Destination = destination, Type = "bind", Source = source,
        Options = readOnly ? new() { "rbind", "rprivate", "ro" } : new() { "rbind", "rprivate" },
    };

    /// <summary>Without a daemon to resolve them (a spec built from HostConfig alone), binds must exist and volumes cannot be used.</summary>
    private static ContainerMount CheckStandalone(ContainerMount m, string target)
    {
        if (m.Type == "volume")
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "VolumesNeedDaemon", $"{m.Origin}: volumes are resolved by the daemon", target, "HostConfig.Binds");
        if (m.Type == "bind" && !File.Exists(m.Source) && !Directory.Exists(m.Source))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBind", $"{m.Origin}: bind source path '{m.Source}' does not exist", target, "HostConfig.Binds");
        return m;
    }

    /// <summary>/dev/shm: `--shm-size` (64 MB by default); with `--ipc host` the host's, with `--ipc container:X` X's,
    /// with `--ipc none` none.</summary>
    private static void ApplyShm(OciSpec spec, HostConfig hc, ContainerSpecInput input, string target)
    {
        var mode = hc.IpcMode ?? "";
        if (!(mode is "" or "private" or "shareable" or "host" or "none" || mode.StartsWith("container:", StringComparison.Ordinal)))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidIpcMode",
                $"--ipc '{mode}' is not one of private, shareable, host, none, container:NAME", target, "HostConfig.IpcMode");
        if (hc.ShmSize < 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidShmSize", $"--shm-size {hc.ShmSize} is negative", target, "HostConfig.ShmSize");
        if (mode.StartsWith("container:", StringComparison.Ordinal) && (input.IpcNamespacePath is null || input.ShmSource is null))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidIpcMode", $"--ipc {mode}: the container is resolved by the daemon", target, "HostConfig.IpcMode");
        var shm = spec.Mounts.FindIndex(m => m.Destination == "/dev/shm");
        if (shm < 0) return;
        if (mode == "none") spec.Mounts.RemoveAt(shm);
        else if (mode == "host") spec.Mounts[shm] = BindFile("/dev/shm", "/dev/shm", false);
        else if (input.ShmSource is { } source) spec.Mounts[shm] = BindFile(source, "/dev/shm", false);
        else if (hc.ShmSize > 0)
            spec.Mounts[shm].Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=" + hc.ShmSize];
    }

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")]
    private static partial Regex HostnamePattern();
}
