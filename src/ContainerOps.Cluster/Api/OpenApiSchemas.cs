using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api.Protobuf;

namespace ContainerOps.Cluster.Api;

/// <summary>The two OpenAPI documents the API server serves: v2 (Swagger, `definitions`, which kubectl before 1.27
/// reads) and v3 (`components.schemas`).</summary>
internal enum OpenApiVersion { V2, V3 }

/// <summary>
/// The OpenAPI schemas of a set of kinds, for `kubectl explain` and kubectl 1.20's apply: each kind's fields, their
/// types, and the types they hold, named as the API server names them (io.k8s.api.apps.v1.DeploymentSpec). They come
/// from the message table the protobuf decoder uses (Protobuf/Schema.g.cs, generated from the Go types), so a field the
/// API takes is a field explain shows, with the Go types' patch strategies and merge keys
/// (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) that kubectl computes strategic merge patches from,
/// and the list types server-side apply identifies items by (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`).
/// Kinds, types and fields are described in the API's own words (<see cref="ModelDescriptions"/>).
/// The v3 documents' PATCH operations declare no request body, so kubectl 1.27 and later keep computing client-side
/// apply patches from their compiled-in types; kubectl 1.20 computes them from the v2 schema of the kind.
/// </summary>
internal static class OpenApiSchemas
{
    /// <summary>The schemas of these kinds and of every type their fields reach.</summary>
    public static JsonObject For(IEnumerable<ResourceKind> kinds, ModelDescriptions descriptions, OpenApiVersion version)
    {
        var schemas = new JsonObject();
        var pending = new Queue<string>();
        var roots = new Dictionary<string, List<ResourceKind>>();
        foreach (var k in kinds)
            if (Schema.RootName(k.ApiVersion, k.Kind) is { } root)
            {
                if (!roots.TryGetValue(root, out var served)) { roots[root] = served = []; pending.Enqueue(root); }
                served.Add(k);
            }
        var seen = new HashSet<string>(pending);
        while (pending.TryDequeue(out var message))
        {
            if (message.StartsWith("io.k8s.", StringComparison.Ordinal)) { schemas[message] = Scalar(message, version); continue; }
            var properties = new JsonObject();
            roots.TryGetValue(message, out var servedAs);
            if (servedAs is not null)
            {
                // The wire leaves type meta to the envelope; the JSON object has it.
                properties["apiVersion"] = Described(new JsonObject { ["type"] = "string" }, descriptions.OfField(message, "apiVersion"));
                properties["kind"] = Described(new JsonObject { ["type"] = "string" }, descriptions.OfField(message, "kind"));
            }
            AddFields(message, message, properties, descriptions, version, Reached);
            var schema = Described(new JsonObject(), descriptions.OfMessage(message));
            schema["type"] = "object";
            schema["properties"] = properties;
            if (servedAs is not null)
            {
                var gvks = new JsonArray();
                foreach (var k in servedAs) gvks.Add((JsonNode)new JsonObject { ["group"] = k.Group, ["kind"] = k.Kind, ["version"] = k.Version });
                schema["x-kubernetes-group-version-kind"] = gvks;
            }
            schemas[NameOf(message)] = schema;
        }
        return schemas;

        void Reached(string message)
        {
            if (seen.Add(message)) pending.Enqueue(message);
        }
    }

    /// <summary>The API server's schema name of a table message: apps/v1.Deployment → io.k8s.api.apps.v1.Deployment,
    /// meta/v1.ObjectMeta → io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta.</summary>
    public static string NameOf(string message)
    {
        var (groupVersion, type) = (message[..message.IndexOf('.')], message[(message.IndexOf('.') + 1)..]);
        var dotted = groupVersion.Replace('/', '.');
        return groupVersion.StartsWith("meta/", StringComparison.Ordinal) ? $"io.k8s.apimachinery.pkg.apis.{dotted}.{type}" : $"io.k8s.api.{dotted}.{type}";
    }

    /// <summary>A message's fields as properties; a struct embedded inline lends its fields, which the enclosing
    /// type's model (<paramref name="owner"/>) describes.</summary>
    private static void AddFields(string message, string owner, JsonObject properties, ModelDescriptions descriptions, OpenApiVersion version, Action<string> reached)
    {
        foreach (var f in Schema.FieldsOf(message))
        {
            if (f.Has(FieldFlags.Inline)) { AddFields(f.Message!, owner, properties, descriptions, version, reached); continue; }
            var value = Value(f, version, reached);
            var property = f.Has(FieldFlags.Map) ? new JsonObject { ["type"] = "object", ["additionalProperties"] = value }
                : f.Has(FieldFlags.Repeated) ? new JsonObject { ["type"] = "array", ["items"] = value }
                : value;
            Described(property, descriptions.OfField(owner, f.Json) ?? descriptions.OfField(message, f.Json));
            if (f.PatchStrategy is { } strategy) property["x-kubernetes-patch-strategy"] = strategy;
            if (f.MergeKey is { } key) property["x-kubernetes-patch-merge-key"] = key;
            if (f.ListType is { } listType) property["x-kubernetes-list-type"] = listType;
            if (f.ListMapKeys is { } mapKeys) property["x-kubernetes-list-map-keys"] = new JsonArray(mapKeys.Select(k => (JsonNode)k).ToArray());
            properties[f.Json] = property;
        }
    }

    // As the API server writes it: the description beside the type or the reference.
    private static JsonObject Described(JsonObject schema, string? description)
    {
        if (description is not null) schema["description"] = description;
        return schema;
    }

    // Two scalar types the API server names, so explain shows <Quantity> and <IntOrString> as it does for its own.
    private const string QuantityName = "io.k8s.apimachinery.pkg.api.resource.Quantity";
    private const string IntOrStringName = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";

    // As the API server writes them. v3: one of two types, no single type (so explain names the type); v2 has no oneOf,
    // so both are strings there, which kubectl's validation lets numbers through as.
    private static JsonObject Scalar(string name, OpenApiVersion version) => (name == QuantityName, version) switch
    {
        (true, OpenApiVersion.V3) => new JsonObject { ["oneOf"] = new JsonArray(new JsonObject { ["type"] = "string" }, new JsonObject { ["type"] = "number" }) },
        (false, OpenApiVersion.V3) => new JsonObject { ["oneOf"] = new JsonArray(new JsonObject { ["type"] = "integer" }, new JsonObject { ["type"] = "string" }), ["format"] = "int-or-string" },
        (true, _) => new JsonObject { ["type"] = "string" },
        (false, _) => new JsonObject { ["type"] = "string", ["format"] = "int-or-string" },
    };

    /// <summary>A reference to a table message (apps/v1.DeploymentSpec) or to one of the named scalars: in v3 wrapped in
    /// allOf (so a description may stand beside it), in v2 the reference itself.</summary>
    private static JsonObject Named(string name, OpenApiVersion version, Action<string> reached)
    {
        reached(name);
        var schemaName = name.StartsWith("io.k8s.", StringComparison.Ordinal) ? name : NameOf(name);
        return version == OpenApiVersion.V3
            ? new JsonObject { ["allOf"] = new JsonArray(new JsonObject { ["$ref"] = "#/components/schemas/" + schemaName }) }
            : new JsonObject { ["$ref"] = "#/definitions/" + schemaName };
    }

    private static JsonObject Value(Field f, OpenApiVersion version, Action<string> reached)
    {
        switch (f.Kind)
        {
            case ValueKind.Message: return Named(f.Message!, version, reached);
            case ValueKind.String: return new JsonObject { ["type"] = "string" };
            case ValueKind.Quantity: return Named(QuantityName, version, reached);
            case ValueKind.Int32: return new JsonObject { ["type"] = "integer", ["format"] = "int32" };
            case ValueKind.Int64: return new JsonObject { ["type"] = "integer", ["format"] = "int64" };
            case ValueKind.Bool: return new JsonObject { ["type"] = "boolean" };
            case ValueKind.Bytes: return new JsonObject { ["type"] = "string", ["format"] = "byte" };
            case ValueKind.Time or ValueKind.MicroTime: return new JsonObject { ["type"] = "string", ["format"] = "date-time" };
            case ValueKind.IntOrString: return Named(IntOrStringName, version, reached);
            default: return new JsonObject { ["type"] = "object" }; // RawJson: any JSON document
        }
    }
}
