using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Spec;

/// <summary>What the daemon knows about a container when it writes its bundle: the request merged over
/// the image's config. <see cref="SpecBuilder"/> turns it into an OCI runtime spec with Docker's defaults.</summary>
public sealed class ContainerSpecInput
{
    public required string Id { get; init; }
    /// <summary>The mounted root filesystem (overlay) on the host.</summary>
    public required string RootfsPath { get; init; }
    /// <summary>argv: entrypoint + cmd after merging.</summary>
    public required IReadOnlyList<string> Args { get; init; }
    public IReadOnlyList<string> Env { get; init; } = Array.Empty<string>();
    public string? WorkingDir { get; init; }
    /// <summary>uid[:gid] or user[:group]; names are resolved from the rootfs' /etc/passwd and /etc/group.</summary>
    public string? User { get; init; }
    public string? Hostname { get; init; }
    public string? Domainname { get; init; }
    /// <summary>`--pid container:X`: X's pid namespace (/proc/PID/ns/pid).</summary>
    public string? PidNamespacePath { get; init; }
    public bool Tty { get; init; }
    /// <summary>The host's init binary (the static shim), bind-mounted at <see cref="SpecBuilder.InitPath"/> when
    /// HostConfig.Init asks for one.</summary>
    public string? InitBinary { get; init; }
    public bool OpenStdin { get; init; }
    public HostConfig HostConfig { get; init; } = new();
    /// <summary>cgroup parent name/path (v1: relative dir in every hierarchy; v2: relative to the unified root).</summary>
    public string CgroupParent { get; init; } = "containerops";
    /// <summary>Host files bind-mounted read-only over /etc/hostname, /etc/hosts, /etc/resolv.conf (written by the caller).</summary>
    public string? HostnameFile { get; init; }
    public string? HostsFile { get; init; }
    public string? ResolvConfFile { get; init; }
    /// <summary>The container's mounts with their host sources resolved (volumes → their data directories). Null: the
    /// binds and tmpfs of <see cref="HostConfig"/> are used as they are (bind sources must exist; no volumes).</summary>
    public IReadOnlyList<ContainerMount>? Mounts { get; init; }
    /// <summary>`--ipc container:X`: X's IPC namespace (/proc/PID/ns/ipc) and its /dev/shm on the host.</summary>
    public string? IpcNamespacePath { get; init; }
    public string? ShmSource { get; init; }
    /// <summary>A UTS namespace to join (a pod sandbox's) instead of a new one.</summary>
    public string? UtsNamespacePath { get; init; }
}
