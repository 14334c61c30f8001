using System.Text.RegularExpressions;
using ContainerOps.Cluster.Node;
using ContainerOps.Images.Snapshots;
using ContainerOps.Runtime.Native;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Pod volumes on the node, in ROOT/pods/UID/volumes/NAME (the state root: they outlive a daemon restart, as the
/// kubelet's /var/lib/kubelet/pods do): emptyDir directories (a tmpfs for medium Memory, sized by sizeLimit), checked
/// hostPaths, and file volumes (ConfigMap, Secret — always on tmpfs —, downward API) written as the kubelet writes them:
/// the files in a timestamped directory, `..data` a symlink to it swapped atomically on update, and each top-level name
/// a symlink through `..data`, so a container sees the old or the new set, never half of each.
/// </summary>
public sealed partial class PodVolumeFiles(DaemonOptions options, ILogger log)
{
    private string Root => Path.Combine(options.Root, "pods");

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex VolumeName();

    public string Prepare(string podUid, PodVolume volume)
    {
        if (!Guid.TryParse(podUid, out _)) throw new ContainerConfigException($"pod uid '{podUid}' is not a UUID");
        if (!VolumeName().IsMatch(volume.Name) || volume.Name.Length > 63)
            throw new ContainerConfigException($"volume name \"{volume.Name}\" is not a DNS label");
        if (volume.Kind == PodVolumeKind.HostPath) return HostPath(volume);
        var dir = Path.Combine(Root, podUid, "volumes", volume.Name);
        Directory.CreateDirectory(dir);
        if (volume.Memory && !SnapshotStore.IsMountPoint(dir))
        {
            var size = volume.SizeLimit > 0 ? $",size={volume.SizeLimit}" : "";
            if (Libc.mount("tmpfs", dir, "tmpfs", 2 | 4 /* nosuid, nodev */, "mode=0777" + size) != 0)
                throw new ContainerConfigException($"volume {volume.Name}: mounting its tmpfs failed: {Libc.StrError(Libc.LastErrno)}");
        }
        if (volume.Kind == PodVolumeKind.EmptyDir)
        {
            // The set-gid bit an fsGroup gave it stays.
            File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("777", 8) | (File.GetUnixFileMode(dir) & UnixFileMode.SetGroup));
            if (volume.FsGroup is { } gid) PodVolumeOwnership.SetGroup(dir, gid, readOnly: false, volume.FsGroupOnRootMismatch);
            return dir;
        }
        WriteAtomically(dir, volume.Files ?? [], volume.FsGroup);
        return dir;
    }

    private static string HostPath(PodVolume volume)
    {
        var path = volume.Path ?? "";
        if (!Path.IsPathRooted(path)) throw new ContainerConfigException($"hostPath {volume.Name}: \"{path}\" is not an absolute path");
        bool isDir = Directory.Exists(path), isFile = File.Exists(path);
        switch (volume.HostPathType)
        {
            case "DirectoryOrCreate" when !isDir && !isFile: Directory.CreateDirectory(path); break;
            case "FileOrCreate" when !isDir && !isFile:
                if (!Directory.Exists(Path.GetDirectoryName(path)))
                    throw new ContainerConfigException($"hostPath {volume.Name}: the directory of {path} does not exist");
                File.WriteAllBytes(path, []);
                break;
            case "Directory" or "DirectoryOrCreate" when !isDir: throw new ContainerConfigException($"hostPath type check failed: {path} is not a directory");
            case "File" or "FileOrCreate" when !isFile: throw new ContainerConfigException($"hostPath type check failed: {path} is not a file");
            case "Socket" or "CharDevice" or "BlockDevice" when !isFile: throw new ContainerConfigException($"hostPath type check failed: {path} does not exist");
            case "" or null when !isDir && !isFile:
                // No type: as the kubelet, a missing path is made a directory.
                Directory.CreateDirectory(path);
                break;
        }
        return path;
    }

    /// <summary>The kubelet's atomic writer: a new timestamped directory, then `..data` swapped to it by rename.</summary>
    private static void WriteAtomically(string dir, IReadOnlyList<(string Path, byte[] Content, int Mode)> files, long? fsGroup)
    {
        var stamp = Path.Combine(dir, "..." + DateTime.UtcNow.ToString("yyyy_MM_dd_HH_mm_ss.fffffff", System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(stamp);
        foreach (var (relative, content, mode) in files)
        {
            if (relative.Length == 0 || relative.StartsWith('/') || relative.Split('/').Any(p => p is ".." or "" || p.StartsWith("..", StringComparison.Ordinal)))
                throw new ContainerConfigException($"volume file path \"{relative}\" must be relative and may not contain '..'");
            var target = Path.Combine(stamp, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllBytes(target, content);
            File.SetUnixFileMode(target, (UnixFileMode)mode);
        }
        // The group gets the new files before they are swapped in, so no reader sees them without it.
        if (fsGroup is { } gid) PodVolumeOwnership.SetGroup(stamp, gid, readOnly: true, onRootMismatch: false);
        var data = Path.Combine(dir, "..data");
        var old = File.Exists(data) || Directory.Exists(data) ? new FileInfo(data).LinkTarget : null;
        var temp = Path.Combine(dir, "..data_tmp");
        if (File.Exists(temp) || Directory.Exists(temp)) File.Delete(temp);
        File.CreateSymbolicLink(temp, Path.GetFileName(stamp));
        // rename(2) replaces the link itself (File.Move would look through it at a directory and refuse).
        if (Libc.renameat(-100 /* AT_FDCWD */, temp, -100, data) != 0)
            throw new ContainerConfigException($"updating {dir}: {Libc.StrError(Libc.LastErrno)}");
        var names = files.Select(f => f.Path.Split('/')[0]).ToHashSet();
        foreach (var name in names)
        {
            var link = Path.Combine(dir, name);
            if (!File.Exists(link) && !Directory.Exists(link)) File.CreateSymbolicLink(link, Path.Combine("..data", name));
        }
        foreach (var entry in Directory.GetFileSystemEntries(dir).Select(Path.GetFileName))
            if (!entry!.StartsWith("..", StringComparison.Ordinal) && !names.Contains(entry)) File.Delete(Path.Combine(dir, entry));
        if (old is { Length: > 0 } && old != Path.GetFileName(stamp) && Directory.Exists(Path.Combine(dir, old)))
            Directory.Delete(Path.Combine(dir, old), recursive: true);
        if (fsGroup is { } group) PodVolumeOwnership.SetGroup(dir, group, readOnly: true, onRootMismatch: false);
    }

    /// <summary>The pod's volumes go: tmpfs mounts unmounted, directories removed (never what a hostPath names).</summary>
    public void Remove(string podUid)
    {
        if (!Guid.TryParse(podUid, out _)) return;
        var pod = Path.Combine(Root, podUid);
        if (!Directory.Exists(pod)) return;
        var volumes = Path.Combine(pod, "volumes");
        if (Directory.Exists(volumes))
            foreach (var dir in Directory.GetDirectories(volumes))
                while (SnapshotStore.IsMountPoint(dir))
                    if (Libc.umount2(dir, 2 /* MNT_DETACH */) != 0) { log.LogWarning("pod {Uid}: unmounting {Path}: {Error}", podUid, dir, Libc.StrError(Libc.LastErrno)); return; }
        try { Directory.Delete(pod, recursive: true); }
        catch (IOException e) { log.LogWarning("pod {Uid}: removing its volumes: {Message}", podUid, e.Message); }
    }
}
