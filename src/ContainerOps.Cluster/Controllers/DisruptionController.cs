using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-controller-manager's disruption controller: keeps each PodDisruptionBudget's status — the pods it expects, how
/// many are healthy (ready, not being deleted, not just evicted), how many must stay healthy, and so how many may be
/// disrupted now — which the eviction subresource (<see cref="Evictions"/>) spends. minAvailable as a number counts
/// against the pods the selector matches; a percentage, or maxUnavailable, against the replicas their controllers
/// want (a Deployment's through its ReplicaSet, a StatefulSet's, a ReplicaSet's), or the pods themselves when they
/// have no controller. Pods an eviction let go are held in disruptedPods until they are seen deleted, or for two
/// minutes, so that a second eviction cannot spend the same disruption.
/// </summary>
public sealed class DisruptionController : IController
{
    private static readonly TimeSpan DisruptedPodTimeout = TimeSpan.FromMinutes(2);
    private static readonly ResourceKind Budgets = ResourceKinds.All.First(k => k.Kind == "PodDisruptionBudget");
    private Informer _budgets = null!, _pods = null!;
    private ControllerContext _context = null!;

    public string Name => "disruption-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _budgets = context.Informers.For(Budgets);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _budgets.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        // A pod's change wakes the budgets of its namespace that select it, before or now.
        _pods.AddHandler(e =>
        {
            foreach (var budget in _budgets.List(Json.Str(e.Object["metadata"]?["namespace"])))
                if (Selects(budget, e.Object) || (e.Old is { } old && Selects(budget, old))) queue.Add(Informer.KeyOf(budget));
        });
    }

    private static bool Selects(JsonObject budget, JsonObject pod) => Evictions.Selects(budget, LabelSelector.LabelsOf(pod["metadata"]?["labels"]));

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        var (ns, name) = Informer.SplitKey(key);
        if (_budgets.Get(key) is not { } budget || OwnerReferences.IsBeingDeleted(budget)) return Task.FromResult(Reconciled.Done);
        var now = _context.Clock.GetUtcNow();
        var pods = _pods.List(ns).Where(p => Selects(budget, p)).ToList();
        var spec = budget["spec"] as JsonObject ?? new JsonObject();
        int expected, desired;
        if (spec["maxUnavailable"] is { } maxUnavailable)
        {
            expected = ControllersScale(pods) ?? pods.Count;
            desired = Math.Max(0, expected - DeploymentMath.Resolve(maxUnavailable, expected, roundUp: true));
        }
        else if (spec["minAvailable"] is JsonValue min && min.TryGetValue<int>(out var count))
        {
            expected = pods.Count;
            desired = count;
        }
        else
        {
            expected = ControllersScale(pods) ?? pods.Count;
            desired = DeploymentMath.Resolve(spec["minAvailable"] ?? "100%", expected, roundUp: true);
        }

        // Evicted pods stay counted as disrupted until the store shows them going, or for two minutes.
        var disrupted = new JsonObject();
        Reconciled next = Reconciled.Done;
        foreach (var (pod, at) in budget["status"]?["disruptedPods"] as JsonObject ?? [])
        {
            var current = pods.FirstOrDefault(p => Json.Str(p["metadata"]?["name"]) == pod);
            if (current is null || OwnerReferences.IsBeingDeleted(current) || PodStates.Time(at) is not { } since || since + DisruptedPodTimeout <= now) continue;
            disrupted[pod] = at?.DeepClone();
            next = Reconciled.Sooner(next, Reconciled.After(since + DisruptedPodTimeout - now));
        }
        var healthy = pods.Count(p => PodStates.IsReady(p) && !OwnerReferences.IsBeingDeleted(p) && !disrupted.ContainsKey(Json.Str(p["metadata"]?["name"])!));
        var allowed = Math.Max(0, healthy - desired);
        var generation = budget["metadata"]?["generation"]?.GetValue<long>() ?? 1;
        var status = new JsonObject
        {
            ["observedGeneration"] = generation,
            ["disruptedPods"] = disrupted.Count > 0 ? disrupted : null,
            ["disruptionsAllowed"] = allowed, ["currentHealthy"] = healthy, ["desiredHealthy"] = desired, ["expectedPods"] = expected,
        };
        if (status["disruptedPods"] is null) status.Remove("disruptedPods");
        var old = budget["status"] as JsonObject;
        var condition = new JsonObject
        {
            ["type"] = "DisruptionAllowed", ["status"] = allowed > 0 ? "True" : "False",
            ["reason"] = allowed > 0 ? "SufficientPods" : "InsufficientPods", ["message"] = "", ["observedGeneration"] = generation,
        };
        var oldCondition = (old?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == "DisruptionAllowed");
        condition["lastTransitionTime"] = Json.Str(oldCondition?["status"]) == Json.Str(condition["status"])
            ? oldCondition!["lastTransitionTime"]?.DeepClone() : now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ");
        status["conditions"] = new JsonArray(condition);
        if (old is not null && JsonNode.DeepEquals(old, status)) return Task.FromResult(next);
        try
        {
            _context.Objects.Update(Budgets, ns, name, null, o =>
            {
                // An eviction spent a disruption after the informer's copy was read: counted again from the newer one.
                if (!JsonNode.DeepEquals(o["status"]?["disruptedPods"], old?["disruptedPods"])) throw StatusException.Conflict(Budgets, name);
                o["status"] = status.DeepClone();
                return o;
            }, statusOnly: true, dryRun: false, manager: "kube-controller-manager");
        }
        catch (StatusException e) when (e.Code is 404 or 409) { return Task.FromResult(Reconciled.After(TimeSpan.FromMilliseconds(200))); }
        return Task.FromResult(next);
    }

    /// <summary>The replicas the pods' controllers want together, or null when a pod has none that scales.</summary>
    private int? ControllersScale(List<JsonObject> pods)
    {
        var seen = new Dictionary<string, int>();
        foreach (var pod in pods)
        {
            if (OwnerReferences.ControllerOf(pod) is not { } owner) return null;
            var ns = Json.Str(pod["metadata"]?["namespace"]);
            var (kind, ownerName) = (Json.Str(owner["kind"]), Json.Str(owner["name"]) ?? "");
            JsonObject? scaled = kind switch
            {
                "ReplicaSet" => Read(ResourceKinds.ReplicaSet, ns, ownerName),
                "StatefulSet" => Read(ResourceKinds.StatefulSet, ns, ownerName),
                _ => null,
            };
            if (scaled is null) return null;
            // A Deployment's ReplicaSets share its scale: the Deployment's replicas count once.
            if (kind == "ReplicaSet" && OwnerReferences.ControllerOf(scaled) is { } deployment && Json.Str(deployment["kind"]) == "Deployment"
                && Read(ResourceKinds.Deployment, ns, Json.Str(deployment["name"]) ?? "") is { } d)
                scaled = d;
            seen[Json.Str(scaled["metadata"]?["uid"]) ?? ""] = DeploymentMath.Replicas(scaled);
        }
        return seen.Count == 0 ? null : seen.Values.Sum();
    }

    private JsonObject? Read(ResourceKind kind, string? ns, string name) =>
        _context.Objects.Store.Get(kind.Key(ns, name)) is { } stored ? ClusterObjects.Parse(stored.Value) : null;
}
