using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Seccomp;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Shim;

/// <summary>Paths of the files and sockets a shim owns for one container (or one exec).</summary>
public sealed class ShimPaths
{
    public string? LogPath { get; init; }
    public long LogMaxBytes { get; init; }
    public int LogMaxFiles { get; init; } = 1;
    public string? ExitFile { get; init; }
    public string? PidFile { get; init; }
    public string? AttachSocket { get; init; }
    public string? ControlSocket { get; init; }
    public string? ExecFifo { get; init; }
    public bool OpenStdin { get; init; }
    /// <summary>The init takes the shim's fds 0-2 (see PLAN.md `inherit_stdio`); LogPath and OpenStdin must be unset.</summary>
    public bool InheritStdio { get; init; }
    /// <summary>The shim leaves once the container is set up (PLAN.md `unmonitored`); needs InheritStdio, and no exit
    /// file or sockets.</summary>
    public bool Unmonitored { get; init; }
    /// <summary>Unmonitored with a terminal: where the pty master goes (PLAN.md `console_socket`).</summary>
    public string? ConsoleSocket { get; init; }
}

/// <summary>
/// Translates an OCI spec into the shim's plan (src/ContainerOps.Shim/PLAN.md): tab-separated directives the C
/// shim executes literally. Every decision is made here; the shim never parses JSON.
/// </summary>
public static class PlanWriter
{
    // MS_* flags (linux/mount.h)
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_SYNCHRONOUS = 16, MS_REMOUNT = 32,
        MS_MANDLOCK = 64, MS_DIRSYNC = 128, MS_NOATIME = 1024, MS_NODIRATIME = 2048, MS_BIND = 4096, MS_REC = 16384,
        MS_PRIVATE = 1 << 18, MS_SLAVE = 1 << 19, MS_SHARED = 1 << 20, MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24, MS_UNBINDABLE = 1 << 17;

    private static readonly Dictionary<string, string> RlimitNumbers = new()
    {
        ["RLIMIT_CPU"] = "0", ["RLIMIT_FSIZE"] = "1", ["RLIMIT_DATA"] = "2", ["RLIMIT_STACK"] = "3", ["RLIMIT_CORE"] = "4",
        ["RLIMIT_RSS"] = "5", ["RLIMIT_NPROC"] = "6", ["RLIMIT_NOFILE"] = "7", ["RLIMIT_MEMLOCK"] = "8", ["RLIMIT_AS"] = "9",
        ["RLIMIT_LOCKS"] = "10", ["RLIMIT_SIGPENDING"] = "11", ["RLIMIT_MSGQUEUE"] = "12", ["RLIMIT_NICE"] = "13",
        ["RLIMIT_RTPRIO"] = "14", ["RLIMIT_RTTIME"] = "15",
    };

    private static readonly Dictionary<string, string> NamespaceNames = new()
    {
        ["pid"] = "pid", ["network"] = "net", ["mount"] = "mount", ["ipc"] = "ipc", ["uts"] = "uts", ["cgroup"] = "cgroup", ["user"] = "user",
    };

    /// <summary>The plan for `shim run|create`: a new container from <paramref name="spec"/>, rooted at <paramref name="rootfs"/>,
    /// its process filtered by <paramref name="seccomp"/> when given (the compiled form of the spec's linux.seccomp).</summary>
    /// <param name="bundle">The bundle's absolute path, for the state the setup hooks read (needed only with hooks).</param>
    public static string ForContainer(string id, OciSpec spec, string rootfs, IReadOnlyList<string> cgroupProcsFiles, ShimPaths paths,
        SeccompProgram? seccomp = null, string? bundle = null)
    {
        var process = spec.Process ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBundle", "config.json has no process", id, "process");
        var linux = spec.Linux ?? new OciLinux();
        var plan = new PlanBuilder();
        plan.Line("version", "1");
        plan.Line("id", id);
        plan.Line("rootfs", rootfs);
        plan.Line("readonly_rootfs", spec.Root?.Readonly == true ? "1" : "0");
        foreach (var ns in linux.Namespaces)
        {
            if (!NamespaceNames.TryGetValue(ns.Type, out var name))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidNamespace", $"unknown namespace type '{ns.Type}'", id, "linux.namespaces");
            if (string.IsNullOrEmpty(ns.Path)) plan.Line("namespace", name);
            else plan.Line("namespace", name, ns.Path);
        }
        foreach (var m in linux.UidMappings ?? []) plan.Line("uidmap", m.ContainerId.ToString(), m.HostId.ToString(), m.Size.ToString());
        foreach (var m in linux.GidMappings ?? []) plan.Line("gidmap", m.ContainerId.ToString(), m.HostId.ToString(), m.Size.ToString());
        if (spec.Hostname is { Length: > 0 } hostname && linux.Namespaces.Any(n => n.Type == "uts")) plan.Line("hostname", hostname);
        if (spec.Domainname is { Length: > 0 } domainname && linux.Namespaces.Any(n => n.Type == "uts")) plan.Line("domainname", domainname);
        if (linux.Namespaces.Any(n => n.Type == "mount")) MountLines(plan, id, spec, linux, cgroupProcsFiles);
        else RefuseOrWarnWithoutMounts(id, spec, linux);
        foreach (var procs in cgroupProcsFiles) plan.Line("cgroup", procs);
        ProcessLines(plan, process, seccomp);
        HookLines(plan, spec, id, bundle ?? "");
        PathLines(plan, paths);
        return plan.ToString();
    }

    /// <summary>The root's propagation, the spec's mounts, devices, /dev links, sysctls, masked and read-only paths:
    /// what a container with a mount namespace of its own gets.</summary>
    private static void MountLines(PlanBuilder plan, string id, OciSpec spec, OciLinux linux, IReadOnlyList<string> cgroupProcsFiles)
    {
        var rootPropagation = PropagationFlags(linux.RootfsPropagation);
        plan.Line("propagation", rootPropagation.ToString());

        var cgroupsPath = CgroupsPath(spec, id);
        foreach (var m in spec.Mounts)
        {
            if (m.Type is "cgroup" or "cgroup2")
            {
                CgroupMountLines(plan, m, cgroupProcsFiles, cgroupsPath);
                continue;
            }
            var (flags, data) = MountFlags(m.Options);
            var type = m.Type is null or "bind" || (flags & MS_BIND) != 0 ? "none" : m.Type;
            if (m.Type == "bind") flags |= MS_BIND;
            var source = m.Source ?? type;
            if ((flags & MS_BIND) != 0 && !source.StartsWith('/'))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMount", $"bind mount source '{source}' for {m.Destination} must be absolute", id, "mounts");
            if (!m.Destination.StartsWith('/'))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMount", $"mount destination '{m.Destination}' must be absolute", id, "mounts");
            // The propagation a mount names is applied after it (6th argument), unless it is private under a private
            // root, which it is already; under a shared or slave root (another bind asked for one) it must be set.
            var propagation = MountPropagation(m.Options);
            if (propagation is not { } own || ((own & MS_PRIVATE) != 0 && (rootPropagation & MS_PRIVATE) != 0))
                plan.Line("mount", source, m.Destination, type, flags.ToString(), data);
            else plan.Line("mount", source, m.Destination, type, flags.ToString(), data, own.ToString());
        }

        // The runtime spec's default devices exist whether or not the spec lists them.
        var devices = new List<OciDevice>(linux.Devices ?? new());
        foreach (var (path, major, minor) in DefaultDevices)
            if (!devices.Any(d => d.Path == path)) devices.Add(new OciDevice { Path = path, Type = "c", Major = major, Minor = minor, FileMode = 438, Uid = 0, Gid = 0 });
        foreach (var d in devices)
            plan.Line("device", d.Path, d.Type, d.Major.ToString(), d.Minor.ToString(),
                Convert.ToString((d.FileMode ?? 438) & 0xfff, 8), (d.Uid ?? 0).ToString(), (d.Gid ?? 0).ToString());
        // The standard /dev symlinks every runtime creates.
        plan.Line("symlink", "/proc/self/fd", "/dev/fd");
        plan.Line("symlink", "/proc/self/fd/0", "/dev/stdin");
        plan.Line("symlink", "/proc/self/fd/1", "/dev/stdout");
        plan.Line("symlink", "/proc/self/fd/2", "/dev/stderr");
        plan.Line("symlink", "pts/ptmx", "/dev/ptmx");
        foreach (var (key, value) in linux.Sysctl ?? new()) plan.Line("sysctl", key, value);
        foreach (var p in linux.MaskedPaths ?? new()) plan.Line("masked", p);
        foreach (var p in linux.ReadonlyPaths ?? new()) plan.Line("readonly", p);
    }

    /// <summary>
    /// A container without a mount namespace of its own shares the caller's mount table: the shim changes its root
    /// to the rootfs (chroot) and makes no mount, device or /dev link, which would land in the caller's table (runc
    /// makes none either). The mounts the spec lists are left out with a warning; a read-only root and sysctls,
    /// which the container would count on, are refused.
    /// </summary>
    private static void RefuseOrWarnWithoutMounts(string id, OciSpec spec, OciLinux linux)
    {
        if (spec.Root?.Readonly == true)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBundle",
                "root.readonly needs a mount namespace of the container's own (linux.namespaces has no \"mount\")", id, "root.readonly");
        if (linux.Sysctl is { Count: > 0 })
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBundle",
                "linux.sysctl needs a mount namespace of the container's own (linux.namespaces has no \"mount\")", id, "linux.sysctl");
        var skipped = spec.Mounts.Count + (linux.MaskedPaths?.Count ?? 0) + (linux.ReadonlyPaths?.Count ?? 0);
        if (skipped > 0)
            Console.Error.WriteLine($"warning: container {id} shares the caller's mount namespace: its {skipped} mounts, masked and read-only paths are not made");
    }

    /// <summary>The hooks the shim runs while the container is set up (prestart, createRuntime, createContainer,
    /// startContainer), in the spec's order, and the state they read less its status and pid, which the shim adds.
    /// poststart and poststop stay the runtime's.</summary>
    private static void HookLines(PlanBuilder plan, OciSpec spec, string id, string bundle)
    {
        if (spec.Hooks is not { } hooks) return;
        var any = false;
        foreach (var (phase, list) in new[] { ("prestart", hooks.Prestart), ("createRuntime", hooks.CreateRuntime),
                     ("createContainer", hooks.CreateContainer), ("startContainer", hooks.StartContainer) })
            foreach (var hook in list ?? [])
            {
                plan.Line("hook", phase, (hook.Timeout ?? 0).ToString(), hook.Path);
                foreach (var arg in hook.Args ?? []) plan.Line("hook_arg", arg);
                foreach (var env in hook.Env ?? []) plan.Line("hook_env", env);
                any = true;
            }
        if (!any) return;
        var members = new OciState { Id = id, Bundle = bundle, Annotations = spec.Annotations };
        var state = System.Text.Encoding.UTF8.GetString(IndentedJson.Object(json => members.WriteMembers(json, withStatusAndPid: false), indented: false));
        plan.Line("hook_state", state[1..^1]);
    }

    private static readonly (string Path, long Major, long Minor)[] DefaultDevices =
    {
        ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
    };

    /// <summary>The container's cgroup path: the spec's, or /containerops/&lt;id&gt; when it names none.</summary>
    public static string CgroupsPath(OciSpec spec, string id) =>
        spec.Linux?.CgroupsPath is { Length: > 0 } path ? path : "/containerops/" + id;

    /// <summary>A `cgroup` mount shows the container its own cgroups, read-only, as runc does: on v1 a tmpfs with each
    /// controller's directory bound under its name; on v2 the container's directory bound at the destination.</summary>
    private static void CgroupMountLines(PlanBuilder plan, OciMount m, IReadOnlyList<string> procsFiles, string cgroupsPath)
    {
        var (flags, _) = MountFlags(m.Options);
        var readOnly = (flags & MS_RDONLY) != 0 ? MS_RDONLY : 0;
        var dirs = procsFiles.Select(p => Path.GetDirectoryName(p)!).ToList();
        var suffix = "/" + cgroupsPath.Trim('/');
        if (dirs.Count == 1 && !dirs[0][..^suffix.Length].StartsWith("/sys/fs/cgroup/", StringComparison.Ordinal))
        {
            plan.Line("mount", dirs[0], m.Destination, "none", (MS_BIND | MS_REC | MS_NOSUID | MS_NOEXEC | MS_NODEV | readOnly).ToString(), "");
            return;
        }
        plan.Line("mount", "tmpfs", m.Destination, "tmpfs", (MS_NOSUID | MS_NOEXEC | MS_NODEV).ToString(), "mode=755");
        foreach (var dir in dirs)
        {
            if (!dir.EndsWith(suffix, StringComparison.Ordinal)) continue;
            var controller = Path.GetFileName(dir[..^suffix.Length]);
            plan.Line("mount", dir, m.Destination.TrimEnd('/') + "/" + controller, "none", (MS_BIND | MS_REC | MS_NOSUID | MS_NOEXEC | MS_NODEV | readOnly).ToString(), "");
        }
        if (readOnly != 0) plan.Line("readonly", m.Destination);
    }

    /// <summary>The plan for `shim exec`: join the namespaces of the running init <paramref name="initPid"/> and run <paramref name="process"/>.</summary>
    public static string ForExec(string id, int initPid, IEnumerable<OciNamespace> containerNamespaces, OciProcess process, IReadOnlyList<string> cgroupProcsFiles,
        SeccompProgram? seccomp = null)
    {
        var plan = new PlanBuilder();
        plan.Line("version", "1");
        plan.Line("id", id);
        foreach (var ns in containerNamespaces)
        {
            if (!NamespaceNames.TryGetValue(ns.Type, out var name)) continue;
            var procName = name == "mount" ? "mnt" : name;
            plan.Line("namespace", name, $"/proc/{initPid}/ns/{procName}");
        }
        foreach (var procs in cgroupProcsFiles) plan.Line("cgroup", procs);
        ProcessLines(plan, process, seccomp);
        return plan.ToString();
    }

    /// <summary>The plan for an external runtime (crun/runc) monitored by the shim.</summary>
    public static string ForExternalRuntime(string id, string runtimeBinary, string bundle, bool terminal, ShimPaths paths)
    {
        var plan = new PlanBuilder();
        plan.Line("version", "1");
        plan.Line("id", id);
        plan.Line("runtime", runtimeBinary, bundle);
        plan.Line("terminal", terminal ? "1" : "0");
        PathLines(plan, paths);
        return plan.ToString();
    }

    private static void ProcessLines(PlanBuilder plan, OciProcess process, SeccompProgram? seccomp)
    {
        if (process.Args.Count == 0) throw new ContainerOpsException(ErrorKind.InvalidArgument, "NoCommand", "process.args is empty", null, "process.args");
        plan.Line("uid", process.User.Uid.ToString());
        plan.Line("gid", process.User.Gid.ToString());
        plan.Line("groups", string.Join(',', process.User.AdditionalGids ?? new()));
        var c = process.Capabilities;
        plan.Line("caps",
            Capabilities.Mask(c?.Bounding).ToString("x"), Capabilities.Mask(c?.Effective).ToString("x"), Capabilities.Mask(c?.Permitted).ToString("x"),
            Capabilities.Mask(c?.Inheritable).ToString("x"), Capabilities.Mask(c?.Ambient).ToString("x"));
        plan.Line("no_new_privs", process.NoNewPrivileges ? "1" : "0");
        if (process.OomScoreAdj is int adj) plan.Line("oom_score_adj", adj.ToString());
        foreach (var r in process.Rlimits ?? new())
        {
            if (!RlimitNumbers.TryGetValue(r.Type, out var number))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidRlimit", $"unknown rlimit '{r.Type}'", null, "process.rlimits");
            plan.Line("rlimit", number, Limit(r.Soft), Limit(r.Hard));
        }
        if (seccomp is { } filter) plan.Line("seccomp", filter.Path, filter.Flags.ToString());
        foreach (var e in process.Env) plan.Line("env", e);
        plan.Line("cwd", string.IsNullOrEmpty(process.Cwd) ? "/" : process.Cwd);
        foreach (var a in process.Args) plan.Line("arg", a);
        plan.Line("terminal", process.Terminal ? "1" : "0");
    }

    private static string Limit(ulong v) => v == ulong.MaxValue ? "-1" : v.ToString();

    private static void PathLines(PlanBuilder plan, ShimPaths paths)
    {
        plan.Line("stdin", paths.OpenStdin ? "1" : "0");
        if (paths.InheritStdio) plan.Line("inherit_stdio", "1");
        if (paths.Unmonitored) plan.Line("unmonitored", "1");
        if (paths.ConsoleSocket is not null) plan.Line("console_socket", paths.ConsoleSocket);
        if (paths.LogPath is not null) plan.Line("log", paths.LogPath, paths.LogMaxBytes.ToString(), Math.Max(1, paths.LogMaxFiles).ToString());
        if (paths.ExitFile is not null) plan.Line("exit_file", paths.ExitFile);
        if (paths.PidFile is not null) plan.Line("pid_file", paths.PidFile);
        if (paths.AttachSocket is not null) plan.Line("attach_socket", paths.AttachSocket);
        if (paths.ControlSocket is not null) plan.Line("control_socket", paths.ControlSocket);
        if (paths.ExecFifo is not null) plan.Line("exec_fifo", paths.ExecFifo);
    }

    private static ulong PropagationFlags(string? propagation) => propagation switch
    {
        null or "" or "rprivate" => MS_REC | MS_PRIVATE,
        "private" => MS_PRIVATE,
        "rslave" => MS_REC | MS_SLAVE,
        "slave" => MS_SLAVE,
        "rshared" => MS_REC | MS_SHARED,
        "shared" => MS_SHARED,
        "runbindable" => MS_REC | MS_UNBINDABLE,
        "unbindable" => MS_UNBINDABLE,
        _ => throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidPropagation", $"unknown rootfs propagation '{propagation}'", null, "linux.rootfsPropagation"),
    };

    /// <summary>The propagation a mount's options name last, as MS_* flags; null when they name none.</summary>
    private static ulong? MountPropagation(IEnumerable<string>? options)
    {
        ulong? propagation = null;
        foreach (var o in options ?? [])
            if (o is "private" or "rprivate" or "shared" or "rshared" or "slave" or "rslave" or "unbindable" or "runbindable")
                propagation = PropagationFlags(o);
        return propagation;
    }

    /// <summary>Mount options → MS_* flags plus the data string the file system gets (size=, mode=…).</summary>
    public static (ulong Flags, string Data) MountFlags(IEnumerable<string>? options)
    {
        ulong flags = 0;
        var data = new List<string>();
        foreach (var o in options ?? Array.Empty<string>())
        {
            switch (o)
            {
                case "ro": flags |= MS_RDONLY; break;
                case "rw": flags &= ~MS_RDONLY; break;
                case "nosuid": flags |= MS_NOSUID; break;
                case "suid": flags &= ~MS_NOSUID; break;
                case "nodev": flags |= MS_NODEV; break;
                case "dev": flags &= ~MS_NODEV; break;
                case "noexec": flags |= MS_NOEXEC; break;
                case "exec": flags &= ~MS_NOEXEC; break;
                case "sync": flags |= MS_SYNCHRONOUS; break;
                case "async": flags &= ~MS_SYNCHRONOUS; break;
                case "dirsync": flags |= MS_DIRSYNC; break;
                case "mand": flags |= MS_MANDLOCK; break;
                case "noatime": flags |= MS_NOATIME; break;
                case "nodiratime": flags |= MS_NODIRATIME; break;
                case "relatime": flags |= MS_RELATIME; break;
                case "strictatime": flags |= MS_STRICTATIME; break;
                case "bind": flags |= MS_BIND; break;
                case "rbind": flags |= MS_BIND | MS_REC; break;
                case "defaults": break;
                // Propagation is not a flag of the mount itself (see MountPropagation).
                case "private" or "rprivate" or "shared" or "rshared" or "slave" or "rslave" or "unbindable" or "runbindable": break;
                default: data.Add(o); break;
            }
        }
        return (flags, string.Join(',', data));
    }

    private sealed class PlanBuilder
    {
        private readonly StringBuilder _sb = new();

        public void Line(string keyword, params string[] args)
        {
            _sb.Append(keyword);
            foreach (var a in args)
            {
                _sb.Append('\t');
                foreach (var ch in a)
                {
                    switch (ch)
                    {
                        case '\\': _sb.Append("\\\\"); break;
                        case '\t': _sb.Append("\\t"); break;
                        case '\n': _sb.Append("\\n"); break;
                        default: _sb.Append(ch); break;
                    }
                }
            }
            _sb.Append('\n');
        }

        public override string ToString() => _sb.ToString();
    }
}
