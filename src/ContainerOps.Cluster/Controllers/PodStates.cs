using System.Globalization;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>What workload controllers read from a pod: active, ready, available (ready for minReadySeconds), and
/// the order in which Kubernetes gives pods up when scaling down.</summary>
public static class PodStates
{
    public static string? Phase(JsonObject pod) => Json.Str(pod["status"]?["phase"]);

    /// <summary>Counted by its controller: not finished, not being deleted.</summary>
    public static bool IsActive(JsonObject pod) =>
        Phase(pod) is not ("Succeeded" or "Failed") && !OwnerReferences.IsBeingDeleted(pod);

    private static JsonObject? ReadyCondition(JsonObject pod) =>
        (pod["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == "Ready");

    public static bool IsReady(JsonObject pod) => Json.Str(ReadyCondition(pod)?["status"]) == "True";

    /// <summary>Since when the pod is ready (its Ready condition's transition), if it is.</summary>
    public static DateTimeOffset? ReadySince(JsonObject pod) =>
        IsReady(pod) ? Time(ReadyCondition(pod)?["lastTransitionTime"]) ?? Time(pod["metadata"]?["creationTimestamp"]) : null;

    /// <summary>When a finished pod finished: its last container's end, else when it stopped being ready, else when
    /// it was deleted or made (the earliest it can have been).</summary>
    public static DateTimeOffset FinishedAt(JsonObject pod)
    {
        var statuses = (pod["status"]?["containerStatuses"] as JsonArray ?? []).Concat(pod["status"]?["initContainerStatuses"] as JsonArray ?? []);
        var ended = statuses.Select(c => Time(c?["state"]?["terminated"]?["finishedAt"])).Max();
        if (ended is { } t) return t;
        if (ReadyCondition(pod) is { } ready && Json.Str(ready["status"]) == "False" && Time(ready["lastTransitionTime"]) is { } unready) return unready;
        return Time(pod["metadata"]?["deletionTimestamp"]) ?? Time(pod["metadata"]?["creationTimestamp"]) ?? DateTimeOffset.MinValue;
    }

    /// <summary>Ready for at least <paramref name="minReadySeconds"/>.</summary>
    public static bool IsAvailable(JsonObject pod, int minReadySeconds, DateTimeOffset now) =>
        ReadySince(pod) is { } since && (minReadySeconds == 0 || since.AddSeconds(minReadySeconds) <= now);

    public static DateTimeOffset? Time(JsonNode? node) =>
        Json.Str(node) is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    public static int Restarts(JsonObject pod) =>
        (pod["status"]?["containerStatuses"] as JsonArray)?.OfType<JsonObject>().Sum(c => c["restartCount"]?.GetValue<int>() ?? 0) ?? 0;

    /// <summary>Pods in the order they are given up, the least valuable first, as Kubernetes ranks them: unscheduled
    /// before scheduled; Pending, then Unknown, then Running; not ready before ready; lower pod-deletion-cost first;
    /// ready for less time first; more restarts first; newer first.</summary>
    public static int CompareForDeletion(JsonObject a, JsonObject b)
    {
        int c;
        if ((c = Scheduled(a).CompareTo(Scheduled(b))) != 0) return c;
        if ((c = PhaseRank(a).CompareTo(PhaseRank(b))) != 0) return c;
        if ((c = IsReady(a).CompareTo(IsReady(b))) != 0) return c;
        if ((c = DeletionCost(a).CompareTo(DeletionCost(b))) != 0) return c;
        if (ReadySince(a) is { } ra && ReadySince(b) is { } rb && ra != rb) return rb.CompareTo(ra);
        if ((c = Restarts(b).CompareTo(Restarts(a))) != 0) return c;
        var ca = Time(a["metadata"]?["creationTimestamp"]) ?? DateTimeOffset.MinValue;
        var cb = Time(b["metadata"]?["creationTimestamp"]) ?? DateTimeOffset.MinValue;
        return cb.CompareTo(ca);
    }

    private static bool Scheduled(JsonObject pod) => Json.Str(pod["spec"]?["nodeName"]) is { Length: > 0 };

    private static int PhaseRank(JsonObject pod) => Phase(pod) switch { "Pending" or null => 0, "Unknown" => 1, "Running" => 2, _ => 3 };

    private static int DeletionCost(JsonObject pod) =>
        int.TryParse(Json.Str(pod["metadata"]?["annotations"]?["controller.kubernetes.io/pod-deletion-cost"]), out var cost) ? cost : 0;
}
