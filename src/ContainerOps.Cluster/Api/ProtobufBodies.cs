using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api.Protobuf;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// kubectl 1.32's typed clients (`kubectl create deployment|job|cronjob|service|…`, `kubectl run`, `kubectl expose`)
/// send built-in objects as Kubernetes protobuf: "k8s\0", then a runtime.Unknown {1 typeMeta {1 apiVersion, 2 kind},
/// 2 raw, 3 contentEncoding, 4 contentType} whose raw bytes are the object's own protobuf. This reads the envelope and
/// turns the object into the JSON the rest of the API works on, through the message table (Protobuf/Schema.g.cs);
/// a kind the table does not have is refused with 415 (its clients send JSON).
/// </summary>
internal static class ProtobufBodies
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";
    private static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    public static JsonObject Decode(ReadOnlySpan<byte> body)
    {
        if (!body.StartsWith(Magic)) throw StatusException.BadRequest("the protobuf body does not start with the Kubernetes envelope (k8s\\0)");
        string apiVersion = "", kind = "", encoding = "";
        ReadOnlySpan<byte> raw = default;
        var envelope = new WireReader(body[Magic.Length..]);
        while (envelope.Next())
        {
            if (envelope.WireType != WireReader.DelimitedType) continue;
            switch (envelope.Number)
            {
                case 1:
                    var typeMeta = new WireReader(envelope.Bytes);
                    while (typeMeta.Next())
                        if (typeMeta.WireType != WireReader.DelimitedType) continue;
                        else if (typeMeta.Number == 1) apiVersion = WireReader.Utf8(typeMeta.Bytes, "the envelope's apiVersion");
                        else if (typeMeta.Number == 2) kind = WireReader.Utf8(typeMeta.Bytes, "the envelope's kind");
                    break;
                case 2: raw = envelope.Bytes; break;
                case 3: encoding = WireReader.Utf8(envelope.Bytes, "the envelope's contentEncoding"); break;
            }
        }
        if (apiVersion.Length == 0 || kind.Length == 0) throw StatusException.BadRequest("the protobuf envelope names no apiVersion and kind");
        if (encoding.Length > 0) throw StatusException.UnsupportedMediaType($"the protobuf body is {encoding}-encoded; send it unencoded or as JSON (Content-Type: application/json)");
        var message = Schema.Root(apiVersion, kind)
            ?? throw StatusException.UnsupportedMediaType($"{kind} ({apiVersion}) is taken as JSON only (Content-Type: application/json), not {MediaType}");
        var o = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
        ProtobufDecoder.DecodeInto(o, raw, message);
        return o;
    }
}
