using System.Globalization;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The LimitRanger admission of the API server: a namespace's LimitRanges give its pods' containers the default
/// limits and requests they lack (and say so in the pod's kubernetes.io/limit-ranger annotation), then hold every
/// container, every pod's total and every claim's storage to their min, max and max limit/request ratio — a pod or
/// claim outside them is refused (403, worded as Kubernetes words it).
/// </summary>
internal static class LimitRanges
{
    public const string Annotation = "kubernetes.io/limit-ranger";

    /// <summary>A LimitRange's defaulting, as the API server stores it: for a Container item the default limit falls
    /// back to max, the default request to the default limit, then to min.</summary>
    public static void ApplyDefaults(JsonObject? spec)
    {
        if (spec?["limits"] is not JsonArray items) return;
        foreach (var item in items.OfType<JsonObject>())
        {
            if (Json.Str(item["type"]) != "Container") continue;
            var defaults = item["default"] as JsonObject ?? [];
            var requests = item["defaultRequest"] as JsonObject ?? [];
            foreach (var (resource, value) in item["max"] as JsonObject ?? []) if (!defaults.ContainsKey(resource)) defaults[resource] = value?.DeepClone();
            foreach (var (resource, value) in defaults) if (!requests.ContainsKey(resource)) requests[resource] = value?.DeepClone();
            foreach (var (resource, value) in item["min"] as JsonObject ?? []) if (!requests.ContainsKey(resource)) requests[resource] = value?.DeepClone();
            if (defaults.Count > 0) item["default"] = defaults;
            if (requests.Count > 0) item["defaultRequest"] = requests;
        }
    }

    public static void Admit(IClusterStore store, ResourceKind kind, string? ns, JsonObject obj)
    {
        if (ns is null || (kind != ResourceKinds.Pod && kind != ResourceKinds.PersistentVolumeClaim)) return;
        var items = store.List(ResourceKinds.LimitRange.Key(ns, null)).Items
            .SelectMany(i => ClusterObjects.Parse(i.Value)["spec"]?["limits"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (items.Count == 0) return;
        if (kind == ResourceKinds.Pod) AdmitPod(obj, items);
        else AdmitClaim(obj, items);
    }

    private static void AdmitPod(JsonObject pod, List<JsonObject> items)
    {
        if (pod["spec"] is not JsonObject spec) return;
        var name = Json.Str(pod["metadata"]?["name"]) ?? Json.Str(pod["metadata"]?["generateName"]) ?? "";
        var containers = new List<(JsonObject Container, bool Init)>();
        foreach (var (list, init) in new[] { ("initContainers", true), ("containers", false) })
            if (spec[list] is JsonArray array) containers.AddRange(array.OfType<JsonObject>().Select(c => (c, init)));

        var set = new List<string>();
        foreach (var item in items.Where(i => Json.Str(i["type"]) == "Container"))
            foreach (var (container, init) in containers)
            {
                var resources = container["resources"] as JsonObject ?? [];
                container["resources"] = resources;
                var who = $"{(init ? "init container" : "container")} {Json.Str(container["name"])}";
                var requested = Fill(resources, "requests", item["defaultRequest"] as JsonObject);
                var limited = Fill(resources, "limits", item["default"] as JsonObject);
                if (requested.Count > 0) set.Add($"{string.Join(", ", requested)} request for {who}");
                if (limited.Count > 0) set.Add($"{string.Join(", ", limited)} limit for {who}");
            }
        if (set.Count > 0)
        {
            var meta = Json.Metadata(pod);
            var annotations = meta["annotations"] as JsonObject ?? [];
            annotations[Annotation] = "LimitRanger plugin set: " + string.Join("; ", set);
            meta["annotations"] = annotations;
        }

        var problems = new List<string>();
        foreach (var item in items)
            switch (Json.Str(item["type"]))
            {
                case "Container":
                    foreach (var (container, _) in containers)
                        Check(item, "Container", Amounts(container, "requests"), Amounts(container, "limits"), problems);
                    break;
                case "Pod":
                    Check(item, "Pod", PodTotal(spec, "requests"), PodTotal(spec, "limits"), problems);
                    break;
            }
        if (problems.Count > 0)
            throw Forbidden("pods", name, problems);
    }

    private static void AdmitClaim(JsonObject claim, List<JsonObject> items)
    {
        var name = Json.Str(claim["metadata"]?["name"]) ?? "";
        var problems = new List<string>();
        foreach (var item in items.Where(i => Json.Str(i["type"]) == "PersistentVolumeClaim"))
            Check(item, "PersistentVolumeClaim", Amounts(claim["spec"], "requests"), Amounts(claim["spec"], "limits"), problems);
        if (problems.Count > 0)
            throw Forbidden("persistentvolumeclaims", name, problems);
    }

    /// <summary>Copies into resources[field] the amounts of <paramref name="defaults"/> it lacks; returns their names.</summary>
    private static List<string> Fill(JsonObject resources, string field, JsonObject? defaults)
    {
        var filled = new List<string>();
        if (defaults is null || defaults.Count == 0) return filled;
        var amounts = resources[field] as JsonObject ?? [];
        foreach (var (resource, value) in defaults.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (amounts.ContainsKey(resource)) continue;
            amounts[resource] = value?.DeepClone();
            filled.Add(resource);
        }
        if (amounts.Count > 0) resources[field] = amounts;
        return filled;
    }

    private static Dictionary<string, (string Text, decimal Value)> Amounts(JsonNode? holder, string field)
    {
        var result = new Dictionary<string, (string, decimal)>();
        var node = holder?["resources"]?[field] as JsonObject;
        foreach (var (resource, value) in node ?? [])
            if (Json.Scalar(value) is { } text && Node.Quantity.TryValue(text, out var v)) result[resource] = (text, v);
        return result;
    }

    private static Dictionary<string, (string Text, decimal Value)> PodTotal(JsonObject spec, string field) =>
        Node.PodResources.Total(spec, field).ToDictionary(kv => kv.Key, kv => (Node.Quantity.Format(kv.Key, kv.Value), kv.Value));

    /// <summary>One item's min, max and ratio against a container's, a pod's or a claim's amounts: at most one
    /// problem per resource and constraint, in Kubernetes' words.</summary>
    private static void Check(JsonObject item, string scope, Dictionary<string, (string Text, decimal Value)> requests,
        Dictionary<string, (string Text, decimal Value)> limits, List<string> problems)
    {
        var claim = scope == "PersistentVolumeClaim";
        foreach (var (resource, bound) in Bounds(item, "min"))
        {
            var hasRequest = requests.TryGetValue(resource, out var request);
            var hasLimit = limits.TryGetValue(resource, out var limit);
            if (!hasRequest) problems.Add($"minimum {resource} usage per {scope} is {bound.Text}.  No request is specified");
            else if (request.Value < bound.Value) problems.Add($"minimum {resource} usage per {scope} is {bound.Text}, but request is {request.Text}");
            else if (!claim && hasLimit && limit.Value < bound.Value) problems.Add($"minimum {resource} usage per {scope} is {bound.Text}, but limit is {limit.Text}");
        }
        foreach (var (resource, bound) in Bounds(item, "max"))
        {
            var hasRequest = requests.TryGetValue(resource, out var request);
            var hasLimit = limits.TryGetValue(resource, out var limit);
            if (claim)
            {
                if (!hasRequest) problems.Add($"maximum {resource} usage per {scope} is {bound.Text}.  No request is specified");
                else if (request.Value > bound.Value) problems.Add($"maximum {resource} usage per {scope} is {bound.Text}, but request is {request.Text}");
            }
            else if (!hasLimit) problems.Add($"maximum {resource} usage per {scope} is {bound.Text}.  No limit is specified");
            else if (limit.Value > bound.Value) problems.Add($"maximum {resource} usage per {scope} is {bound.Text}, but limit is {limit.Text}");
            else if (hasRequest && request.Value > bound.Value) problems.Add($"maximum {resource} usage per {scope} is {bound.Text}, but request is {request.Text}");
        }
        foreach (var (resource, ratio) in Bounds(item, "maxLimitRequestRatio"))
        {
            var hasRequest = requests.TryGetValue(resource, out var request);
            var hasLimit = limits.TryGetValue(resource, out var limit);
            if (!hasRequest || request.Value == 0)
                problems.Add($"{resource} max limit to request ratio per {scope} is {ratio.Text}, but no request is specified or request is 0");
            else if (!hasLimit || limit.Value == 0)
                problems.Add($"{resource} max limit to request ratio per {scope} is {ratio.Text}, but no limit is specified or limit is 0");
            else if (limit.Value / request.Value > ratio.Value)
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{resource} max limit to request ratio per {scope} is {ratio.Text}, but provided ratio is {limit.Value / request.Value:0.000000}"));
        }
    }

    /// <summary>403 as the API server's admission words it: one problem as it is, several in brackets.</summary>
    private static StatusException Forbidden(string resource, string name, List<string> problems) =>
        new(403, "Forbidden", $"{resource} \"{name}\" is forbidden: " + (problems.Count == 1 ? problems[0] : $"[{string.Join(", ", problems)}]"),
            new JsonObject { ["name"] = name, ["kind"] = resource });

    private static IEnumerable<(string Resource, (string Text, decimal Value) Bound)> Bounds(JsonObject item, string field)
    {
        foreach (var (resource, value) in item[field] as JsonObject ?? [])
            if (Json.Scalar(value) is { } text && Node.Quantity.TryValue(text, out var v)) yield return (resource, (text, v));
    }
}
