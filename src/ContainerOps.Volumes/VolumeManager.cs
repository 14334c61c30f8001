using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using ContainerOps.Core.Api;
using ContainerOps.Core.Events;
using ContainerOps.Images.Snapshots;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Shim;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static ContainerOps.Runtime.Native.Libc.Fs;

namespace ContainerOps.Volumes;

/// <summary>
/// Named volumes of one daemon with Docker's local driver: ROOT/volumes/&lt;name&gt;/{volume.json,_data}. A volume is
/// made under a dot name and renamed into place, and removed by a rename to a dot name first, so a crash never leaves a
/// half-made or half-removed volume under its name; dot names are swept at start. Which containers use a volume is not
/// stored here: the containers' records say it, and the daemon hands it over at start (<see cref="Recover"/>) and on
/// every create and removal.
/// </summary>
public sealed partial class VolumeManager
{
    public const string LocalDriver = "local";
    private readonly string _root;
    private readonly ILogger _log;
    private readonly object _lock = new();
    private readonly Dictionary<string, VolumeRecord> _volumes = new(StringComparer.Ordinal);
    /// <summary>Volume → containers that reference it (created or running).</summary>
    private readonly Dictionary<string, HashSet<string>> _references = new(StringComparer.Ordinal);
    /// <summary>Volume → running containers that have it mounted (device-backed volumes are mounted while this is not empty).</summary>
    private readonly Dictionary<string, HashSet<string>> _mountedBy = new(StringComparer.Ordinal);

    /// <summary>Where volume events go (the daemon's bus); none when the engine is used alone.</summary>
    private readonly EventBus? _events;

    public VolumeManager(string root, ILogger? log = null, EventBus? events = null)
    {
        _root = Path.GetFullPath(root);
        _log = log ?? NullLogger.Instance;
        _events = events;
        Directory.CreateDirectory(_root);
        foreach (var dir in Directory.GetDirectories(_root))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith('.'))
            {
                // An interrupted create or removal.
                try { UnmountAll(Path.Combine(dir, "_data")); Directory.Delete(dir, true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ContainerOpsException) { _log.LogWarning("cannot remove {Dir}: {Message}", dir, e.Message); }
                continue;
            }
            if (VolumeRecord.Load(dir) is { } r && r.Name == name) _volumes[name] = r;
            else _log.LogError("volume record in {Dir} cannot be read; the volume is ignored", dir);
        }
    }

    public string Root => _root;

    public string DataPath(string name) => Path.Combine(_root, name, "_data");

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")]
    private static partial Regex NamePattern();

    public static bool IsValidName(string name) => name.Length <= 255 && NamePattern().IsMatch(name);

    public static string NewAnonymousName() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();

    // ================================================================== volume objects

    /// <summary>Creates a volume; an existing one of that name is returned as it is (Docker's create is idempotent).</summary>
    public Volume Create(VolumeCreateRequest request) => Create(request, out _);

    public Volume Create(VolumeCreateRequest request, out bool created)
    {
        var name = string.IsNullOrEmpty(request.Name) ? NewAnonymousName() : request.Name;
        if (!IsValidName(name))
            throw Invalid("InvalidVolumeName", $"volume name '{name}' is invalid: use at least two of letters, digits, '_', '.', '-', starting with a letter or digit", name, "Name");
        if (request.Driver is { Length: > 0 } d && d != LocalDriver)
            throw Invalid("UnsupportedVolumeDriver", $"volume {name}: driver '{d}' is not supported (local)", name, "Driver");
        ValidateOptions(name, request.DriverOpts);
        lock (_lock)
        {
            created = false;
            if (_volumes.TryGetValue(name, out var existing)) return ToApi(existing, null);
            var record = new VolumeRecord
            {
                Name = name, CreatedAt = DateTimeOffset.UtcNow,
                Labels = new(request.Labels ?? new()), Options = new(request.DriverOpts ?? new()),
            };
            var staging = Path.Combine(_root, ".new-" + NewAnonymousName()[..16]);
            try
            {
                Directory.CreateDirectory(Path.Combine(staging, "_data"));
                record.Save(staging);
                Directory.Move(staging, Path.Combine(_root, name));
            }
            catch (IOException e)
            {
                try { Directory.Delete(staging, true); } catch (IOException) { }
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "VolumeCreateFailed", $"volume {name}: {e.Message}", name, inner: e);
            }
            _volumes[name] = record;
            created = true;
            _log.LogInformation("created volume {Name}", name);
            _events?.Publish(EventTypes.Volume, "create", name, new Dictionary<string, string> { ["driver"] = LocalDriver });
            return ToApi(record, null);
        }
    }

    /// <summary>The local driver's options: `type` and `device` together (what to mount), `o` its mount options.</summary>
    private static void ValidateOptions(string name, Dictionary<string, string>? options)
    {
        if (options is null || options.Count == 0) return;
        foreach (var key in options.Keys)
            if (key is not ("type" or "device" or "o"))
                throw Invalid("InvalidVolumeOption", $"volume {name}: option '{key}' is not known to the local driver (type, device, o)", name, "DriverOpts");
        if (!options.TryGetValue("type", out var type) || type.Length == 0)
            throw Invalid("InvalidVolumeOption", $"volume {name}: option 'type' is needed with 'device' or 'o' (tmpfs, none for a bind…)", name, "DriverOpts");
        if (!options.TryGetValue("device", out var device) || device.Length == 0)
            throw Invalid("InvalidVolumeOption", $"volume {name}: option 'device' is needed with type '{type}'", name, "DriverOpts");
        if (IsBind(options))
        {
            if (!device.StartsWith('/'))
                throw Invalid("InvalidVolumeOption", $"volume {name}: bind device '{device}' must be an absolute host path", name, "DriverOpts");
            if (!Directory.Exists(device))
                throw Invalid("InvalidVolumeOption", $"volume {name}: bind device '{device}' does not exist or is not a directory", name, "DriverOpts");
        }
        else if (type is "nfs" or "nfs4" or "cifs")
            throw Invalid("InvalidVolumeOption", $"volume {name}: type '{type}' (network file systems) is not supported in this release", name, "DriverOpts");
    }

    private static bool IsBind(IReadOnlyDictionary<string, string> options) =>
        (options.TryGetValue("o", out var o) && o.Split(',').Any(x => x is "bind" or "rbind")) || (options.TryGetValue("type", out var t) && t == "none");

    public Volume Inspect(string name)
    {
        lock (_lock) return ToApi(Find(name), null);
    }

    public bool Exists(string name)
    {
        lock (_lock) return _volumes.ContainsKey(name);
    }

    /// <summary>GET /volumes: filters name (substring), driver, label (key or key=value, all must match), dangling.</summary>
    public List<Volume> List(IReadOnlyDictionary<string, List<string>>? filters, bool withUsage = false)
    {
        lock (_lock)
        {
            return _volumes.Values.Where(v => Matches(v, filters)).OrderBy(v => v.Name, StringComparer.Ordinal)
                .Select(v => ToApi(v, withUsage ? Usage(v) : null)).ToList();
        }
    }

    private bool Matches(VolumeRecord v, IReadOnlyDictionary<string, List<string>>? filters)
    {
        foreach (var (key, values) in filters ?? new Dictionary<string, List<string>>())
        {
            var ok = key switch
            {
                "name" => values.Any(x => v.Name.Contains(x, StringComparison.Ordinal)),
                "driver" => values.Any(x => x == v.Driver),
                "label" => DockerFilters.HasLabels(v.Labels, values),
                "label!" => !values.Any(x => DockerFilters.HasLabel(v.Labels, x)),
                "dangling" => values.All(x => ParseBool(x, "dangling") == !IsReferencedLocked(v.Name)),
                _ => throw Invalid("InvalidFilter", $"unknown volume filter '{key}' (name, driver, label, label!, dangling)", key, "filters"),
            };
            if (!ok) return false;
        }
        return true;
    }

    private static bool ParseBool(string s, string filter) => s.ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw Invalid("InvalidFilter", $"filter {filter}: '{s}' is not true or false", s, "filters"),
    };

    /// <summary>Removes an unused volume. <paramref name="force"/>, as Docker's: no error when it does not exist, and the
    /// volume is forgotten even when its data cannot be deleted. A volume that a container uses is never removed.</summary>
    /// <param name="byProvisioner">The cluster's provisioner removes a PersistentVolume's data; nobody else may.</param>
    public void Remove(string name, bool force, bool byProvisioner = false)
    {
        lock (_lock)
        {
            if (!_volumes.TryGetValue(name, out var v))
            {
                if (force) return;
                throw NotFound(name);
            }
            if (v.PersistentVolume is { } pv && !byProvisioner)
                throw new ContainerOpsException(ErrorKind.Conflict, "VolumeHeldByCluster",
                    $"volume {name} holds the data of PersistentVolume {pv}: delete its claim (kubectl delete pvc) to remove it", name);
            if (_references.TryGetValue(name, out var users) && users.Count > 0)
                throw new ContainerOpsException(ErrorKind.Conflict, "VolumeInUse",
                    $"volume {name} is in use by container(s) {string.Join(", ", users.Select(u => u[..Math.Min(12, u.Length)]))}: remove them first", name);
            RemoveLocked(v, force);
        }
    }

    private long RemoveLocked(VolumeRecord v, bool force)
    {
        var dir = Path.Combine(_root, v.Name);
        var size = DirectorySize(DataPath(v.Name));
        try { UnmountAll(DataPath(v.Name)); }
        catch (ContainerOpsException) when (force) { }
        var trash = Path.Combine(_root, ".rm-" + NewAnonymousName()[..16]);
        try { Directory.Move(dir, trash); }
        catch (IOException e) when (!force || Directory.Exists(dir))
        {
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "VolumeRemoveFailed", $"volume {v.Name}: {e.Message}", v.Name, inner: e);
        }
        _volumes.Remove(v.Name);
        _mountedBy.Remove(v.Name);
        try { Directory.Delete(trash, true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { _log.LogWarning("volume {Name}: its data was not all deleted: {Message}", v.Name, e.Message); }
        _log.LogInformation("removed volume {Name}", v.Name);
        _events?.Publish(EventTypes.Volume, "destroy", v.Name, new Dictionary<string, string> { ["driver"] = LocalDriver });
        return size;
    }

    /// <summary>POST /volumes/prune: every unreferenced volume matching the label filters; without `all=true` only
    /// anonymous ones (Docker 23 and later).</summary>
    public VolumePruneResponse Prune(IReadOnlyDictionary<string, List<string>>? filters)
    {
        var all = false;
        var labelFilters = new Dictionary<string, List<string>>();
        foreach (var (key, values) in filters ?? new Dictionary<string, List<string>>())
        {
            if (key == "all") all = values.All(x => ParseBool(x, "all"));
            else if (key is "label" or "label!") labelFilters[key] = values;
            else throw Invalid("InvalidFilter", $"unknown volume prune filter '{key}' (label, label!, all)", key, "filters");
        }
        var result = new VolumePruneResponse();
        lock (_lock)
        {
            foreach (var v in _volumes.Values.ToList())
            {
                if (IsReferencedLocked(v.Name) || v.PersistentVolume is not null || (!all && !v.Anonymous) || !Matches(v, labelFilters)) continue;
                try
                {
                    result.SpaceReclaimed += RemoveLocked(v, force: false);
                    result.VolumesDeleted.Add(v.Name);
                }
                catch (ContainerOpsException e) { _log.LogWarning("prune: volume {Name}: {Message}", v.Name, e.Message); }
            }
        }
        return result;
    }

    /// <summary>The `Local Volumes` row of `system df`.</summary>
    public DiskUsageRow DiskUsage()
    {
        lock (_lock)
        {
            var sizes = _volumes.Values.Select(v => (v.Name, Size: DirectorySize(DataPath(v.Name)))).ToList();
            return new DiskUsageRow
            {
                Type = "Local Volumes", Total = sizes.Count, Active = sizes.Count(s => IsReferencedLocked(s.Name)),
                Size = sizes.Sum(s => s.Size), Reclaimable = sizes.Where(s => !IsReferencedLocked(s.Name)).Sum(s => s.Size),
            };
        }
    }

    // ================================================================== use by containers

    /// <summary>At daemon start: which containers reference which volumes, and which of them run. Device-backed volumes
    /// with no running user are unmounted (their containers ended while the daemon was down).</summary>
    public void Recover(IEnumerable<(string Volume, string ContainerId, bool Running)> uses)
    {
        lock (_lock)
        {
            _references.Clear();
            _mountedBy.Clear();
            foreach (var (volume, id, running) in uses)
            {
                if (!_volumes.ContainsKey(volume)) { _log.LogWarning("container {Id} uses volume {Volume}, which does not exist", id[..Math.Min(12, id.Length)], volume); continue; }
                Set(_references, volume).Add(id);
                if (running) Set(_mountedBy, volume).Add(id);
            }
            foreach (var v in _volumes.Values)
            {
                var path = DataPath(v.Name);
                if (!_mountedBy.ContainsKey(v.Name) && SnapshotStore.IsMountPoint(path))
                {
                    try { UnmountAll(path); }
                    catch (ContainerOpsException e) { _log.LogWarning("volume {Name}: {Message}", v.Name, e.Message); }
                }
            }
        }
    }

    public void AddReference(string name, string containerId)
    {
        lock (_lock)
        {
            Find(name);
            Set(_references, name).Add(containerId);
        }
    }

    public void RemoveReference(string name, string containerId)
    {
        lock (_lock)
        {
            if (_references.TryGetValue(name, out var s)) { s.Remove(containerId); if (s.Count == 0) _references.Remove(name); }
        }
    }

    public bool IsReferenced(string name)
    {
        lock (_lock) return IsReferencedLocked(name);
    }

    private bool IsReferencedLocked(string name) => _references.TryGetValue(name, out var s) && s.Count > 0;

    /// <summary>Makes the volume ready for a starting container and returns the host path to bind: for device-backed
    /// volumes the device is mounted at the mount point when the first container starts.</summary>
    public string Mount(string name, string containerId)
    {
        lock (_lock)
        {
            var v = Find(name);
            var path = DataPath(name);
            Directory.CreateDirectory(path);
            if (v.MountsDevice && !SnapshotStore.IsMountPoint(path)) MountDevice(v, path);
            Set(_mountedBy, name).Add(containerId);
            return path;
        }
    }

    /// <summary>A container that used the volume has stopped: the device is unmounted after the last one. Returns
    /// whether the container had it mounted (false when called again for the same stop).</summary>
    public bool Unmount(string name, string containerId)
    {
        lock (_lock)
        {
            if (!_mountedBy.TryGetValue(name, out var s)) s = new();
            var wasMounted = s.Remove(containerId);
            if (s.Count > 0) return wasMounted;
            _mountedBy.Remove(name);
            if (_volumes.TryGetValue(name, out var v) && v.MountsDevice) UnmountAll(DataPath(name));
            return wasMounted;
        }
    }

    private void MountDevice(VolumeRecord v, string path)
    {
        var type = v.Options["type"];
        var device = v.Options["device"];
        var (flags, data) = PlanWriter.MountFlags(v.Options.TryGetValue("o", out var o) ? o.Split(',', StringSplitOptions.RemoveEmptyEntries) : []);
        int r;
        if (IsBind(v.Options))
        {
            r = Libc.mount(device, path, null, (flags & ~PlanWriter.MS_RDONLY) | PlanWriter.MS_BIND, null);
            if (r == 0 && (flags & PlanWriter.MS_RDONLY) != 0) r = Libc.mount(null, path, null, PlanWriter.MS_BIND | PlanWriter.MS_REMOUNT | PlanWriter.MS_RDONLY, null);
        }
        else r = Libc.mount(device, path, type, flags, data.Length > 0 ? data : null);
        if (r != 0)
        {
            var err = Marshal.GetLastPInvokeError();
            try { UnmountAll(path); } catch (ContainerOpsException) { }
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "VolumeMountFailed",
                $"volume {v.Name}: mounting {device} ({type}{(o is { Length: > 0 } ? ", " + o : "")}) failed: {Libc.StrError(err)}", v.Name, "DriverOpts");
        }
    }

    /// <summary>Unmounts whatever is mounted at <paramref name="path"/> (stacked mounts too); nothing when nothing is.</summary>
    public static void UnmountAll(string path)
    {
        while (SnapshotStore.IsMountPoint(path))
        {
            if (Libc.umount2(path, 0) == 0) continue;
            if (Libc.umount2(path, MNT_DETACH) != 0)
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "VolumeUnmountFailed",
                    $"unmounting {path} failed: {Libc.StrError(Marshal.GetLastPInvokeError())}", path);
        }
    }

    /// <summary>Docker's copy-up: an empty volume gets what the image has at the mount point (<paramref name="containerPath"/>
    /// inside the mounted <paramref name="rootfs"/>, resolved inside it so no symlink of the image leads out), with owners,
    /// modes and times. Returns whether anything was copied.</summary>
    public bool Populate(string name, string rootfs, string containerPath)
    {
        string data;
        lock (_lock) { Find(name); data = DataPath(name); }
        if (Directory.EnumerateFileSystemEntries(data).Any()) return false;
        var relative = string.Join('/', containerPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
        if (relative.Length == 0) return false;
        var root = Libc.Openat2(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
        if (root < 0) return false;
        try
        {
            var fd = Libc.Openat2(root, relative, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
            if (fd < 0) return false; // nothing (or no directory) there in the image
            try
            {
                // cp reaches the directory through this process's descriptor, so what it reads is what was resolved above.
                var source = $"/proc/{Environment.ProcessId}/fd/{fd}/.";
                var psi = new ProcessStartInfo("cp") { RedirectStandardError = true, UseShellExecute = false };
                foreach (var a in new[] { "-a", "--", source, data + "/" }) psi.ArgumentList.Add(a);
                using var p = Process.Start(psi)!;
                var err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0)
                    throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "VolumePopulateFailed",
                        $"volume {name}: copying {containerPath} from the image failed: {err.Trim()}", name);
                return true;
            }
            finally { Libc.close(fd); }
        }
        finally { Libc.close(root); }
    }

    // ================================================================== helpers

    private VolumeRecord Find(string name) =>
        _volumes.TryGetValue(name, out var v) ? v : throw NotFound(name);

    private static ContainerOpsException NotFound(string name) =>
        new(ErrorKind.NotFound, "VolumeNotFound", $"no such volume: {name}", name);

    private static ContainerOpsException Invalid(string id, string message, string? target, string? field) =>
        new(ErrorKind.InvalidArgument, id, message, target, field);

    private static HashSet<string> Set(Dictionary<string, HashSet<string>> map, string key) =>
        map.TryGetValue(key, out var s) ? s : map[key] = new HashSet<string>(StringComparer.Ordinal);

    private VolumeUsageData Usage(VolumeRecord v) => new()
    {
        Size = DirectorySize(DataPath(v.Name)),
        RefCount = _references.TryGetValue(v.Name, out var s) ? s.Count : 0,
    };

    private Volume ToApi(VolumeRecord v, VolumeUsageData? usage) => new()
    {
        Name = v.Name, Driver = v.Driver, Mountpoint = DataPath(v.Name), CreatedAt = v.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssK", System.Globalization.CultureInfo.InvariantCulture),
        Labels = new(v.Labels), Options = new(v.Options), Scope = "local", UsageData = usage,
    };

    /// <summary>Bytes of the regular files below <paramref name="dir"/> (symlinks are not followed).</summary>
    internal static long DirectorySize(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        long total = 0;
        try
        {
            foreach (var f in new DirectoryInfo(dir).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 }))
                if (f.LinkTarget is null) total += f.Length;
        }
        catch (IOException) { }
        return total;
    }
}
