using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Images.Archives;
using ContainerOps.Images.Content;
using ContainerOps.Images.References;
using ContainerOps.Images.Registry;

namespace ContainerOps.Images;

/// <summary>Pull and push through the OCI distribution API. Pulled images go through the same store path as loaded
/// archives (verify, unpack into snapshots, commit, tag); pushes send the stored manifest byte for byte, so the
/// image keeps its digest in the registry.</summary>
public sealed partial class ImageService
{
    private const int MaxKnownSources = 16;
    private readonly object _sourcesLock = new();
    private Dictionary<string, List<string>>? _sources; // blob digest → "registry/repo" where it is known to exist

    private string SourcesFile => Path.Combine(Path.GetDirectoryName(_content.Root)!, "registry-sources.json");

    /// <summary>Pulls <paramref name="reference"/> (by tag or digest; an index resolves to this machine's platform),
    /// stores and unpacks it, and tags it with the reference's tag.</summary>
    public async Task<ImageSummary> PullAsync(string reference, RegistryOptions options, IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
    {
        var name = ImageReference.Parse(reference, "reference");
        var shown = name.ToString();
        using var client = new RegistryClient(name.Domain, options);
        var manifest = await client.GetManifestAsync(name.Path, name.DigestValue ?? name.Tag!, ct);
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
        var config = _content.Exists(configDesc.Digest) ? _content.ReadAll(configDesc.Digest) : await client.GetBlobBytesAsync(name.Path, configDesc, ct: ct);

        var paths = new string[layers.Count];
        var temps = new List<string>();
        try
        {
            await ForEachLimited(Enumerable.Range(0, layers.Count), options.MaxConcurrentTransfers, async (i, token) =>
            {
                var layer = layers[i];
                if (_content.Exists(layer.Digest))
                {
                    paths[i] = _content.PathOf(layer.Digest);
                    progress?.Report(new TransferProgress(layer.Digest, layer.Size, layer.Size, TransferState.Exists));
                    return;
                }
                var tmp = _content.NewTempPath();
                lock (temps) temps.Add(tmp);
                await client.DownloadBlobAsync(name.Path, layer, tmp, progress, token);
                paths[i] = tmp;
            }, ct);

            var plan = new ImagePlan
            {
                Config = config,
                ConfigDigest = configDesc.Digest,
                Layers = layers.Select((l, i) => new PlannedLayer(paths[i], l.Digest, l.Size, l.MediaType)).ToList(),
                Names = name.Tag != null ? [new ImageReference(name.Domain, name.Path, name.Tag, null).ToString()] : [],
                Manifest = manifest.Bytes,
            };
            var summary = await Task.Run(() =>
            {
                lock (_lock) return StorePlans([plan], new Dictionary<string, string>(), ct)[0];
            }, ct);
            RememberSources(name.Repository, layers.Select(l => l.Digest).Append(configDesc.Digest));
            return summary;
        }
        finally
        {
            foreach (var t in temps) ContentStore.TryDelete(t); // committed ones were moved away already
        }
    }

    /// <summary>Pushes a stored image to <paramref name="targetReference"/> (default: its own name). Blobs the
    /// registry has are skipped, blobs known in another repository of the same registry are mounted, the rest are
    /// uploaded (a few at a time); the manifest goes last.</summary>
    public async Task PushAsync(string localReference, string? targetReference, RegistryOptions options, IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
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

        using var client = new RegistryClient(target.Domain, options);
        await ForEachLimited(blobs, options.MaxConcurrentTransfers, async (blob, token) =>
        {
            var mounts = KnownSources(blob.Digest)
                .Where(s => s.StartsWith(target.Domain + "/", StringComparison.Ordinal))
                .Select(s => s[(target.Domain.Length + 1)..]).ToList();
            await client.PushBlobAsync(target.Path, blob, () => _content.Open(blob.Digest), mounts, progress, token);
        }, ct);
        await client.PutManifestAsync(target.Path, target.Tag ?? target.DigestValue!, manifestBytes, mediaType, ct);
        RememberSources(target.Repository, blobs.Select(b => b.Digest));
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
                try { AtomicFile.WriteAllBytes(SourcesFile, JsonSerializer.SerializeToUtf8Bytes(map)); }
                catch (IOException) { } // only an optimisation: losing it costs an upload, not correctness
        }
    }

    private Dictionary<string, List<string>> LoadSources()
    {
        if (_sources != null) return _sources;
        try
        {
            _sources = File.Exists(SourcesFile)
                ? JsonSerializer.Deserialize<Dictionary<string, List<string>>>(File.ReadAllBytes(SourcesFile)) ?? new()
                : new();
        }
        catch (Exception e) when (e is JsonException or IOException) { _sources = new(); }
        return _sources;
    }
}
