using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The scale subresource (autoscaling/v1 Scale) of the kinds with a replica count — Deployments, ReplicaSets,
/// StatefulSets — as `kubectl scale` and autoscalers use it: GET reads spec.replicas, status.replicas and the
/// selector as a string; PUT and PATCH change spec.replicas and nothing else.
/// </summary>
public static class Scales
{
    public static bool Has(ResourceKind kind) => kind.Kind is "Deployment" or "ReplicaSet" or "StatefulSet" or "ReplicationController";

    /// <summary>The Scale of <paramref name="o"/>, an object of <paramref name="kind"/>.</summary>
    public static JsonObject Of(ResourceKind kind, JsonObject o)
    {
        var meta = o["metadata"];
        return new JsonObject
        {
            ["kind"] = "Scale", ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = meta?["name"]?.DeepClone(), ["namespace"] = meta?["namespace"]?.DeepClone(), ["uid"] = meta?["uid"]?.DeepClone(),
                ["resourceVersion"] = meta?["resourceVersion"]?.DeepClone(), ["creationTimestamp"] = meta?["creationTimestamp"]?.DeepClone(),
            },
            ["spec"] = new JsonObject { ["replicas"] = o["spec"]?["replicas"]?.DeepClone() ?? 1 },
            ["status"] = new JsonObject { ["replicas"] = o["status"]?["replicas"]?.DeepClone() ?? 0, ["selector"] = SelectorText(Workloads.SelectorOf(kind, o["spec"] as JsonObject)) },
        };
    }

    /// <summary>GET, PUT or PATCH (merge, strategic merge or JSON patch, applied to the Scale) of an object's scale.</summary>
    public static JsonObject Handle(ClusterObjects objects, ResourceKind kind, string? ns, string name, string method, string contentType, JsonNode? body, bool dryRun, string? manager = null)
    {
        if (method == "GET") return Of(kind, objects.Get(kind, ns, name));
        if (method is not ("PUT" or "PATCH")) throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource");
        var updated = objects.Update(kind, ns, name, null, current =>
        {
            var scale = Of(kind, current);
            JsonNode written = method == "PUT" ? body! : contentType switch
            {
                "application/merge-patch+json" => Patches.MergePatch(scale, body!),
                "application/strategic-merge-patch+json" => Patches.StrategicMergePatch(scale, body!),
                "application/json-patch+json" when body is JsonArray ops => Patches.JsonPatch(scale, ops),
                _ => throw StatusException.UnsupportedMediaType($"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"),
            };
            // A resourceVersion in what was written is a precondition, as for the object itself.
            if (Json.Str(written["metadata"]?["resourceVersion"]) is { Length: > 0 } rv && rv != Json.Str(current["metadata"]?["resourceVersion"]))
                throw StatusException.Conflict(kind, name);
            current["spec"]!["replicas"] = Replicas(kind, name, written);
            return current;
        }, statusOnly: false, dryRun: dryRun, manager, subresource: "scale");
        return Of(kind, updated);
    }

    /// <summary>The replica count a written Scale asks for, checked as the API server checks it.</summary>
    public static int Replicas(ResourceKind kind, string name, JsonNode scale)
    {
        if (Json.Str(scale["kind"]) is { } k && k != "Scale") throw StatusException.BadRequest($"the body of a scale request must be a Scale, not a {k}");
        if (scale["spec"]?["replicas"] is not JsonValue v || !v.TryGetValue<int>(out var replicas))
            throw StatusException.Invalid(kind, name, [FieldError.Required("spec.replicas")]);
        if (replicas < 0) throw StatusException.Invalid(kind, name, [FieldError.Invalid("spec.replicas", replicas.ToString(), "must be greater than or equal to 0")]);
        return replicas;
    }

    /// <summary>A label selector object written as a query string ("app=web,tier in (a,b),!debug").</summary>
    public static string SelectorText(JsonObject? selector)
    {
        if (selector is null) return "";
        var parts = new List<string>();
        if (selector["matchLabels"] is JsonObject labels) parts.AddRange(labels.Select(kv => $"{kv.Key}={Json.Str(kv.Value)}"));
        if (selector["matchExpressions"] is JsonArray expressions)
            foreach (var e in expressions.OfType<JsonObject>())
            {
                var key = Json.Str(e["key"]);
                var values = string.Join(",", (e["values"] as JsonArray ?? []).Select(Json.Str));
                parts.Add(Json.Str(e["operator"]) switch
                {
                    "In" => $"{key} in ({values})",
                    "NotIn" => $"{key} notin ({values})",
                    "Exists" => key!,
                    _ => $"!{key}",
                });
            }
        return string.Join(",", parts);
    }
}
