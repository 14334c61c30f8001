using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api.Protobuf;

/// <summary>
/// Turns a Kubernetes object's protobuf into the JSON the same object has, following the Go JSON encoding of its
/// struct: gogo-protobuf writes every non-pointer field, so a non-pointer omitempty field whose value is zero ("", 0,
/// false) is left out, while a pointer field keeps its zero (replicas: 0); non-pointer structs are kept even when empty
/// (resources: {}), as Go's encoder does. Fields the table does not know are skipped by their wire type.
/// </summary>
internal static class ProtobufDecoder
{
    private const int MaxDepth = 64;

    /// <summary>Decodes <paramref name="data"/> as <paramref name="message"/> into <paramref name="target"/>.</summary>
    public static void DecodeInto(JsonObject target, ReadOnlySpan<byte> data, Message message) => Into(target, data, message, 0);

    private static void Into(JsonObject target, ReadOnlySpan<byte> data, Message message, int depth)
    {
        if (depth > MaxDepth) throw Malformed($"{message.Name} nests more than {MaxDepth} messages deep");
        var reader = new WireReader(data);
        while (reader.Next())
        {
            if (message.Find(reader.Number) is not { } field) continue;
            if (field.Has(FieldFlags.Inline))
            {
                Into(target, reader.Delimited(message, field), Schema.Get(field.Message!), depth + 1);
            }
            else if (field.Has(FieldFlags.Map))
            {
                var (key, value) = Entry(reader.Delimited(message, field), message, field, depth);
                var map = target[field.Json] as JsonObject ?? new JsonObject();
                map[key] = value;
                target[field.Json] = map;
            }
            else if (field.Has(FieldFlags.Repeated))
            {
                var list = target[field.Json] as JsonArray ?? new JsonArray();
                if (reader.WireType == WireReader.DelimitedType && IsVarint(field.Kind))
                {
                    // A packed list of numbers or booleans.
                    var packed = new WireReader(reader.Bytes);
                    while (!packed.AtEnd) list.Add(VarintValue(field.Kind, packed.ReadVarint()));
                }
                else list.Add(Value(ref reader, message, field, depth));
                target[field.Json] = list;
            }
            else
            {
                var value = Value(ref reader, message, field, depth);
                if (value is null || (field.Has(FieldFlags.OmitEmpty) && !field.Has(FieldFlags.Pointer) && IsZeroScalar(field.Kind, value))) target.Remove(field.Json);
                else target[field.Json] = value;
            }
        }
    }

    /// <summary>A map entry: key 1 (a string), value 2; a value left out is its kind's zero.</summary>
    private static (string Key, JsonNode? Value) Entry(ReadOnlySpan<byte> data, Message message, Field field, int depth)
    {
        string key = "";
        JsonNode? value = null;
        var reader = new WireReader(data);
        while (reader.Next())
        {
            if (reader.Number == 1) key = reader.Text(message, field);
            else if (reader.Number == 2) value = Value(ref reader, message, field, depth);
        }
        return (key, value ?? ZeroOf(field.Kind));
    }

    private static JsonNode? Value(ref WireReader reader, Message message, Field field, int depth)
    {
        switch (field.Kind)
        {
            case ValueKind.String: return reader.Text(message, field);
            case ValueKind.Bytes: return Convert.ToBase64String(reader.Delimited(message, field));
            case ValueKind.Int32 or ValueKind.Int64 or ValueKind.Bool:
                if (reader.WireType != WireReader.VarintType) throw WrongWireType(message, field, reader.WireType);
                return VarintValue(field.Kind, reader.Varint);
            case ValueKind.Message:
                var o = new JsonObject();
                Into(o, reader.Delimited(message, field), Schema.Get(field.Message!), depth + 1);
                return o;
            case ValueKind.Time or ValueKind.MicroTime: return TimeValue(reader.Delimited(message, field), field.Kind == ValueKind.MicroTime);
            case ValueKind.Quantity: return StringField(reader.Delimited(message, field), 1) ?? "0";
            case ValueKind.IntOrString: return IntOrString(reader.Delimited(message, field));
            case ValueKind.RawJson: return RawJson(reader.Delimited(message, field), message, field);
            default: throw new InvalidOperationException($"value kind {field.Kind}");
        }
    }

    private static bool IsVarint(ValueKind kind) => kind is ValueKind.Int32 or ValueKind.Int64 or ValueKind.Bool;

    // Negative int32 values travel as 64-bit two's complement varints. Numbers are longs, as the API's code reads them.
    private static JsonNode VarintValue(ValueKind kind, ulong varint) => kind switch
    {
        ValueKind.Int32 => (long)(int)(long)varint,
        ValueKind.Int64 => (long)varint,
        _ => varint != 0,
    };

    /// <summary>Go's omitempty leaves out zero scalars only: structs (IntOrString and Quantity too) are always written.</summary>
    private static bool IsZeroScalar(ValueKind kind, JsonNode value) =>
        kind is ValueKind.String or ValueKind.Bytes or ValueKind.Int32 or ValueKind.Int64 or ValueKind.Bool && value is JsonValue v && v.GetValueKind() switch
    {
        JsonValueKind.String => v.GetValue<string>().Length == 0,
        JsonValueKind.Number => v.GetValue<long>() == 0,
        JsonValueKind.False => true,
        _ => false,
    };

    private static JsonNode? ZeroOf(ValueKind kind) => kind switch
    {
        ValueKind.String or ValueKind.Bytes => "",
        ValueKind.Int32 or ValueKind.Int64 => 0L,
        ValueKind.Bool => false,
        ValueKind.Quantity => "0",
        ValueKind.Message => new JsonObject(),
        _ => null,
    };

    /// <summary>Time is seconds only (the API drops nanos); MicroTime keeps microseconds. The zero time is null.</summary>
    private static JsonNode? TimeValue(ReadOnlySpan<byte> data, bool micro)
    {
        if (data.IsEmpty) return null;
        long seconds = 0, nanos = 0;
        var reader = new WireReader(data);
        while (reader.Next())
            if (reader.Number == 1 && reader.WireType == WireReader.VarintType) seconds = (long)reader.Varint;
            else if (reader.Number == 2 && reader.WireType == WireReader.VarintType) nanos = (int)(long)reader.Varint;
        DateTimeOffset time;
        try { time = DateTimeOffset.FromUnixTimeSeconds(seconds); }
        catch (ArgumentOutOfRangeException) { throw Malformed($"the time {seconds} seconds after 1970 is out of range"); }
        if (!micro) return time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return time.AddTicks(nanos / 100).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
    }

    private static JsonNode IntOrString(ReadOnlySpan<byte> data)
    {
        long type = 0, intValue = 0;
        string text = "";
        var reader = new WireReader(data);
        while (reader.Next())
            switch (reader.Number)
            {
                case 1 when reader.WireType == WireReader.VarintType: type = (long)reader.Varint; break;
                case 2 when reader.WireType == WireReader.VarintType: intValue = (int)(long)reader.Varint; break;
                case 3 when reader.WireType == WireReader.DelimitedType: text = WireReader.Utf8(reader.Bytes, "an IntOrString"); break;
            }
        return type == 1 ? text : (JsonNode)intValue;
    }

    private static string? StringField(ReadOnlySpan<byte> data, int number)
    {
        string? text = null;
        var reader = new WireReader(data);
        while (reader.Next())
            if (reader.Number == number && reader.WireType == WireReader.DelimitedType) text = WireReader.Utf8(reader.Bytes, "a quantity");
        return text;
    }

    /// <summary>RawExtension and FieldsV1: field 1 holds a JSON document (an empty one is null, as in Go).</summary>
    private static JsonNode? RawJson(ReadOnlySpan<byte> data, Message message, Field field)
    {
        ReadOnlySpan<byte> raw = default;
        var reader = new WireReader(data);
        while (reader.Next())
            if (reader.Number == 1 && reader.WireType == WireReader.DelimitedType) raw = reader.Bytes;
        if (raw.IsEmpty) return null;
        try { return JsonNode.Parse(raw, documentOptions: new JsonDocumentOptions { MaxDepth = 100 }); }
        catch (JsonException)
        {
            throw StatusException.UnsupportedMediaType($"{message.Name} field {field.Json} holds an embedded object that is not JSON; send the object as JSON (Content-Type: application/json)");
        }
    }

    internal static StatusException Malformed(string why) => StatusException.BadRequest($"the protobuf body is malformed: {why}");

    internal static StatusException WrongWireType(Message message, Field field, int wireType) =>
        Malformed($"{message.Name} field {field.Number} ({field.Json}) has wire type {wireType}, not the one its {field.Kind} value travels in");
}
