using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// The scheduler of a one-node cluster, until the real one exists: a pod without spec.nodeName is bound to this node
/// when the node satisfies its nodeSelector and required node affinity, it tolerates the node's NoSchedule/NoExecute taints, and its
/// PersistentVolumeClaims are bound to volumes the node reaches (<see cref="PodClaims"/>); otherwise it
/// stays Pending with PodScheduled=False (Unschedulable) and one FailedScheduling event that says why.
/// </summary>
public sealed class PodBinder(ClusterObjects objects, string nodeName)
{
    /// <summary>Binds the pod or reports why not. Returns true when it was bound.</summary>
    public bool TryBind(JsonObject pod)
    {
        var meta = pod["metadata"] as JsonObject;
        var ns = Json.Str(meta?["namespace"]) ?? "default";
        var name = Json.Str(meta?["name"]) ?? "";
        var uid = Json.Str(meta?["uid"]);
        var node = objects.Store.Get(ResourceKinds.Node.Key(null, nodeName)) is { } stored ? ClusterObjects.Parse(stored.Value) : null;
        if (node is null) return false;
        var why = Unfit(pod, node);
        if (why is null)
        {
            var (claims, claimsWhy) = PodClaims.Check(objects, pod, node);
            if (claims == PodClaims.Verdict.Wait) return false; // the claims' binding wakes the pod again
            why = claimsWhy;
        }
        if (why is null)
        {
            try
            {
                objects.Update(ResourceKinds.Pod, ns, name, null, o =>
                {
                    if (Json.Str(o["metadata"]?["uid"]) != uid || Json.Str(o["spec"]?["nodeName"]) is { Length: > 0 }) return o;
                    ((JsonObject)o["spec"]!)["nodeName"] = nodeName;
                    return o;
                }, statusOnly: false, dryRun: false);
                objects.Update(ResourceKinds.Pod, ns, name, null, o =>
                {
                    PodStatusBuilder.SetCondition(o, "PodScheduled", "True", null, null);
                    return o;
                }, statusOnly: true, dryRun: false);
                return true;
            }
            catch (StatusException e) when (e.Code is 404 or 409) { return false; }
        }
        var message = $"0/1 nodes are available: 1 {why}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
        var already = (pod["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>()
            .Any(c => Json.Str(c["type"]) == "PodScheduled" && Json.Str(c["message"]) == message) == true;
        if (already) return false;
        try
        {
            objects.Update(ResourceKinds.Pod, ns, name, null, o =>
            {
                PodStatusBuilder.SetCondition(o, "PodScheduled", "False", "Unschedulable", message);
                (o["status"] as JsonObject ?? new JsonObject())["phase"] ??= "Pending";
                return o;
            }, statusOnly: true, dryRun: false);
        }
        catch (StatusException e) when (e.Code is 404 or 409) { return false; }
        Events.Record(objects, pod, "Warning", "FailedScheduling", message, "default-scheduler");
        return false;
    }

    /// <summary>Why the pod cannot go on the node ("node(s) didn't match Pod's node affinity/selector"), or null.</summary>
    internal static string? Unfit(JsonObject pod, JsonObject node)
    {
        var tolerations = (pod["spec"]?["tolerations"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        // A cordoned node (`kubectl cordon`: spec.unschedulable) takes only pods that tolerate its taint.
        if (node["spec"]?["unschedulable"]?.GetValue<bool>() == true && !tolerations.Any(t => Tolerates(t, UnschedulableTaint)))
            return "node(s) were unschedulable";
        if (!NodeAffinity.Matches(pod, node)) return "node(s) didn't match Pod's node affinity/selector";
        foreach (var taint in (node["spec"]?["taints"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var effect = Json.Str(taint["effect"]);
            if (effect is not ("NoSchedule" or "NoExecute")) continue;
            if (!tolerations.Any(t => Tolerates(t, taint)))
                return $"node(s) had untolerated taint {{{Json.Str(taint["key"])}: {Json.Str(taint["value"]) ?? ""}}}";
        }
        return null;
    }

    private static readonly JsonObject UnschedulableTaint = new() { ["key"] = "node.kubernetes.io/unschedulable", ["effect"] = "NoSchedule" };

    internal static bool Tolerates(JsonObject toleration, JsonObject taint)
    {
        var effect = Json.Str(toleration["effect"]);
        if (effect is { Length: > 0 } && effect != Json.Str(taint["effect"])) return false;
        var key = Json.Str(toleration["key"]);
        if (key is { Length: > 0 } && key != Json.Str(taint["key"])) return false;
        if (key is null or "" && Json.Str(toleration["operator"]) != "Exists") return false;
        return Json.Str(toleration["operator"]) == "Exists" || (Json.Str(toleration["value"]) ?? "") == (Json.Str(taint["value"]) ?? "");
    }
}

/// <summary>Events about pods, as the kubelet and scheduler write them (core/v1 Event in the pod's namespace).</summary>
public static class Events
{
    public static void Record(ClusterObjects objects, JsonObject pod, string type, string reason, string message, string component, string? fieldPath = null)
    {
        var meta = pod["metadata"] as JsonObject;
        var ns = Json.Str(meta?["namespace"]) ?? "default";
        var now = NodeRegistration.Now();
        var involved = new JsonObject
        {
            ["kind"] = "Pod", ["apiVersion"] = "v1", ["namespace"] = ns, ["name"] = Json.Str(meta?["name"]), ["uid"] = Json.Str(meta?["uid"]),
        };
        if (fieldPath is not null) involved["fieldPath"] = fieldPath;
        try
        {
            objects.Create(ResourceKinds.Event, ns, new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Event",
                ["metadata"] = new JsonObject { ["generateName"] = Json.Str(meta?["name"]) + "." },
                ["involvedObject"] = involved,
                ["reason"] = reason, ["message"] = message, ["type"] = type,
                ["source"] = new JsonObject { ["component"] = component },
                ["firstTimestamp"] = now, ["lastTimestamp"] = now, ["count"] = 1,
                ["reportingComponent"] = component, ["reportingInstance"] = "",
            }, FieldValidation.Ignore, dryRun: false, out _);
        }
        catch (StatusException) { } // an event is worth a try, not a failure (the namespace may be going)
    }
}
