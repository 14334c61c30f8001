using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Build;
using ContainerOps.Images.Config;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;
using ContainerOps.Images.References;
using ContainerOps.Images.Snapshots;
using ContainerOps.Runtime.Native;

namespace ContainerOps.Images;

/// <summary>
/// Images made from containers and Dockerfiles: build, commit, diff, history, export. Layers made here are
/// uncompressed tars (blob digest = diff ID) written by <see cref="LayerWriter"/> from a container's upper dir.
/// </summary>
public sealed partial class ImageService
{
    private string ImageRoot => Path.GetDirectoryName(_content.Root.TrimEnd('/'))!;

    /// <summary>Directory of the persistent build cache.</summary>
    internal string BuildCacheDir => Path.Combine(ImageRoot, "build-cache");

    /// <summary>Directories of <c>RUN --mount=type=cache</c>, kept between builds.</summary>
    internal string CacheMountsDir => Path.Combine(ImageRoot, "build-cache-mounts");

    /// <summary>Scratch space of running builds (downloads, here-documents, mount sources), emptied at daemon start.</summary>
    internal string BuildTmpDir => Path.Combine(ImageRoot, "build-tmp");

    public Task<ImageSummary> BuildAsync(BuildRequest request, IProgress<BuildProgress>? progress = null, CancellationToken ct = default) =>
        Task.Run(() => new ImageBuilder(this, request, progress).RunAsync(ct), ct);

    // ---------------- container → image ----------------

    /// <summary>Turns the container's writable layer into a new image over <paramref name="baseImageId"/> (docker commit).
    /// <paramref name="changes"/> are Dockerfile lines (CMD, ENV, …) applied to the config.</summary>
    public Task<ImageSummary> CommitAsync(string containerId, string baseImageId, string? reference = null, string? author = null,
        string? message = null, IEnumerable<string>? changes = null, CancellationToken ct = default)
    {
        var name = reference is null or "" ? null : ImageReference.Parse(reference, "reference");
        if (name?.DigestValue != null)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidReference", $"cannot commit as '{reference}': a tag cannot include a digest", reference, "reference");
        var changeList = changes?.ToList() ?? [];
        return Task.Run(() =>
        {
            var baseImage = BuildBase(baseImageId);
            var cfg = baseImage.ConfigDoc.DeepClone().AsObject();
            var run = cfg["config"] as JsonObject ?? new JsonObject();
            ConfigChanges.Apply(run, changeList);
            cfg["config"] = run;
            var upper = Path.Combine(_snapshots.ContainerDir(containerId), "upper");
            if (!Directory.Exists(upper))
                throw new ContainerOpsException(ErrorKind.NotFound, "ContainerLayerNotFound", $"container {containerId} has no writable layer", containerId);
            var layer = StoreLayer(upper, baseImage.DiffIds, ct, fromContainer: true);
            var now = ImageTime.Now();
            cfg["created"] = now;
            if (author != null) cfg["author"] = author;
            var history = cfg["history"] as JsonArray ?? new JsonArray();
            var h = new JsonObject { ["created"] = now, ["created_by"] = changeList.Count > 0 ? string.Join("; ", changeList) : "commit " + containerId };
            if (author != null) h["author"] = author;
            if (message != null) h["comment"] = message;
            history.Add((JsonNode)h);
            cfg["history"] = history;
            var diffIds = baseImage.DiffIds.Append(layer.DiffId).ToList();
            var layers = baseImage.Layers.Append((layer.Digest, layer.Size)).ToList();
            return StoreBuiltImage(cfg, diffIds, layers, name == null ? [] : [name.ToString()]);
        }, ct);
    }

    /// <summary>What the container changed compared with its image (docker diff).</summary>
    public IReadOnlyList<LayerChange> Diff(string containerId)
    {
        lock (_lock)
        {
            var upper = Path.Combine(_snapshots.ContainerDir(containerId), "upper");
            if (!Directory.Exists(upper))
                throw new ContainerOpsException(ErrorKind.NotFound, "ContainerLayerNotFound", $"container {containerId} has no writable layer", containerId);
            var lowers = _snapshots.ContainerLowers(containerId).Reverse().Select(_snapshots.SnapshotFs).ToList();
            return LayerWriter.Diff(upper, lowers);
        }
    }

    /// <summary>The image's history, newest first (docker history).</summary>
    public List<ImageHistoryEntry> History(string imageRef)
    {
        lock (_lock)
        {
            var rec = Resolve(imageRef, out _);
            var history = rec.Config["history"] as JsonArray ?? [];
            var chains = rec.ChainIds;
            var items = new List<ImageHistoryEntry>();
            var layer = 0;
            foreach (var node in history)
            {
                if (node is not JsonObject h) continue;
                var empty = h["empty_layer"] is JsonValue ev && ev.TryGetValue<bool>(out var b) && b;
                long size = 0;
                if (!empty)
                {
                    if (layer < chains.Count) size = _snapshots.SizeOf(chains[layer]);
                    layer++;
                }
                items.Add(new ImageHistoryEntry
                {
                    Id = "<missing>",
                    Created = h["created"] is JsonValue cv && cv.TryGetValue<string>(out var cs) && DateTimeOffset.TryParse(cs, out var d) ? d : null,
                    CreatedBy = Str(h["created_by"]) ?? "",
                    Comment = Str(h["comment"]) ?? "",
                    Size = size,
                    EmptyLayer = empty,
                });
            }
            items.Reverse();
            if (items.Count > 0)
            {
                items[0].Id = rec.Id;
                items[0].Tags = _refs.TagsOf(rec.ManifestDigest).Select(ImageNames.Familiar).ToList();
            }
            return items;
        }
    }

    /// <summary>Writes the container's merged root filesystem as a tar (docker export). Mounts it for the time of the
    /// export when it is not mounted.</summary>
    public Task ExportContainerAsync(string containerId, Stream output, CancellationToken ct = default) =>
        WithContainerRootfsAsync(containerId, merged => LayerWriter.Write(merged, output, overlayUpper: false, ct), ct);

    /// <summary>Runs <paramref name="work"/> on the container's merged root filesystem: the running container's own mount,
    /// or one made for the while (and removed after) when the container is not running. While it reads, the mount stays:
    /// a container that exits meanwhile has its root unmounted when the last reader is done, not under it, and one that
    /// starts meanwhile keeps the mount as its own.</summary>
    public Task<T> WithContainerRootfsAsync<T>(string containerId, Func<string, T> work, CancellationToken ct = default) => Task.Run(() =>
    {
        string merged;
        lock (_lock)
        {
            merged = _snapshots.MergedDir(containerId);
            if (!SnapshotStore.IsMountPoint(merged))
            {
                var lowers = _snapshots.ContainerLowers(containerId);
                if (lowers.Count == 0)
                    throw new ContainerOpsException(ErrorKind.NotFound, "ContainerLayerNotFound", $"container {containerId} has no root filesystem", containerId);
                _snapshots.Mount(containerId, lowers);
                _unmountAfterReading.Add(containerId);
            }
            _rootfsReaders[containerId] = _rootfsReaders.GetValueOrDefault(containerId) + 1;
        }
        try { return work(merged); }
        finally
        {
            lock (_lock)
            {
                if (--_rootfsReaders[containerId] == 0)
                {
                    _rootfsReaders.Remove(containerId);
                    if (_unmountAfterReading.Remove(containerId) && SnapshotStore.IsMountPoint(merged)) _snapshots.Unmount(containerId);
                    Monitor.PulseAll(_lock);
                }
            }
        }
    }, ct);

    /// <summary>Forgets the build cache and deletes the layers only it kept (blobs and snapshots no image or container
    /// uses), e.g. those of failed builds. Returns how many cache entries went and the bytes of blobs deleted.</summary>
    public (int Entries, long BytesReclaimed) PruneBuildCache()
    {
        lock (_lock)
        {
            // Cache mounts go too (those no running build holds), as with docker builder prune.
            var mounts = new CacheMountStore(CacheMountsDir).Prune();
            if (!Directory.Exists(BuildCacheDir)) return (mounts, 0);
            var images = _refs.Images.Select(Record).ToList();
            var liveBlobs = images.SelectMany(r => r.Blobs).ToHashSet();
            var liveChains = images.SelectMany(r => r.ChainIds).ToHashSet();
            foreach (var c in _snapshots.ListContainers())
                foreach (var chain in SafeLowers(c)) liveChains.Add(chain);
            int entries = mounts;
            long bytes = 0;
            foreach (var file in Directory.EnumerateFiles(BuildCacheDir, "*.json").ToList())
            {
                string? diffId = null, chainId = null;
                try
                {
                    var o = JsonNode.Parse(File.ReadAllText(file));
                    diffId = o?["diffId"]?.GetValue<string>();
                    chainId = o?["chainId"]?.GetValue<string>();
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException) { }
                File.Delete(file);
                entries++;
                if (diffId != null && Digest.IsValid(diffId) && !liveBlobs.Contains(diffId) && _content.Exists(diffId))
                {
                    bytes += _content.SizeOf(diffId);
                    _content.Delete(diffId);
                }
                if (chainId != null && Digest.IsValid(chainId) && !liveChains.Contains(chainId)) _snapshots.Remove(chainId);
            }
            return (entries, bytes);
        }
    }

    /// <summary>Prefixes of the container layers builds make (removed when a step ends).</summary>
    internal static readonly string[] BuildContainerPrefixes = ["build-", "buildsrc-"];

    /// <summary>Removes build containers a crash left behind (their mounts and writable layers). Call at daemon start,
    /// before any build runs.</summary>
    public int CleanBuildLeftovers()
    {
        lock (_lock)
        {
            var gone = 0;
            foreach (var id in _snapshots.ListContainers().Where(c => BuildContainerPrefixes.Any(p => c.StartsWith(p, StringComparison.Ordinal))).ToList())
            {
                _snapshots.RemoveContainer(id);
                gone++;
            }
            if (Directory.Exists(BuildTmpDir))
            {
                // Overlays a step put over the context for RUN --mount=…,rw: detach them, then delete what is left.
                foreach (var mp in SnapshotStore.MountsBelow(BuildTmpDir)) Libc.umount2(mp, Libc.Fs.MNT_DETACH);
                SnapshotStore.DeleteTree(BuildTmpDir);
            }
            return gone;
        }
    }

    // ---------------- hooks for the image builder ----------------

    /// <summary>An image as the builder sees it: full config document, diff IDs and layer blobs (base first).</summary>
    internal sealed record BuiltImage(string Id, JsonObject ConfigDoc, List<string> DiffIds, List<(string Digest, long Size)> Layers);

    internal BuiltImage BuildBase(string reference)
    {
        lock (_lock)
        {
            var rec = Resolve(reference, out _);
            EnsureSnapshots(rec);
            var layers = rec.LayerDigests.Select(d => (d, _content.Exists(d) ? _content.SizeOf(d) : 0L)).ToList();
            return new BuiltImage(rec.Id, rec.Config.DeepClone().AsObject(), rec.DiffIds.ToList(), layers);
        }
    }

    /// <summary>Overlay-mounts a build container over the given layers (an empty lower dir when there are none: FROM scratch).</summary>
    internal string MountBuildContainer(string containerId, IReadOnlyList<string> diffIds)
    {
        lock (_lock)
        {
            if (diffIds.Count > 0) return _snapshots.Mount(containerId, ChainId.For(diffIds));
            var dir = _snapshots.ContainerDir(containerId);
            var merged = Path.Combine(dir, "merged");
            foreach (var d in new[] { "upper", "work", "merged", "empty" }) Directory.CreateDirectory(Path.Combine(dir, d));
            var data = $"lowerdir={Path.Combine(dir, "empty")},upperdir={Path.Combine(dir, "upper")},workdir={Path.Combine(dir, "work")}";
            if (Libc.mount("overlay", merged, "overlay", 0, data) != 0)
            {
                var e = Marshal.GetLastPInvokeError();
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "MountFailed", $"overlay mount of build container {containerId} failed: {Libc.StrError(e)}", containerId);
            }
            return merged;
        }
    }

    internal string ContainerUpperDir(string containerId) => Path.Combine(_snapshots.ContainerDir(containerId), "upper");

    internal void UnmountBuildContainer(string containerId)
    {
        lock (_lock) _snapshots.Unmount(containerId);
    }

    internal void RemoveBuildContainer(string containerId)
    {
        lock (_lock) _snapshots.RemoveContainer(containerId);
    }

    /// <summary>Writes <paramref name="upperDir"/> as a layer over <paramref name="parentDiffIds"/>: blob into the content
    /// store, extracted snapshot under its chain ID. <paramref name="fromContainer"/>: the upper dir of a container
    /// that ran, whose runtime mount points (empty /etc/hostname, hosts, resolv.conf) are not part of the layer.
    /// <paramref name="omit"/>: more such paths (relative), the mount points a RUN step's mounts needed; their
    /// directories are left out too when they hold nothing else.</summary>
    internal (string DiffId, string Digest, long Size) StoreLayer(string upperDir, IReadOnlyList<string> parentDiffIds, CancellationToken ct,
        bool fromContainer = false, IReadOnlySet<string>? omit = null)
    {
        var tmp = _content.NewTempPath();
        try
        {
            IReadOnlySet<string>? leaveOut = fromContainer ? LayerWriter.RuntimeMountPoints : null;
            if (omit is { Count: > 0 }) leaveOut = leaveOut == null ? omit : new HashSet<string>(leaveOut.Concat(omit), StringComparer.Ordinal);
            var (diffId, size) = LayerWriter.WriteFile(upperDir, tmp, overlayUpper: true, ct, leaveOut);
            lock (_lock)
            {
                var chain = ChainId.For(parentDiffIds.Append(diffId)).Last();
                if (!_snapshots.Exists(chain))
                {
                    using var f = File.OpenRead(tmp);
                    var (snapTmp, _) = _snapshots.Prepare(f, ExtractOptions, ct);
                    _snapshots.Commit(snapTmp, chain);
                }
                if (!_content.Exists(diffId)) _content.Commit(tmp, diffId);
            }
            return (diffId, diffId, size);
        }
        finally { ContentStore.TryDelete(tmp); }
    }

    /// <summary>Whether a cached layer can be reused: its blob is still stored; its snapshot is re-extracted when missing.</summary>
    internal bool TryReuseLayer(IReadOnlyList<string> parentDiffIds, string diffId, CancellationToken ct)
    {
        lock (_lock)
        {
            if (!_content.Exists(diffId)) return false;
            var chains = ChainId.For(parentDiffIds.Append(diffId));
            if (parentDiffIds.Count > 0 && !_snapshots.Exists(chains[^2])) return false;
            if (_snapshots.Exists(chains[^1])) return true;
            using var f = _content.Open(diffId);
            var (tmp, result) = _snapshots.Prepare(f, ExtractOptions, ct);
            if (result.DiffId != diffId) { _snapshots.Discard(tmp); return false; }
            _snapshots.Commit(tmp, chains[^1]);
            return true;
        }
    }

    /// <summary>Stores the config and manifest of a built image and points <paramref name="names"/> at it.</summary>
    internal ImageSummary StoreBuiltImage(JsonObject configDoc, List<string> diffIds, List<(string Digest, long Size)> layers, IReadOnlyList<string> names)
    {
        configDoc["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffIds.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()) };
        configDoc["architecture"] ??= "amd64";
        configDoc["os"] ??= "linux";
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(configDoc, ImagesJsonContext.Default.JsonObject);
        lock (_lock)
        {
            var configDigest = _content.Write(configBytes);
            var manifest = new JsonObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = MediaTypes.OciManifest,
                ["config"] = new JsonObject { ["mediaType"] = MediaTypes.OciConfig, ["digest"] = configDigest, ["size"] = configBytes.Length },
                ["layers"] = new JsonArray(layers.Select(l => (JsonNode?)new JsonObject
                {
                    ["mediaType"] = MediaTypes.OciLayer, ["digest"] = l.Digest, ["size"] = l.Size,
                }).ToArray()),
            };
            var manifestDigest = _content.Write(JsonSerializer.SerializeToUtf8Bytes(manifest, ImagesJsonContext.Default.JsonObject));
            _refs.Add(manifestDigest, names);
            var summary = Summary(Record(manifestDigest));
            EmitTags(summary.Id, names);
            return summary;
        }
    }
}
