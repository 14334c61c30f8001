using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using static ContainerOps.Cluster.Controllers.DeploymentMath;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Rolls Deployments out through ReplicaSets keyed by their pod-template-hash, as Kubernetes' deployment controller
/// does: RollingUpdate within maxSurge/maxUnavailable, Recreate (old pods gone before new ones start), proportional
/// scaling when the replica count changes mid-rollout, revisions in annotations (a rollback makes an old set new again
/// with the next revision), revisionHistoryLimit, pause and resume, and the Progressing/Available conditions with
/// progressDeadlineSeconds. It changes its ReplicaSets (their size and annotations) and the Deployment's status and
/// revision annotation, never the Deployment's spec.
/// </summary>
public sealed class DeploymentController : IController
{
    private ControllerContext _context = null!;
    private Informer _deployments = null!;
    private Informer _sets = null!;
    private Informer _pods = null!;
    private EventRecorder _events = null!;

    public string Name => "deployment-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _events = context.Events(Name);
        _deployments = context.Informers.For(ResourceKinds.Deployment);
        _sets = context.Informers.For(ResourceKinds.ReplicaSet);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _deployments.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        _sets.AddHandler(e =>
        {
            if (OwnerOf(e.Object) is { } owner) queue.Add(owner);
            if (e.Old is not null && OwnerOf(e.Old) is { } before && before != OwnerOf(e.Object)) queue.Add(before);
            // An orphan set wakes the deployments that could adopt it.
            if (OwnerReferences.ControllerOf(e.Object) is null && e.Type != Store.WatchEventType.Deleted)
                foreach (var d in _deployments.List(Json.Str(e.Object["metadata"]?["namespace"])))
                    if (SelectorOf(d).Matches(LabelSelector.LabelsOf(e.Object["metadata"]?["labels"]))) queue.Add(Informer.KeyOf(d));
        });
        // Recreate waits for old pods to be gone: their removal wakes the deployment.
        _pods.AddHandler(e =>
        {
            if (e.Type != Store.WatchEventType.Deleted || OwnerReferences.ControllerOf(e.Object) is not { } r || Json.Str(r["kind"]) != "ReplicaSet") return;
            if (_sets.Get(Json.Str(e.Object["metadata"]?["namespace"]), Json.Str(r["name"]) ?? "") is { } set && OwnerOf(set) is { } owner) queue.Add(owner);
        });
    }

    private static string? OwnerOf(JsonObject set) =>
        OwnerReferences.ControllerOf(set) is { } r && Json.Str(r["kind"]) == "Deployment"
            ? Informer.KeyOf(Json.Str(set["metadata"]?["namespace"]), Json.Str(r["name"]) ?? "") : null;

    private static LabelSelector SelectorOf(JsonObject d) =>
        d["spec"]?["selector"] is JsonObject s ? LabelSelector.FromObject(s) : LabelSelector.Parse("never-matches-anything=1,never-matches-anything!=1");

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (_deployments.Get(key) is not { } cached) return Task.FromResult(Reconciled.Done);
        var d = (JsonObject)cached.DeepClone();
        var (ns, _) = Informer.SplitKey(key);
        var selector = SelectorOf(d);
        if (selector.IsEmpty)
        {
            _events.Warning(d, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.");
            return Task.FromResult(Reconciled.Done);
        }
        var sets = OwnerReferences.Claim(_context.Objects, ResourceKinds.Deployment, ResourceKinds.ReplicaSet, d, selector, _sets.List(ns))
            .Select(s => (JsonObject)s.DeepClone()).ToList();
        if (OwnerReferences.IsBeingDeleted(d)) return Task.FromResult(WriteStatus(d, sets, FindNew(d, sets), progress: false));
        CheckPaused(d);
        var paused = d["spec"]?["paused"]?.GetValue<bool>() == true;
        if (paused || IsScalingEvent(d, sets)) return Task.FromResult(Sync(d, sets, paused));
        return Task.FromResult(IsRollingUpdate(d) ? RolloutRolling(d, sets) : RolloutRecreate(d, sets));
    }

    private static JsonObject? FindNew(JsonObject d, IEnumerable<JsonObject> sets)
    {
        // The oldest of equal sets, as Kubernetes picks it, so a duplicate never becomes the new one.
        return sets.OrderBy(Created).FirstOrDefault(s => SameTemplate(s, d));
    }

    /// <summary>A set whose desired-replicas annotation is not the deployment's count: the deployment was scaled.</summary>
    private static bool IsScalingEvent(JsonObject d, List<JsonObject> sets) =>
        sets.Where(s => Replicas(s) > 0).Any(s => Json.Str(s["metadata"]?["annotations"]?[DesiredReplicasAnnotation]) is { } desired && desired != Replicas(d).ToString());

    /// <summary>The new set (made when <paramref name="create"/> and missing, its revision brought up to date when
    /// found) and the old ones.</summary>
    private (JsonObject? New, List<JsonObject> Old) NewAndOld(JsonObject d, List<JsonObject> sets, bool create)
    {
        var found = FindNew(d, sets);
        var old = sets.Where(s => !ReferenceEquals(s, found)).ToList();
        var newRevision = (old.Count == 0 ? 0 : old.Max(Revision)) + 1;
        if (found is not null)
        {
            found = SyncNewSetAnnotations(d, found, newRevision);
            SetDeploymentRevision(d, Revision(found));
            if (Condition(d, "Progressing") is null && HasProgressDeadline(d))
                SetCondition(d, "Progressing", "True", "FoundNewReplicaSet", $"Found new replica set \"{NameOf(found)}\"");
            return (found, old);
        }
        if (!create) return (null, old);
        var made = CreateNewSet(d, sets, newRevision);
        if (made is null) return (null, old);
        sets.Add(made);
        SetDeploymentRevision(d, newRevision);
        if (HasProgressDeadline(d))
            SetCondition(d, "Progressing", "True", "NewReplicaSetCreated", $"Created new replica set \"{NameOf(made)}\"");
        return (made, old);
    }

    private JsonObject? CreateNewSet(JsonObject d, List<JsonObject> sets, long revision)
    {
        var hash = TemplateHash(d);
        var template = (JsonObject)d["spec"]!["template"]!.DeepClone();
        var labels = Json.Child(Json.Child(template, "metadata"), "labels");
        labels[HashLabel] = hash;
        var selector = (JsonObject)d["spec"]!["selector"]!.DeepClone();
        Json.Child(selector, "matchLabels")[HashLabel] = hash;
        var (surge, _) = Fenceposts(d);
        var set = new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "ReplicaSet",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{NameOf(d)}-{hash}",
                ["labels"] = labels.DeepClone(),
                ["annotations"] = SetAnnotations(d, new JsonObject(), revision),
                ["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(d)),
            },
            ["spec"] = new JsonObject
            {
                ["replicas"] = 0, ["minReadySeconds"] = d["spec"]?["minReadySeconds"]?.DeepClone() ?? 0,
                ["selector"] = selector, ["template"] = template,
            },
        };
        set["spec"]!["replicas"] = NewReplicaSetReplicas(d, sets, set);
        try
        {
            var created = _context.Objects.Create(ResourceKinds.ReplicaSet, Json.Str(d["metadata"]?["namespace"]), set, FieldValidation.Ignore, dryRun: false, out _);
            if (Replicas(created) > 0) _events.Normal(d, "ScalingReplicaSet", $"Scaled up replica set {NameOf(created)} from 0 to {Replicas(created)}");
            return created;
        }
        catch (StatusException e) when (e.Code == 409)
        {
            // A set of that name exists: ours from a stale cache (same template) is used; a stranger's is a hash
            // collision, counted in status so the next hash differs.
            var existing = _context.Objects.Store.Get(ResourceKinds.ReplicaSet.Key(Json.Str(d["metadata"]?["namespace"]), NameOf(set))) is { } s ? ClusterObjects.Parse(s.Value) : null;
            if (existing is not null && OwnerReferences.IsControlledBy(existing, OwnerReferences.Uid(d)!) && SameTemplate(existing, d))
                return existing;
            if (d["status"] is not JsonObject status) d["status"] = status = [];
            status["collisionCount"] = (status["collisionCount"]?.GetValue<int>() ?? 0) + 1;
            WriteStatusObject(d, status);
            throw new InvalidOperationException($"replica set {NameOf(set)} exists with another template: hash collision, retrying with collisionCount {status["collisionCount"]}");
        }
    }

    /// <summary>The annotations a set carries from its deployment: revision, desired and max replicas, and the
    /// deployment's own annotations except kubectl's last-applied configuration.</summary>
    private static JsonObject SetAnnotations(JsonObject d, JsonObject annotations, long revision)
    {
        if (d["metadata"]?["annotations"] is JsonObject own)
            foreach (var (k, v) in own)
                if (k is not (RevisionAnnotation or RevisionHistoryAnnotation or DesiredReplicasAnnotation or MaxReplicasAnnotation or "kubectl.kubernetes.io/last-applied-configuration"))
                    annotations[k] = v?.DeepClone();
        var oldRevision = Json.Str(annotations[RevisionAnnotation]);
        if (long.TryParse(oldRevision, out var old) && old < revision)
        {
            var history = Json.Str(annotations[RevisionHistoryAnnotation]);
            annotations[RevisionHistoryAnnotation] = string.IsNullOrEmpty(history) ? oldRevision : $"{history},{oldRevision}";
        }
        if (oldRevision is null || old < revision) annotations[RevisionAnnotation] = revision.ToString();
        annotations[DesiredReplicasAnnotation] = Replicas(d).ToString();
        annotations[MaxReplicasAnnotation] = (Replicas(d) + Fenceposts(d).MaxSurge).ToString();
        return annotations;
    }

    private JsonObject SyncNewSetAnnotations(JsonObject d, JsonObject set, long newRevision)
    {
        var annotations = (JsonObject?)set["metadata"]?["annotations"]?.DeepClone() ?? [];
        var wanted = SetAnnotations(d, (JsonObject)annotations.DeepClone(), newRevision);
        var minReady = d["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0;
        if (JsonNode.DeepEquals(wanted, annotations) && (set["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0) == minReady) return set;
        return UpdateSet(set, s =>
        {
            Json.Metadata(s)["annotations"] = wanted.DeepClone();
            s["spec"]!["minReadySeconds"] = minReady;
        });
    }

    private void SetDeploymentRevision(JsonObject d, long revision)
    {
        if (Json.Str(d["metadata"]?["annotations"]?[RevisionAnnotation]) == revision.ToString()) return;
        var updated = _context.Objects.Update(ResourceKinds.Deployment, Json.Str(d["metadata"]?["namespace"]), NameOf(d), null, fresh =>
        {
            if (OwnerReferences.Uid(fresh) != OwnerReferences.Uid(d)) return fresh;
            Json.Child(Json.Metadata(fresh), "annotations")[RevisionAnnotation] = revision.ToString();
            return fresh;
        }, statusOnly: false, dryRun: false);
        Json.Metadata(d)["annotations"] = updated["metadata"]?["annotations"]?.DeepClone();
        Json.Metadata(d)["resourceVersion"] = updated["metadata"]?["resourceVersion"]?.DeepClone();
    }

    private JsonObject UpdateSet(JsonObject set, Action<JsonObject> change) =>
        _context.Objects.Update(ResourceKinds.ReplicaSet, Json.Str(set["metadata"]?["namespace"]), NameOf(set), null, fresh =>
        {
            if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(set)) change(fresh);
            return fresh;
        }, statusOnly: false, dryRun: false);

    /// <summary>Sizes a set (with the deployment's desired and max replicas in its annotations); true when it changed.</summary>
    private bool Scale(JsonObject d, JsonObject set, int replicas)
    {
        var from = Replicas(set);
        var annotationsCurrent = Json.Str(set["metadata"]?["annotations"]?[DesiredReplicasAnnotation]) == Replicas(d).ToString()
            && Json.Str(set["metadata"]?["annotations"]?[MaxReplicasAnnotation]) == (Replicas(d) + Fenceposts(d).MaxSurge).ToString();
        if (from == replicas && annotationsCurrent) return false;
        var updated = UpdateSet(set, s =>
        {
            s["spec"]!["replicas"] = replicas;
            var annotations = Json.Child(Json.Metadata(s), "annotations");
            annotations[DesiredReplicasAnnotation] = Replicas(d).ToString();
            annotations[MaxReplicasAnnotation] = (Replicas(d) + Fenceposts(d).MaxSurge).ToString();
        });
        set["spec"]!["replicas"] = replicas;
        Json.Metadata(set)["annotations"] = updated["metadata"]?["annotations"]?.DeepClone();
        if (from != replicas)
            _events.Normal(d, "ScalingReplicaSet", $"Scaled {(replicas > from ? "up" : "down")} replica set {NameOf(set)} from {from} to {replicas}");
        return from != replicas;
    }

    private Reconciled RolloutRolling(JsonObject d, List<JsonObject> sets)
    {
        var (newSet, old) = NewAndOld(d, sets, create: true);
        var all = newSet is null ? old : [.. old, newSet];
        if (newSet is not null && ReconcileNewSet(d, all, newSet)) return WriteStatus(d, all, newSet, progress: true);
        if (ReconcileOldSets(d, all, old.Where(s => Replicas(s) > 0).ToList(), newSet)) return WriteStatus(d, all, newSet, progress: true);
        if (IsComplete(d, Calculate(d, all, newSet))) CleanUp(d, old);
        return WriteStatus(d, all, newSet, progress: true);
    }

    private bool ReconcileNewSet(JsonObject d, List<JsonObject> all, JsonObject newSet)
    {
        var want = Replicas(d);
        if (Replicas(newSet) == want) return false;
        if (Replicas(newSet) > want) return Scale(d, newSet, want);
        return Scale(d, newSet, NewReplicaSetReplicas(d, all, newSet));
    }

    /// <summary>Scales old sets down as far as availability allows: first their unhealthy pods, then available ones
    /// down to the minimum available, oldest sets first.</summary>
    private bool ReconcileOldSets(JsonObject d, List<JsonObject> all, List<JsonObject> activeOld, JsonObject? newSet)
    {
        if (activeOld.Sum(Replicas) == 0) return false;
        var (_, maxUnavailable) = Fenceposts(d);
        var minAvailable = Replicas(d) - maxUnavailable;
        var newUnavailable = newSet is null ? 0 : Replicas(newSet) - StatusInt(newSet, "availableReplicas");
        var maxScaledDown = all.Sum(Replicas) - minAvailable - newUnavailable;
        if (maxScaledDown <= 0) return false;
        var scaled = false;
        var cleaned = 0;
        foreach (var set in activeOld.OrderBy(Created))
        {
            if (cleaned >= maxScaledDown) break;
            var unhealthy = Replicas(set) - StatusInt(set, "availableReplicas");
            if (Replicas(set) == 0 || unhealthy <= 0) continue;
            var down = Math.Min(maxScaledDown - cleaned, unhealthy);
            scaled |= Scale(d, set, Replicas(set) - down);
            cleaned += down;
        }
        var available = all.Sum(s => StatusInt(s, "availableReplicas"));
        if (available <= minAvailable) return scaled;
        var total = available - minAvailable;
        var done = 0;
        foreach (var set in activeOld.OrderBy(Created))
        {
            if (done >= total) break;
            if (Replicas(set) == 0) continue;
            var down = Math.Min(Replicas(set), total - done);
            scaled |= Scale(d, set, Replicas(set) - down);
            done += down;
        }
        return scaled;
    }

    private Reconciled RolloutRecreate(JsonObject d, List<JsonObject> sets)
    {
        var (newSet, old) = NewAndOld(d, sets, create: false);
        var all = newSet is null ? old : [.. old, newSet];
        var scaledDown = false;
        foreach (var set in old.Where(s => Replicas(s) > 0)) scaledDown |= Scale(d, set, 0);
        if (scaledDown) return WriteStatus(d, all, newSet, progress: true);
        // New pods start only once every old one is gone (finished ones do not count).
        var oldUids = old.Select(OwnerReferences.Uid).OfType<string>();
        if (oldUids.SelectMany(_pods.ListByOwner).Any(p => PodStates.Phase(p) is not ("Succeeded" or "Failed")))
            return WriteStatus(d, all, newSet, progress: true);
        if (newSet is null)
        {
            (newSet, old) = NewAndOld(d, sets, create: true);
            all = newSet is null ? old : [.. old, newSet];
        }
        if (newSet is not null) Scale(d, newSet, Replicas(d));
        if (IsComplete(d, Calculate(d, all, newSet))) CleanUp(d, old);
        return WriteStatus(d, all, newSet, progress: true);
    }

    /// <summary>A paused or scaled deployment: sizes only (proportionally across active sets), no rollout step.</summary>
    private Reconciled Sync(JsonObject d, List<JsonObject> sets, bool paused)
    {
        var (newSet, old) = NewAndOld(d, sets, create: false);
        var all = newSet is null ? old : [.. old, newSet];
        var active = all.Where(s => Replicas(s) > 0).ToList();
        if (active.Count <= 1)
        {
            var target = active.FirstOrDefault() ?? newSet ?? old.OrderByDescending(Created).FirstOrDefault();
            if (target is not null) Scale(d, target, Replicas(d));
        }
        else if (newSet is not null && Replicas(newSet) == Replicas(d) && StatusInt(newSet, "availableReplicas") == Replicas(d))
            foreach (var set in old.Where(s => Replicas(s) > 0)) Scale(d, set, 0);
        else if (IsRollingUpdate(d))
            foreach (var (set, size) in Proportional(d, active)) Scale(d, set, size);
        if (paused) CleanUp(d, old);
        return WriteStatus(d, all, newSet, progress: false);
    }

    /// <summary>Old sets scaled to zero beyond revisionHistoryLimit go, the oldest revisions first.</summary>
    private void CleanUp(JsonObject d, List<JsonObject> old)
    {
        var limit = d["spec"]?["revisionHistoryLimit"]?.GetValue<int>() ?? 10;
        var idle = old.Where(s => Replicas(s) == 0 && StatusInt(s, "replicas") == 0 && !OwnerReferences.IsBeingDeleted(s)).OrderBy(Revision).ThenBy(Created).ToList();
        foreach (var set in idle.Take(Math.Max(0, idle.Count - limit)))
        {
            try { _context.Objects.Delete(ResourceKinds.ReplicaSet, Json.Str(set["metadata"]?["namespace"]), NameOf(set), null, OwnerReferences.Uid(set), dryRun: false); }
            catch (StatusException e) when (e.Code is 404 or 409) { }
        }
    }

    private void CheckPaused(JsonObject d)
    {
        if (!HasProgressDeadline(d)) return;
        var paused = d["spec"]?["paused"]?.GetValue<bool>() == true;
        var reason = Json.Str(Condition(d, "Progressing")?["reason"]);
        if (paused && reason != "DeploymentPaused") SetCondition(d, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused");
        else if (!paused && reason == "DeploymentPaused") SetCondition(d, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed");
        else return;
        WriteStatusObject(d, (JsonObject)d["status"]!);
    }

    private static bool HasProgressDeadline(JsonObject d) =>
        d["spec"]?["progressDeadlineSeconds"]?.GetValue<int>() is { } s && s != int.MaxValue;

    private JsonObject Calculate(JsonObject d, List<JsonObject> all, JsonObject? newSet)
    {
        var available = all.Sum(s => StatusInt(s, "availableReplicas"));
        var status = new JsonObject
        {
            ["observedGeneration"] = d["metadata"]?["generation"]?.GetValue<long>() ?? 0,
            ["replicas"] = all.Sum(s => StatusInt(s, "replicas")),
            ["updatedReplicas"] = newSet is null ? 0 : StatusInt(newSet, "replicas"),
            ["readyReplicas"] = all.Sum(s => StatusInt(s, "readyReplicas")),
            ["availableReplicas"] = available,
            ["unavailableReplicas"] = Math.Max(0, all.Sum(Replicas) - available),
        };
        if (d["status"]?["collisionCount"] is { } collisions) status["collisionCount"] = collisions.DeepClone();
        status["conditions"] = d["status"]?["conditions"]?.DeepClone() ?? new JsonArray();
        var holder = new JsonObject { ["status"] = status };
        if (available >= Replicas(d) - Fenceposts(d).MaxUnavailable)
            SetCondition(holder, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.");
        else
            SetCondition(holder, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.");
        holder.Remove("status");
        return status;
    }

    private static bool IsComplete(JsonObject d, JsonObject status) =>
        status["updatedReplicas"]!.GetValue<int>() == Replicas(d) && status["replicas"]!.GetValue<int>() == Replicas(d)
        && status["availableReplicas"]!.GetValue<int>() == Replicas(d)
        && status["observedGeneration"]!.GetValue<long>() >= (d["metadata"]?["generation"]?.GetValue<long>() ?? 0);

    /// <summary>Writes the computed status; with <paramref name="progress"/>, also the Progressing condition (complete,
    /// progressing, or past its deadline), and asks to look again when the deadline would pass.</summary>
    private Reconciled WriteStatus(JsonObject d, List<JsonObject> all, JsonObject? newSet, bool progress)
    {
        var status = Calculate(d, all, newSet);
        var next = new JsonObject { ["status"] = status, ["spec"] = d["spec"]?.DeepClone(), ["metadata"] = d["metadata"]?.DeepClone() };
        var result = Reconciled.Done;
        if (!HasProgressDeadline(d)) RemoveCondition(next, "Progressing");
        else if (progress)
        {
            var current = Condition(next, "Progressing");
            var setName = newSet is null ? "" : NameOf(newSet);
            var completed = status["replicas"]!.GetValue<int>() == status["updatedReplicas"]!.GetValue<int>() && Json.Str(current?["reason"]) == "NewReplicaSetAvailable";
            if (!completed)
            {
                if (IsComplete(d, status))
                    SetCondition(next, "Progressing", "True", "NewReplicaSetAvailable", $"ReplicaSet \"{setName}\" has successfully progressed.");
                else if (Progressed(d, status))
                    SetCondition(next, "Progressing", "True", "ReplicaSetUpdated", $"ReplicaSet \"{setName}\" is progressing.");
                else if (current is not null && TimedOut(d, current))
                    SetCondition(next, "Progressing", "False", "ProgressDeadlineExceeded", $"ReplicaSet \"{setName}\" has timed out progressing.");
                var now = Condition(next, "Progressing");
                if (Json.Str(now?["status"]) == "True" && Json.Str(now?["reason"]) != "NewReplicaSetAvailable"
                    && PodStates.Time(now?["lastUpdateTime"]) is { } updated)
                {
                    var due = updated.AddSeconds(d["spec"]!["progressDeadlineSeconds"]!.GetValue<int>()) - _context.Clock.GetUtcNow();
                    result = Reconciled.After((due > TimeSpan.Zero ? due : TimeSpan.Zero) + TimeSpan.FromSeconds(1));
                }
            }
        }
        var written = (JsonObject)next["status"]!;
        if (written["conditions"] is JsonArray { Count: 0 }) written.Remove("conditions");
        foreach (var field in new[] { "replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas" })
            if (written[field]?.GetValue<int>() == 0) written.Remove(field);
        WriteStatusObject(d, written);
        // Pods of the new set that are ready but not yet available become so after minReadySeconds.
        var minReady = d["spec"]?["minReadySeconds"]?.GetValue<int>() ?? 0;
        if (minReady > 0 && all.Sum(s => StatusInt(s, "readyReplicas")) > all.Sum(s => StatusInt(s, "availableReplicas")))
            result = Reconciled.Sooner(result, Reconciled.After(TimeSpan.FromSeconds(1)));
        return result;
    }

    private static bool Progressed(JsonObject d, JsonObject status)
    {
        var old = d["status"] as JsonObject;
        int Old(string f) => old?[f]?.GetValue<int>() ?? 0;
        int New(string f) => status[f]?.GetValue<int>() ?? 0;
        var oldOld = Old("replicas") - Old("updatedReplicas");
        var newOld = New("replicas") - New("updatedReplicas");
        return New("updatedReplicas") > Old("updatedReplicas") || newOld < oldOld
            || New("readyReplicas") > Old("readyReplicas") || New("availableReplicas") > Old("availableReplicas");
    }

    private bool TimedOut(JsonObject d, JsonObject condition)
    {
        if (Json.Str(condition["reason"]) == "ProgressDeadlineExceeded") return true;
        if (Json.Str(condition["reason"]) is "DeploymentPaused" or "DeploymentResumed" && Json.Str(condition["status"]) == "Unknown")
            return PodStates.Time(condition["lastUpdateTime"]) is { } paused && paused.AddSeconds(d["spec"]!["progressDeadlineSeconds"]!.GetValue<int>()) < _context.Clock.GetUtcNow();
        return PodStates.Time(condition["lastUpdateTime"]) is { } from && from.AddSeconds(d["spec"]!["progressDeadlineSeconds"]!.GetValue<int>()) < _context.Clock.GetUtcNow();
    }

    private void WriteStatusObject(JsonObject d, JsonObject status)
    {
        if (JsonNode.DeepEquals(status, _deployments.Get(Informer.KeyOf(d))?["status"])) return;
        try
        {
            var updated = _context.Objects.Update(ResourceKinds.Deployment, Json.Str(d["metadata"]?["namespace"]), NameOf(d), null, fresh =>
            {
                if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(d)) fresh["status"] = status.DeepClone();
                return fresh;
            }, statusOnly: true, dryRun: false);
            d["status"] = updated["status"]?.DeepClone();
        }
        catch (StatusException e) when (e.Code == 404) { }
    }

    private static JsonObject? Condition(JsonObject o, string type) =>
        (o["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == type);

    private static void RemoveCondition(JsonObject o, string type)
    {
        if (o["status"]?["conditions"] is JsonArray conditions && Condition(o, type) is { } c) conditions.Remove(c);
    }

    /// <summary>Sets a condition: the transition time moves only when the status changes; the update time moves on
    /// every change (it is what the progress deadline counts from).</summary>
    private void SetCondition(JsonObject o, string type, string status, string reason, string message)
    {
        var now = _context.Clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        var conditions = Json.ChildArray(Json.Child(o, "status"), "conditions");
        var existing = Condition(o, type);
        if (existing is not null && Json.Str(existing["status"]) == status && Json.Str(existing["reason"]) == reason && Json.Str(existing["message"]) == message
            && !(type == "Progressing" && reason == "ReplicaSetUpdated"))
            return;
        var transition = existing is not null && Json.Str(existing["status"]) == status ? Json.Str(existing["lastTransitionTime"]) ?? now : now;
        var condition = new JsonObject
        {
            ["type"] = type, ["status"] = status, ["lastUpdateTime"] = now, ["lastTransitionTime"] = transition,
            ["reason"] = reason, ["message"] = message,
        };
        if (existing is not null) conditions[conditions.IndexOf(existing)] = condition;
        else conditions.Add((JsonNode)condition);
    }

    private static string NameOf(JsonObject o) => Json.Str(o["metadata"]?["name"]) ?? "";
}
