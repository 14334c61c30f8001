using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// A Job's spec.podFailurePolicy applied to one failed pod, as Kubernetes' job controller does: the first rule that
/// matches decides. onExitCodes matches when a container (the named one, or any; init containers too) ended with a
/// non-zero exit code that is (In) or is not (NotIn) among the values; onPodConditions when the pod has a condition of
/// that type with that status (True unless given). No rule matching counts the failure, like a Count rule; FailIndex
/// (under backoffLimitPerIndex) counts it and gives its index up.
/// </summary>
public static class PodFailurePolicy
{
    public enum Action { Count, Ignore, FailJob, FailIndex }

    public readonly record struct Verdict(Action Action, int? RuleIndex, string? Message);

    public static Verdict Judge(JsonNode? policy, JsonObject pod)
    {
        if (policy?["rules"] is not JsonArray rules) return new(Action.Count, null, null);
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i] is not JsonObject rule) continue;
            var action = Json.Str(rule["action"]) switch
            {
                "FailJob" => Action.FailJob,
                "FailIndex" => Action.FailIndex,
                "Ignore" => Action.Ignore,
                _ => Action.Count,
            };
            var ruleName = Json.Str(rule["action"]) ?? "Count";
            if (rule["onExitCodes"] is JsonObject codes && MatchingExit(codes, pod) is { } exit)
                return new(action, i, $"Container {exit.Container} for pod {PodName(pod)} failed with exit code {exit.Code} matching {ruleName} rule at index {i}");
            if (rule["onPodConditions"] is JsonArray patterns && MatchingCondition(patterns, pod) is { } condition)
                return new(action, i, $"Pod {PodName(pod)} has condition {condition} matching {ruleName} rule at index {i}");
        }
        return new(Action.Count, null, null);
    }

    private static string PodName(JsonObject pod) => $"{Json.Str(pod["metadata"]?["namespace"])}/{Json.Str(pod["metadata"]?["name"])}";

    private static (string Container, int Code)? MatchingExit(JsonObject requirement, JsonObject pod)
    {
        var container = Json.Str(requirement["containerName"]);
        var notIn = Json.Str(requirement["operator"]) == "NotIn";
        var values = (requirement["values"] as JsonArray ?? []).Select(v => v is JsonValue jv && jv.TryGetValue<int>(out var n) ? n : (int?)null).OfType<int>().ToHashSet();
        var statuses = (pod["status"]?["initContainerStatuses"] as JsonArray ?? []).Concat(pod["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>();
        foreach (var status in statuses)
        {
            var name = Json.Str(status["name"]) ?? "";
            if (container is not null && name != container) continue;
            // A container that succeeded is no part of the check.
            if (status["state"]?["terminated"]?["exitCode"] is not JsonValue v || !v.TryGetValue<int>(out var code) || code == 0) continue;
            if (values.Contains(code) != notIn) return (name, code);
        }
        return null;
    }

    private static string? MatchingCondition(JsonArray patterns, JsonObject pod)
    {
        var conditions = (pod["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        foreach (var pattern in patterns.OfType<JsonObject>())
        {
            var type = Json.Str(pattern["type"]);
            var status = Json.Str(pattern["status"]) ?? "True";
            if (conditions.Any(c => Json.Str(c["type"]) == type && Json.Str(c["status"]) == status)) return type;
        }
        return null;
    }
}
