using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// autoscaling/v1 HorizontalPodAutoscalers, served over the stored autoscaling/v2 objects as the API server converts
/// them: spec.targetCPUUtilizationPercentage is a Resource cpu Utilization metric, status.currentCPUUtilizationPercentage
/// its current value; what v1 has no field for (other metrics, behavior, conditions, other current metrics) travels in
/// the autoscaling.alpha.kubernetes.io annotations, so a v1 read-modify-write keeps it.
/// </summary>
internal static class HorizontalPodAutoscalerV1
{
    private const string MetricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics";
    private const string CurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics";
    private const string ConditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions";
    private const string BehaviorAnnotation = "autoscaling.alpha.kubernetes.io/behavior";

    private static bool IsCpuUtilization(JsonNode? metric) =>
        Json.Str(metric?["type"]) == "Resource" && Json.Str(metric?["resource"]?["name"]) == "cpu" && Json.Str(metric?["resource"]?["target"]?["type"]) == "Utilization";

    /// <summary>The stored v2 object as v1.</summary>
    public static JsonObject FromStored(JsonObject v2)
    {
        var v1 = new JsonObject { ["apiVersion"] = "autoscaling/v1", ["kind"] = "HorizontalPodAutoscaler", ["metadata"] = v2["metadata"]?.DeepClone() };
        var annotations = new JsonObject();
        if (v2["spec"] is JsonObject spec)
        {
            var s = new JsonObject { ["scaleTargetRef"] = spec["scaleTargetRef"]?.DeepClone(), ["minReplicas"] = spec["minReplicas"]?.DeepClone(), ["maxReplicas"] = spec["maxReplicas"]?.DeepClone() };
            var others = new JsonArray();
            foreach (var m in (spec["metrics"] as JsonArray ?? []).Where(m => m is not null))
                if (IsCpuUtilization(m) && s["targetCPUUtilizationPercentage"] is null) s["targetCPUUtilizationPercentage"] = m!["resource"]!["target"]!["averageUtilization"]?.DeepClone();
                else others.Add(m!.DeepClone());
            if (others.Count > 0) annotations[MetricsAnnotation] = others.ToJsonString();
            if (spec["behavior"] is JsonObject behavior) annotations[BehaviorAnnotation] = behavior.ToJsonString();
            v1["spec"] = s;
        }
        if (v2["status"] is JsonObject status)
        {
            var st = new JsonObject
            {
                ["observedGeneration"] = status["observedGeneration"]?.DeepClone(), ["lastScaleTime"] = status["lastScaleTime"]?.DeepClone(),
                ["currentReplicas"] = status["currentReplicas"]?.DeepClone() ?? 0, ["desiredReplicas"] = status["desiredReplicas"]?.DeepClone() ?? 0,
            };
            var others = new JsonArray();
            foreach (var m in (status["currentMetrics"] as JsonArray ?? []).Where(m => m is not null))
                if (Json.Str(m!["type"]) == "Resource" && Json.Str(m["resource"]?["name"]) == "cpu" && m["resource"]?["current"]?["averageUtilization"] is { } cpu && st["currentCPUUtilizationPercentage"] is null)
                    st["currentCPUUtilizationPercentage"] = cpu.DeepClone();
                else others.Add(m.DeepClone());
            if (others.Count > 0) annotations[CurrentMetricsAnnotation] = others.ToJsonString();
            if (status["conditions"] is JsonArray { Count: > 0 } conditions) annotations[ConditionsAnnotation] = conditions.ToJsonString();
            v1["status"] = st;
        }
        if (annotations.Count > 0)
        {
            var meta = Json.Metadata(v1);
            var all = Json.Child(meta, "annotations");
            foreach (var (k, v) in annotations) all[k] = v!.DeepClone();
        }
        return v1;
    }

    /// <summary>A v1 object as the v2 object stored. Annotations that do not hold JSON are refused with their path.</summary>
    public static JsonObject ToStored(JsonObject v1)
    {
        var v2 = (JsonObject)v1.DeepClone();
        v2["apiVersion"] = "autoscaling/v2";
        var annotations = v2["metadata"]?["annotations"] as JsonObject;
        JsonNode? Take(string key)
        {
            if (annotations?[key] is not { } value) return null;
            annotations.Remove(key);
            try { return JsonNode.Parse(Json.Str(value) ?? ""); }
            catch (System.Text.Json.JsonException e) { throw StatusException.BadRequest($"metadata.annotations[{key}]: not JSON: {e.Message}"); }
        }
        var metrics = Take(MetricsAnnotation) as JsonArray ?? [];
        var behavior = Take(BehaviorAnnotation);
        var currentMetrics = Take(CurrentMetricsAnnotation) as JsonArray ?? [];
        var conditions = Take(ConditionsAnnotation);
        if (annotations is { Count: 0 }) ((JsonObject)v2["metadata"]!).Remove("annotations");
        if (v1["spec"] is JsonObject spec)
        {
            var s = new JsonObject { ["scaleTargetRef"] = spec["scaleTargetRef"]?.DeepClone(), ["minReplicas"] = spec["minReplicas"]?.DeepClone(), ["maxReplicas"] = spec["maxReplicas"]?.DeepClone() };
            if (spec["targetCPUUtilizationPercentage"] is { } target)
                metrics.Insert(0, new JsonObject
                {
                    ["type"] = "Resource",
                    ["resource"] = new JsonObject { ["name"] = "cpu", ["target"] = new JsonObject { ["type"] = "Utilization", ["averageUtilization"] = target.DeepClone() } },
                });
            if (metrics.Count > 0) s["metrics"] = metrics;
            if (behavior is not null) s["behavior"] = behavior;
            v2["spec"] = s;
        }
        if (v1["status"] is JsonObject status)
        {
            var st = new JsonObject
            {
                ["observedGeneration"] = status["observedGeneration"]?.DeepClone(), ["lastScaleTime"] = status["lastScaleTime"]?.DeepClone(),
                ["currentReplicas"] = status["currentReplicas"]?.DeepClone(), ["desiredReplicas"] = status["desiredReplicas"]?.DeepClone(),
            };
            if (status["currentCPUUtilizationPercentage"] is { } cpu)
                currentMetrics.Insert(0, new JsonObject
                {
                    ["type"] = "Resource",
                    ["resource"] = new JsonObject { ["name"] = "cpu", ["current"] = new JsonObject { ["averageUtilization"] = cpu.DeepClone() } },
                });
            if (currentMetrics.Count > 0) st["currentMetrics"] = currentMetrics;
            if (conditions is not null) st["conditions"] = conditions;
            v2["status"] = st;
        }
        return v2;
    }
}
