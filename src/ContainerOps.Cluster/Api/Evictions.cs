using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The pods/eviction subresource (policy/v1 Eviction; `kubectl drain` posts one per pod): a pod is deleted, with the
/// eviction's delete options, only if the PodDisruptionBudget that selects it allows a disruption now, which the
/// eviction spends (status.disruptionsAllowed down by one, the pod in disruptedPods) in the same compare-and-swap
/// write. A pod that is finished, pending or already being deleted needs no budget; one that is not ready may go when
/// its budget is met anyway (IfHealthyBudget) or always (AlwaysAllow). A budget that forbids it is a 429, which
/// clients retry; two budgets over one pod are refused, as the API server refuses them. An evicted pod that is still
/// running is marked DisruptionTarget before it is deleted.
/// </summary>
public static class Evictions
{
    private static readonly ResourceKind Budgets = ResourceKinds.All.First(k => k.Kind == "PodDisruptionBudget");

    /// <summary>Whether the budget selects a pod with these labels. policy/v1: an empty selector selects every pod of
    /// the namespace, a missing one none.</summary>
    public static bool Selects(JsonObject budget, IReadOnlyDictionary<string, string> podLabels) =>
        budget["spec"]?["selector"] is JsonObject selector && LabelSelector.FromObject(selector).Matches(podLabels);

    /// <summary>Evicts the pod; returns the Status of a success.</summary>
    public static JsonObject Evict(ClusterObjects objects, string ns, string name, JsonObject eviction, bool dryRun, DateTimeOffset now)
    {
        if (Json.Str(eviction["metadata"]?["name"]) is { Length: > 0 } named && named != name)
            throw StatusException.BadRequest($"name in URL does not match name in Eviction object");
        var pod = objects.Get(ResourceKinds.Pod, ns, name);
        var options = eviction["deleteOptions"] as JsonObject;
        dryRun |= options?["dryRun"] is JsonArray { Count: > 0 } d && Json.Str(d[0]) == "All";
        var phase = Json.Str(pod["status"]?["phase"]);
        var ignoresBudgets = phase is "Succeeded" or "Failed" or "Pending" || pod["metadata"]?["deletionTimestamp"] is not null;
        if (!ignoresBudgets)
        {
            var labels = LabelSelector.LabelsOf(pod["metadata"]?["labels"]);
            var budgets = objects.Store.List(Budgets.Key(ns, null)).Items.Select(i => ClusterObjects.Parse(i.Value))
                .Where(b => Selects(b, labels)).ToList();
            if (budgets.Count > 1)
                throw new StatusException(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
            if (budgets.Count == 1) Spend(objects, ns, budgets[0], pod, dryRun, now);
        }
        if (!dryRun && phase is not ("Succeeded" or "Failed") && pod["metadata"]?["deletionTimestamp"] is null) MarkDisruptionTarget(objects, ns, name, now);
        long? grace = options?["gracePeriodSeconds"] is JsonValue g && g.TryGetValue<long>(out var seconds) ? Math.Max(0, seconds) : null;
        objects.Delete(ResourceKinds.Pod, ns, name, long.TryParse(Json.Str(options?["preconditions"]?["resourceVersion"]), out var rv) ? rv : null,
            Json.Str(options?["preconditions"]?["uid"]), dryRun, grace, Json.Str(options?["propagationPolicy"]));
        return new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success", ["code"] = 201 };
    }

    /// <summary>As Kubernetes does before it deletes an evicted pod: the DisruptionTarget condition (reason
    /// EvictionByEvictionAPI), so that whoever owns the pod can tell a disruption from a failure — a Job's
    /// podFailurePolicy can ignore it. The node's status writes keep conditions they do not own.</summary>
    private static void MarkDisruptionTarget(ClusterObjects objects, string ns, string name, DateTimeOffset now)
    {
        try
        {
            objects.Update(ResourceKinds.Pod, ns, name, null, pod =>
            {
                var status = pod["status"] as JsonObject ?? [];
                var conditions = status["conditions"] as JsonArray ?? [];
                foreach (var old in conditions.OfType<JsonObject>().Where(c => Json.Str(c["type"]) == "DisruptionTarget").ToList()) conditions.Remove(old);
                conditions.Add((JsonNode)new JsonObject
                {
                    ["type"] = "DisruptionTarget", ["status"] = "True", ["reason"] = "EvictionByEvictionAPI", ["message"] = "Eviction API: evicting",
                    ["lastTransitionTime"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
                });
                status["conditions"] = conditions;
                pod["status"] = status;
                return pod;
            }, statusOnly: true, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
    }

    private static void Spend(ClusterObjects objects, string ns, JsonObject budget, JsonObject pod, bool dryRun, DateTimeOffset now)
    {
        var budgetName = Json.Str(budget["metadata"]?["name"])!;
        var podName = Json.Str(pod["metadata"]?["name"])!;
        var ready = (pod["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().Any(c => Json.Str(c["type"]) == "Ready" && Json.Str(c["status"]) == "True") == true;
        if (!ready)
        {
            var status = budget["status"];
            var met = (status?["currentHealthy"]?.GetValue<long>() ?? 0) >= (status?["desiredHealthy"]?.GetValue<long>() ?? 0);
            if (Json.Str(budget["spec"]?["unhealthyPodEvictionPolicy"]) == "AlwaysAllow" || met) return; // an unhealthy pod costs the budget nothing
        }
        objects.Update(Budgets, ns, budgetName, null, current =>
        {
            var status = current["status"] as JsonObject ?? new JsonObject();
            if ((status["observedGeneration"]?.GetValue<long>() ?? 0) < (current["metadata"]?["generation"]?.GetValue<long>() ?? 1))
                throw TooManyRequests(budgetName, "the disruption budget is being updated; try again");
            var allowed = status["disruptionsAllowed"]?.GetValue<long>() ?? 0;
            if (allowed <= 0)
                throw TooManyRequests(budgetName, $"The disruption budget {budgetName} needs {status["desiredHealthy"]?.GetValue<long>() ?? 0} healthy pods and has {status["currentHealthy"]?.GetValue<long>() ?? 0} currently");
            status["disruptionsAllowed"] = allowed - 1;
            var disrupted = status["disruptedPods"] as JsonObject ?? new JsonObject();
            disrupted[podName] = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ");
            status["disruptedPods"] = disrupted;
            current["status"] = status;
            return current;
        }, statusOnly: true, dryRun: dryRun, manager: "kube-apiserver");
    }

    private static StatusException TooManyRequests(string budget, string cause) =>
        new(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", new JsonObject
        {
            ["causes"] = new JsonArray(new JsonObject { ["reason"] = "DisruptionBudget", ["message"] = cause }),
            ["retryAfterSeconds"] = 0,
        });
}
