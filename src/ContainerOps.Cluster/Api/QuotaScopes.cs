using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// A ResourceQuota's scopes (spec.scopes, spec.scopeSelector), as Kubernetes defines them: a scoped quota counts only
/// the pods every scope matches — Terminating (an activeDeadlineSeconds) or NotTerminating, BestEffort (no cpu or
/// memory requests or limits in any container) or NotBestEffort, PriorityClass (In/NotIn a list of class names,
/// Exists, DoesNotExist) — and may limit only what pods use. CrossNamespacePodAffinity and VolumeAttributesClass are
/// refused rather than counted wrongly.
/// </summary>
internal static class QuotaScopes
{
    private static readonly string[] Supported = ["Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass"];
    private static readonly string[] Operators = ["In", "NotIn", "Exists", "DoesNotExist"];

    /// <summary>What a scoped quota may limit: BestEffort pods only by count (they ask for nothing), the others by
    /// count and compute.</summary>
    private static readonly HashSet<string> PodResources =
    [
        "pods", "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage",
    ];

    public static bool IsScoped(JsonObject? spec) => spec?["scopes"] is JsonArray { Count: > 0 } || spec?["scopeSelector"] is JsonObject;

    /// <summary>The API server's checks of a quota's scopes against each other and against its hard resources.</summary>
    public static void Validate(JsonObject spec, List<FieldError> errors)
    {
        var named = new List<string>();
        foreach (var node in spec["scopes"] as JsonArray ?? [])
        {
            var scope = Json.Str(node) ?? "";
            if (!Supported.Contains(scope)) errors.Add(Unknown("spec.scopes", scope));
            else named.Add(scope);
        }
        var expressions = spec["scopeSelector"]?["matchExpressions"] as JsonArray ?? [];
        if (spec["scopeSelector"] is JsonObject && expressions.Count == 0)
            errors.Add(FieldError.Required("spec.scopeSelector.matchExpressions"));
        for (var i = 0; i < expressions.Count; i++)
        {
            var path = $"spec.scopeSelector.matchExpressions[{i}]";
            var scope = Json.Str(expressions[i]?["scopeName"]) ?? "";
            var op = Json.Str(expressions[i]?["operator"]) ?? "";
            var values = (expressions[i]?["values"] as JsonArray ?? []).Select(Json.Str).OfType<string>().ToList();
            if (!Supported.Contains(scope))
            {
                errors.Add(Unknown($"{path}.scopeName", scope));
                continue;
            }
            named.Add(scope);
            if (!Operators.Contains(op)) errors.Add(FieldError.Unsupported($"{path}.operator", op, Operators));
            else if (scope != "PriorityClass" && op != "Exists")
                errors.Add(FieldError.Invalid($"{path}.operator", op, "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort or ResourceQuotaScopeNotBestEffort"));
            else if (op is "In" or "NotIn" && values.Count == 0)
                errors.Add(FieldError.Required($"{path}.values", "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"));
            else if (op is "Exists" or "DoesNotExist" && values.Count > 0)
                errors.Add(FieldError.Invalid($"{path}.values", string.Join(",", values), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"));
        }
        if (named.Contains("Terminating") && named.Contains("NotTerminating") || named.Contains("BestEffort") && named.Contains("NotBestEffort"))
            errors.Add(FieldError.Invalid("spec.scopes", string.Join(",", named), "conflicting scopes"));
        if (named.Count == 0) return;
        foreach (var (resource, _) in spec["hard"] as JsonObject ?? [])
        {
            var allowed = named.Contains("BestEffort") ? resource is "pods" or "count/pods" : PodResources.Contains(resource);
            if (!allowed) errors.Add(FieldError.Invalid($"spec.hard[{resource}]", resource, "unsupported scope applied to resource"));
        }
    }

    /// <summary>A scope Kubernetes has but this server does not count (refused by name), or one nobody has.</summary>
    private static FieldError Unknown(string field, string scope) => scope is "CrossNamespacePodAffinity" or "VolumeAttributesClass"
        ? FieldError.Forbidden(field, $"the scope {scope} is not supported by this server")
        : FieldError.Unsupported(field, scope, Supported);

    /// <summary>Whether <paramref name="quota"/> counts <paramref name="obj"/>: any object when unscoped, else only a
    /// pod every scope matches.</summary>
    public static bool Applies(JsonObject quota, ResourceKind kind, JsonObject obj)
    {
        var spec = quota["spec"] as JsonObject;
        if (!IsScoped(spec)) return true;
        if (kind != ResourceKinds.Pod) return false;
        foreach (var scope in (spec!["scopes"] as JsonArray ?? []).Select(Json.Str))
            if (!Matches(scope ?? "", "Exists", [], obj)) return false;
        foreach (var e in spec["scopeSelector"]?["matchExpressions"] as JsonArray ?? [])
        {
            var values = (e?["values"] as JsonArray ?? []).Select(Json.Str).OfType<string>().ToList();
            if (!Matches(Json.Str(e?["scopeName"]) ?? "", Json.Str(e?["operator"]) ?? "", values, obj)) return false;
        }
        return true;
    }

    private static bool Matches(string scope, string op, List<string> values, JsonObject pod)
    {
        var spec = pod["spec"] as JsonObject;
        switch (scope)
        {
            case "Terminating": return spec?["activeDeadlineSeconds"] is JsonValue;
            case "NotTerminating": return spec?["activeDeadlineSeconds"] is not JsonValue;
            case "BestEffort": return IsBestEffort(spec);
            case "NotBestEffort": return !IsBestEffort(spec);
            case "PriorityClass":
                var name = Json.Str(spec?["priorityClassName"]) is { Length: > 0 } n ? n : null;
                return op switch
                {
                    "In" => name is not null && values.Contains(name),
                    "NotIn" => name is null || !values.Contains(name),
                    "Exists" => name is not null,
                    "DoesNotExist" => name is null,
                    _ => false,
                };
            default: return false;
        }
    }

    /// <summary>Kubernetes' BestEffort QoS class: no container asks for or is limited in cpu or memory.</summary>
    private static bool IsBestEffort(JsonObject? spec) =>
        (spec?["containers"] as JsonArray ?? []).Concat(spec?["initContainers"] as JsonArray ?? []).OfType<JsonObject>()
            .All(c => new[] { "requests", "limits" }.All(f => c["resources"]?[f] is not JsonObject amounts
                || !amounts.Any(kv => kv.Key is "cpu" or "memory" && Node.Quantity.TryValue(kv.Value, out var v) && v > 0)));
}
