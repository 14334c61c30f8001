using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

/// <summary>HostConfig.Tmpfs: "path[:options]" entries, which are Docker's map (path → mount options) on the wire. The
/// converter is the type's, not the property's, so that HostConfig keeps the serializer's generated fast path.</summary>
[JsonConverter(typeof(TmpfsConverter))]
public sealed class TmpfsList : List<string>
{
    public TmpfsList() { }
    public TmpfsList(IEnumerable<string> entries) : base(entries) { }
}

/// <summary>Reads either form (a list of entries or Docker's map), writes the map.</summary>
public sealed class TmpfsConverter : JsonConverter<TmpfsList>
{
    public override TmpfsList Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var list = new TmpfsList();
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

    public override void Write(Utf8JsonWriter writer, TmpfsList value, JsonSerializerOptions options)
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
