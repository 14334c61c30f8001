using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>The arithmetic of a Deployment's rollout, as Kubernetes' deployment utilities do it: maxSurge and
/// maxUnavailable resolved against the replica count, how far the new ReplicaSet may grow, proportional scaling, the
/// pod-template-hash, and the ReplicaSet annotations that carry revisions.</summary>
public static class DeploymentMath
{
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    public const string RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history";
    public const string DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
    public const string MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
    public const string HashLabel = "pod-template-hash";

    public static int Replicas(JsonObject o) => o["spec"]?["replicas"]?.GetValue<int>() ?? 1;
    public static int StatusInt(JsonObject o, string field) => o["status"]?[field]?.GetValue<int>() ?? 0;

    /// <summary>An int-or-percent value against <paramref name="total"/>: a percentage rounds up or down as asked.</summary>
    public static int Resolve(JsonNode? value, int total, bool roundUp)
    {
        if (value is JsonValue v && v.TryGetValue<int>(out var n)) return n;
        var text = Json.Str(value) ?? "0";
        if (text.EndsWith('%') && int.TryParse(text[..^1], out var percent))
        {
            var exact = percent * (double)total / 100;
            return (int)(roundUp ? Math.Ceiling(exact) : Math.Floor(exact));
        }
        return int.TryParse(text, out n) ? n : 0;
    }

    public static bool IsRollingUpdate(JsonObject d) => Json.Str(d["spec"]?["strategy"]?["type"]) is null or "RollingUpdate";

    /// <summary>maxSurge (rounded up) and maxUnavailable (rounded down); both zero would stall, so unavailability
    /// becomes 1 then. Recreate: no surge, everything may be unavailable.</summary>
    public static (int MaxSurge, int MaxUnavailable) Fenceposts(JsonObject d)
    {
        var replicas = Replicas(d);
        if (!IsRollingUpdate(d)) return (0, replicas);
        var rolling = d["spec"]?["strategy"]?["rollingUpdate"];
        var surge = Resolve(rolling?["maxSurge"] ?? "25%", replicas, roundUp: true);
        var unavailable = Resolve(rolling?["maxUnavailable"] ?? "25%", replicas, roundUp: false);
        if (surge == 0 && unavailable == 0) unavailable = 1;
        return (surge, Math.Min(unavailable, replicas));
    }

    /// <summary>The size the new ReplicaSet may have now: up to maxSurge above the desired count across all sets.</summary>
    public static int NewReplicaSetReplicas(JsonObject d, IReadOnlyList<JsonObject> allSets, JsonObject newSet)
    {
        var replicas = Replicas(d);
        if (!IsRollingUpdate(d)) return replicas;
        // A set scaled down whose pods are not yet all gone still counts them (its status says how many are active):
        // the surge bounds the pods that exist, not only the sizes asked for.
        var current = allSets.Sum(s => Math.Max(Replicas(s), StatusInt(s, "replicas")));
        var maxTotal = replicas + Fenceposts(d).MaxSurge;
        if (current >= maxTotal) return Replicas(newSet);
        var scaleUp = Math.Min(maxTotal - current, replicas - Replicas(newSet));
        return Replicas(newSet) + Math.Max(0, scaleUp);
    }

    public static long Revision(JsonObject set) =>
        long.TryParse(Json.Str(set["metadata"]?["annotations"]?[RevisionAnnotation]), out var r) ? r : 0;

    /// <summary>The pod template without the pod-template-hash label: what a ReplicaSet's template is compared by.</summary>
    public static JsonNode? TemplateWithoutHash(JsonObject o)
    {
        var template = o["spec"]?["template"]?.DeepClone();
        if (template?["metadata"]?["labels"] is JsonObject labels)
        {
            labels.Remove(HashLabel);
            if (labels.Count == 0) ((JsonObject)template["metadata"]!).Remove("labels");
        }
        return template;
    }

    /// <summary>Whether a ReplicaSet's template is the deployment's: equal but for the hash label and null fields (kubectl
    /// rollout undo writes the old template back with "creationTimestamp": null, as Go serialises it).</summary>
    public static bool SameTemplate(JsonObject set, JsonObject d) =>
        JsonNode.DeepEquals(WithoutNulls(TemplateWithoutHash(set)), WithoutNulls(d["spec"]?["template"]?.DeepClone()));

    /// <summary>The node without its null fields, at every depth (changed in place).</summary>
    public static JsonNode? WithoutNulls(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList()) o.Remove(key);
                foreach (var (_, v) in o) WithoutNulls(v);
                break;
            case JsonArray a:
                foreach (var item in a) WithoutNulls(item);
                break;
        }
        return node;
    }

    /// <summary>The pod-template-hash: FNV-1a (32 bits) over the template and the collision count, its decimal digits
    /// spelled in the API server's safe alphabet (as Kubernetes names its ReplicaSets).</summary>
    public static string TemplateHash(JsonObject d)
    {
        var template = d["spec"]?["template"]?.ToJsonString() ?? "{}";
        var collisions = d["status"]?["collisionCount"]?.GetValue<int>();
        return SafeHash(collisions is { } c ? template + c : template);
    }

    /// <summary>FNV-1a (32 bits) of <paramref name="text"/>, its decimal digits spelled in the API server's safe
    /// alphabet: the hashes in pod-template-hash and controller-revision-hash names.</summary>
    public static string SafeHash(string text)
    {
        uint hash = 2166136261;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 16777619;
        }
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Concat(hash.ToString().Select(ch => alphabet[ch % alphabet.Length]));
    }

    /// <summary>
    /// New sizes for the active ReplicaSets when the Deployment's replica count changed mid-rollout (proportional
    /// scaling): the change is spread over the sets in proportion to their size (by the max-replicas each was last
    /// sized for), larger sets first; what rounding leaves goes to the first.
    /// </summary>
    public static Dictionary<JsonObject, int> Proportional(JsonObject d, IReadOnlyList<JsonObject> activeSets)
    {
        var replicas = Replicas(d);
        var allowed = replicas > 0 ? replicas + Fenceposts(d).MaxSurge : 0;
        var toAdd = allowed - activeSets.Sum(Replicas);
        var ordered = (toAdd > 0
            ? activeSets.OrderByDescending(Replicas).ThenByDescending(Created)
            : activeSets.OrderByDescending(Replicas).ThenBy(Created)).ToList();
        var sizes = new Dictionary<JsonObject, int>(ReferenceEqualityComparer.Instance);
        var added = 0;
        foreach (var set in ordered)
        {
            var proportion = 0;
            if (toAdd != 0)
            {
                var fraction = Fraction(set, d, allowed);
                proportion = toAdd > 0 ? Math.Min(fraction, toAdd - added) : Math.Max(fraction, toAdd - added);
            }
            sizes[set] = Replicas(set) + proportion;
            added += proportion;
        }
        if (ordered.Count > 0 && toAdd != 0)
            sizes[ordered[0]] = Math.Max(0, sizes[ordered[0]] + toAdd - added);
        return sizes;
    }

    private static int Fraction(JsonObject set, JsonObject d, int allowed)
    {
        if (Replicas(d) == 0) return -Replicas(set);
        var annotated = int.TryParse(Json.Str(set["metadata"]?["annotations"]?[MaxReplicasAnnotation]), out var a) && a > 0 ? a : Math.Max(1, StatusInt(d, "replicas"));
        return (int)Math.Round(Replicas(set) * (double)allowed / annotated, MidpointRounding.AwayFromZero) - Replicas(set);
    }

    public static DateTimeOffset Created(JsonObject o) => PodStates.Time(o["metadata"]?["creationTimestamp"]) ?? DateTimeOffset.MinValue;
}
