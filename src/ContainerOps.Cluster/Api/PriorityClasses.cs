using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// scheduling.k8s.io PriorityClasses as the API server keeps them: the two system classes made at start, their
/// validation, and the Priority admission plugin, which gives a new pod the value of its priorityClassName (or of the
/// global default class, else 0) and refuses a class that does not exist. This node has no preemption: the priority is
/// recorded for clients and for the scheduling to come.
/// </summary>
public static class PriorityClasses
{
    /// <summary>The classes Kubernetes makes, the only ones whose names may start with "system-".</summary>
    private static readonly (string Name, long Value, string Description)[] SystemClasses =
    [
        ("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ];

    private const long HighestUserValue = 1000000000;

    internal static void EnsureSystemClasses(ClusterObjects objects)
    {
        foreach (var (name, value, description) in SystemClasses)
        {
            if (objects.Store.Get(ResourceKinds.PriorityClass.Key(null, name)) is not null) continue;
            var o = new JsonObject
            {
                ["apiVersion"] = "scheduling.k8s.io/v1", ["kind"] = "PriorityClass", ["metadata"] = new JsonObject { ["name"] = name },
                ["value"] = value, ["description"] = description,
            };
            try { objects.Create(ResourceKinds.PriorityClass, null, o, FieldValidation.Strict, dryRun: false, out _); }
            catch (StatusException e) when (e.Code == 409) { }
        }
    }

    internal static void ApplyDefaults(ResourceKind kind, JsonObject o)
    {
        if (kind == ResourceKinds.PriorityClass) o["preemptionPolicy"] ??= "PreemptLowerPriority";
    }

    internal static void Validate(ResourceKind kind, JsonObject o, JsonObject? old, List<FieldError> errors)
    {
        if (kind != ResourceKinds.PriorityClass) return;
        var name = Json.Str(o["metadata"]?["name"]) ?? "";
        var system = SystemClasses.FirstOrDefault(c => c.Name == name);
        if (o["value"] is not JsonValue v || !v.TryGetValue<long>(out var value)) { errors.Add(FieldError.Required("value")); return; }
        if (name.StartsWith("system-", StringComparison.Ordinal) && system.Name is null)
            errors.Add(FieldError.Forbidden("metadata.name", "priority class names with 'system-' prefix are reserved"));
        else if (system.Name is not null && value != system.Value)
            errors.Add(FieldError.Invalid("value", value.ToString(), $"the value of {name} must be {system.Value}"));
        else if (system.Name is null && value > HighestUserValue)
            errors.Add(FieldError.Forbidden("value", $"maximum allowed value of a user defined priority is {HighestUserValue}"));
        if (Json.Str(o["preemptionPolicy"]) is { } policy && policy is not ("PreemptLowerPriority" or "Never"))
            errors.Add(FieldError.Unsupported("preemptionPolicy", policy, ["Never", "PreemptLowerPriority"]));
        if (old is not null)
        {
            if (!JsonNode.DeepEquals(old["value"], o["value"])) errors.Add(FieldError.Forbidden("value", "may not be changed in an update."));
            if (!JsonNode.DeepEquals(old["preemptionPolicy"], o["preemptionPolicy"])) errors.Add(FieldError.Invalid("preemptionPolicy", Json.Str(o["preemptionPolicy"]), "field is immutable"));
        }
    }

    /// <summary>The Priority admission plugin, on a pod's create.</summary>
    internal static void Admit(IClusterStore store, ResourceKind kind, JsonObject pod)
    {
        if (kind != ResourceKinds.Pod || pod["spec"] is not JsonObject spec) return;
        var podName = Json.Str(pod["metadata"]?["name"]) ?? Json.Str(pod["metadata"]?["generateName"]) ?? "";
        JsonObject? chosen;
        if (Json.Str(spec["priorityClassName"]) is { Length: > 0 } className)
        {
            chosen = store.Get(ResourceKinds.PriorityClass.Key(null, className)) is { } stored ? ClusterObjects.Parse(stored.Value)
                : throw Forbidden(podName, $"no PriorityClass with name {className} was found");
        }
        else
        {
            chosen = store.List(ResourceKinds.PriorityClass.Key(null, null)).Items.Select(i => ClusterObjects.Parse(i.Value))
                .Where(c => c["globalDefault"]?.GetValue<bool>() == true).OrderBy(c => c["value"]!.GetValue<long>()).FirstOrDefault();
            if (chosen is not null) spec["priorityClassName"] = Json.Str(chosen["metadata"]?["name"]);
        }
        var priority = chosen?["value"]?.GetValue<long>() ?? 0;
        if (spec["priority"] is JsonValue given && given.TryGetValue<long>(out var asked) && asked != priority)
            throw Forbidden(podName, $"the integer value of priority ({asked}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name");
        spec["priority"] = priority;
        if (chosen is not null) spec["preemptionPolicy"] ??= Json.Str(chosen["preemptionPolicy"]) ?? "PreemptLowerPriority";
    }

    private static StatusException Forbidden(string pod, string why) =>
        new(403, "Forbidden", $"pods \"{pod}\" is forbidden: {why}", new JsonObject { ["name"] = pod, ["kind"] = "pods" });
}
