using System.Runtime.InteropServices;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;
using ContainerOps.Runtime.Native;
using static ContainerOps.Runtime.Native.Libc.Fs;

namespace ContainerOps.Images.Snapshots;

/// <summary>
/// Extracted layers keyed by chain ID (<c>snapshots/&lt;hex&gt;/fs</c>, shared by every image with that layer prefix) and
/// container layers (<c>containers/&lt;id&gt;/{upper,work,merged}</c>) overlay-mounted over them.
/// A snapshot is unpacked into a temporary directory, its file system is synced (one syncfs, not an fsync per file),
/// then a completion marker (<c>complete</c>) is written last and the directory renamed into place. A snapshot is used
/// only with its marker: one without (cut off, or written before a power loss took its unsynced files) counts as
/// missing and is unpacked again from its verified blob.
/// </summary>
public sealed class SnapshotStore
{
    private readonly string _snapshots;
    private readonly string _containers;

    /// <summary>The completion marker, written after the snapshot's files are on disk.</summary>
    public const string Marker = "complete";

    public SnapshotStore(string root)
    {
        _snapshots = Path.Combine(root, "snapshots");
        _containers = Path.Combine(root, "containers");
        Directory.CreateDirectory(_snapshots);
        Directory.CreateDirectory(_containers);
        // Present once every snapshot has its marker; a store made before markers existed has none yet.
        AdoptUnmarked(Path.Combine(root, ".snapshots-marked"));
    }

    /// <summary>Snapshots unpacked before there were markers were renamed into place whole (but not synced): they are
    /// trusted once, as they were before, and marked.</summary>
    private void AdoptUnmarked(string done)
    {
        if (File.Exists(done)) return;
        foreach (var dir in Directory.EnumerateDirectories(_snapshots).Where(d => Digest.IsHex(Path.GetFileName(d))))
            if (!File.Exists(Path.Combine(dir, Marker))) AtomicFile.WriteAllText(Path.Combine(dir, Marker), "");
        AtomicFile.WriteAllText(done, "");
    }

    public string SnapshotDir(string chainId) => Path.Combine(_snapshots, Digest.Hex(chainId));
    public string SnapshotFs(string chainId) => Path.Combine(SnapshotDir(chainId), "fs");
    /// <summary>Whether the snapshot is there and complete (its marker was written after its files were synced).</summary>
    public bool Exists(string chainId) => File.Exists(Path.Combine(SnapshotDir(chainId), Marker));

    public IEnumerable<string> List() => Directory.EnumerateDirectories(_snapshots)
        .Select(Path.GetFileName).Where(n => Digest.IsHex(n!)).Select(n => Digest.Prefix + n);

    /// <summary>Uncompressed size of the layer recorded when it was extracted (0 when unknown).</summary>
    public long SizeOf(string chainId)
    {
        var f = Path.Combine(SnapshotDir(chainId), "size");
        return File.Exists(f) && long.TryParse(File.ReadAllText(f), out var n) ? n : 0;
    }

    /// <summary>Extracts a layer into a new temporary snapshot directory. Returns the directory (to <see cref="Commit"/>
    /// or <see cref="Discard"/>) and what the extractor measured. Nothing is left behind when it throws.</summary>
    public (string TempDir, ExtractResult Result) Prepare(Stream layer, ExtractOptions? options, CancellationToken ct)
    {
        var tmp = Path.Combine(_snapshots, ".tmp-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(Path.Combine(tmp, "fs"));
            var result = LayerExtractor.Extract(layer, Path.Combine(tmp, "fs"), options, ct);
            File.WriteAllText(Path.Combine(tmp, "size"), result.ContentSize.ToString());
            // Every file on disk first, then the marker that says so.
            AtomicFile.SyncFileSystem(tmp);
            AtomicFile.WriteAllText(Path.Combine(tmp, Marker), "");
            return (tmp, result);
        }
        catch
        {
            Discard(tmp);
            throw;
        }
    }

    /// <summary>Renames a prepared snapshot into place; false when one with this chain ID already exists (the temp goes).
    /// With <paramref name="syncDirectory"/> false the caller calls <see cref="SyncSnapshots"/> after the batch.</summary>
    public bool Commit(string tempDir, string chainId, bool syncDirectory = true)
    {
        var dir = SnapshotDir(chainId);
        if (Exists(chainId)) { Discard(tempDir); return false; }
        if (Directory.Exists(dir)) Remove(chainId); // incomplete: never used, replaced
        Directory.Move(tempDir, dir);
        if (syncDirectory) SyncSnapshots();
        return true;
    }

    /// <summary>Makes renames into the snapshot directory durable (one fsync of the directory).</summary>
    public void SyncSnapshots() => AtomicFile.SyncDirectory(_snapshots);

    public void Discard(string dir) => DeleteTree(dir);

    public bool Remove(string chainId)
    {
        var dir = SnapshotDir(chainId);
        if (!Directory.Exists(dir)) return false;
        // Rename first so a crash half-way never leaves a partial snapshot under a valid name.
        DeleteTree(DeferredDelete.RenameAside(dir));
        return true;
    }

    /// <summary>Removes temporary directories a crash left behind, snapshots without their marker, and container layers
    /// whose deletion was cut off.</summary>
    public void CleanTemporary()
    {
        DeferredDelete.Sweep(_containers);
        foreach (var d in Directory.EnumerateDirectories(_snapshots, ".*")) DeleteTree(d);
        foreach (var chainId in List().Where(c => !Exists(c)).ToList()) Remove(chainId);
    }

    // ---- container layers ----

    public string ContainerDir(string containerId) => Path.Combine(_containers, ValidContainerId(containerId));
    public string MergedDir(string containerId) => Path.Combine(ContainerDir(containerId), "merged");

    /// <summary>The container layers (a layer being deleted, under a dot name, is none).</summary>
    public IEnumerable<string> ListContainers() =>
        Directory.EnumerateDirectories(_containers).Select(p => Path.GetFileName(p)!).Where(n => !n.StartsWith('.'));

    /// <summary>Chain IDs the container's layer sits on (recorded at creation).</summary>
    public IReadOnlyList<string> ContainerLowers(string containerId)
    {
        var f = Path.Combine(ContainerDir(containerId), "lowers");
        return File.Exists(f) ? File.ReadAllLines(f).Where(l => l.Length > 0).ToList() : [];
    }

    /// <summary>Creates the container's upper/work dirs if needed and overlay-mounts them over <paramref name="chainIds"/>
    /// (base first). Idempotent: an existing mount is kept.</summary>
    /// <param name="transient">The layer goes with the container when it ends (`run --rm`): it is mounted "volatile"
    /// (Linux 5.10), so its writes are never synced — without it, every unmount of an overlay syncs the whole file
    /// system its upper layer is on. A kernel without the option mounts it as any other.</param>
    public string Mount(string containerId, IReadOnlyList<string> chainIds, bool transient = false)
    {
        var merged = MergedDir(containerId);
        if (IsMountPoint(merged)) return merged;
        Prepare(containerId, chainIds, transient);
        var dir = ContainerDir(containerId);
        var lower = string.Join(':', chainIds.Reverse().Select(SnapshotFs));
        var data = $"lowerdir={lower},upperdir={Path.Combine(dir, "upper")},workdir={Path.Combine(dir, "work")}";
        if (Encoding.UTF8.GetByteCount(data) >= 4096)
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "TooManyLayers",
                $"overlay mount options for {chainIds.Count} layers exceed one page", containerId);
        if (transient)
        {
            // A volatile mount leaves work/work/incompat/volatile behind, and overlay refuses to mount over it again
            // (it cannot know the upper layer was synced): for a layer that is thrown away, the marker can go.
            var incompatible = Path.Combine(dir, "work", "work", "incompat");
            if (Directory.Exists(incompatible)) DeleteTree(incompatible);
            if (Libc.mount("overlay", merged, "overlay", 0, data + ",volatile") == 0) return merged;
            var e = Marshal.GetLastPInvokeError();
            if (e != EINVAL) throw MountFailed(containerId, e); // EINVAL: a kernel without the option
        }
        if (Libc.mount("overlay", merged, "overlay", 0, data) != 0) throw MountFailed(containerId, Marshal.GetLastPInvokeError());
        return merged;
    }

    private static ContainerOpsException MountFailed(string containerId, int errno) =>
        new(ErrorKind.ResourceUnavailable, "MountFailed", $"overlay mount of container {containerId} failed: {Libc.StrError(errno)}", containerId);

    /// <summary>The container's layer without the mount: its upper, work and merged dirs and the record of
    /// <paramref name="chainIds"/>. Returns the (unmounted) merged dir.</summary>
    /// <param name="transient">The layer goes with its container (see <see cref="Mount"/>): its record is not synced.</param>
    public string Prepare(string containerId, IReadOnlyList<string> chainIds, bool transient = false)
    {
        if (chainIds.Count == 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "ImageHasNoLayers", "the image has no layers to mount", containerId);
        var dir = ContainerDir(containerId);
        var merged = Path.Combine(dir, "merged");
        foreach (var c in chainIds)
            if (!Exists(c))
                throw new ContainerOpsException(ErrorKind.NotFound, "SnapshotNotFound", $"layer snapshot {c} is missing", containerId);
        Directory.CreateDirectory(Path.Combine(dir, "upper"));
        Directory.CreateDirectory(Path.Combine(dir, "work"));
        Directory.CreateDirectory(merged);
        // Recorded at creation; a later start over the same chain leaves it alone (an fsynced write at every start).
        if (!ContainerLowers(containerId).SequenceEqual(chainIds))
            AtomicFile.WriteAllText(Path.Combine(dir, "lowers"), string.Join('\n', chainIds) + "\n", durable: !transient);
        return merged;
    }

    public void Unmount(string containerId)
    {
        var merged = MergedDir(containerId);
        while (IsMountPoint(merged))
        {
            if (Libc.umount2(merged, 0) == 0) continue;
            var e = Marshal.GetLastPInvokeError();
            if (e == EINVAL) break; // not a mount point after all
            if (Libc.umount2(merged, MNT_DETACH) != 0)
            {
                e = Marshal.GetLastPInvokeError();
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "UnmountFailed",
                    $"unmounting container {containerId} failed: {Libc.StrError(e)}", containerId);
            }
        }
    }

    /// <summary>Unmounts the container's layer and deletes it; the deletion is finished in the background
    /// (<see cref="DeferredDelete"/>), and a mount still inside the layer is refused before anything moves.</summary>
    public void RemoveContainer(string containerId)
    {
        Unmount(containerId);
        var dir = ContainerDir(containerId);
        if (!Directory.Exists(dir)) return;
        ThrowIfMountedInside(dir);
        DeferredDelete.Directory(dir);
    }

    public static bool IsMountPoint(string path)
    {
        var full = Path.GetFullPath(path);
        if (Libc.IsMountRoot(full) is bool known) return known;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var f = line.Split(' ');
            if (f.Length > 4 && UnescapeMountInfo(f[4]) == full) return true;
        }
        return false;
    }

    private static string UnescapeMountInfo(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && s.Substring(i + 1, 3).All(c => c is >= '0' and <= '7'))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static string ValidContainerId(string id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 128 || id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')) || id[0] == '.')
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidContainerId", $"'{id}' is not a valid container id", id, "containerId");
        return id;
    }

    /// <summary>The mount points below <paramref name="dir"/>, deepest first.</summary>
    internal static List<string> MountsBelow(string dir)
    {
        var full = Path.GetFullPath(dir).TrimEnd('/') + "/";
        return File.ReadLines("/proc/self/mountinfo").Select(l => UnescapeMountInfo(l.Split(' ')[4]))
            .Where(mp => mp.StartsWith(full, StringComparison.Ordinal)).OrderByDescending(mp => mp.Length).ToList();
    }

    /// <summary>Deletes a tree without following symlinks and without crossing into mounts.</summary>
    internal static void DeleteTree(string dir)
    {
        if (!Directory.Exists(dir) && !File.Exists(dir)) return;
        ThrowIfMountedInside(dir);
        Directory.Delete(dir, recursive: true);
    }

    private static void ThrowIfMountedInside(string dir)
    {
        var full = Path.GetFullPath(dir);
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var mp = UnescapeMountInfo(line.Split(' ')[4]);
            if (mp.StartsWith(full + "/", StringComparison.Ordinal))
                throw new ContainerOpsException(ErrorKind.Conflict, "MountPointBusy", $"{mp} is still mounted", mp);
        }
    }
}
