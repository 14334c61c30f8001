using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Archives;
using ContainerOps.Images.Config;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;
using ContainerOps.Images.References;
using ContainerOps.Images.Snapshots;

namespace ContainerOps.Images;

/// <summary>
/// The image engine over three stores under one root: content (<c>content/</c>, OCI image layout), references
/// (<c>references.json</c>) and snapshots (<c>snapshots/</c>, <c>containers/</c>). Input is read into the ingest area
/// without the lock; verification, extraction and the commit run under one lock. An import or load either stores
/// every image it names or changes nothing.
/// </summary>
public sealed partial class ImageService : IImageService
{
    private readonly object _lock = new();
    /// <summary>Containers whose root filesystem is being read (export, archive), with how many readers.</summary>
    private readonly Dictionary<string, int> _rootfsReaders = new();
    /// <summary>Containers whose root a reader mounted, or that stopped while it was being read: unmounted when the last
    /// reader is done (unless the container started again meanwhile).</summary>
    private readonly HashSet<string> _unmountAfterReading = new();
    private readonly ContentStore _content;
    private readonly ReferenceStore _refs;
    private readonly SnapshotStore _snapshots;
    private readonly Dictionary<string, ImageRecord> _cache = new(StringComparer.Ordinal);

    public ExtractOptions ExtractOptions { get; init; } = ExtractOptions.Default;

    /// <summary>Upper bound for an import or load input as received (compressed or not), staged before any check.</summary>
    public long MaxInputBytes { get; init; } = 64L << 30;

    public ImageService(string root)
    {
        Directory.CreateDirectory(root);
        _content = new ContentStore(Path.Combine(root, "content"));
        _refs = new ReferenceStore(Path.Combine(root, "references.json"));
        _snapshots = new SnapshotStore(root);
        _content.CleanIngest();
        _snapshots.CleanTemporary();
    }

    // ---------------- queries ----------------

    public IReadOnlyList<ImageSummary> List(bool all = false)
    {
        lock (_lock)
            return _refs.Images.Select(Record).Select(Summary).OrderByDescending(s => s.Created).ToList();
    }

    public ImageDetails Inspect(string nameOrId)
    {
        lock (_lock)
        {
            var rec = Resolve(nameOrId, out _);
            var cfg = rec.Config;
            var c = cfg["config"] as JsonObject ?? new JsonObject();
            return new ImageDetails
            {
                Id = rec.Id,
                Digest = rec.ManifestDigest,
                RepoTags = _refs.TagsOf(rec.ManifestDigest).Select(ImageNames.Familiar).ToList(),
                RepoDigests = _refs.DigestReferencesOf(rec.ManifestDigest).Select(ImageNames.Familiar).ToList(),
                Created = Created(cfg),
                Architecture = cfg["architecture"]?.GetValue<string>() ?? "amd64",
                Os = cfg["os"]?.GetValue<string>() ?? "linux",
                Size = Size(rec),
                Author = cfg["author"]?.GetValue<string>(),
                Comment = (cfg["history"] as JsonArray)?.LastOrDefault()?["comment"]?.GetValue<string>(),
                Layers = rec.DiffIds.ToList(),
                Config = new ImageRunConfig
                {
                    User = Str(c["User"]),
                    Env = Strings(c["Env"]) ?? new(),
                    Entrypoint = Strings(c["Entrypoint"]),
                    Cmd = Strings(c["Cmd"]),
                    WorkingDir = Str(c["WorkingDir"]),
                    Labels = Labels(c),
                    StopSignal = Str(c["StopSignal"]),
                    ExposedPorts = Keys(c["ExposedPorts"]),
                    Volumes = Keys(c["Volumes"]),
                    Healthcheck = Healthcheck(c["Healthcheck"]),
                    OnBuild = Strings(c["OnBuild"]),
                    Shell = Strings(c["Shell"]),
                    ArgsEscaped = c["ArgsEscaped"] is JsonValue escaped && escaped.TryGetValue<bool>(out var e) ? e : null,
                },
            };
        }
    }

    // ---------------- import / load ----------------

    public Task<ImageLoadResponse> ImportRootfsAsync(Stream tar, string? reference, IEnumerable<string> changes, CancellationToken ct = default, string? comment = null)
    {
        var changeList = changes.ToList();
        var name = reference is null or "" ? null : ImageReference.Parse(reference, "reference");
        if (name?.DigestValue != null)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidReference", $"cannot import as '{reference}': a tag cannot include a digest", reference, "reference");
        var configDoc = new JsonObject
        {
            ["created"] = ImageTime.Now(),
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject(),
        };
        ConfigChanges.Apply(configDoc["config"]!.AsObject(), changeList); // reject bad changes before reading the tar

        return Task.Run(() =>
        {
            var (tmp, blobDigest, size) = _content.Stage(tar, ct, MaxInputBytes);
            try
            {
                // Unpacked into a private temporary directory first: other image operations need not wait for it.
                var (snapTmp, result) = PrepareFromFile(tmp, ct);
                try
                {
                    lock (_lock)
                    {
                        var chain = result.DiffId;
                        configDoc["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(result.DiffId) };
                        configDoc["history"] = new JsonArray(new JsonObject
                        {
                            ["created"] = configDoc["created"]!.GetValue<string>(),
                            ["created_by"] = "import",
                            ["comment"] = comment is { Length: > 0 } ? comment : "Imported from tarball",
                        });
                        var plan = new ImagePlan
                        {
                            Config = JsonSerializer.SerializeToUtf8Bytes(configDoc, ImagesJsonContext.Default.JsonObject),
                            Layers = [new PlannedLayer(tmp, blobDigest, size, StreamSniffer.LayerMediaType(tmp))],
                            Names = name == null ? [] : [name.ToString()],
                        };
                        var prepared = new Dictionary<string, PreparedSnapshot> { [chain] = new(snapTmp, result.DiffId) };
                        var images = StorePlans([plan], prepared, ct);
                        foreach (var image in images) { EmitTags(image.Id, plan.Names); Emit("import", image.Id, image.Id); }
                        return new ImageLoadResponse { Images = images };
                    }
                }
                catch
                {
                    _snapshots.Discard(snapTmp); // gone already when it was committed
                    throw;
                }
            }
            finally
            {
                ContentStore.TryDelete(tmp);
            }
        }, ct);
    }

    public Task<ImageLoadResponse> LoadArchiveAsync(Stream archive, CancellationToken ct = default) => Task.Run(() =>
    {
        using var staged = StagedArchive.Read(archive, _content, ct, MaxInputBytes);
        lock (_lock)
        {
            var plans = ArchiveFormats.Plan(staged);
            if (plans.Count == 0) throw StagedArchive.Corrupt("archive holds no images");
            var images = StorePlans(plans, new Dictionary<string, PreparedSnapshot>(), ct);
            foreach (var image in images) Emit("load", image.Id, image.Id);
            return new ImageLoadResponse { Images = images };
        }
    }, ct);

    private (string TempDir, ExtractResult Result) PrepareFromFile(string path, CancellationToken ct)
    {
        using var f = File.OpenRead(path);
        return _snapshots.Prepare(f, ExtractOptions, ct);
    }

    /// <summary>A layer already unpacked into a temporary snapshot directory, with the diff ID the extractor measured
    /// from the very bytes it unpacked.</summary>
    private sealed record PreparedSnapshot(string TempDir, string DiffId);

    /// <summary>Checks and unpacks every plan first (snapshots into temporary directories), then commits all of them.
    /// <paramref name="prepared"/> (by chain ID) holds layers the caller unpacked already; each is checked against the
    /// config's diff ID like the others. Throws with nothing committed when any layer is corrupt, hostile or does not
    /// match its diff ID. Blob and snapshot renames are made durable with one directory fsync each, before the names
    /// (references.json) that point at them are written.</summary>
    private List<ImageSummary> StorePlans(List<ImagePlan> plans, Dictionary<string, PreparedSnapshot> prepared, CancellationToken ct)
    {
        try
        {
            // Phase 1: verify and unpack.
            foreach (var plan in plans)
            {
                JsonObject config;
                try { config = JsonNode.Parse(plan.Config)!.AsObject(); }
                catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
                {
                    throw StagedArchive.Corrupt("image config is not a JSON object", e);
                }
                if (plan.ConfigDigest != null) ContentStore.Verify(Digest.Of(plan.Config), plan.ConfigDigest);
                var diffIds = (config["rootfs"]?["diff_ids"] as JsonArray ?? []).Select(d => d?.GetValue<string>() ?? "").ToList();
                if (diffIds.Count != plan.Layers.Count)
                    throw StagedArchive.Corrupt($"image config lists {diffIds.Count} layers but the manifest {plan.Layers.Count}");
                var chains = ChainId.For(diffIds);
                for (var i = 0; i < plan.Layers.Count; i++)
                {
                    if (!Digest.IsValid(diffIds[i])) throw StagedArchive.Corrupt($"'{diffIds[i]}' is not a valid diff ID");
                    ct.ThrowIfCancellationRequested();
                    var layer = plan.Layers[i];
                    string actual;
                    if (prepared.TryGetValue(chains[i], out var done))
                        actual = done.DiffId;
                    else if (_snapshots.Exists(chains[i]))
                        actual = DiffIdOf(layer.Path); // already unpacked: only check the content
                    else
                    {
                        var (tmp, result) = PrepareFromFile(layer.Path, ct);
                        prepared[chains[i]] = new PreparedSnapshot(tmp, result.DiffId);
                        actual = result.DiffId;
                    }
                    if (actual != diffIds[i])
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, "DigestMismatch",
                            $"layer {i} ({layer.Digest}) has diff ID {actual} but the image config says {diffIds[i]}", diffIds[i]);
                }
            }

            // Phase 2: commit blobs, configs, manifests and snapshots (their files are on disk already), make the
            // renames durable, then write the names.
            var stored = new List<(ImagePlan Plan, string Manifest)>();
            foreach (var plan in plans)
            {
                foreach (var layer in plan.Layers)
                    if (!_content.Exists(layer.Digest))
                    {
                        if (File.Exists(layer.Path) && layer.Path.StartsWith(_content.Root, StringComparison.Ordinal)) _content.Commit(layer.Path, layer.Digest, syncDirectory: false);
                        else using (var f = File.OpenRead(layer.Path)) { var s = _content.Stage(f, ct); _content.Commit(s.TempPath, s.Digest, syncDirectory: false); }
                    }
                var configDigest = Put(plan, plan.Config, plan.ConfigDigest);
                var manifestBytes = plan.Manifest ?? BuildManifest(configDigest, plan.Config.Length, plan.Layers);
                stored.Add((plan, Put(plan, manifestBytes, null)));
                var diffIds = JsonNode.Parse(plan.Config)!["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>());
                foreach (var chain in ChainId.For(diffIds))
                    if (prepared.Remove(chain, out var tmp)) _snapshots.Commit(tmp.TempDir, chain, syncDirectory: false);
            }
            _content.SyncBlobs();
            _snapshots.SyncSnapshots();
            var summaries = new List<ImageSummary>();
            foreach (var (plan, manifestDigest) in stored)
            {
                _refs.Add(manifestDigest, plan.Names);
                summaries.Add(Summary(Record(manifestDigest)));
            }
            return summaries;
        }
        finally
        {
            foreach (var tmp in prepared.Values) _snapshots.Discard(tmp.TempDir);
            prepared.Clear();
        }
    }

    /// <summary>Stores a small blob of <paramref name="plan"/>: a rename when it was staged, else a write.</summary>
    private string Put(ImagePlan plan, byte[] bytes, string? expected)
    {
        var digest = Digest.Of(bytes);
        ContentStore.Verify(digest, expected);
        if (plan.Staged.TryGetValue(digest, out var staged) && File.Exists(staged))
        {
            _content.Commit(staged, digest, syncDirectory: false);
            return digest;
        }
        return _content.Write(bytes, digest, syncDirectory: false);
    }

    private static string DiffIdOf(string layerPath)
    {
        using var f = File.OpenRead(layerPath);
        using var plain = StreamSniffer.Decompressed(f, out _);
        using var h = new HashingStream(plain, leaveOpen: true);
        try { h.Drain(); }
        catch (InvalidDataException e) { throw new ContainerOpsException(ErrorKind.InvalidArgument, "CorruptLayer", "layer is corrupt: " + e.Message, inner: e); }
        return h.Digest;
    }

    private static byte[] BuildManifest(string configDigest, long configSize, List<PlannedLayer> layers)
    {
        var doc = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["config"] = new JsonObject { ["mediaType"] = MediaTypes.OciConfig, ["digest"] = configDigest, ["size"] = configSize },
            ["layers"] = new JsonArray(layers.Select(l => (JsonNode?)new JsonObject
            {
                ["mediaType"] = l.MediaType, ["digest"] = l.Digest, ["size"] = l.Size,
            }).ToArray()),
        };
        return JsonSerializer.SerializeToUtf8Bytes(doc, ImagesJsonContext.Default.JsonObject);
    }

    // ---------------- tag / remove ----------------

    public void Tag(string source, string target)
    {
        var name = ImageReference.Parse(target, "target");
        if (name.DigestValue != null)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidReference", $"cannot tag as '{target}': a tag cannot include a digest", target, "target");
        lock (_lock)
        {
            var rec = Resolve(source, out _);
            _refs.Add(rec.ManifestDigest, [name.ToString()]);
            Emit("tag", rec.Id, ImageNames.Familiar(name.ToString()));
        }
    }

    /// <summary>Removes a name or, with the last name (or by id), the image, as dockerd does: a tag goes with the digest
    /// references of its repository when no other tag of that repository is left; by id, an image with more than one tag
    /// or named in more than one repository needs <paramref name="force"/>.</summary>
    public ImageRemoveResponse Remove(string nameOrId, bool force, Func<string, bool> inUse)
    {
        lock (_lock)
        {
            var rec = Resolve(nameOrId, out var byName);
            var names = _refs.ReferencesOf(rec.ManifestDigest).ToList();
            var response = new ImageRemoveResponse();
            if (byName != null)
            {
                var going = new List<string> { byName };
                if (!ReferenceStore.IsDigestReference(byName))
                {
                    var repository = RepositoryOf(byName);
                    if (!names.Any(n => n != byName && !ReferenceStore.IsDigestReference(n) && RepositoryOf(n) == repository))
                        going.AddRange(names.Where(n => ReferenceStore.IsDigestReference(n) && RepositoryOf(n) == repository));
                }
                if (names.Except(going).Any())
                {
                    foreach (var n in going) { _refs.Untag(n); response.Untagged.Add(n); Emit("untag", rec.Id, rec.Id); }
                    return response;
                }
            }
            else if (!force && (names.Count(n => !ReferenceStore.IsDigestReference(n)) > 1 || names.Select(RepositoryOf).Distinct().Count() > 1))
                throw new ContainerOpsException(ErrorKind.Conflict, "ImageReferencedByMultipleTags",
                    $"unable to delete {rec.Id} (must be forced): the image is referenced in multiple repositories ({string.Join(", ", names.Select(ImageNames.Familiar))})", nameOrId);
            if (inUse(rec.Id))
            {
                if (!force)
                    throw new ContainerOpsException(ErrorKind.Conflict, "ImageInUse",
                        $"unable to remove image {nameOrId}: it is used by a container (image {rec.Id})", nameOrId);
                // Forced: the names go, the content stays while containers use it.
                foreach (var n in names) { _refs.Untag(n); response.Untagged.Add(n); Emit("untag", rec.Id, rec.Id); }
                return response;
            }
            response.Untagged.AddRange(names);
            _refs.RemoveImage(rec.ManifestDigest);
            _cache.Remove(rec.ManifestDigest);
            response.Deleted.Add(rec.Id);
            foreach (var _ in names) Emit("untag", rec.Id, rec.Id);
            Emit("delete", rec.Id, rec.Id);
            CollectGarbage(rec, response);
            return response;
        }
    }

    private static string RepositoryOf(string canonicalName) => ImageReference.Parse(canonicalName).Repository;

    /// <summary>Deletes the blobs and snapshots of <paramref name="gone"/> that no remaining image or container layer uses.</summary>
    private void CollectGarbage(ImageRecord gone, ImageRemoveResponse response)
    {
        var remaining = _refs.Images.Select(Record).ToList();
        var liveBlobs = remaining.SelectMany(r => r.Blobs).ToHashSet();
        var liveChains = remaining.SelectMany(r => r.ChainIds).ToHashSet();
        foreach (var c in _snapshots.ListContainers())
            foreach (var chain in SafeLowers(c)) liveChains.Add(chain);
        foreach (var blob in gone.Blobs.Distinct())
            if (!liveBlobs.Contains(blob)) _content.Delete(blob);
        foreach (var chain in gone.ChainIds.AsEnumerable().Reverse())
            if (!liveChains.Contains(chain) && _snapshots.Remove(chain)) response.Deleted.Add(chain);
    }

    private IReadOnlyList<string> SafeLowers(string containerId)
    {
        try { return _snapshots.ContainerLowers(containerId); }
        catch (ContainerOpsException) { return []; }
    }

    // ---------------- container layers ----------------

    public string MountContainerRootfs(string containerId, string imageId, bool transient = false)
    {
        lock (_lock)
        {
            var merged = _snapshots.MergedDir(containerId);
            // Started again while its last run's root was being read: the mount is the new run's now.
            _unmountAfterReading.Remove(containerId);
            if (SnapshotStore.IsMountPoint(merged)) return merged;
            var rec = Resolve(imageId, out _);
            EnsureSnapshots(rec);
            return _snapshots.Mount(containerId, rec.ChainIds, transient);
        }
    }

    /// <summary>The container's layer made ready as for a mount, without mounting it; returns the merged dir's path.</summary>
    public string PrepareContainerLayer(string containerId, string imageId, bool transient = false)
    {
        lock (_lock)
        {
            var rec = Resolve(imageId, out _);
            EnsureSnapshots(rec);
            return _snapshots.Prepare(containerId, rec.ChainIds, transient);
        }
    }

    public void UnmountContainerRootfs(string containerId)
    {
        lock (_lock)
        {
            if (_rootfsReaders.ContainsKey(containerId)) _unmountAfterReading.Add(containerId);
            else _snapshots.Unmount(containerId);
        }
    }

    public void RemoveContainerLayer(string containerId)
    {
        lock (_lock)
        {
            // A reader still in the layer finishes first (and unmounts it, if the container's exit asked for that).
            while (_rootfsReaders.ContainsKey(containerId)) Monitor.Wait(_lock);
            _snapshots.RemoveContainer(containerId);
        }
    }

    /// <summary>Re-extracts from the content store any snapshot of the image that is missing (e.g. after a crash).</summary>
    private void EnsureSnapshots(ImageRecord rec)
    {
        var chains = rec.ChainIds;
        for (var i = 0; i < chains.Count; i++)
        {
            if (_snapshots.Exists(chains[i])) continue;
            var (tmp, result) = PrepareFromFile(_content.PathOf(rec.LayerDigests[i]), CancellationToken.None);
            if (result.DiffId != rec.DiffIds[i])
            {
                _snapshots.Discard(tmp);
                throw new ContainerOpsException(ErrorKind.Internal, "DigestMismatch", $"stored layer {rec.LayerDigests[i]} no longer matches its diff ID", rec.Id);
            }
            _snapshots.Commit(tmp, chains[i]);
        }
    }

    // ---------------- resolution ----------------

    private ImageRecord Record(string manifestDigest)
    {
        if (!_cache.TryGetValue(manifestDigest, out var rec))
            _cache[manifestDigest] = rec = ImageRecord.Load(_content, manifestDigest);
        return rec;
    }

    /// <summary>A reference, a full id or manifest digest (sha256:…), or a unique id prefix of at least 4 hex digits.
    /// <paramref name="byTag"/> is the canonical name when a tag or a recorded digest reference matched.</summary>
    private ImageRecord Resolve(string nameOrId, out string? byTag)
    {
        byTag = null;
        var asked = nameOrId?.Trim() ?? "";
        ContainerOpsException NotFound() => new(ErrorKind.NotFound, "ImageNotFound", $"No such image: {asked}", asked);
        if (asked.Length == 0) throw NotFound();

        if (Digest.IsValid(asked))
        {
            var hit = _refs.Images.FirstOrDefault(m => m == asked) ?? _refs.Images.FirstOrDefault(m => Record(m).Id == asked);
            return hit != null ? Record(hit) : throw NotFound();
        }
        if (ImageReference.TryParse(asked, out var r) && r != null)
        {
            if (r.DigestValue != null)
            {
                var recorded = r.Repository + "@" + r.DigestValue;
                if (_refs.Resolve(recorded) is { } pulled)
                {
                    byTag = recorded;
                    return Record(pulled);
                }
                if (_refs.Images.Contains(r.DigestValue)) return Record(r.DigestValue);
            }
            else if (_refs.Resolve(r.ToString()) is { } m)
            {
                byTag = r.ToString();
                return Record(m);
            }
        }
        var prefix = asked.StartsWith(Digest.Prefix, StringComparison.Ordinal) ? asked[Digest.Prefix.Length..] : asked;
        if (prefix.Length >= 4 && prefix.Length <= 64 && prefix.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
        {
            var matches = _refs.Images.Where(m => Record(m).Id.AsSpan(Digest.Prefix.Length).StartsWith(prefix)).ToList();
            var ids = matches.Select(m => Record(m).Id).Distinct().ToList();
            if (ids.Count > 1)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "AmbiguousImageId", $"image id prefix '{asked}' matches {ids.Count} images", asked);
            if (matches.Count > 0) return Record(matches[0]);
        }
        throw NotFound();
    }

    // ---------------- projections ----------------

    private ImageSummary Summary(ImageRecord rec) => new()
    {
        Id = rec.Id,
        Digest = rec.ManifestDigest,
        RepoTags = _refs.TagsOf(rec.ManifestDigest).Select(ImageNames.Familiar).ToList(),
        RepoDigests = _refs.DigestReferencesOf(rec.ManifestDigest).Select(ImageNames.Familiar).ToList(),
        Created = Created(rec.Config),
        Size = Size(rec),
        Labels = Labels(rec.Config["config"] as JsonObject),
    };

    private long Size(ImageRecord rec) => rec.ChainIds.Sum(_snapshots.SizeOf);

    private static DateTimeOffset Created(JsonObject cfg) =>
        cfg["created"] is JsonValue v && v.TryGetValue<string>(out var s) && DateTimeOffset.TryParse(s, out var d) ? d : DateTimeOffset.UnixEpoch;

    private static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;

    private static HealthConfig? Healthcheck(JsonNode? n) => n is JsonObject o ? new HealthConfig
    {
        Test = Strings(o["Test"]),
        Interval = Long(o["Interval"]),
        Timeout = Long(o["Timeout"]),
        StartPeriod = Long(o["StartPeriod"]),
        StartInterval = Long(o["StartInterval"]),
        Retries = (int)Long(o["Retries"]),
    } : null;

    private static long Long(JsonNode? n) => n is JsonValue v && v.TryGetValue<long>(out var l) ? l : 0;

    private static List<string>? Strings(JsonNode? n) => n is JsonArray a ? a.Select(x => x?.GetValue<string>() ?? "").ToList() : null;

    private static Dictionary<string, object>? Keys(JsonNode? n) =>
        n is JsonObject o ? o.ToDictionary(kv => kv.Key, _ => (object)new Dictionary<string, object>()) : null;

    private static Dictionary<string, string> Labels(JsonObject? c) =>
        c?["Labels"] is JsonObject o ? o.Where(kv => kv.Value is JsonValue).ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>()) : new();
}
