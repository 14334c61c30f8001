using System.Text.Json.Nodes;
using ContainerOps.Images.Content;
using ContainerOps.Images.Snapshots;

namespace ContainerOps.Images;

/// <summary>One stored image: its manifest, config and layer blobs, read back from the content store.</summary>
internal sealed class ImageRecord
{
    public required string ManifestDigest { get; init; }
    public required string ConfigDigest { get; init; }
    public required JsonObject Config { get; init; }
    /// <summary>Layer blob digests, base first.</summary>
    public required List<string> LayerDigests { get; init; }
    public required List<string> DiffIds { get; init; }

    public string Id => ConfigDigest;
    public List<string> ChainIds => ChainId.For(DiffIds);

    public IEnumerable<string> Blobs => LayerDigests.Append(ConfigDigest).Append(ManifestDigest);

    public static ImageRecord Load(ContentStore content, string manifestDigest)
    {
        var manifest = JsonNode.Parse(content.ReadAll(manifestDigest))!.AsObject();
        var configDigest = manifest["config"]!["digest"]!.GetValue<string>();
        var config = JsonNode.Parse(content.ReadAll(configDigest))!.AsObject();
        var layers = (manifest["layers"] as JsonArray ?? []).Select(l => l!["digest"]!.GetValue<string>()).ToList();
        var diffIds = (config["rootfs"]?["diff_ids"] as JsonArray ?? []).Select(d => d!.GetValue<string>()).ToList();
        return new ImageRecord { ManifestDigest = manifestDigest, ConfigDigest = configDigest, Config = config, LayerDigests = layers, DiffIds = diffIds };
    }
}
