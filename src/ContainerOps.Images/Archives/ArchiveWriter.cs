using System.Formats.Tar;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;
using ContainerOps.Images.References;

namespace ContainerOps.Images.Archives;

/// <summary>
/// Writes stored images as an archive, straight from the content store:
/// <list type="bullet">
/// <item>`docker save` form: <c>manifest.json</c> (Config, RepoTags, Layers), config and layers under
/// <c>blobs/sha256/</c>. Layers are written uncompressed so each file's digest is its diff ID, which is what
/// `docker load` and `skopeo copy docker-archive:` expect.</item>
/// <item>OCI image layout form: <c>oci-layout</c>, <c>index.json</c> and every blob as stored (the manifest byte for
/// byte, so the image keeps its digest). Names go in the <c>io.containerd.image.name</c> annotation (full
/// reference) and <c>org.opencontainers.image.ref.name</c> (the tag, as `skopeo copy oci-archive:x.tar:TAG` looks up).</item>
/// </list>
/// Entries carry the epoch as their time, so the same images always give the same bytes.
/// </summary>
internal sealed class ArchiveWriter
{
    public sealed record Item(string ManifestDigest, string ConfigDigest, List<string> LayerDigests, List<string> DiffIds, List<string> Tags);

    private readonly ContentStore _content;
    private readonly HashSet<string> _written = new(StringComparer.Ordinal);

    public ArchiveWriter(ContentStore content) => _content = content;

    public void Write(IReadOnlyList<Item> items, bool oci, Stream output, CancellationToken ct)
    {
        using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        if (oci) WriteOci(tar, items, ct);
        else WriteDocker(tar, items, ct);
    }

    private void WriteDocker(TarWriter tar, IReadOnlyList<Item> items, CancellationToken ct)
    {
        var manifest = new JsonArray();
        foreach (var item in items)
        {
            WriteBlob(tar, item.ConfigDigest, ct);
            var layers = new JsonArray();
            for (var i = 0; i < item.LayerDigests.Count; i++)
            {
                var blob = item.LayerDigests[i];
                var diffId = item.DiffIds[i];
                if (blob == diffId) WriteBlob(tar, blob, ct);
                else WriteUncompressed(tar, blob, diffId, ct);
                layers.Add((JsonNode)BlobName(diffId));
            }
            manifest.Add((JsonNode)new JsonObject
            {
                ["Config"] = BlobName(item.ConfigDigest),
                ["RepoTags"] = new JsonArray(item.Tags.Select(t => (JsonNode?)JsonValue.Create(Familiar(t))).ToArray()),
                ["Layers"] = layers,
            });
        }
        WriteBytes(tar, "manifest.json", JsonSerializer.SerializeToUtf8Bytes(manifest, ImagesJsonContext.Default.JsonArray));
    }

    private void WriteOci(TarWriter tar, IReadOnlyList<Item> items, CancellationToken ct)
    {
        WriteBytes(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray());
        var manifests = new JsonArray();
        foreach (var item in items)
        {
            WriteBlob(tar, item.ConfigDigest, ct);
            foreach (var l in item.LayerDigests) WriteBlob(tar, l, ct);
            WriteBlob(tar, item.ManifestDigest, ct);
            var bytes = _content.ReadAll(item.ManifestDigest);
            var mediaType = JsonNode.Parse(bytes)?["mediaType"] is JsonValue v && v.TryGetValue<string>(out var mt) && mt.Length > 0 ? mt : MediaTypes.OciManifest;
            JsonObject Descriptor() => new() { ["mediaType"] = mediaType, ["digest"] = item.ManifestDigest, ["size"] = bytes.Length };
            if (item.Tags.Count == 0) { manifests.Add((JsonNode)Descriptor()); continue; }
            foreach (var tag in item.Tags)
            {
                var d = Descriptor();
                var r = ImageReference.Parse(tag, "tag");
                d["annotations"] = new JsonObject
                {
                    [ArchiveFormats.ContainerdNameAnnotation] = r.ToString(),
                    [ArchiveFormats.RefNameAnnotation] = r.Tag ?? "latest",
                };
                manifests.Add((JsonNode)d);
            }
        }
        var index = new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = manifests };
        WriteBytes(tar, "index.json", JsonSerializer.SerializeToUtf8Bytes(index, ImagesJsonContext.Default.JsonObject));
    }

    private static string BlobName(string digest) => "blobs/sha256/" + Digest.Hex(digest);

    /// <summary>"docker.io/library/app:1" → "app:1", as `docker save` records it.</summary>
    private static string Familiar(string reference) => ImageNames.Familiar(reference);

    private void WriteBlob(TarWriter tar, string digest, CancellationToken ct)
    {
        if (!_written.Add(digest)) return;
        ct.ThrowIfCancellationRequested();
        using var f = _content.Open(digest);
        WriteStream(tar, BlobName(digest), f);
    }

    /// <summary>A compressed layer, written as the plain tar its diff ID names (decompressed into the ingest area first:
    /// a tar entry needs its size up front).</summary>
    private void WriteUncompressed(TarWriter tar, string blob, string diffId, CancellationToken ct)
    {
        if (!_written.Add(diffId)) return;
        var tmp = _content.NewTempPath();
        try
        {
            using (var src = _content.Open(blob))
            using (var plain = StreamSniffer.Decompressed(src, out _))
            using (var dst = File.Create(tmp))
            using (var hash = new HashingStream(plain, leaveOpen: true))
            {
                hash.CopyTo(dst);
                ct.ThrowIfCancellationRequested();
                if (hash.Digest != diffId)
                    throw new Core.Api.ContainerOpsException(Core.Api.ErrorKind.Internal, "DigestMismatch",
                        $"stored layer {blob} no longer matches its diff ID {diffId}", blob);
            }
            using var f = File.OpenRead(tmp);
            WriteStream(tar, BlobName(diffId), f);
        }
        finally { ContentStore.TryDelete(tmp); }
    }

    private static void WriteBytes(TarWriter tar, string name, byte[] data)
    {
        using var ms = new MemoryStream(data, writable: false);
        WriteStream(tar, name, ms);
    }

    private static void WriteStream(TarWriter tar, string name, Stream data)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = data,
            ModificationTime = DateTimeOffset.UnixEpoch,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        tar.WriteEntry(entry);
    }
}
