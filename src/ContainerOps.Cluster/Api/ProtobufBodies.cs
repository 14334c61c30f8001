using System.Text;
using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// kubectl 1.32's typed clients (`kubectl create namespace|configmap|secret`) send built-in objects as Kubernetes
/// protobuf: "k8s\0", then a runtime.Unknown holding apiVersion, kind and the object's own protobuf. This reads that
/// envelope and, for the kinds those commands make, the object into the JSON the rest of the API works on; any other
/// kind is refused with 415 (its clients send JSON). Field numbers are those of the API's generated.proto files.
/// </summary>
internal static class ProtobufBodies
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";
    private static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    public static JsonObject Decode(ReadOnlySpan<byte> body)
    {
        if (!body.StartsWith(Magic)) throw StatusException.BadRequest("the protobuf body does not start with the Kubernetes envelope (k8s\\0)");
        string? apiVersion = null, kind = null;
        ReadOnlySpan<byte> raw = default;
        foreach (var f in Fields(body[Magic.Length..]))
            switch (f.Number)
            {
                case 1:
                    foreach (var t in Fields(f.Bytes))
                        if (t.Number == 1) apiVersion = t.Text; else if (t.Number == 2) kind = t.Text;
                    break;
                case 2: raw = f.Bytes; break;
            }
        var o = kind switch
        {
            "Namespace" => Object(raw, (o, f) => { }),
            "ConfigMap" => Object(raw, (o, f) =>
            {
                if (f.Number == 2) Entry(o, "data", f, text: true);
                else if (f.Number == 3) Entry(o, "binaryData", f, text: false);
                else if (f.Number == 4) o["immutable"] = f.Varint != 0;
            }),
            "Secret" => Object(raw, (o, f) =>
            {
                if (f.Number == 2) Entry(o, "data", f, text: false);
                else if (f.Number == 3) o["type"] = f.Text;
                else if (f.Number == 4) Entry(o, "stringData", f, text: true);
                else if (f.Number == 5) o["immutable"] = f.Varint != 0;
            }),
            "ServiceAccount" => Object(raw, (o, f) => { }),
            _ => throw StatusException.UnsupportedMediaType($"{kind ?? "this kind"} is taken as JSON only (Content-Type: application/json), not {MediaType}"),
        };
        o["apiVersion"] = apiVersion;
        o["kind"] = kind;
        return o;
    }

    /// <summary>An object: field 1 is its ObjectMeta, the others go to <paramref name="field"/>.</summary>
    private static JsonObject Object(ReadOnlySpan<byte> raw, Action<JsonObject, Field> field)
    {
        var o = new JsonObject();
        foreach (var f in Fields(raw))
        {
            if (f.Number == 1) o["metadata"] = Metadata(f.Bytes);
            else field(o, f);
        }
        return o;
    }

    private static JsonObject Metadata(ReadOnlySpan<byte> raw)
    {
        var m = new JsonObject();
        foreach (var f in Fields(raw))
            switch (f.Number)
            {
                case 1: m["name"] = f.Text; break;
                case 2: m["generateName"] = f.Text; break;
                case 3: m["namespace"] = f.Text; break;
                case 6: m["resourceVersion"] = f.Text; break;
                case 11: Entry(m, "labels", f, text: true); break;
                case 12: Entry(m, "annotations", f, text: true); break;
                case 14: (m["finalizers"] ??= new JsonArray()).AsArray().Add((JsonNode?)f.Text); break;
            }
        return m;
    }

    /// <summary>One map entry (key 1, value 2) into <paramref name="map"/>; bytes values as base64, as JSON has them.</summary>
    private static void Entry(JsonObject o, string map, Field f, bool text)
    {
        string? key = null, value = "";
        foreach (var e in Fields(f.Bytes))
            if (e.Number == 1) key = e.Text;
            else if (e.Number == 2) value = text ? e.Text : Convert.ToBase64String(e.Bytes);
        if (key is null) return;
        var target = o[map] as JsonObject ?? new JsonObject();
        target[key] = value;
        o[map] = target;
    }

    private readonly ref struct Field(int number, ulong varint, ReadOnlySpan<byte> bytes)
    {
        public int Number { get; } = number;
        public ulong Varint { get; } = varint;
        public ReadOnlySpan<byte> Bytes { get; } = bytes;
        public string Text => Encoding.UTF8.GetString(Bytes);
    }

    private static List<(int Number, ulong Varint, int Start, int Length)> Scan(ReadOnlySpan<byte> data)
    {
        var fields = new List<(int, ulong, int, int)>();
        var i = 0;
        while (i < data.Length)
        {
            var key = ReadVarint(data, ref i);
            var number = (int)(key >> 3);
            switch (key & 7)
            {
                case 0: fields.Add((number, ReadVarint(data, ref i), 0, 0)); break;
                case 1: i += 8; break;
                case 5: i += 4; break;
                case 2:
                    var length = (int)ReadVarint(data, ref i);
                    if (length < 0 || i + length > data.Length) throw Bad();
                    fields.Add((number, 0, i, length));
                    i += length;
                    break;
                default: throw Bad();
            }
            if (i > data.Length) throw Bad();
        }
        return fields;
    }

    private static FieldEnumerable Fields(ReadOnlySpan<byte> data) => new(data, Scan(data));

    private readonly ref struct FieldEnumerable(ReadOnlySpan<byte> data, List<(int Number, ulong Varint, int Start, int Length)> fields)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        public Enumerator GetEnumerator() => new(_data, fields);

        public ref struct Enumerator(ReadOnlySpan<byte> data, List<(int Number, ulong Varint, int Start, int Length)> fields)
        {
            private readonly ReadOnlySpan<byte> _data = data;
            private int _index = -1;
            public bool MoveNext() => ++_index < fields.Count;
            public Field Current => new(fields[_index].Number, fields[_index].Varint, _data.Slice(fields[_index].Start, fields[_index].Length));
        }
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (i >= data.Length) throw Bad();
            var b = data[i++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw Bad();
    }

    private static StatusException Bad() => StatusException.BadRequest("the protobuf body is truncated or malformed");
}
