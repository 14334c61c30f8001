using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Keeps each StatefulSet's pods as Kubernetes' statefulset controller does: one pod per ordinal named SET-ORDINAL
/// (its identity: host name = pod name, subdomain = spec.serviceName, the pod-name and pod-index labels), created in
/// ordinal order and removed from the highest down, one at a time and each only when those before it are Running and
/// Ready (OrderedReady), or all at once (Parallel); a PVC per ordinal and claim template made before its pod and kept
/// unless persistentVolumeClaimRetentionPolicy says Delete; RollingUpdate from the highest ordinal down to the
/// partition, one pod at a time, or OnDelete; revisions as ControllerRevisions (<see cref="ControllerHistory"/>).
/// The pod name is the identity and the store refuses a second object of a name, so two pods of one ordinal never
/// exist, also across a crash: a pod is made again only once the old one is gone.
/// </summary>
public sealed class StatefulSetController : IController
{
    public const string PodNameLabel = "statefulset.kubernetes.io/pod-name";
    public const string PodIndexLabel = "apps.kubernetes.io/pod-index";

    private ControllerContext _context = null!;
    private WorkQueue _queue = null!;
    private Informer _sets = null!;
    private Informer _pods = null!;
    private Informer _revisions = null!;
    private Expectations _expectations = null!;
    private EventRecorder _events = null!;
    private ControllerHistory _history = null!;

    public string Name => "statefulset-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _queue = queue;
        _expectations = new Expectations(context.Options.ExpectationsTimeout, context.Clock);
        _events = context.Events(Name);
        _history = new ControllerHistory(context.Objects, ResourceKinds.StatefulSet);
        _sets = context.Informers.For(ResourceKinds.StatefulSet);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _revisions = context.Informers.For(ResourceKinds.ControllerRevision);
        _sets.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        _pods.AddHandler(OnPod);
    }

    private static string? OwnerKey(JsonObject pod) =>
        OwnerReferences.ControllerOf(pod) is { } r && Json.Str(r["kind"]) == "StatefulSet" && Json.Str(r["apiVersion"]) == "apps/v1"
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
        // An orphan of a set's name wakes the set, which may adopt it.
        if (owner is null && e.Type != WatchEventType.Deleted && ParentAndOrdinal(Json.Str(pod["metadata"]?["name"]) ?? "") is ({ } parent, _)
            && _sets.Get(Json.Str(pod["metadata"]?["namespace"]), parent) is not null)
            _queue.Add(Informer.KeyOf(Json.Str(pod["metadata"]?["namespace"]), parent));
    }

    /// <summary>SET and ORDINAL of a pod named SET-ORDINAL.</summary>
    public static (string? Parent, int Ordinal) ParentAndOrdinal(string podName)
    {
        var dash = podName.LastIndexOf('-');
        return dash > 0 && int.TryParse(podName.AsSpan(dash + 1), System.Globalization.NumberStyles.None, null, out var ordinal) && podName[(dash + 1)..] == ordinal.ToString()
            ? (podName[..dash], ordinal) : (null, -1);
    }

    private static string NameOf(JsonObject o) => Json.Str(o["metadata"]?["name"]) ?? "";

    private static int Ordinal(JsonObject pod) => ParentAndOrdinal(NameOf(pod)).Ordinal;

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
        // Members are the pods named SET-ORDINAL, terminating ones included: they still hold their ordinal.
        var members = _pods.List(ns).Where(p => ParentAndOrdinal(NameOf(p)).Parent == name);
        var pods = OwnerReferences.Claim(_context.Objects, ResourceKinds.StatefulSet, ResourceKinds.Pod, set, selector, members);
        var revisions = _history.Claim(set, selector, _revisions.List(ns));
        if (_history.FindOrCreate(set, revisions) is not { } update)
        {
            BumpCollisionCount(set);
            throw new InvalidOperationException($"controller revision of statefulset {name} collides with an existing one: retrying with a new collisionCount");
        }
        var current = revisions.FirstOrDefault(r => NameOf(r) == Json.Str(set["status"]?["currentRevision"])) ?? update;
        var step = new Step(this, set, pods, current, update);
        if (_expectations.Satisfied(key) && !OwnerReferences.IsBeingDeleted(set)) step.Run();
        var live = new HashSet<string>(pods.Select(p => Json.Str(p["metadata"]?["labels"]?[ControllerHistory.HashLabel]) ?? "")) { NameOf(current), NameOf(update) };
        _history.Truncate(set, revisions, live);
        return Task.FromResult(WriteStatus(set, pods, current, update));
    }

    /// <summary>One reconcile's look at a set: its ordinals' pods, the condemned ones beyond them, and the one step
    /// toward the desired state (or several, under Parallel).</summary>
    private sealed class Step
    {
        private readonly StatefulSetController _c;
        private readonly JsonObject _set, _current, _update;
        private readonly JsonObject?[] _slots;
        private readonly List<JsonObject> _condemned;
        private readonly bool _monotonic;
        private readonly int _start, _minReady;
        private readonly DateTimeOffset _now;
        private readonly string _key;

        public Step(StatefulSetController c, JsonObject set, List<JsonObject> pods, JsonObject current, JsonObject update)
        {
            _c = c;
            _set = set;
            _current = current;
            _update = update;
            _key = Informer.KeyOf(set);
            _monotonic = Json.Str(set["spec"]?["podManagementPolicy"]) != "Parallel";
            _start = set["spec"]?["ordinals"]?["start"]?.GetValue<int>() ?? 0;
            _minReady = set["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0;
            _now = c._context.Clock.GetUtcNow();
            _slots = new JsonObject?[DeploymentMath.Replicas(set)];
            _condemned = [];
            foreach (var pod in pods)
            {
                var i = Ordinal(pod) - _start;
                if (i >= 0 && i < _slots.Length) _slots[i] = pod;
                else _condemned.Add(pod);
            }
            _condemned.Sort((a, b) => Ordinal(b).CompareTo(Ordinal(a)));
        }

        private bool Healthy(JsonObject pod) =>
            !OwnerReferences.IsBeingDeleted(pod) && PodStates.Phase(pod) == "Running" && PodStates.IsAvailable(pod, _minReady, _now);

        public void Run()
        {
            // Ordinals in order: a finished pod is made again, a missing one made; under OrderedReady each waits for
            // the ones before it.
            var created = new List<int>();
            for (var i = 0; i < _slots.Length; i++)
            {
                var pod = _slots[i];
                if (pod is not null && PodStates.Phase(pod) is "Failed" or "Succeeded" && !OwnerReferences.IsBeingDeleted(pod))
                {
                    _c._events.Warning(_set, "RecreatingFailedPod", $"StatefulSet {Json.Str(_set["metadata"]?["namespace"])}/{NameOf(_set)} is recreating {PodStates.Phase(pod)!.ToLowerInvariant()} Pod {NameOf(pod)}");
                    DeletePod(pod, "delete");
                    if (_monotonic) return;
                    continue;
                }
                if (pod is null)
                {
                    created.Add(i);
                    if (_monotonic) break;
                    continue;
                }
                if (_monotonic && !Healthy(pod)) return;
            }
            if (created.Count > 0)
            {
                _c._expectations.ExpectCreations(_key, created.Count);
                foreach (var i in created)
                    if (!CreatePod(i + _start)) _c._expectations.CreationObserved(_key);
                return;
            }

            // Beyond spec.replicas: the highest ordinal goes first; under OrderedReady only when all the others are
            // healthy, and the next only once it is gone.
            var unhealthy = _slots.Concat(_condemned).OfType<JsonObject>().Where(p => !Healthy(p)).ToList();
            foreach (var pod in _condemned)
            {
                if (OwnerReferences.IsBeingDeleted(pod))
                {
                    if (_monotonic) return;
                    continue;
                }
                if (_monotonic && unhealthy.Any(u => !ReferenceEquals(u, pod))) return;
                ReleaseClaimsOnScaleDown(pod);
                DeletePod(pod, "delete");
                if (_monotonic) return;
            }
            if (_condemned.Count > 0 && _monotonic) return;

            // RollingUpdate: from the highest ordinal down to the partition, one pod at a time, each replaced only once
            // the one above it is back and healthy.
            if (Json.Str(_set["spec"]?["updateStrategy"]?["type"]) is not (null or "RollingUpdate")) return;
            var partition = Math.Clamp(_set["spec"]?["updateStrategy"]?["rollingUpdate"]?["partition"]?.GetValue<int>() ?? 0, 0, _slots.Length);
            for (var i = _slots.Length - 1; i >= partition; i--)
            {
                if (_slots[i] is not { } pod) return;
                if (RevisionOf(pod) != NameOf(_update) && !OwnerReferences.IsBeingDeleted(pod))
                {
                    DeletePod(pod, "delete");
                    return;
                }
                if (!Healthy(pod)) return;
            }
        }

        private static string? RevisionOf(JsonObject pod) => Json.Str(pod["metadata"]?["labels"]?[ControllerHistory.HashLabel]);

        private void DeletePod(JsonObject pod, string verb)
        {
            var podKey = Informer.KeyOf(pod);
            _c._expectations.ExpectDeletions(_key, [podKey]);
            try
            {
                _c._context.Objects.Delete(ResourceKinds.Pod, Json.Str(pod["metadata"]?["namespace"]), NameOf(pod), null, OwnerReferences.Uid(pod), dryRun: false);
                _c._events.Normal(_set, "SuccessfulDelete", $"{verb} Pod {NameOf(pod)} in StatefulSet {NameOf(_set)} successful");
            }
            catch (StatusException e)
            {
                _c._expectations.DeletionObserved(_key, podKey);
                if (e.Code is 404 or 409) return;
                _c._events.Warning(_set, "FailedDelete", $"{verb} Pod {NameOf(pod)} in StatefulSet {NameOf(_set)} failed error: {e.Message}");
                throw;
            }
        }

        /// <summary>Makes ordinal <paramref name="ordinal"/>'s claims, then its pod at the revision it belongs to: the
        /// current one below a RollingUpdate's partition, else the update revision (also under OnDelete, as Kubernetes
        /// does). False when the pod was not made.</summary>
        private bool CreatePod(int ordinal)
        {
            var onDelete = Json.Str(_set["spec"]?["updateStrategy"]?["type"]) == "OnDelete";
            var partition = _set["spec"]?["updateStrategy"]?["rollingUpdate"]?["partition"]?.GetValue<int>() ?? 0;
            var revision = !onDelete && ordinal - _start < partition ? _current : _update;
            var ns = Json.Str(_set["metadata"]?["namespace"]);
            var name = $"{NameOf(_set)}-{ordinal}";
            try
            {
                CreateClaims(ordinal, name);
                var pod = NewPod(ControllerHistory.TemplateOf(revision), NameOf(revision), ordinal, name);
                _c._context.Objects.Create(ResourceKinds.Pod, ns, pod, FieldValidation.Ignore, dryRun: false, out _);
                _c._events.Normal(_set, "SuccessfulCreate", $"create Pod {name} in StatefulSet {NameOf(_set)} successful");
                return true;
            }
            catch (StatusException e) when (e.Code == 409 && e.Reason == "AlreadyExists")
            {
                // Still there (terminating, or not yet in the cache): it is made again once it is gone.
                return false;
            }
            catch (StatusException e)
            {
                _c._events.Warning(_set, "FailedCreate", $"create Pod {name} in StatefulSet {NameOf(_set)} failed error: {e.Message}");
                throw;
            }
        }

        private JsonObject NewPod(JsonObject template, string revision, int ordinal, string name)
        {
            var meta = new JsonObject { ["name"] = name };
            foreach (var field in new[] { "labels", "annotations", "finalizers" })
                if (template["metadata"]?[field] is { } value) meta[field] = value.DeepClone();
            var labels = Json.Child(meta, "labels");
            labels[PodNameLabel] = name;
            labels[PodIndexLabel] = ordinal.ToString();
            labels[ControllerHistory.HashLabel] = revision;
            meta["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(_set));
            var spec = template["spec"]?.DeepClone() as JsonObject ?? [];
            spec["hostname"] = name;
            if (Json.Str(_set["spec"]?["serviceName"]) is { Length: > 0 } service) spec["subdomain"] = service;
            // Each claim template is the pod's volume of that name, bound to the ordinal's own claim.
            foreach (var claim in ClaimTemplates())
            {
                var volumes = Json.ChildArray(spec, "volumes");
                var volumeName = NameOf(claim);
                for (var v = volumes.Count - 1; v >= 0; v--)
                    if (Json.Str(volumes[v]?["name"]) == volumeName) volumes.RemoveAt(v);
                volumes.Add((JsonNode)new JsonObject { ["name"] = volumeName, ["persistentVolumeClaim"] = new JsonObject { ["claimName"] = ClaimName(claim, ordinal) } });
            }
            return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec };
        }

        private IEnumerable<JsonObject> ClaimTemplates() => (_set["spec"]?["volumeClaimTemplates"] as JsonArray)?.OfType<JsonObject>() ?? [];

        private string ClaimName(JsonObject claimTemplate, int ordinal) => $"{NameOf(claimTemplate)}-{NameOf(_set)}-{ordinal}";

        private string? Retention(string when) => Json.Str(_set["spec"]?["persistentVolumeClaimRetentionPolicy"]?[when]);

        /// <summary>The ordinal's PVCs, made if absent (kept if present: they are the ordinal's storage). With
        /// whenDeleted: Delete they name the set as an owner, so the garbage collector removes them with it.</summary>
        private void CreateClaims(int ordinal, string podName)
        {
            var ns = Json.Str(_set["metadata"]?["namespace"]);
            foreach (var template in ClaimTemplates())
            {
                var claimName = ClaimName(template, ordinal);
                if (_c._context.Objects.Store.Get(ResourceKinds.PersistentVolumeClaim.Key(ns, claimName)) is not null) continue;
                var meta = new JsonObject { ["name"] = claimName };
                foreach (var field in new[] { "labels", "annotations" })
                    if (template["metadata"]?[field] is { } value) meta[field] = value.DeepClone();
                if (_set["spec"]?["selector"]?["matchLabels"] is JsonObject matchLabels)
                    foreach (var (k, v) in matchLabels) Json.Child(meta, "labels")[k] = v?.DeepClone();
                if (Retention("whenDeleted") == "Delete")
                {
                    var owner = OwnerReferences.ControllerRefTo(_set);
                    owner.Remove("controller");
                    meta["ownerReferences"] = new JsonArray(owner);
                }
                var claim = new JsonObject
                {
                    ["apiVersion"] = "v1", ["kind"] = "PersistentVolumeClaim", ["metadata"] = meta,
                    ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject(),
                };
                try
                {
                    _c._context.Objects.Create(ResourceKinds.PersistentVolumeClaim, ns, claim, FieldValidation.Ignore, dryRun: false, out _);
                    _c._events.Normal(_set, "SuccessfulCreate", $"create Claim {claimName} Pod {podName} in StatefulSet {NameOf(_set)} success");
                }
                catch (StatusException e) when (e.Code == 409) { }
                catch (StatusException e)
                {
                    _c._events.Warning(_set, "FailedCreate", $"create Claim {claimName} for Pod {podName} in StatefulSet {NameOf(_set)} failed error: {e.Message}");
                    throw;
                }
            }
        }

        /// <summary>With whenScaled: Delete, a condemned pod's claims name the pod as their owner (instead of the set)
        /// before it goes, so the garbage collector removes them after it, as Kubernetes does.</summary>
        private void ReleaseClaimsOnScaleDown(JsonObject pod)
        {
            if (Retention("whenScaled") != "Delete") return;
            var ns = Json.Str(_set["metadata"]?["namespace"]);
            foreach (var template in ClaimTemplates())
            {
                try
                {
                    _c._context.Objects.Update(ResourceKinds.PersistentVolumeClaim, ns, ClaimName(template, Ordinal(pod)), null, fresh =>
                    {
                        if (OwnerReferences.Of(fresh)?.OfType<JsonObject>().Any(r => Json.Str(r["uid"]) == OwnerReferences.Uid(pod)) != true)
                        {
                            var owner = OwnerReferences.ControllerRefTo(pod);
                            owner.Remove("controller");
                            Json.ChildArray(Json.Metadata(fresh), "ownerReferences").Add((JsonNode)owner);
                        }
                        OwnerReferences.RemoveReference(fresh, OwnerReferences.Uid(_set)!);
                        return fresh;
                    }, statusOnly: false, dryRun: false);
                }
                catch (StatusException e) when (e.Code == 404) { }
            }
        }
    }

    private void BumpCollisionCount(JsonObject set)
    {
        try
        {
            _context.Objects.Update(ResourceKinds.StatefulSet, Json.Str(set["metadata"]?["namespace"]), NameOf(set), null, fresh =>
            {
                if (OwnerReferences.Uid(fresh) != OwnerReferences.Uid(set)) return fresh;
                var status = fresh["status"] as JsonObject ?? [];
                status["collisionCount"] = (status["collisionCount"]?.GetValue<int>() ?? 0) + 1;
                fresh["status"] = status;
                return fresh;
            }, statusOnly: true, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
    }

    private Reconciled WriteStatus(JsonObject set, List<JsonObject> pods, JsonObject current, JsonObject update)
    {
        var now = _context.Clock.GetUtcNow();
        var minReady = set["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0;
        var active = pods.Where(p => !OwnerReferences.IsBeingDeleted(p)).ToList();
        string? Revision(JsonObject p) => Json.Str(p["metadata"]?["labels"]?[ControllerHistory.HashLabel]);
        var ready = active.Count(PodStates.IsReady);
        var available = active.Count(p => PodStates.IsReady(p) && PodStates.IsAvailable(p, minReady, now));
        var updated = active.Count(p => Revision(p) == NameOf(update));
        var currentCount = active.Count(p => Revision(p) == NameOf(current));
        var currentName = NameOf(current);
        // A rolling update is complete when every pod is updated and ready: the update revision becomes the current one.
        if (Json.Str(set["spec"]?["updateStrategy"]?["type"]) is null or "RollingUpdate" && updated == pods.Count && ready == pods.Count
            && pods.Count == DeploymentMath.Replicas(set))
        {
            currentName = NameOf(update);
            currentCount = updated;
        }
        var status = new JsonObject
        {
            ["observedGeneration"] = set["metadata"]?["generation"]?.GetValue<long>() ?? 0,
            ["replicas"] = pods.Count,
            ["readyReplicas"] = ready,
            ["currentReplicas"] = currentCount,
            ["updatedReplicas"] = updated,
            ["availableReplicas"] = available,
            ["currentRevision"] = currentName,
            ["updateRevision"] = NameOf(update),
            ["collisionCount"] = set["status"]?["collisionCount"]?.GetValue<int>() ?? 0,
        };
        // Counts are left out when zero, as the API server omits them.
        foreach (var field in new[] { "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas" })
            if (status[field]!.GetValue<int>() == 0) status.Remove(field);
        if (!JsonNode.DeepEquals(status, set["status"]))
        {
            try
            {
                _context.Objects.Update(ResourceKinds.StatefulSet, Json.Str(set["metadata"]?["namespace"]), NameOf(set), null, fresh =>
                {
                    if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(set)) fresh["status"] = status;
                    return fresh;
                }, statusOnly: true, dryRun: false);
            }
            catch (StatusException e) when (e.Code == 404) { }
        }
        if (minReady > 0 && ready > available)
            return Reconciled.After(active.Select(PodStates.ReadySince).OfType<DateTimeOffset>().Select(s => s.AddSeconds(minReady) - now)
                .Where(d => d > TimeSpan.Zero).DefaultIfEmpty(TimeSpan.FromSeconds(1)).Min() + TimeSpan.FromMilliseconds(100));
        return Reconciled.Done;
    }
}
