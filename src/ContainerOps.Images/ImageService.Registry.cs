using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Images.Archives;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;
using ContainerOps.Images.References;
using ContainerOps.Images.Registry;
using ContainerOps.Images.Snapshots;

namespace ContainerOps.Images;

/// <summary>Pull and push through the OCI distribution API. Pulled images go through the same store path as loaded
/// archives (verify, unpack into snapshots, commit, tag); pushes send the stored manifest byte for byte, so the
/// image keeps its digest in the registry.</summary>
public sealed partial class ImageService
{
    private const int MaxKnownSources = 16;
    private readonly RegistryConnections _connections = new();
    private readonly object _sourcesLock = new();
    private Dictionary<string, List<string>>? _sources; // blob digest → "registry/repo" where it is known to exist

    private string SourcesFile => Path.Combine(Path.GetDirectoryName(_content.Root)!, "registry-sources.json");

    /// <summary>Pulls <paramref name="reference"/> (by tag or digest; an index resolves to this machine's platform),
    /// stores and unpacks it, and tags it with the reference's tag. The config and the layers are fetched at the same
    /// time, and each layer is unpacked into a private temporary snapshot while it downloads; nothing becomes visible
    /// before the blob's digest and the layer's diff ID are checked (a layer that could not be unpacked on the fly is
    /// unpacked from the downloaded file, which reports what is wrong with it).</summary>
    public async Task<ImageSummary> PullAsync(string reference, RegistryOptions options, IProgress<TransferProgress>? progress = null, CancellationToken ct = default) =>
        (await PullImageAsync(reference, options, progress, ct)).Image;

    /// <summary>What a pull did: the image, the digest the registry serves it under (an index's when the pull chose
    /// from one), whether the image was stored already (then no layer is reported), and whether the reference already
    /// named it (Docker's "Image is up to date").</summary>
    public sealed record PulledImage(ImageSummary Image, string Digest, bool WasStored, bool UpToDate);

    /// <summary><see cref="PullAsync"/>, saying what it did.</summary>
    public async Task<PulledImage> PullImageAsync(string reference, RegistryOptions options, IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
    {
        var name = ImageReference.Parse(reference, "reference");
        var shown = name.ToString();
        using var client = new RegistryClient(name.Domain, options, _connections);
        var manifest = await client.GetManifestAsync(name.Path, name.DigestValue ?? name.Tag!, ct);
        var served = manifest.Digest;
        if (manifest.IsIndex)
        {
            var pick = RegistryClient.SelectPlatform(manifest, options.Os, options.Architecture, options.Variant, shown);
            manifest = await client.GetManifestAsync(name.Path, pick.Digest, ct);
            if (manifest.IsIndex)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnsupportedManifest", $"{shown}: nested image indexes are not supported", shown);
        }
        var json = manifest.Json;
        var configDesc = Descriptor.FromJson(json["config"], "config");
        var layers = (json["layers"] as JsonArray ?? []).Select((n, i) => Descriptor.FromJson(n, $"layer {i}")).ToList();
        var tagName = name.Tag != null ? new ImageReference(name.Domain, name.Path, name.Tag, null).ToString() : null;
        var digestName = name.Repository + "@" + served;
        bool wasStored, upToDate;
        lock (_lock)
        {
            wasStored = _refs.Images.Contains(manifest.Digest);
            upToDate = _refs.Resolve(tagName ?? digestName) == manifest.Digest;
        }
        // Every layer is announced first, in order (as Docker lists them before any download): present, or waiting
        // for its turn. An image stored already reports none.
        if (wasStored) progress = null;
        foreach (var layer in layers)
            progress?.Report(_content.Exists(layer.Digest)
                ? new TransferProgress(layer.Digest, layer.Size, layer.Size, TransferState.Exists)
                : new TransferProgress(layer.Digest, 0, layer.Size, TransferState.Waiting));

        // The config and the layers at the same time; the first failure cancels the rest and is the one reported.
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        async Task<T> Together<T>(Func<Task<T>> work)
        {
            try { return await work(); }
            catch { cts.Cancel(); throw; }
        }
        var paths = new string[layers.Count];
        var unpacked = new (string TempDir, string DiffId)?[layers.Count];
        var temps = new List<string>();
        var prepared = new Dictionary<string, PreparedSnapshot>();
        try
        {
            var staged = new Dictionary<string, string>(StringComparer.Ordinal);
            var configTask = Together(async () =>
            {
                var bytes = _content.Exists(configDesc.Digest)
                    ? _content.ReadAll(configDesc.Digest)
                    : await client.GetBlobBytesAsync(name.Path, configDesc, ct: cts.Token);
                // Config and manifest go to disk while the layers download; storing them later is a rename.
                foreach (var (digest, data) in new[] { (configDesc.Digest, bytes), (manifest.Digest, manifest.Bytes) })
                    if (!_content.Exists(digest))
                    {
                        var tmp = _content.StageBytes(data);
                        lock (temps) { temps.Add(tmp); staged[digest] = tmp; }
                    }
                return bytes;
            });
            var layersTask = Together(async () =>
            {
                await ForEachLimited(Enumerable.Range(0, layers.Count), options.MaxConcurrentTransfers, async (i, token) =>
                {
                    var layer = layers[i];
                    if (_content.Exists(layer.Digest))
                    {
                        paths[i] = _content.PathOf(layer.Digest);
                        return;
                    }
                    var tmp = _content.NewTempPath();
                    lock (temps) temps.Add(tmp);
                    using var unpack = new StreamingUnpack(_snapshots, ExtractOptions, token);
                    var ok = false;
                    try
                    {
                        await client.DownloadBlobAsync(name.Path, layer, tmp, progress, token, unpack);
                        ok = true;
                    }
                    finally { unpacked[i] = await unpack.FinishAsync(ok); }
                    paths[i] = tmp;
                }, cts.Token);
                return true;
            });
            await Task.WhenAll(configTask, layersTask);
            var config = configTask.Result;

            // The layers unpacked on the fly become prepared snapshots under the chain IDs the config gives; StorePlans
            // checks each one's measured diff ID against the config like any other layer.
            var diffIds = DiffIdsOf(config);
            if (diffIds != null && diffIds.Count == layers.Count && diffIds.All(Digest.IsValid))
            {
                var chains = ChainId.For(diffIds);
                for (var i = 0; i < layers.Count; i++)
                    if (unpacked[i] is { } u && !prepared.ContainsKey(chains[i]) && !_snapshots.Exists(chains[i]))
                    {
                        prepared[chains[i]] = new PreparedSnapshot(u.TempDir, u.DiffId);
                        unpacked[i] = null;
                    }
            }

            var plan = new ImagePlan
            {
                Config = config,
                ConfigDigest = configDesc.Digest,
                Layers = layers.Select((l, i) => new PlannedLayer(paths[i], l.Digest, l.Size, l.MediaType)).ToList(),
                Names = tagName != null ? [tagName, digestName] : [digestName],
                Manifest = manifest.Bytes,
                Staged = staged,
            };
            var summary = await Task.Run(() =>
            {
                lock (_lock) return StorePlans([plan], prepared, ct)[0];
            }, ct);
            RememberSources(name.Repository, layers.Select(l => l.Digest).Append(configDesc.Digest));
            Emit("pull", ImageNames.Familiar(shown), ImageNames.Familiar(name.Repository));
            return new PulledImage(summary, served, wasStored, upToDate);
        }
        finally
        {
            foreach (var t in temps) ContentStore.TryDelete(t); // committed ones were moved away already
            foreach (var u in unpacked) if (u is { } left) _snapshots.Discard(left.TempDir);
            foreach (var p in prepared.Values) _snapshots.Discard(p.TempDir); // StorePlans empties it unless it never ran
        }
    }

    /// <summary>What a push sent: the manifest's digest and size.</summary>
    public sealed record PushedImage(string Digest, long Size);

    /// <summary>Pushes a stored image to <paramref name="targetReference"/> (default: its own name). Blobs the
    /// registry has are skipped, blobs known in another repository of the same registry are mounted, the rest are
    /// uploaded (a few at a time); the manifest goes last. The image then also answers to repository@digest, as
    /// Docker records it.</summary>
    public async Task<PushedImage> PushAsync(string localReference, string? targetReference, RegistryOptions options, IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
    {
        ImageRecord rec;
        byte[] manifestBytes;
        lock (_lock)
        {
            rec = Resolve(localReference, out _);
            manifestBytes = _content.ReadAll(rec.ManifestDigest);
        }
        var target = ImageReference.Parse(targetReference ?? localReference, targetReference != null ? "targetReference" : "localReference");
        var json = JsonNode.Parse(manifestBytes) as JsonObject
                   ?? throw new ContainerOpsException(ErrorKind.Internal, "InvalidManifest", $"stored manifest of {rec.Id} is not a JSON object", rec.Id);
        var mediaType = json["mediaType"] is JsonValue mv && mv.TryGetValue<string>(out var mt) && mt.Length > 0 ? mt : MediaTypes.OciManifest;
        var blobs = (json["layers"] as JsonArray ?? []).Select((n, i) => Descriptor.FromJson(n, $"layer {i}"))
            .Append(Descriptor.FromJson(json["config"], "config"))
            .DistinctBy(d => d.Digest).ToList();

        // Reports name each layer's diff ID; every blob is announced first, the top layer first and the config last,
        // in the order Docker lists a push.
        var diffIds = rec.LayerDigests.Zip(rec.DiffIds).GroupBy(l => l.First).ToDictionary(g => g.Key, g => g.First().Second);
        var outer = progress;
        progress = outer == null ? null : new CallbackProgress<TransferProgress>(p => outer.Report(p with { DiffId = diffIds.GetValueOrDefault(p.Digest) }));
        foreach (var blob in Enumerable.Reverse(blobs.SkipLast(1)).Append(blobs[^1]))
            progress?.Report(new TransferProgress(blob.Digest, 0, blob.Size, TransferState.Waiting));

        using var client = new RegistryClient(target.Domain, options, _connections);
        await ForEachLimited(blobs, options.MaxConcurrentTransfers, async (blob, token) =>
        {
            var mounts = KnownSources(blob.Digest)
                .Where(s => s.StartsWith(target.Domain + "/", StringComparison.Ordinal))
                .Select(s => s[(target.Domain.Length + 1)..]).ToList();
            await client.PushBlobAsync(target.Path, blob, () => _content.Open(blob.Digest), mounts, progress, token);
        }, ct);
        await client.PutManifestAsync(target.Path, target.Tag ?? target.DigestValue!, manifestBytes, mediaType, ct);
        RememberSources(target.Repository, blobs.Select(b => b.Digest));
        lock (_lock)
            if (_refs.Images.Contains(rec.ManifestDigest)) _refs.Add(rec.ManifestDigest, [target.Repository + "@" + rec.ManifestDigest]);
        return new PushedImage(rec.ManifestDigest, manifestBytes.Length);
    }

    /// <summary>The config's diff IDs, or null when it is not the expected shape (StorePlans then says what is wrong).</summary>
    private static List<string>? DiffIdsOf(byte[] config)
    {
        try
        {
            return (JsonNode.Parse(config)?["rootfs"]?["diff_ids"] as JsonArray)?.Select(d => d is JsonValue v && v.TryGetValue<string>(out var s) ? s : "").ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    /// <summary>
    /// Unpacks a layer into a temporary snapshot while it downloads: the downloader writes each chunk here as well as
    /// to its file, and a dedicated thread runs the extractor over those bytes (gunzip, diff ID, openat2-confined
    /// extraction). The pipe holds at most a few MiB, so a slow disk slows the download rather than filling memory.
    /// When the download starts over, fails, or the extraction fails, the snapshot is dropped and the layer is
    /// unpacked from the verified file instead (which reports a hostile or corrupt layer as such).
    /// </summary>
    private sealed class StreamingUnpack : IDownloadTee, IDisposable
    {
        private readonly Pipe _pipe = new(new PipeOptions(readerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20, useSynchronizationContext: false));
        private readonly Task<(string TempDir, ExtractResult Result)?> _extraction;
        private readonly SnapshotStore _snapshots;
        private bool _abandoned;
        private bool _finished;

        public StreamingUnpack(SnapshotStore snapshots, ExtractOptions options, CancellationToken ct)
        {
            _snapshots = snapshots;
            _extraction = Task.Factory.StartNew(() =>
            {
                try
                {
                    using var input = _pipe.Reader.AsStream(leaveOpen: true);
                    return ((string, ExtractResult)?)snapshots.Prepare(input, options, ct);
                }
                catch (Exception) { return null; } // Prepare left nothing behind
                finally { _pipe.Reader.Complete(); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            if (_abandoned) return;
            try
            {
                var r = await _pipe.Writer.WriteAsync(data, ct);
                if (r.IsCompleted) _abandoned = true; // the extractor stopped reading: it failed
            }
            catch (InvalidOperationException) { _abandoned = true; }
        }

        public void Restart()
        {
            if (_abandoned) return;
            _abandoned = true;
            _pipe.Writer.Complete(new IOException("the download started over"));
        }

        /// <summary>Ends the input; returns the unpacked snapshot and its diff ID, or null when the layer has to be
        /// unpacked from the file (or the download failed).</summary>
        public async Task<(string TempDir, string DiffId)?> FinishAsync(bool downloaded)
        {
            _finished = true;
            var usable = downloaded && !_abandoned;
            try { _pipe.Writer.Complete(usable ? null : new IOException("the download did not complete")); }
            catch (InvalidOperationException) { }
            var result = await _extraction;
            if (result is not { } r) return null;
            if (usable) return (r.TempDir, r.Result.DiffId);
            _snapshots.Discard(r.TempDir);
            return null;
        }

        public void Dispose()
        {
            if (!_finished) _ = FinishAsync(false);
        }
    }

    /// <summary>Runs <paramref name="work"/> over the items, at most <paramref name="limit"/> at once; the first
    /// failure cancels the rest and is rethrown.</summary>
    private static async Task ForEachLimited<T>(IEnumerable<T> items, int limit, Func<T, CancellationToken, Task> work, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var gate = new SemaphoreSlim(Math.Max(1, limit));
        var tasks = items.Select(async item =>
        {
            await gate.WaitAsync(cts.Token);
            try { await work(item, cts.Token); }
            catch { cts.Cancel(); throw; }
            finally { gate.Release(); }
        }).ToList();
        try { await Task.WhenAll(tasks); }
        catch
        {
            // Prefer the first real failure over the cancellations it caused.
            var real = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
            if (real != null && !ct.IsCancellationRequested) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(real);
            throw;
        }
    }

    // ---------------- where blobs are known to exist (for cross-repository mounts) ----------------

    private IReadOnlyList<string> KnownSources(string digest)
    {
        lock (_sourcesLock)
            return LoadSources().TryGetValue(digest, out var list) ? list.ToList() : [];
    }

    private void RememberSources(string repository, IEnumerable<string> digests)
    {
        lock (_sourcesLock)
        {
            var map = LoadSources();
            var changed = false;
            foreach (var d in digests)
            {
                if (!map.TryGetValue(d, out var list)) map[d] = list = new List<string>();
                if (list.Remove(repository)) { list.Insert(0, repository); continue; }
                list.Insert(0, repository);
                if (list.Count > MaxKnownSources) list.RemoveAt(list.Count - 1);
                changed = true;
            }
            // Forget blobs no longer in the store.
            foreach (var gone in map.Keys.Where(k => !_content.Exists(k)).ToList()) { map.Remove(gone); changed = true; }
            if (changed)
            {
                // Only an optimisation: losing it (or finding it torn after a crash) costs an upload, not correctness,
                // so it is replaced atomically but not fsynced.
                var tmp = SourcesFile + ".tmp";
                try
                {
                    File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(map, ImagesJsonContext.Default.DictionaryStringListString));
                    File.Move(tmp, SourcesFile, overwrite: true);
                }
                catch (IOException) { ContentStore.TryDelete(tmp); }
            }
        }
    }

    private Dictionary<string, List<string>> LoadSources()
    {
        if (_sources != null) return _sources;
        try
        {
            _sources = File.Exists(SourcesFile)
                ? JsonSerializer.Deserialize(File.ReadAllBytes(SourcesFile), ImagesJsonContext.Default.DictionaryStringListString) ?? new()
                : new();
        }
        catch (Exception e) when (e is JsonException or IOException) { _sources = new(); }
        return _sources;
    }
}
