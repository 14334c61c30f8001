using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;
using ContainerOps.Images.References;

namespace ContainerOps.Images.Archives;

/// <summary>Reads the image descriptions of the two archive formats: `docker save` (manifest.json) and OCI layout (index.json).</summary>
public static class ArchiveFormats
{
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    public const string ContainerdNameAnnotation = "io.containerd.image.name";

    public static List<ImagePlan> Plan(StagedArchive a)
    {
        try
        {
            if (a.Contains("manifest.json")) return DockerSave(a);
            if (a.Contains("index.json")) return OciLayout(a);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw StagedArchive.Corrupt("archive metadata is malformed: " + e.Message, e);
        }
        throw StagedArchive.Corrupt("archive has neither manifest.json (docker save) nor index.json (OCI layout)");
    }

    private static List<ImagePlan> DockerSave(StagedArchive a)
    {
        var plans = new List<ImagePlan>();
        var manifest = JsonNode.Parse(a.ReadAll("manifest.json")) as JsonArray ?? throw StagedArchive.Corrupt("manifest.json is not an array");
        foreach (var item in manifest)
        {
            var configName = item!["Config"]!.GetValue<string>();
            var config = a.Get(configName);
            var expected = DigestFromName(configName);
            if (expected != null) ContentStore.Verify(config.Digest, expected);
            var layers = new List<PlannedLayer>();
            foreach (var l in item["Layers"] as JsonArray ?? [])
            {
                var name = l!.GetValue<string>();
                var f = a.Get(name);
                var ld = DigestFromName(name);
                if (ld != null && name.StartsWith("blobs/", StringComparison.Ordinal)) ContentStore.Verify(f.Digest, ld);
                layers.Add(new PlannedLayer(f.TempPath, f.Digest, f.Size,
                    StreamSniffer.LayerMediaType(f.TempPath)));
            }
            var names = (item["RepoTags"] as JsonArray ?? []).Select(t => t!.GetValue<string>())
                .Select(t => ImageReference.Parse(t, "RepoTags").ToString()).ToList();
            plans.Add(new ImagePlan { Config = File.ReadAllBytes(config.TempPath), ConfigDigest = config.Digest, Layers = layers, Names = names });
        }
        return plans;
    }

    private static List<ImagePlan> OciLayout(StagedArchive a)
    {
        var plans = new List<ImagePlan>();
        var index = JsonNode.Parse(a.ReadAll("index.json"))!.AsObject();
        foreach (var desc in index["manifests"] as JsonArray ?? [])
        {
            var names = new List<string>();
            var ann = desc!["annotations"] as JsonObject;
            var name = ann?[ContainerdNameAnnotation]?.GetValue<string>() ?? ann?[RefNameAnnotation]?.GetValue<string>();
            // A bare tag ("1.0") names no repository: such an image arrives untagged.
            if (name != null && (name.Contains('/') || name.Contains(':') || name.Contains('@')))
                names.Add(ImageReference.Parse(name, "annotations." + RefNameAnnotation).ToString());
            plans.Add(FromManifest(a, desc.AsObject(), names, depth: 0));
        }
        return plans;
    }

    private static ImagePlan FromManifest(StagedArchive a, JsonObject desc, List<string> names, int depth)
    {
        var digest = desc["digest"]!.GetValue<string>();
        var blob = a.Blob(digest);
        var doc = JsonNode.Parse(File.ReadAllBytes(blob.TempPath))!.AsObject();
        var mt = desc["mediaType"]?.GetValue<string>() ?? doc["mediaType"]?.GetValue<string>();
        if (MediaTypes.IsIndex(mt) || doc["manifests"] is JsonArray)
        {
            if (depth > 2) throw StagedArchive.Corrupt("image index nesting too deep");
            var list = (doc["manifests"] as JsonArray ?? []).Select(m => m!.AsObject()).ToList();
            var pick = list.FirstOrDefault(m => m["platform"]?["os"]?.GetValue<string>() == "linux" && m["platform"]?["architecture"]?.GetValue<string>() == "amd64")
                ?? list.FirstOrDefault(m => m["platform"] == null)
                ?? throw StagedArchive.Corrupt($"image index {digest} has no linux/amd64 image");
            return FromManifest(a, pick, names, depth + 1);
        }
        var configDesc = doc["config"]!;
        var config = a.Blob(configDesc["digest"]!.GetValue<string>());
        var layers = new List<PlannedLayer>();
        foreach (var l in doc["layers"] as JsonArray ?? [])
        {
            var f = a.Blob(l!["digest"]!.GetValue<string>());
            layers.Add(new PlannedLayer(f.TempPath, f.Digest, f.Size, StreamSniffer.LayerMediaType(f.TempPath)));
        }
        return new ImagePlan { Config = File.ReadAllBytes(config.TempPath), ConfigDigest = config.Digest, Layers = layers, Names = names,
            Manifest = File.ReadAllBytes(blob.TempPath) };
    }

    /// <summary>"&lt;hex&gt;.json" (older docker save) and "blobs/sha256/&lt;hex&gt;" name their content's digest.</summary>
    private static string? DigestFromName(string name)
    {
        var parts = name.Split('/');
        var last = parts[^1];
        if (last.EndsWith(".json", StringComparison.Ordinal)) last = last[..^5];
        return Digest.IsHex(last) && (parts.Length == 1 || (parts.Length == 3 && parts[0] == "blobs" && parts[1] == "sha256")) ? Digest.Prefix + last : null;
    }
}
