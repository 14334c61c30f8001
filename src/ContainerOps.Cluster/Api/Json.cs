using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace ContainerOps.Cluster.Api;

[JsonSerializable(typeof(string))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;

internal static class Json
{
    public static JsonTypeInfo<string> StringInfo => ClusterJsonContext.Default.String;

    public static string? Str(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public static JsonObject? Obj(JsonNode? node) => node as JsonObject;
    public static JsonArray? Arr(JsonNode? node) => node as JsonArray;

    public static JsonObject Metadata(JsonObject o)
    {
        if (o["metadata"] is JsonObject m) return m;
        m = new JsonObject();
        o["metadata"] = m;
        return m;
    }

    public static byte[] Bytes(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, JsonContext.JsonNodeInfo);
}

internal static class JsonContext
{
    public static JsonTypeInfo<JsonNode> JsonNodeInfo => NodeContext.Default.JsonNode;
}

[JsonSerializable(typeof(JsonNode))]
internal sealed partial class NodeContext : JsonSerializerContext;
