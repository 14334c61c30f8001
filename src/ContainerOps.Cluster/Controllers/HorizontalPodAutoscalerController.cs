using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// The HorizontalPodAutoscaler (autoscaling/v2, as kube-controller-manager runs it): every sync period it reads the
/// target's pods' CPU and memory from the node's metrics (<see cref="IResourceMetrics"/>), compares them with the
/// targets — utilisation as a percentage of the pods' requests, or an average value — and sets the target's replica
/// count through its scale: desired = ceil(current × usage / target), unchanged within a 10 % tolerance, the largest
/// over all metrics, kept within minReplicas…maxReplicas, smoothed by the behavior's stabilisation windows (scale-down
/// looks back 300 s by default and takes the highest recommendation) and limited by its policies (by default up by
/// max(4 pods, 100 %) and down by 100 % per 15 s). Status and conditions as Kubernetes writes them.
/// </summary>
public sealed class HorizontalPodAutoscalerController : IController
{
    private const double Tolerance = 0.1;
    private ControllerContext _context = null!;
    private Informer _autoscalers = null!;
    private Informer _pods = null!;
    private EventRecorder _events = null!;
    /// <summary>Recent recommendations per autoscaler (for the stabilisation windows), as the controller keeps them in memory.</summary>
    private readonly ConcurrentDictionary<string, List<(DateTimeOffset At, int Replicas)>> _recommendations = new();

    public string Name => "horizontal-pod-autoscaler";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _events = context.Events(Name);
        _autoscalers = context.Informers.For(ResourceKinds.HorizontalPodAutoscaler);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _autoscalers.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
    }

    private sealed record Recommendation(int Replicas, string Metric, JsonObject Current, bool Above);

    public async Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        var next = Reconciled.After(_context.Options.HorizontalSyncPeriod);
        if (_autoscalers.Get(key) is not { } cached)
        {
            _recommendations.TryRemove(key, out _);
            return Reconciled.Done;
        }
        var hpa = (JsonObject)cached.DeepClone();
        var ns = Json.Str(hpa["metadata"]?["namespace"]);
        var spec = hpa["spec"] as JsonObject ?? [];
        var status = (JsonObject?)hpa["status"]?.DeepClone() ?? [];
        var now = _context.Clock.GetUtcNow();
        status["observedGeneration"] = hpa["metadata"]?["generation"]?.DeepClone();

        var targetRef = spec["scaleTargetRef"] as JsonObject ?? [];
        var targetKind = ResourceKinds.All.FirstOrDefault(k => k.Kind == Json.Str(targetRef["kind"]) && k.ApiVersion == (Json.Str(targetRef["apiVersion"]) ?? k.ApiVersion));
        JsonObject target;
        try
        {
            if (targetKind is null || !Scales.Has(targetKind)) throw new StatusException(404, "NotFound", $"{Json.Str(targetRef["kind"])} has no scale subresource");
            target = _context.Objects.Get(targetKind, ns, Json.Str(targetRef["name"]) ?? "");
        }
        catch (StatusException e)
        {
            SetCondition(status, "AbleToScale", "False", "FailedGetScale", $"the HPA controller was unable to get the target's current scale: {e.Message}", now);
            _events.Warning(hpa, "FailedGetScale", e.Message);
            return WriteStatus(hpa, status, next);
        }
        var current = target["spec"]?["replicas"] is JsonValue r && r.TryGetValue<int>(out var rv) ? rv : 1;
        int min = spec["minReplicas"] is JsonValue mn && mn.TryGetValue<int>(out var m) ? m : 1;
        int max = spec["maxReplicas"] is JsonValue mx && mx.TryGetValue<int>(out var x) ? x : current;
        status["currentReplicas"] = current;
        SetCondition(status, "AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale", now);
        if (current == 0 && min != 0)
        {
            SetCondition(status, "ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", now);
            status["desiredReplicas"] = 0;
            return WriteStatus(hpa, status, next);
        }

        var selector = LabelSelector.FromObject(target["spec"]?["selector"] as JsonObject ?? []);
        var pods = _pods.List(ns).Where(p => PodStates.IsActive(p) && Json.Str(p["status"]?["phase"]) == "Running"
            && selector.Matches(LabelSelector.LabelsOf(p["metadata"]?["labels"]))).ToList();
        var metrics = _context.Metrics();
        List<Recommendation> recommendations;
        try
        {
            if (metrics is null) throw new InvalidOperationException("no node measures pods on this daemon (metrics.k8s.io is not served)");
            var usage = (await metrics.PodsAsync(ct)).Where(u => u.Namespace == ns).ToDictionary(u => u.Name);
            recommendations = MetricSpecs(spec).Select(metric => Recommend(metric, pods, usage, current)).ToList();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            SetCondition(status, "ScalingActive", "False", "FailedGetResourceMetric", e.Message, now);
            _events.Warning(hpa, "FailedGetResourceMetric", e.Message);
            return WriteStatus(hpa, status, next);
        }
        SetCondition(status, "ScalingActive", "True", "ValidMetricFound", $"the HPA was able to successfully calculate a replica count from {recommendations[0].Metric}", now);
        status["currentMetrics"] = new JsonArray(recommendations.Select(c => (JsonNode?)c.Current.DeepClone()).ToArray());

        var best = recommendations.MaxBy(c => c.Replicas)!;
        var desired = Stabilize(key, spec, best.Replicas, current, now);
        var limited = Math.Clamp(desired, min, Math.Max(min, max));
        SetCondition(status, "ScalingLimited", limited != desired ? "True" : "False",
            limited > desired ? "TooFewReplicas" : limited < desired ? "TooManyReplicas" : "DesiredWithinRange",
            limited > desired ? "the desired replica count is less than the minimum replica count"
            : limited < desired ? "the desired replica count is more than the maximum replica count" : "the desired count is within the acceptable range", now);
        status["desiredReplicas"] = limited;

        if (limited != current)
        {
            try
            {
                _context.Objects.Update(targetKind!, ns, Json.Str(targetRef["name"])!, null, t => { t["spec"]!["replicas"] = limited; return t; }, statusOnly: false, dryRun: false);
                var direction = best.Above ? "above" : "below";
                _events.Normal(hpa, "SuccessfulRescale", $"New size: {limited}; reason: {(limited > current && best.Replicas <= current ? "Current number of replicas below Spec.MinReplicas" : $"{best.Metric} {direction} target")}");
                status["lastScaleTime"] = Json.Timestamp(now);
            }
            catch (StatusException e)
            {
                SetCondition(status, "AbleToScale", "False", "FailedUpdateScale", $"the HPA controller was unable to update the target scale: {e.Message}", now);
                _events.Warning(hpa, "FailedRescale", $"New size: {limited}; error: {e.Message}");
            }
        }
        return WriteStatus(hpa, status, next);
    }

    /// <summary>The metrics to follow: spec.metrics, or CPU at 80 % of requests when none are given (Kubernetes' default).</summary>
    private static IEnumerable<JsonObject> MetricSpecs(JsonObject spec) =>
        spec["metrics"] is JsonArray { Count: > 0 } given ? given.OfType<JsonObject>()
            : [new JsonObject { ["type"] = "Resource", ["resource"] = new JsonObject { ["name"] = "cpu", ["target"] = new JsonObject { ["type"] = "Utilization", ["averageUtilization"] = 80 } } }];

    /// <summary>What one Resource metric (the pods' whole usage) or ContainerResource metric (one container's) asks
    /// for: ceil(pods measured × usage / target), or the current count within the tolerance.</summary>
    private static Recommendation Recommend(JsonObject metric, List<JsonObject> pods, Dictionary<string, PodUsage> usage, int current)
    {
        var type = Json.Str(metric["type"]);
        var field = type == "ContainerResource" ? "containerResource" : "resource";
        if (type is not ("Resource" or "ContainerResource") || metric[field] is not JsonObject resource)
            throw new InvalidOperationException($"metric type {type} is not supported: only Resource and ContainerResource metrics (cpu, memory) are measured here");
        var container = type == "ContainerResource" ? Json.Str(resource["container"]) ?? "" : null;
        var name = Json.Str(resource["name"]) ?? "";
        if (name is not ("cpu" or "memory")) throw new InvalidOperationException($"resource {name} is not measured: only cpu and memory");
        var target = resource["target"] as JsonObject ?? [];
        var measured = pods.Where(p => usage.ContainsKey(Json.Str(p["metadata"]?["name"]) ?? "")).ToList();
        if (measured.Count == 0) throw new InvalidOperationException($"unable to get metrics for resource {name}: no metrics returned for the target's pods");
        double Used(JsonObject p)
        {
            var measuredContainers = usage[Json.Str(p["metadata"]?["name"])!].Containers.Where(c => container is null || c.Name == container).ToList();
            if (container is not null && measuredContainers.Count == 0)
                throw new InvalidOperationException($"failed to get container metrics: container {container} not present in metrics for pod {Json.Str(p["metadata"]?["namespace"])}/{Json.Str(p["metadata"]?["name"])}");
            return measuredContainers.Sum(c => name == "cpu" ? c.CpuNanoCores / 1e9 : c.MemoryBytes);
        }
        var totalUsed = measured.Sum(Used);
        double ratio;
        JsonObject currentValue;
        if (Json.Str(target["type"]) == "AverageValue")
        {
            var wanted = Quantity(Json.Str(target["averageValue"]) ?? throw new FormatException($"{name}: target.averageValue is missing"));
            var average = totalUsed / measured.Count;
            ratio = average / wanted;
            currentValue = new JsonObject { ["averageValue"] = Format(name, average) };
        }
        else
        {
            var percent = target["averageUtilization"] is JsonValue u && u.TryGetValue<int>(out var pct) ? pct : throw new FormatException($"{name}: target.averageUtilization is missing");
            var requested = measured.Sum(p => Requested(p, name, container));
            if (requested <= 0) throw new InvalidOperationException($"failed to get {name} utilization: missing request for {name} in the target's pods");
            var utilization = 100 * totalUsed / requested;
            ratio = utilization / percent;
            currentValue = new JsonObject { ["averageUtilization"] = (int)Math.Round(utilization), ["averageValue"] = Format(name, totalUsed / measured.Count) };
        }
        var replicas = Math.Abs(ratio - 1) <= Tolerance ? current : (int)Math.Ceiling(ratio * measured.Count);
        var what = $"{name}{(container is null ? "" : " container")} resource";
        var label = Json.Str(target["type"]) == "AverageValue" ? what : $"{what} utilization (percentage of request)";
        var status = new JsonObject { ["name"] = name };
        if (container is not null) status["container"] = container;
        status["current"] = currentValue;
        return new Recommendation(replicas, label, new JsonObject { ["type"] = type, [field] = status }, ratio > 1);
    }

    private static double Requested(JsonObject pod, string resource, string? container) =>
        (pod["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Where(c => container is null || Json.Str(c["name"]) == container)
            .Sum(c => Json.Str(c["resources"]?["requests"]?[resource]) is { } q ? Quantity(q) : 0) ?? 0;

    private static string Format(string resource, double value) =>
        resource == "cpu" ? $"{(long)Math.Round(value * 1000)}m" : ((long)value).ToString(CultureInfo.InvariantCulture);

    /// <summary>A Kubernetes quantity as a number (cores for CPU, bytes for memory), read by the node's own parser.</summary>
    private static double Quantity(string text)
    {
        return Node.Quantity.TryValue(text, out var value) ? (double)value : throw new FormatException($"\"{text}\" is not a quantity");
    }

    /// <summary>The behavior's smoothing: within the scale-down window the highest recent recommendation wins (so a
    /// brief dip does not remove pods), within the scale-up window the lowest; then the policies' rate limits.</summary>
    private int Stabilize(string key, JsonObject spec, int recommended, int current, DateTimeOffset now)
    {
        var behavior = spec["behavior"] as JsonObject;
        var up = behavior?["scaleUp"] as JsonObject;
        var down = behavior?["scaleDown"] as JsonObject;
        int Window(JsonObject? rules, int fallback) => rules?["stabilizationWindowSeconds"] is JsonValue v && v.TryGetValue<int>(out var s) ? s : fallback;
        var upWindow = TimeSpan.FromSeconds(Window(up, 0));
        var downWindow = TimeSpan.FromSeconds(Window(down, 300));
        var history = _recommendations.GetOrAdd(key, _ => []);
        int desired;
        lock (history)
        {
            history.Add((now, recommended));
            history.RemoveAll(h => now - h.At > (upWindow > downWindow ? upWindow : downWindow));
            var upFloor = history.Where(h => now - h.At <= upWindow).Min(h => h.Replicas);
            var downCeiling = history.Where(h => now - h.At <= downWindow).Max(h => h.Replicas);
            desired = recommended > current ? Math.Min(recommended, Math.Max(upFloor, current)) : recommended < current ? Math.Max(recommended, Math.Min(downCeiling, current)) : current;
        }
        if (desired > current)
        {
            var limit = Limit(up, current, scaleUp: true);
            return Math.Min(desired, limit);
        }
        if (desired < current) return Math.Max(desired, Limit(down, current, scaleUp: false));
        return current;
    }

    /// <summary>The farthest the policies allow in one step (selectPolicy Max: the most permissive; Min: the least;
    /// Disabled: none), from Kubernetes' defaults when none are given.</summary>
    private static int Limit(JsonObject? rules, int current, bool scaleUp)
    {
        var select = Json.Str(rules?["selectPolicy"]) ?? "Max";
        if (select == "Disabled") return current;
        var policies = rules?["policies"] as JsonArray is { Count: > 0 } given ? given.OfType<JsonObject>().ToList()
            : scaleUp
                ? [new JsonObject { ["type"] = "Pods", ["value"] = 4 }, new JsonObject { ["type"] = "Percent", ["value"] = 100 }]
                : [new JsonObject { ["type"] = "Percent", ["value"] = 100 }];
        var limits = policies.Select(p =>
        {
            var value = p["value"] is JsonValue v && v.TryGetValue<int>(out var n) ? n : 0;
            var pods = Json.Str(p["type"]) == "Pods";
            return scaleUp
                ? pods ? current + value : (int)Math.Ceiling(current * (1 + value / 100.0))
                : pods ? current - value : (int)Math.Floor(current * (1 - value / 100.0));
        }).ToList();
        // Up: Max allows the largest; down: Max allows the largest change, i.e. the lowest count.
        return scaleUp == (select == "Max") ? limits.Max() : limits.Min();
    }

    private static void SetCondition(JsonObject status, string type, string value, string reason, string message, DateTimeOffset now)
    {
        var conditions = Json.ChildArray(status, "conditions");
        var existing = conditions.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == type);
        var since = existing is not null && Json.Str(existing["status"]) == value ? Json.Str(existing["lastTransitionTime"]) : Json.Timestamp(now);
        var condition = new JsonObject { ["type"] = type, ["status"] = value, ["lastTransitionTime"] = since, ["reason"] = reason, ["message"] = message };
        if (existing is not null) conditions[conditions.IndexOf(existing)] = condition;
        else conditions.Add((JsonNode)condition);
    }

    private Reconciled WriteStatus(JsonObject hpa, JsonObject status, Reconciled result)
    {
        if (JsonNode.DeepEquals(status, hpa["status"])) return result;
        try
        {
            _context.Objects.Update(ResourceKinds.HorizontalPodAutoscaler, Json.Str(hpa["metadata"]?["namespace"]), Json.Str(hpa["metadata"]?["name"])!, null, fresh =>
            {
                if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(hpa)) fresh["status"] = status.DeepClone();
                return fresh;
            }, statusOnly: true, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
        return result;
    }
}
