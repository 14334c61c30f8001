using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Node;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Keeps one pod of each DaemonSet on every eligible node, as Kubernetes' daemon set controller does: a node is eligible
/// when it satisfies the template's nodeSelector and required node affinity and the pod tolerates its NoSchedule and
/// NoExecute taints (with the tolerations Kubernetes adds to daemon pods: not-ready and unreachable for NoExecute,
/// the pressure, unschedulable and network taints for NoSchedule). Pods are bound to their node directly (spec.nodeName,
/// and a matchFields node affinity as Kubernetes writes it). A pod on a node that stopped being eligible goes (for an
/// untolerated NoExecute taint, or a selector or affinity that no longer matches); a failed one is made again.
/// RollingUpdate replaces pods of old revisions within maxUnavailable, or by surging a new pod beside the old one
/// within maxSurge; OnDelete waits for the user. Revisions are ControllerRevisions (<see cref="ControllerHistory"/>).
/// </summary>
public sealed class DaemonSetController : IController
{
    private ControllerContext _context = null!;
    private WorkQueue _queue = null!;
    private Informer _sets = null!;
    private Informer _pods = null!;
    private Informer _nodes = null!;
    private Informer _revisions = null!;
    private Expectations _expectations = null!;
    private EventRecorder _events = null!;
    private ControllerHistory _history = null!;

    public string Name => "daemonset-controller";

    /// <summary>The tolerations Kubernetes adds to every daemon pod (and network-unavailable for host-network ones).</summary>
    private static readonly (string Key, string Effect)[] AddedTolerations =
    [
        ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _queue = queue;
        _expectations = new Expectations(context.Options.ExpectationsTimeout, context.Clock);
        _events = context.Events(Name);
        _history = new ControllerHistory(context.Objects, ResourceKinds.DaemonSet);
        _sets = context.Informers.For(ResourceKinds.DaemonSet);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _nodes = context.Informers.For(ResourceKinds.Node);
        _revisions = context.Informers.For(ResourceKinds.ControllerRevision);
        _sets.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        _pods.AddHandler(OnPod);
        // A node's labels, taints or readiness decide where daemon pods belong: every set looks again (heartbeats that
        // change nothing of that are left out).
        _nodes.AddHandler(e =>
        {
            if (e.Old is not null && JsonNode.DeepEquals(e.Old["metadata"]?["labels"], e.Object["metadata"]?["labels"])
                && JsonNode.DeepEquals(e.Old["spec"], e.Object["spec"])) return;
            foreach (var set in _sets.List()) queue.Add(Informer.KeyOf(set));
        });
    }

    private static string? OwnerKey(JsonObject pod) =>
        OwnerReferences.ControllerOf(pod) is { } r && Json.Str(r["kind"]) == "DaemonSet" && Json.Str(r["apiVersion"]) == "apps/v1"
            ? Informer.KeyOf(Json.Str(pod["metadata"]?["namespace"]), Json.Str(r["name"]) ?? "") : null;

    private void OnPod(InformerEvent e)
    {
        var pod = e.Object;
        var owner = OwnerKey(pod);
        if (owner is not null)
        {
            _expectations.Observe(e, owner);
            _queue.Add(owner);
        }
        if (e.Old is not null && OwnerKey(e.Old) is { } before && before != owner) _queue.Add(before);
        if (owner is null && e.Type != WatchEventType.Deleted)
            foreach (var set in _sets.List(Json.Str(pod["metadata"]?["namespace"])))
                if (set["spec"]?["selector"] is JsonObject s && LabelSelector.FromObject(s) is { IsEmpty: false } selector
                    && selector.Matches(LabelSelector.LabelsOf(pod["metadata"]?["labels"])))
                    _queue.Add(Informer.KeyOf(set));
    }

    private static string NameOf(JsonObject o) => Json.Str(o["metadata"]?["name"]) ?? "";

    private static string? NodeOf(JsonObject pod) => Json.Str(pod["spec"]?["nodeName"]) is { Length: > 0 } n ? n : null;

    private static string? HashOf(JsonObject pod) => Json.Str(pod["metadata"]?["labels"]?[ControllerHistory.HashLabel]);

    /// <summary>Whether a daemon pod should be made on the node, and whether one there may stay.</summary>
    internal static (bool Run, bool Stay) Placement(JsonObject template, JsonObject node)
    {
        var pod = new JsonObject { ["spec"] = template["spec"]?.DeepClone() };
        if (!NodeAffinity.Matches(pod, node)) return (false, false);
        var tolerations = Tolerations(template["spec"] as JsonObject).OfType<JsonObject>().ToList();
        var run = true;
        foreach (var taint in (node["spec"]?["taints"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var effect = Json.Str(taint["effect"]);
            if (effect is not ("NoSchedule" or "NoExecute") || tolerations.Any(t => PodBinder.Tolerates(t, taint))) continue;
            if (effect == "NoExecute") return (false, false);
            run = false;
        }
        return (run, true);
    }

    /// <summary>The template's tolerations with those Kubernetes adds to daemon pods.</summary>
    private static JsonArray Tolerations(JsonObject? podSpec)
    {
        var tolerations = podSpec?["tolerations"]?.DeepClone() as JsonArray ?? [];
        var added = AddedTolerations.ToList();
        if (podSpec?["hostNetwork"] is JsonValue h && h.TryGetValue<bool>(out var host) && host) added.Add(("node.kubernetes.io/network-unavailable", "NoSchedule"));
        foreach (var (key, effect) in added)
            if (!tolerations.OfType<JsonObject>().Any(t => Json.Str(t["key"]) == key && Json.Str(t["effect"]) == effect))
                tolerations.Add((JsonNode)new JsonObject { ["key"] = key, ["operator"] = "Exists", ["effect"] = effect });
        return tolerations;
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (_sets.Get(key) is not { } cached)
        {
            _expectations.Forget(key);
            return Task.FromResult(Reconciled.Done);
        }
        var set = (JsonObject)cached.DeepClone();
        var (ns, name) = Informer.SplitKey(key);
        var selector = LabelSelector.FromObject(set["spec"]?["selector"] as JsonObject ?? []);
        if (selector.IsEmpty) return Task.FromResult(Reconciled.Done);
        var pods = OwnerReferences.Claim(_context.Objects, ResourceKinds.DaemonSet, ResourceKinds.Pod, set, selector,
            _pods.List(ns).Where(p => PodStates.Phase(p) is not "Succeeded")).ToList();
        var revisions = _history.Claim(set, selector, _revisions.List(ns));
        if (_history.FindOrCreate(set, revisions) is not { } update)
            throw new InvalidOperationException($"controller revision of daemonset {name} collides with an existing one");
        var hash = ControllerHistory.HashOf(update);
        var nodes = _nodes.List().ToList();
        var byNode = pods.Where(p => NodeOf(p) is not null).GroupBy(p => NodeOf(p)!).ToDictionary(g => g.Key, g => g.ToList());
        var template = set["spec"]?["template"] as JsonObject ?? [];
        var placements = nodes.ToDictionary(NameOf, n => Placement(template, n));
        if (_expectations.Satisfied(key) && !OwnerReferences.IsBeingDeleted(set))
        {
            var acted = Manage(set, key, nodes, placements, byNode, update, hash);
            if (!acted && Json.Str(set["spec"]?["updateStrategy"]?["type"]) is null or "RollingUpdate")
                RollingUpdate(set, key, placements, byNode, update, hash);
        }
        var live = new HashSet<string>(pods.Select(p => $"{name}-{HashOf(p)}")) { NameOf(update) };
        _history.Truncate(set, revisions, live);
        return Task.FromResult(WriteStatus(set, placements, byNode, hash));
    }

    /// <summary>Pods made where they are missing, removed where they do not belong, failed ones replaced, extra ones
    /// removed. True when it acted (the rolling update waits for the next look).</summary>
    private bool Manage(JsonObject set, string key, List<JsonObject> nodes, Dictionary<string, (bool Run, bool Stay)> placements,
        Dictionary<string, List<JsonObject>> byNode, JsonObject update, string hash)
    {
        var create = new List<string>();
        var delete = new List<JsonObject>();
        var surging = MaxSurge(set, placements.Values.Count(p => p.Run)) > 0;
        foreach (var node in nodes)
        {
            var nodeName = NameOf(node);
            var (run, stay) = placements[nodeName];
            var here = byNode.GetValueOrDefault(nodeName) ?? [];
            var alive = here.Where(p => !OwnerReferences.IsBeingDeleted(p)).ToList();
            if (!stay)
            {
                delete.AddRange(alive);
                continue;
            }
            var failed = alive.Where(p => PodStates.Phase(p) == "Failed").ToList();
            foreach (var pod in failed)
                _events.Warning(set, "FailedDaemonPod", $"Found failed daemon pod {Json.Str(pod["metadata"]?["namespace"])}/{NameOf(pod)} on node {nodeName}, will try to kill it");
            delete.AddRange(failed);
            alive = alive.Except(failed).ToList();
            if (alive.Count == 0)
            {
                // A node whose pod is still going gets its new one once it is gone.
                if (run && here.Count == 0) create.Add(nodeName);
                continue;
            }
            if (alive.Count == 1) continue;
            // Two pods: while surging, one old beside one new is the rolling update's business; otherwise the oldest stays.
            if (surging && alive.Count == 2 && alive.Count(p => HashOf(p) == hash) == 1) continue;
            delete.AddRange(alive.OrderBy(DeploymentMath.Created).Skip(1));
        }
        CreatePods(set, key, create, update, hash);
        DeletePods(set, key, delete);
        return create.Count + delete.Count > 0;
    }

    private int MaxSurge(JsonObject set, int desired) =>
        Json.Str(set["spec"]?["updateStrategy"]?["type"]) is null or "RollingUpdate"
            ? DeploymentMath.Resolve(set["spec"]?["updateStrategy"]?["rollingUpdate"]?["maxSurge"] ?? 0, desired, roundUp: true) : 0;

    /// <summary>
    /// Replaces pods of old revisions. Without surge: deletes old pods while at most maxUnavailable nodes lack an
    /// available pod (an old pod that is not available goes at once). With surge: makes a new pod beside an old one on
    /// up to maxSurge nodes at a time, and deletes the old one once the new one is available.
    /// </summary>
    private void RollingUpdate(JsonObject set, string key, Dictionary<string, (bool Run, bool Stay)> placements,
        Dictionary<string, List<JsonObject>> byNode, JsonObject update, string hash)
    {
        var now = _context.Clock.GetUtcNow();
        var minReady = set["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0;
        var desired = placements.Count(p => p.Value.Run);
        var surge = MaxSurge(set, desired);
        var maxUnavailable = DeploymentMath.Resolve(set["spec"]?["updateStrategy"]?["rollingUpdate"]?["maxUnavailable"] ?? 1, desired, roundUp: true);
        if (surge == 0 && maxUnavailable == 0) maxUnavailable = 1;
        bool Available(JsonObject p) => !OwnerReferences.IsBeingDeleted(p) && PodStates.IsAvailable(p, minReady, now);
        var delete = new List<JsonObject>();
        var create = new List<string>();
        if (surge == 0)
        {
            var unavailable = placements.Where(p => p.Value.Run).Count(p => !(byNode.GetValueOrDefault(p.Key) ?? []).Any(Available));
            foreach (var (node, (run, _)) in placements)
            {
                if (!run || byNode.GetValueOrDefault(node) is not { } here) continue;
                if (here.FirstOrDefault(p => HashOf(p) != hash && !OwnerReferences.IsBeingDeleted(p)) is not { } old) continue;
                if (!Available(old)) delete.Add(old);
                else if (unavailable < maxUnavailable) { delete.Add(old); unavailable++; }
            }
        }
        else
        {
            var surged = 0;
            var waiting = new List<string>();
            foreach (var (node, (run, _)) in placements)
            {
                if (!run || byNode.GetValueOrDefault(node) is not { } here) continue;
                var alive = here.Where(p => !OwnerReferences.IsBeingDeleted(p)).ToList();
                if (alive.FirstOrDefault(p => HashOf(p) != hash) is not { } old) continue;
                var fresh = alive.FirstOrDefault(p => HashOf(p) == hash);
                if (fresh is not null)
                {
                    surged++;
                    if (Available(fresh)) delete.Add(old);
                }
                else if (!Available(old)) delete.Add(old);
                else waiting.Add(node);
            }
            create.AddRange(waiting.Take(Math.Max(0, surge - surged)));
        }
        CreatePods(set, key, create, update, hash);
        DeletePods(set, key, delete);
    }

    private void CreatePods(JsonObject set, string key, List<string> nodes, JsonObject update, string hash)
    {
        if (nodes.Count == 0) return;
        _expectations.ExpectCreations(key, nodes.Count);
        for (var i = 0; i < nodes.Count; i++)
        {
            try { CreatePod(set, nodes[i], update, hash); }
            catch
            {
                // Creations never made are never seen.
                for (var j = i; j < nodes.Count; j++) _expectations.CreationObserved(key);
                throw;
            }
        }
    }

    private void CreatePod(JsonObject set, string nodeName, JsonObject update, string hash)
    {
        var template = ControllerHistory.TemplateOf(update);
        var meta = new JsonObject { ["generateName"] = NameOf(set) + "-" };
        foreach (var field in new[] { "labels", "annotations", "finalizers" })
            if (template["metadata"]?[field] is { } value) meta[field] = value.DeepClone();
        Json.Child(meta, "labels")[ControllerHistory.HashLabel] = hash;
        Json.Child(meta, "labels")["pod-template-generation"] = (set["metadata"]?["generation"]?.GetValue<long>() ?? 1).ToString();
        meta["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(set));
        var spec = template["spec"]?.DeepClone() as JsonObject ?? [];
        spec["tolerations"] = Tolerations(spec);
        spec["nodeName"] = nodeName;
        // The node affinity Kubernetes gives a daemon pod: its node, by name, replacing other metadata.name terms.
        var affinity = Json.Child(spec, "affinity");
        affinity["nodeAffinity"] ??= new JsonObject();
        var nodeAffinity = (JsonObject)affinity["nodeAffinity"]!;
        nodeAffinity["requiredDuringSchedulingIgnoredDuringExecution"] = new JsonObject
        {
            ["nodeSelectorTerms"] = new JsonArray(new JsonObject
            {
                ["matchFields"] = new JsonArray(new JsonObject { ["key"] = "metadata.name", ["operator"] = "In", ["values"] = new JsonArray(nodeName) }),
            }),
        };
        var pod = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec };
        try
        {
            var created = _context.Objects.Create(ResourceKinds.Pod, Json.Str(set["metadata"]?["namespace"]), pod, FieldValidation.Ignore, dryRun: false, out _);
            _events.Normal(set, "SuccessfulCreate", $"Created pod: {NameOf(created)}");
        }
        catch (StatusException e)
        {
            _events.Warning(set, "FailedCreate", $"Error creating: {e.Message}");
            throw;
        }
    }

    private void DeletePods(JsonObject set, string key, List<JsonObject> pods)
    {
        if (pods.Count == 0) return;
        _expectations.ExpectDeletions(key, pods.Select(Informer.KeyOf));
        foreach (var pod in pods)
        {
            try
            {
                _context.Objects.Delete(ResourceKinds.Pod, Json.Str(pod["metadata"]?["namespace"]), NameOf(pod), null, OwnerReferences.Uid(pod), dryRun: false);
                _events.Normal(set, "SuccessfulDelete", $"Deleted pod: {NameOf(pod)}");
            }
            catch (StatusException e)
            {
                _expectations.DeletionObserved(key, Informer.KeyOf(pod));
                if (e.Code is 404 or 409) continue;
                _events.Warning(set, "FailedDelete", $"Error deleting: {e.Message}");
                throw;
            }
        }
    }

    private Reconciled WriteStatus(JsonObject set, Dictionary<string, (bool Run, bool Stay)> placements, Dictionary<string, List<JsonObject>> byNode, string hash)
    {
        var now = _context.Clock.GetUtcNow();
        var minReady = set["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0;
        int desired = 0, scheduled = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
        foreach (var (node, (run, _)) in placements)
        {
            var here = (byNode.GetValueOrDefault(node) ?? []).Where(p => !OwnerReferences.IsBeingDeleted(p)).ToList();
            if (!run)
            {
                if (here.Count > 0) misscheduled++;
                continue;
            }
            desired++;
            if (here.Count == 0) continue;
            scheduled++;
            // The newest pod speaks for the node (during a surge, the new one).
            var pod = here.OrderByDescending(DeploymentMath.Created).First();
            if (PodStates.IsReady(pod)) ready++;
            if (PodStates.IsAvailable(pod, minReady, now)) available++;
            if (HashOf(pod) == hash) updated++;
        }
        // Pods on nodes that no longer exist count as misscheduled too.
        misscheduled += byNode.Keys.Count(n => !placements.ContainsKey(n));
        var status = new JsonObject
        {
            ["currentNumberScheduled"] = scheduled,
            ["numberMisscheduled"] = misscheduled,
            ["desiredNumberScheduled"] = desired,
            ["numberReady"] = ready,
            ["observedGeneration"] = set["metadata"]?["generation"]?.GetValue<long>() ?? 0,
            ["updatedNumberScheduled"] = updated,
            ["numberAvailable"] = available,
            ["numberUnavailable"] = desired - available,
        };
        foreach (var field in new[] { "updatedNumberScheduled", "numberAvailable", "numberUnavailable" })
            if (status[field]!.GetValue<int>() == 0) status.Remove(field);
        if (!JsonNode.DeepEquals(status, set["status"]))
        {
            try
            {
                _context.Objects.Update(ResourceKinds.DaemonSet, Json.Str(set["metadata"]?["namespace"]), NameOf(set), null, fresh =>
                {
                    if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(set)) fresh["status"] = status;
                    return fresh;
                }, statusOnly: true, dryRun: false);
            }
            catch (StatusException e) when (e.Code == 404) { }
        }
        if (minReady > 0 && ready > available) return Reconciled.After(TimeSpan.FromSeconds(1));
        return Reconciled.Done;
    }
}
