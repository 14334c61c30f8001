using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Keeps spec.replicas active pods matching each ReplicaSet's selector (kube-controller-manager's syncReplicaSet), and
/// each ReplicationController's, which is the same controller over the older kind (its replication manager):
/// claims pods (adopts matching orphans, releases owned pods that stopped matching), creates the missing ones in
/// slow-start batches (1, 2, 4…) or deletes the least valuable extra ones (<see cref="PodStates.CompareForDeletion"/>),
/// and writes status. While its own creations and deletions are still on their way through the watch
/// (<see cref="Expectations"/>) it only writes status, so it never creates twice.
/// </summary>
public sealed class ReplicaSetController(ResourceKind kind) : IController
{
    public ReplicaSetController() : this(ResourceKinds.ReplicaSet) { }

    /// <summary>Most pods created or deleted in one sync (kube-controller-manager's burstReplicas).</summary>
    private const int BurstReplicas = 500;
    private ControllerContext _context = null!;
    private WorkQueue _queue = null!;
    private Informer _sets = null!;
    private Informer _pods = null!;
    private Expectations _expectations = null!;
    private EventRecorder _events = null!;

    public string Name => kind == ResourceKinds.ReplicationController ? "replication-controller" : "replicaset-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _queue = queue;
        _expectations = new Expectations(context.Options.ExpectationsTimeout, context.Clock);
        _events = context.Events(Name);
        _sets = context.Informers.For(kind);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _sets.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        _pods.AddHandler(OnPod);
    }

    private string? OwnerKey(JsonObject pod) =>
        OwnerReferences.ControllerOf(pod) is { } r && Json.Str(r["kind"]) == kind.Kind && Json.Str(r["apiVersion"]) == kind.ApiVersion
            ? Informer.KeyOf(Json.Str(pod["metadata"]?["namespace"]), Json.Str(r["name"]) ?? "") : null;

    private void OnPod(InformerEvent e)
    {
        var pod = e.Object;
        var podKey = Informer.KeyOf(pod);
        var owner = OwnerKey(pod);
        var oldOwner = e.Old is { } old ? OwnerKey(old) : null;
        switch (e.Type)
        {
            case WatchEventType.Added when owner is not null:
                if (OwnerReferences.IsBeingDeleted(pod)) _expectations.DeletionObserved(owner, podKey);
                else _expectations.CreationObserved(owner);
                break;
            case WatchEventType.Modified when owner is not null && OwnerReferences.IsBeingDeleted(pod) && !OwnerReferences.IsBeingDeleted(e.Old!):
            case WatchEventType.Deleted when owner is not null:
                _expectations.DeletionObserved(owner, podKey);
                break;
        }
        if (owner is not null) _queue.Add(owner);
        if (oldOwner is not null && oldOwner != owner) _queue.Add(oldOwner);
        // An orphan wakes the sets that could adopt it.
        if (owner is null && e.Type != WatchEventType.Deleted)
            foreach (var set in MatchingSets(pod)) _queue.Add(Informer.KeyOf(set));
        // A pod that just became ready counts as available after minReadySeconds: look again then.
        if (owner is not null && e.Old is not null && PodStates.IsReady(pod) && !PodStates.IsReady(e.Old)
            && _sets.Get(owner)?["spec"]?["minReadySeconds"]?.GetValue<int>() is > 0 and var min)
            _queue.AddAfter(owner, TimeSpan.FromSeconds(min + 1));
    }

    private IEnumerable<JsonObject> MatchingSets(JsonObject pod)
    {
        var labels = LabelSelector.LabelsOf(pod["metadata"]?["labels"]);
        if (labels.Count == 0) yield break;
        foreach (var set in _sets.List(Json.Str(pod["metadata"]?["namespace"])))
            if (Workloads.SelectorOf(kind, set["spec"] as JsonObject) is { } s && LabelSelector.FromObject(s) is { IsEmpty: false } selector && selector.Matches(labels))
                yield return set;
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (_sets.Get(key) is not { } set)
        {
            _expectations.Forget(key);
            return Task.FromResult(Reconciled.Done);
        }
        var (ns, _) = Informer.SplitKey(key);
        var selector = LabelSelector.FromObject(Workloads.SelectorOf(kind, set["spec"] as JsonObject) ?? []);
        // Trusted only when nothing this set did is still on its way through the watch.
        var inSync = _expectations.Satisfied(key);
        var candidates = _pods.List(ns).Where(PodStates.IsActive);
        var pods = OwnerReferences.Claim(_context.Objects, kind, ResourceKinds.Pod, set, selector, candidates)
            .Where(PodStates.IsActive).ToList();
        string? failure = null;
        if (inSync && !OwnerReferences.IsBeingDeleted(set)) failure = ManageReplicas(key, set, pods);
        return Task.FromResult(WriteStatus(set, pods, failure));
    }

    /// <summary>Creates or deletes pods toward spec.replicas; the error that stopped it, if any.</summary>
    private string? ManageReplicas(string key, JsonObject set, List<JsonObject> pods)
    {
        var want = set["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        var diff = pods.Count - want;
        if (diff < 0)
        {
            var missing = Math.Min(-diff, BurstReplicas);
            _expectations.ExpectCreations(key, missing);
            var (created, error) = SlowStart(missing, () => CreatePod(set));
            // Creations that were never made will never be seen.
            for (var i = created; i < missing; i++) _expectations.CreationObserved(key);
            return error;
        }
        if (diff > 0)
        {
            var doomed = pods.OrderBy(p => p, Comparer<JsonObject>.Create(PodStates.CompareForDeletion)).Take(Math.Min(diff, BurstReplicas)).ToList();
            _expectations.ExpectDeletions(key, doomed.Select(Informer.KeyOf));
            string? error = null;
            foreach (var pod in doomed)
            {
                var name = Json.Str(pod["metadata"]?["name"])!;
                try
                {
                    _context.Objects.Delete(ResourceKinds.Pod, Json.Str(pod["metadata"]?["namespace"]), name, null, OwnerReferences.Uid(pod), dryRun: false);
                    _events.Normal(set, "SuccessfulDelete", $"Deleted pod: {name}");
                }
                catch (StatusException e)
                {
                    _expectations.DeletionObserved(key, Informer.KeyOf(pod));
                    if (e.Code is 404 or 409) continue;
                    _events.Warning(set, "FailedDelete", $"Error deleting: {e.Message}");
                    error ??= e.Message;
                }
            }
            return error;
        }
        return null;
    }

    /// <summary>Calls <paramref name="create"/> <paramref name="count"/> times in batches of 1, 2, 4…, stopping after a
    /// batch with a failure (as kube-controller-manager's slowStartBatch does, so a quota or a bad template does not
    /// make hundreds of failing calls). How many succeeded, and the first error.</summary>
    internal static (int Succeeded, string? Error) SlowStart(int count, Func<string?> create)
    {
        var done = 0;
        string? error = null;
        for (var batch = 1; done < count && error is null; batch *= 2)
        {
            var size = Math.Min(batch, count - done);
            for (var i = 0; i < size; i++)
            {
                if (create() is { } e) error ??= e;
                else done++;
            }
        }
        return (done, error);
    }

    private string? CreatePod(JsonObject set)
    {
        var template = set["spec"]?["template"] as JsonObject ?? [];
        var meta = new JsonObject { ["generateName"] = Json.Str(set["metadata"]?["name"]) + "-" };
        foreach (var field in new[] { "labels", "annotations", "finalizers" })
            if (template["metadata"]?[field] is { } value) meta[field] = value.DeepClone();
        meta["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(set));
        var pod = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject() };
        try
        {
            var created = _context.Objects.Create(ResourceKinds.Pod, Json.Str(set["metadata"]?["namespace"]), pod, FieldValidation.Ignore, dryRun: false, out _);
            _events.Normal(set, "SuccessfulCreate", $"Created pod: {Json.Str(created["metadata"]?["name"])}");
            return null;
        }
        catch (StatusException e)
        {
            _events.Warning(set, "FailedCreate", $"Error creating: {e.Message}");
            return e.Message;
        }
    }

    private Reconciled WriteStatus(JsonObject set, List<JsonObject> pods, string? failure)
    {
        var now = _context.Clock.GetUtcNow();
        var minReady = set["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0;
        var templateLabels = LabelSelector.LabelsOf(set["spec"]?["template"]?["metadata"]?["labels"]);
        var ready = pods.Count(PodStates.IsReady);
        var available = pods.Count(p => PodStates.IsAvailable(p, minReady, now));
        var status = new JsonObject
        {
            ["replicas"] = pods.Count,
            ["fullyLabeledReplicas"] = pods.Count(p => templateLabels.All(kv => LabelSelector.LabelsOf(p["metadata"]?["labels"]).TryGetValue(kv.Key, out var v) && v == kv.Value)),
            ["readyReplicas"] = ready,
            ["availableReplicas"] = available,
            ["observedGeneration"] = set["metadata"]?["generation"]?.GetValue<long>() ?? 0,
        };
        var old = set["status"]?["conditions"] as JsonArray;
        var oldFailure = old?.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == "ReplicaFailure");
        if (failure is not null)
            status["conditions"] = new JsonArray(new JsonObject
            {
                ["type"] = "ReplicaFailure", ["status"] = "True", ["reason"] = failure.Contains("delet", StringComparison.OrdinalIgnoreCase) ? "FailedDelete" : "FailedCreate",
                ["message"] = failure,
                ["lastTransitionTime"] = Json.Str(oldFailure?["lastTransitionTime"]) ?? now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
            });
        // Counts are zero when the API server would omit them: compare without the zeros so an unchanged status is no write.
        foreach (var field in new[] { "fullyLabeledReplicas", "readyReplicas", "availableReplicas" })
            if (status[field]!.GetValue<int>() == 0) status.Remove(field);
        if (!JsonNode.DeepEquals(status, set["status"]))
        {
            try
            {
                _context.Objects.Update(kind, Json.Str(set["metadata"]?["namespace"]), Json.Str(set["metadata"]?["name"])!, null, fresh =>
                {
                    if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(set)) fresh["status"] = status;
                    return fresh;
                }, statusOnly: true, dryRun: false);
            }
            catch (StatusException e) when (e.Code == 404) { }
        }
        if (failure is not null) throw new InvalidOperationException(failure); // retried with backoff
        // Ready pods not yet available become so after minReadySeconds: look again then.
        if (minReady > 0 && ready > available)
            return Reconciled.After(pods.Select(PodStates.ReadySince).OfType<DateTimeOffset>().Select(s => s.AddSeconds(minReady) - now)
                .Where(d => d > TimeSpan.Zero).DefaultIfEmpty(TimeSpan.FromSeconds(1)).Min() + TimeSpan.FromMilliseconds(100));
        return Reconciled.Done;
    }
}
