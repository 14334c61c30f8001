using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

/// <summary>HostConfig.Tmpfs on the wire is Docker's map (path → mount options); in here it is "path[:options]" entries.
/// Reads either form, writes the map.</summary>
public sealed class TmpfsConverter : JsonConverter<List<string>>
{
    public override List<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var list = new List<string>();
        if (reader.TokenType == JsonTokenType.Null) return list;
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) list.Add(reader.GetString() ?? "");
            return list;
        }
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("Tmpfs must be an object of path to options");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var path = reader.GetString() ?? "";
            reader.Read();
            var opts = reader.TokenType == JsonTokenType.Null ? "" : reader.GetString() ?? "";
            list.Add(opts.Length > 0 ? path + ":" + opts : path);
        }
        return list;
    }

    public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var entry in value)
        {
            var colon = entry.IndexOf(':');
            writer.WriteString(colon < 0 ? entry : entry[..colon], colon < 0 ? "" : entry[(colon + 1)..]);
        }
        writer.WriteEndObject();
    }
}
