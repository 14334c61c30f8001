using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>Whether a pod's nodeSelector and required node affinity (nodeSelectorTerms: any term, all of its
/// matchExpressions on labels and matchFields on metadata.name) let it run on a node, as the scheduler decides.</summary>
public static class NodeAffinity
{
    public static bool Matches(JsonObject pod, JsonObject node)
    {
        var labels = LabelSelector.LabelsOf(node["metadata"]?["labels"]);
        if (pod["spec"]?["nodeSelector"] is JsonObject selector)
            foreach (var (key, value) in selector)
                if (!labels.TryGetValue(key, out var have) || have != Json.Str(value)) return false;
        return pod["spec"]?["affinity"]?["nodeAffinity"]?["requiredDuringSchedulingIgnoredDuringExecution"]?["nodeSelectorTerms"] is not JsonArray terms
            || MatchesTerms(terms, node);
    }

    /// <summary>Whether <paramref name="node"/> satisfies nodeSelectorTerms (a pod's required affinity, a
    /// PersistentVolume's nodeAffinity.required).</summary>
    public static bool MatchesTerms(JsonArray terms, JsonObject node)
    {
        var labels = LabelSelector.LabelsOf(node["metadata"]?["labels"]);
        var fields = new Dictionary<string, string> { ["metadata.name"] = Json.Str(node["metadata"]?["name"]) ?? "" };
        // Terms are ORed; an empty term matches nothing, as in Kubernetes.
        return terms.OfType<JsonObject>().Any(term =>
        {
            var expressions = (term["matchExpressions"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
            var fieldExpressions = (term["matchFields"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
            return expressions.Count + fieldExpressions.Count > 0
                && expressions.All(e => Holds(e, labels)) && fieldExpressions.All(e => Holds(e, fields));
        });
    }

    private static bool Holds(JsonObject requirement, IReadOnlyDictionary<string, string> values)
    {
        var key = Json.Str(requirement["key"]) ?? "";
        var wanted = (requirement["values"] as JsonArray)?.Select(v => Json.Str(v) ?? "").ToList() ?? [];
        var present = values.TryGetValue(key, out var value);
        return Json.Str(requirement["operator"]) switch
        {
            "In" => present && wanted.Contains(value!),
            "NotIn" => !present || !wanted.Contains(value!),
            "Exists" => present,
            "DoesNotExist" => !present,
            "Gt" => present && long.TryParse(value, out var g) && wanted.Count == 1 && long.TryParse(wanted[0], out var gv) && g > gv,
            "Lt" => present && long.TryParse(value, out var l) && wanted.Count == 1 && long.TryParse(wanted[0], out var lv) && l < lv,
            _ => false,
        };
    }
}
