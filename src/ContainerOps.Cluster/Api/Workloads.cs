using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>What the kinds that keep pods from a template have in common, where their forms differ.</summary>
public static class Workloads
{
    /// <summary>The label selector (matchLabels, matchExpressions) of a workload's spec: a ReplicationController's
    /// selector is a plain map of labels, the others' are label selectors already. Null when there is none.</summary>
    public static JsonObject? SelectorOf(ResourceKind kind, JsonObject? spec) =>
        kind.Kind == "ReplicationController"
            ? spec?["selector"] is JsonObject { Count: > 0 } labels ? new JsonObject { ["matchLabels"] = labels.DeepClone() } : null
            : spec?["selector"] as JsonObject;
}
