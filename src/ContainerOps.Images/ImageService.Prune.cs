using ContainerOps.Core.Api;
using ContainerOps.Images.Archives;
using ContainerOps.Images.References;

namespace ContainerOps.Images;

/// <summary>Prune and disk usage: images nobody names (or, with <c>all</c>, nobody uses), then blobs and snapshots no
/// image and no container layer refers to.</summary>
public sealed partial class ImageService
{
    /// <summary>Orphaned blobs and snapshots younger than this are left alone: a build in flight stores its layers
    /// before the image that names them.</summary>
    public TimeSpan OrphanGrace { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Removes dangling (untagged) images, or with <paramref name="all"/> every image no container uses;
    /// <paramref name="inUse"/> says whether a container uses an image id. Then sweeps unreferenced blobs and snapshots.</summary>
    public PruneResponse Prune(bool all, Func<string, bool> inUse)
    {
        lock (_lock)
        {
            var before = StoreBytes();
            var response = new PruneResponse();
            var gone = new List<ImageRecord>();
            foreach (var manifest in _refs.Images.ToList())
            {
                var rec = Record(manifest);
                if (_refs.TagsOf(manifest).Any() && !all) continue; // dangling: no tag, whatever digest references it has
                if (inUse(rec.Id)) continue;
                var tags = _refs.ReferencesOf(manifest).ToList();
                response.Untagged.AddRange(tags);
                _refs.RemoveImage(manifest);
                _cache.Remove(manifest);
                response.Deleted.Add(rec.Id);
                foreach (var _ in tags) Emit("untag", rec.Id, rec.Id);
                Emit("delete", rec.Id, rec.Id);
                gone.Add(rec);
            }
            var removed = new ImageRemoveResponse();
            foreach (var rec in gone) CollectGarbage(rec, removed); // their layers go now; older orphans after the grace period
            SweepOrphans(removed);
            response.Deleted.AddRange(removed.Deleted);
            response.SpaceReclaimed = Math.Max(0, before - StoreBytes());
            return response;
        }
    }

    /// <summary>Deletes blobs and snapshots that no image and no container layer refers to (older than <see cref="OrphanGrace"/>).</summary>
    private void SweepOrphans(ImageRemoveResponse response)
    {
        var remaining = _refs.Images.Select(Record).ToList();
        var liveBlobs = remaining.SelectMany(r => r.Blobs).ToHashSet();
        var liveChains = remaining.SelectMany(r => r.ChainIds).ToHashSet();
        foreach (var c in _snapshots.ListContainers())
            foreach (var chain in SafeLowers(c)) liveChains.Add(chain);
        var cutoff = DateTime.UtcNow - OrphanGrace;
        foreach (var blob in _content.List().ToList())
            if (!liveBlobs.Contains(blob) && File.GetLastWriteTimeUtc(_content.PathOf(blob)) < cutoff)
                _content.Delete(blob);
        foreach (var chain in _snapshots.List().ToList())
            if (!liveChains.Contains(chain) && Directory.GetLastWriteTimeUtc(_snapshots.SnapshotDir(chain)) < cutoff && _snapshots.Remove(chain))
                response.Deleted.Add(chain);
    }

    /// <summary>Bytes of blobs plus uncompressed snapshot sizes.</summary>
    private long StoreBytes() =>
        _content.List().Sum(d => { try { return _content.SizeOf(d); } catch (IOException) { return 0L; } })
        + _snapshots.List().Sum(_snapshots.SizeOf);

    /// <summary>`docker system df` rows for images, containers and the build cache. <paramref name="containers"/>:
    /// each known container's id, image id and whether it runs.</summary>
    public List<DiskUsageRow> DiskUsage(IReadOnlyList<(string Id, string ImageId, bool Running)> containers)
    {
        lock (_lock)
        {
            var images = _refs.Images.Select(Record).DistinctBy(r => r.Id).ToList();
            var usedIds = containers.Select(c => c.ImageId).ToHashSet();
            var allChains = images.SelectMany(r => r.ChainIds).ToHashSet();
            var activeChains = images.Where(r => usedIds.Contains(r.Id)).SelectMany(r => r.ChainIds).ToHashSet();
            long imageSize = allChains.Sum(_snapshots.SizeOf);
            long activeSize = activeChains.Sum(_snapshots.SizeOf);

            long containerSize = 0, stoppedSize = 0;
            foreach (var c in containers)
            {
                long size;
                try { size = TreeBytes(Path.Combine(_snapshots.ContainerDir(c.Id), "upper")); }
                catch (ContainerOpsException) { size = 0; }
                containerSize += size;
                if (!c.Running) stoppedSize += size;
            }
            var cache = TreeBytes(BuildCacheDir);
            return
            [
                new DiskUsageRow { Type = "Images", Total = images.Count, Active = images.Count(r => usedIds.Contains(r.Id)), Size = imageSize, Reclaimable = imageSize - activeSize },
                new DiskUsageRow { Type = "Containers", Total = containers.Count, Active = containers.Count(c => c.Running), Size = containerSize, Reclaimable = stoppedSize },
                new DiskUsageRow { Type = "Build Cache", Total = Directory.Exists(BuildCacheDir) ? Directory.EnumerateFiles(BuildCacheDir, "*", SearchOption.AllDirectories).Count() : 0, Active = 0, Size = cache, Reclaimable = cache },
            ];
        }
    }

    private static long TreeBytes(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        long total = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true };
        foreach (var f in new DirectoryInfo(dir).EnumerateFiles("*", options))
            if (f.LinkTarget == null) total += f.Length;
        return total;
    }

    // ---------------- save ----------------

    /// <summary>Writes the named images as a `docker save` archive (or an OCI image layout archive with
    /// <paramref name="oci"/>). Each name is a reference or id; tags given by name are recorded in the archive.</summary>
    public Task SaveAsync(IReadOnlyList<string> names, bool oci, Stream output, CancellationToken ct = default) => Task.Run(() =>
    {
        var items = new List<ArchiveWriter.Item>();
        lock (_lock)
        {
            foreach (var name in names)
            {
                var rec = Resolve(name, out var byTag);
                var tags = byTag != null ? (ReferenceStore.IsDigestReference(byTag) ? [] : [byTag]) : _refs.TagsOf(rec.ManifestDigest).ToList();
                var existing = items.FirstOrDefault(i => i.ManifestDigest == rec.ManifestDigest);
                if (existing != null) { foreach (var t in tags) if (!existing.Tags.Contains(t)) existing.Tags.Add(t); continue; }
                items.Add(new ArchiveWriter.Item(rec.ManifestDigest, rec.ConfigDigest, rec.LayerDigests.ToList(), rec.DiffIds.ToList(), tags));
            }
        }
        // Blobs are immutable and named by digest: writing them outside the lock is safe as long as they exist.
        new ArchiveWriter(_content).Write(items, oci, output, ct);
    }, ct);
}
