using ContainerOps.Core.Events;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;
using ContainerOps.Volumes;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Where containers meet volumes and mounts: which mounts a create asks for (`-v`, `--mount`, `--tmpfs`,
/// `--volumes-from`, the image's VOLUME entries), the volumes made for it, mounting and copy-up when it starts,
/// unmounting when it exits, anonymous volumes going with it, and Mounts for inspect. The volume engine itself is
/// ContainerOps.Volumes.
/// </summary>
public sealed class ContainerVolumes
{
    public VolumeManager Volumes { get; }

    private readonly string _containersDir;

    private readonly EventBus? _events;

    public ContainerVolumes(DaemonOptions options, ILogger<ContainerVolumes> log, EventBus? events = null)
    {
        _events = events;
        Volumes = new VolumeManager(Path.Combine(options.Root, "volumes"), log, events);
        _containersDir = Path.Combine(options.Root, "containers");
    }

    /// <summary>A shareable container's /dev/shm lives on the host (a tmpfs in its directory), so that containers that
    /// join its IPC namespace can bind it: a mount of another mount namespace cannot be bound.</summary>
    private string ShmPath(string containerId) => Path.Combine(_containersDir, containerId, "shm");

    /// <summary>Resolves the request's mounts into <see cref="ContainerRecord.Mounts"/>: volumes that do not exist are made
    /// and every volume is referenced by the container. On failure nothing this call made stays.</summary>
    public void Prepare(ContainerRecord r, IReadOnlyCollection<string>? imageVolumes, Func<string, ContainerRecord> findContainer)
    {
        var hc = r.HostConfig;
        var mounts = MountRequests.Parse(hc, r.Name);
        foreach (var spec in hc.VolumesFrom)
        {
            var (other, mode) = spec.Split(':') switch
            {
                [var c] when c.Length > 0 => (c, ""),
                [var c, var m] when c.Length > 0 && m is "ro" or "rw" => (c, m),
                _ => throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidVolumesFrom", $"--volumes-from '{spec}' is not CONTAINER[:ro|rw]", r.Name, "HostConfig.VolumesFrom"),
            };
            ContainerRecord source;
            try { source = findContainer(other); }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound)
            {
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidVolumesFrom", $"--volumes-from {spec}: no such container: {other}", r.Name, "HostConfig.VolumesFrom");
            }
            foreach (var m in source.Mounts.Where(m => m.Type is "bind" or "volume"))
            {
                if (mounts.Any(x => x.Destination == m.Destination)) continue; // the container's own mounts win
                mounts.Add(new ContainerMount
                {
                    Type = m.Type, Name = m.Name, Source = m.Source, Destination = m.Destination, Propagation = m.Propagation, NoCopy = true,
                    ReadOnly = mode switch { "ro" => true, "rw" => false, _ => m.ReadOnly }, Mode = mode.Length > 0 ? mode : m.Mode,
                    Origin = "--volumes-from " + spec,
                });
            }
        }
        foreach (var path in imageVolumes ?? [])
        {
            var dest = "/" + string.Join('/', path.Split('/', StringSplitOptions.RemoveEmptyEntries));
            if (dest != "/" && !mounts.Any(m => m.Destination == dest))
                mounts.Add(new ContainerMount { Type = "volume", Anonymous = true, Destination = dest, Origin = "VOLUME " + path });
        }

        var created = new List<string>();
        var referenced = new List<string>();
        try
        {
            foreach (var m in mounts.Where(m => m.Type == "volume"))
            {
                if (m.Anonymous || string.IsNullOrEmpty(m.Name) || !Volumes.Exists(m.Name))
                {
                    var labels = new Dictionary<string, string>(m.Labels ?? new());
                    if (m.Anonymous) labels[VolumeRecord.AnonymousLabel] = "";
                    Volume v;
                    bool made;
                    try
                    {
                        v = Volumes.Create(new VolumeCreateRequest { Name = m.Anonymous ? null : m.Name, DriverOpts = m.DriverOptions ?? new(), Labels = labels }, out made);
                    }
                    catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.InvalidArgument)
                    {
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, e.Error.Id, $"{m.Origin}: {e.Message}", r.Name, m.Origin.StartsWith("--mount") ? "HostConfig.Mounts" : "HostConfig.Binds");
                    }
                    if (made) created.Add(v.Name);
                    m.Name = v.Name;
                }
                m.Source = Volumes.DataPath(m.Name!);
                Volumes.AddReference(m.Name!, r.Id);
                referenced.Add(m.Name!);
            }
        }
        catch
        {
            foreach (var name in referenced) Volumes.RemoveReference(name, r.Id);
            foreach (var name in created) { try { Volumes.Remove(name, force: true); } catch (ContainerOpsException) { } }
            throw;
        }
        r.Mounts = mounts;
    }

    /// <summary>The container is gone: its references go, and with <paramref name="removeAnonymous"/> (`rm -v`, `--rm`,
    /// a failed create) its anonymous volumes, unless another container still uses one (through --volumes-from).</summary>
    public void Release(ContainerRecord r, bool removeAnonymous, ILogger log)
    {
        foreach (var m in r.Mounts.Where(m => m.Type == "volume" && m.Name is { Length: > 0 }))
        {
            Volumes.RemoveReference(m.Name!, r.Id);
            if (!removeAnonymous || !m.Anonymous || m.Origin.StartsWith("--volumes-from", StringComparison.Ordinal)) continue;
            try { Volumes.Remove(m.Name!, force: true); }
            catch (ContainerOpsException e) { log.LogInformation("anonymous volume {Name} of {Id} stays: {Message}", m.Name, r.Id[..12], e.Message); }
        }
    }

    /// <summary>The mounts for the container's spec. With <paramref name="starting"/> the volumes are mounted (devices),
    /// filled from the image when empty (unless nocopy), and missing `-v` bind sources are made; otherwise (the check at
    /// create) only validated.</summary>
    public List<ContainerMount> Resolve(ContainerRecord r, string rootfs, bool starting)
    {
        var mounted = new List<string>();
        try
        {
            foreach (var m in r.Mounts)
            {
                if (m.Type == "bind" && !File.Exists(m.Source) && !Directory.Exists(m.Source))
                {
                    if (!m.CreateSource)
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, "BindSourceMissing",
                            $"{m.Origin}: bind source path '{m.Source}' does not exist", r.Name, m.Origin.StartsWith("--mount") ? "HostConfig.Mounts" : "HostConfig.Binds");
                    if (starting) Directory.CreateDirectory(m.Source);
                }
                if (m.Type != "volume" || !starting) continue;
                m.Source = Volumes.Mount(m.Name!, r.Id);
                mounted.Add(m.Name!);
                _events?.Publish(EventTypes.Volume, "mount", m.Name!, new Dictionary<string, string>
                {
                    ["driver"] = VolumeManager.LocalDriver, ["container"] = r.Id, ["destination"] = m.Destination,
                    ["read/write"] = m.ReadOnly ? "false" : "true", ["propagation"] = m.Propagation,
                });
                if (!m.NoCopy) Volumes.Populate(m.Name!, rootfs, m.Destination);
            }
        }
        catch
        {
            foreach (var name in mounted) { try { Volumes.Unmount(name, r.Id); } catch (ContainerOpsException) { } }
            throw;
        }
        return r.Mounts;
    }

    /// <summary>The container stopped (or its start failed, or it is removed): device-backed volumes no other running
    /// container uses are unmounted, and a shareable container's /dev/shm. Idempotent.</summary>
    public void Unmount(ContainerRecord r, ILogger log)
    {
        try { VolumeManager.UnmountAll(ShmPath(r.Id)); }
        catch (ContainerOpsException e) { log.LogWarning("/dev/shm of {Id}: {Message}", r.Id[..12], e.Message); }
        foreach (var m in r.Mounts.Where(m => m.Type == "volume" && m.Name is { Length: > 0 }))
        {
            try
            {
                if (Volumes.Unmount(m.Name!, r.Id))
                    _events?.Publish(EventTypes.Volume, "unmount", m.Name!, new Dictionary<string, string> { ["driver"] = VolumeManager.LocalDriver, ["container"] = r.Id });
            }
            catch (ContainerOpsException e) { log.LogWarning("volume {Name} of {Id}: {Message}", m.Name, r.Id[..12], e.Message); }
        }
    }

    /// <summary>The IPC namespace to join and the host directory to bind at /dev/shm: for `--ipc shareable` its own
    /// host-side tmpfs (mounted here when <paramref name="starting"/>), for `--ipc container:X` X's (X must run and be
    /// shareable, as Docker requires); (null, null) otherwise. At create (<paramref name="starting"/> false) X need only exist.</summary>
    public (string? NamespacePath, string? ShmSource) IpcOf(ContainerRecord r, Func<string, ContainerRecord> findContainer, bool starting)
    {
        var mode = r.HostConfig.IpcMode ?? "";
        if (mode == "shareable")
        {
            var shm = ShmPath(r.Id);
            if (!starting) return (null, shm);
            Directory.CreateDirectory(shm);
            if (!ContainerOps.Images.Snapshots.SnapshotStore.IsMountPoint(shm))
            {
                var size = r.HostConfig.ShmSize > 0 ? r.HostConfig.ShmSize : 64L << 20;
                if (ContainerOps.Runtime.Native.Libc.mount("shm", shm, "tmpfs", 2 | 4 | 8 /* nosuid, nodev, noexec */, $"mode=1777,size={size}") != 0)
                    throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "ShmMountFailed",
                        $"--ipc shareable: mounting /dev/shm of {r.Name} failed: {ContainerOps.Runtime.Native.Libc.StrError(ContainerOps.Runtime.Native.Libc.LastErrno)}", r.Name, "HostConfig.IpcMode");
            }
            return (null, shm);
        }
        if (!mode.StartsWith("container:", StringComparison.Ordinal)) return (null, null);
        var other = findContainer(mode["container:".Length..]);
        if (!starting) return ("", "/dev/shm");
        if (!other.State.Running || other.State.Pid <= 0)
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"--ipc {mode}: container {other.Name} is not running", other.Name, "HostConfig.IpcMode");
        if (other.HostConfig.IpcMode is not ("shareable" or "host"))
            throw new ContainerOpsException(ErrorKind.Conflict, "IpcNotShareable",
                $"--ipc {mode}: container {other.Name} has a private IPC namespace; start it with --ipc shareable", other.Name, "HostConfig.IpcMode");
        return other.HostConfig.IpcMode == "host" ? (null, "/dev/shm") : ($"/proc/{other.State.Pid}/ns/ipc", ShmPath(other.Id));
    }

    /// <summary>Container inspect's Mounts, as Docker shows them (binds, volumes, and tmpfs given with --mount).</summary>
    public static List<MountPoint> Inspect(ContainerRecord r) =>
        r.Mounts.Where(m => m.Type != "tmpfs" || m.Origin.StartsWith("--mount", StringComparison.Ordinal)).Select(m => new MountPoint
        {
            Type = m.Type, Name = m.Type == "volume" ? m.Name : null, Source = m.Type == "tmpfs" ? "" : m.Source, Destination = m.Destination,
            Driver = m.Type == "volume" ? VolumeManager.LocalDriver : null, Mode = m.Type == "volume" && m.Mode.Length == 0 && m.Origin.StartsWith("-v", StringComparison.Ordinal) ? "z" : m.Mode, RW = !m.ReadOnly,
            Propagation = m.Type == "bind" ? (m.Propagation.Length > 0 ? m.Propagation : "rprivate") : "",
        }).ToList();

    /// <summary>At daemon start: every container's volumes, and whether it runs. Records written before mounts were
    /// resolved at create have only HostConfig's binds and tmpfs (no volumes then): those are resolved now.</summary>
    public void Recover(IReadOnlyList<(ContainerRecord Record, bool Running)> containers, ILogger log)
    {
        foreach (var (r, _) in containers)
        {
            if (r.Mounts.Count > 0 || (r.HostConfig.Binds.Count == 0 && r.HostConfig.Tmpfs.Count == 0)) continue;
            try { r.Mounts = MountRequests.Parse(r.HostConfig, r.Name).Where(m => m.Type != "volume").ToList(); }
            catch (ContainerOpsException e) { log.LogWarning("container {Name}: its mounts cannot be read: {Message}", r.Name, e.Message); }
        }
        foreach (var (r, running) in containers)
            if (!running) Unmount(r, log);
        Volumes.Recover(containers.SelectMany(c => c.Record.Mounts.Where(m => m.Type == "volume" && m.Name is { Length: > 0 }).Select(m => (m.Name!, c.Record.Id, c.Running))));
    }
}
