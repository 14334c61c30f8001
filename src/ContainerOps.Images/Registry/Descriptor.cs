using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Content;

namespace ContainerOps.Images.Registry;

/// <summary>An OCI content descriptor: media type, digest, size (and the platform, in an index).</summary>
public sealed record Descriptor(string MediaType, string Digest, long Size)
{
    public string? Os { get; init; }
    public string? Architecture { get; init; }
    public string? Variant { get; init; }

    public static Descriptor FromJson(JsonNode? node, string what)
    {
        if (node is not JsonObject o)
            throw Bad($"{what} is not a descriptor object");
        var digest = Str(o["digest"]);
        if (!Content.Digest.IsValid(digest)) throw Bad($"{what} has an invalid digest '{digest}'");
        var size = o["size"] is JsonValue sv && sv.TryGetValue<long>(out var s) ? s : -1;
        if (size < 0) throw Bad($"{what} has no valid size");
        var p = o["platform"] as JsonObject;
        return new Descriptor(Str(o["mediaType"]) ?? "", digest!, size)
        {
            Os = Str(p?["os"]), Architecture = Str(p?["architecture"]), Variant = Str(p?["variant"]),
        };
    }

    public string PlatformText => $"{Os}/{Architecture}" + (Variant != null ? "/" + Variant : "");

    private static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static ContainerOpsException Bad(string why) =>
        new(ErrorKind.InvalidArgument, "InvalidManifest", "invalid manifest from registry: " + why);
}

/// <summary>A manifest or index as fetched: exact bytes (their digest is the manifest's identity) and media type.</summary>
public sealed record FetchedManifest(byte[] Bytes, string MediaType, string Digest)
{
    public JsonObject Json => JsonNode.Parse(Bytes) as JsonObject ?? throw Descriptor.Bad("manifest is not a JSON object");
    public bool IsIndex => MediaTypes.IsIndex(MediaType);
}
