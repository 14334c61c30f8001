using System.Text;
using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The OpenAPI v2 document as the protobuf message kubectl before 1.27 asks for (gnostic's openapi_v2.Document).
/// Written by hand, because the documents this server makes use a handful of that schema's fields, all strings or
/// nested messages: Document swagger (1), info (2: title 1, version 2), paths (8), definitions (9: NamedSchema 1);
/// NamedSchema name (1), value (2); Schema $ref (1), format (2), description (4), additionalProperties (21:
/// AdditionalPropertiesItem schema 1), type (22: TypeItem value 1), items (23: ItemsItem schema 1), properties (25:
/// Properties NamedSchema 1) and vendor extensions (31: NamedAny name 1, value 2: Any yaml 2 — JSON is YAML).
/// </summary>
internal static class OpenApiV2Protobuf
{
    public static byte[] Encode(JsonObject document)
    {
        var writer = new Message();
        writer.String(1, Json.Str(document["swagger"]));
        var info = new Message();
        info.String(1, Json.Str(document["info"]?["title"]));
        info.String(2, Json.Str(document["info"]?["version"]));
        writer.Nested(2, info);
        writer.Nested(8, new Message());
        var definitions = new Message();
        foreach (var (name, schema) in document["definitions"]?.AsObject() ?? [])
            definitions.Nested(1, Named(name, (JsonObject)schema!));
        writer.Nested(9, definitions);
        return writer.ToArray();
    }

    private static Message Named(string name, JsonObject schema)
    {
        var named = new Message();
        named.String(1, name);
        named.Nested(2, Schema(schema));
        return named;
    }

    private static Message Schema(JsonObject schema)
    {
        var message = new Message();
        message.String(1, Json.Str(schema["$ref"]));
        message.String(2, Json.Str(schema["format"]));
        message.String(4, Json.Str(schema["description"]));
        if (schema["additionalProperties"] is JsonObject additional)
        {
            var item = new Message();
            item.Nested(1, Schema(additional));
            message.Nested(21, item);
        }
        if (Json.Str(schema["type"]) is { } type)
        {
            var item = new Message();
            item.String(1, type);
            message.Nested(22, item);
        }
        if (schema["items"] is JsonObject items)
        {
            var item = new Message();
            item.Nested(1, Schema(items));
            message.Nested(23, item);
        }
        if (schema["properties"] is JsonObject properties)
        {
            var item = new Message();
            foreach (var (name, property) in properties) item.Nested(1, Named(name, (JsonObject)property!));
            message.Nested(25, item);
        }
        foreach (var (name, value) in schema)
        {
            if (!name.StartsWith("x-", StringComparison.Ordinal) || value is null) continue;
            var any = new Message();
            any.String(2, value.ToJsonString());
            var extension = new Message();
            extension.String(1, name);
            extension.Nested(2, any);
            message.Nested(31, extension);
        }
        return message;
    }

    /// <summary>A message being written: length-delimited fields only.</summary>
    private sealed class Message
    {
        private readonly MemoryStream _bytes = new();

        public void String(int number, string? value)
        {
            if (string.IsNullOrEmpty(value)) return; // proto3 leaves empty strings out
            Delimited(number, Encoding.UTF8.GetBytes(value));
        }

        public void Nested(int number, Message message) => Delimited(number, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private void Delimited(int number, ReadOnlySpan<byte> value)
        {
            Varint((uint)(number << 3 | 2));
            Varint((uint)value.Length);
            _bytes.Write(value);
        }

        private void Varint(uint n)
        {
            for (; n >= 0x80; n >>= 7) _bytes.WriteByte((byte)(n | 0x80));
            _bytes.WriteByte((byte)n);
        }
    }
}
