using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ContainerOps.Images;

/// <summary>Source-generated JSON for what the image engine writes itself (configs, manifests, indexes, build history),
/// so that it serializes under NativeAOT without reflection. Default options: the bytes are the ones the reflection
/// serializer wrote, so digests of existing images do not change.</summary>
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonArray))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
internal sealed partial class ImagesJsonContext : JsonSerializerContext;
