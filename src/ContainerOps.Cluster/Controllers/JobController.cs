using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Runs Jobs to completion (kube-controller-manager's job controller): up to `parallelism` pods at a time until
/// `completions` succeed (NonIndexed), or one success per index 0…completions-1 (Indexed: the index in the
/// batch.kubernetes.io/job-completion-index annotation and label, JOB_COMPLETION_INDEX in the environment, the host
/// name NAME-INDEX). Failures beyond `backoffLimit` (failed pods, or restarts under restartPolicy OnFailure) and
/// `activeDeadlineSeconds` fail the job and stop its pods, as does a failure that `podFailurePolicy` says fails it
/// (failures it ignores are not counted). An Indexed job with `backoffLimitPerIndex` counts failures per index instead
/// (in its pods' job-index-failure-count annotation): an index failed more often, or by a FailIndex rule, is given up
/// (status.failedIndexes) while the others run on; the job fails once they are all done (FailedIndexes) or once more
/// than `maxFailedIndexes` have failed (MaxFailedIndexesExceeded). `suspend` stops the pods until resumed;
/// `ttlSecondsAfterFinished` removes a finished job with its pods. A failed pod is replaced only after a delay
/// (<see cref="ControllerOptions.JobBackoff"/>, doubled per failure since the last success — per index under
/// backoffLimitPerIndex), so a job that keeps failing does not spin. Conditions as Kubernetes 1.31 writes them:
/// SuccessCriteriaMet (or FailureTarget) when the outcome is decided, Complete (or Failed) once every pod has been let
/// go; Suspended. Finished pods are kept (as Kubernetes keeps them), but the counts do not come from them: every pod
/// carries the batch.kubernetes.io/job-tracking finalizer until it is counted (<see cref="Track"/>), so removing a
/// finished pod loses no count, and a pod deleted while it ran counts as failed and is replaced.
/// </summary>
public sealed class JobController : IController
{
    public const string IndexAnnotation = "batch.kubernetes.io/job-completion-index";
    public const string IndexFailureCountAnnotation = "batch.kubernetes.io/job-index-failure-count";
    public const string IndexIgnoredFailureCountAnnotation = "batch.kubernetes.io/job-index-ignored-failure-count";
    /// <summary>Every job pod carries it until the job has counted how it ended (<see cref="Track"/>).</summary>
    public const string TrackingFinalizer = "batch.kubernetes.io/job-tracking";
    /// <summary>Queue keys of tracked pods to let go that no job owns (job keys are namespace/name: no colon).</summary>
    private const string OrphanKeyPrefix = "pod:";
    private ControllerContext _context = null!;
    private WorkQueue _queue = null!;
    private Informer _jobs = null!;
    private Informer _pods = null!;
    private Expectations _expectations = null!;
    private EventRecorder _events = null!;

    public string Name => "job-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _queue = queue;
        _expectations = new Expectations(context.Options.ExpectationsTimeout, context.Clock);
        _events = context.Events(Name);
        _jobs = context.Informers.For(ResourceKinds.Job);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _jobs.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        _pods.AddHandler(OnPod);
    }

    private static string? OwnerKey(JsonObject pod) =>
        OwnerReferences.ControllerOf(pod) is { } r && Json.Str(r["kind"]) == "Job" && Json.Str(r["apiVersion"]) == "batch/v1"
            ? Informer.KeyOf(Json.Str(pod["metadata"]?["namespace"]), Json.Str(r["name"]) ?? "") : null;

    private void OnPod(InformerEvent e)
    {
        var pod = e.Object;
        var owner = OwnerKey(pod);
        if (owner is not null)
        {
            var podKey = Informer.KeyOf(pod);
            if (e.Type == WatchEventType.Added && !OwnerReferences.IsBeingDeleted(pod)) _expectations.CreationObserved(owner);
            if (e.Type == WatchEventType.Deleted || (OwnerReferences.IsBeingDeleted(pod) && (e.Old is null || !OwnerReferences.IsBeingDeleted(e.Old))))
                _expectations.DeletionObserved(owner, podKey);
            _queue.Add(owner);
        }
        // A tracked pod no job of ours owns any more (its job gone or made again, or the pod orphaned) is let go.
        if (e.Type != WatchEventType.Deleted && IsTracked(pod)
            && (owner is null || _jobs.Get(owner) is not { } job || !OwnerReferences.IsControlledBy(pod, OwnerReferences.Uid(job)!)))
            _queue.Add(OrphanKeyPrefix + Informer.KeyOf(pod));
    }

    private static int Int(JsonNode? n, int fallback = 0) => n is JsonValue v && v.TryGetValue<int>(out var i) ? i : fallback;
    private static string NameOf(JsonObject o) => Json.Str(o["metadata"]?["name"]) ?? "";

    private List<JsonObject> PodsOf(string jobUid) => _pods.ListByOwner(jobUid).Where(p => OwnerReferences.IsControlledBy(p, jobUid)).ToList();

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (key.StartsWith(OrphanKeyPrefix, StringComparison.Ordinal)) return Task.FromResult(ReleaseOrphan(key[OrphanKeyPrefix.Length..]));
        if (_jobs.Get(key) is not { } cached)
        {
            _expectations.Forget(key);
            return Task.FromResult(Reconciled.Done);
        }
        // The job as stored, not as cached: its status holds the pods counted but not yet let go (the counts must never
        // come from a stale copy), and this controller is its status' only writer.
        var cachedUid = OwnerReferences.Uid(cached)!;
        var (ns, name) = Informer.SplitKey(key);
        JsonObject? job;
        try { job = _context.Objects.Get(ResourceKinds.Job, ns, name); }
        catch (StatusException e) when (e.Code == 404) { job = null; }
        if (job is null || OwnerReferences.Uid(job) != cachedUid)
        {
            // Gone, or made again under the same name: the old one's pods are let go; the new one comes through the watch.
            Release(PodsOf(cachedUid));
            return Task.FromResult(Reconciled.Done);
        }
        var uid = cachedUid;
        var now = _context.Clock.GetUtcNow();
        var pods = PodsOf(uid);
        var status = (JsonObject?)job["status"]?.DeepClone() ?? [];
        if (OwnerReferences.IsBeingDeleted(job))
        {
            Release(pods);
            return Task.FromResult(Reconciled.Done);
        }
        if (Finished(status) is { } finishedAt) return Task.FromResult(AfterFinish(job, finishedAt, pods, now));

        var spec = job["spec"]!;
        var indexed = Json.Str(spec["completionMode"]) == "Indexed";
        int? completions = spec["completions"] is JsonValue c && c.TryGetValue<int>(out var cv) ? cv : null;
        var parallelism = Int(spec["parallelism"], 1);
        var suspended = spec["suspend"] is JsonValue s && s.TryGetValue<bool>(out var sv) && sv;
        // Once the job has met its success criteria or its failure target, what is left is to stop its pods and let
        // them go; Complete or Failed follows when none is held any more.
        var ending = Condition(status, "SuccessCriteriaMet") is { } met && Json.Str(met["status"]) == "True" ? "SuccessCriteriaMet"
            : Condition(status, "FailureTarget") is { } ft && Json.Str(ft["status"]) == "True" ? "FailureTarget" : null;
        var release = Track(spec, status, pods, ended: ending is not null);
        var active = pods.Where(PodStates.IsActive).ToList();
        var succeededPods = pods.Where(p => PodStates.Phase(p) == "Succeeded").ToList();
        var failedPods = pods.Where(p => FailedNow(spec, p)).ToList();
        var succeeded = Counted(status, "succeeded");
        int? limitPerIndex = indexed && spec["backoffLimitPerIndex"] is JsonValue lpi && lpi.TryGetValue<int>(out var lpiv) ? lpiv : null;
        var completed = indexed ? CompletedIndexes(status, succeededPods, completions ?? 0) : [];
        var failedIndexes = limitPerIndex is null ? new SortedSet<int>() : ParseIndexes(Json.Str(status["failedIndexes"]), completions ?? 0);
        var indexFailures = new Dictionary<int, IndexFailures>();
        var indexLastFailure = new Dictionary<int, DateTimeOffset>();
        // spec.podFailurePolicy: a failure its rules ignore is not counted; one that matches a FailJob rule fails the
        // job, a FailIndex rule its index.
        string? policyFailure = null;
        var counted = new List<JsonObject>();
        foreach (var pod in failedPods.OrderBy(p => PodStates.Time(p["metadata"]?["creationTimestamp"])))
        {
            var verdict = PodFailurePolicy.Judge(spec["podFailurePolicy"], pod);
            if (verdict.Action == PodFailurePolicy.Action.FailJob) policyFailure ??= verdict.Message;
            if (verdict.Action != PodFailurePolicy.Action.Ignore) counted.Add(pod);
            if (limitPerIndex is { } limit && IndexOf(pod) is { } index)
            {
                // The newest failed pod of an index carries the index's count so far; its own failure adds one.
                var before = IndexFailures.Of(pod);
                var after = verdict.Action == PodFailurePolicy.Action.Ignore ? before with { Ignored = before.Ignored + 1 } : before with { Counted = before.Counted + 1 };
                indexFailures[index] = after;
                if (verdict.Action != PodFailurePolicy.Action.Ignore)
                    indexLastFailure[index] = PodStates.FinishedAt(pod) is var at && indexLastFailure.TryGetValue(index, out var seen) && seen > at ? seen : at;
                if (verdict.Action == PodFailurePolicy.Action.FailIndex || after.Counted > limit) failedIndexes.Add(index);
            }
        }
        failedIndexes.ExceptWith(completed);
        var failed = Counted(status, "failed");
        if (indexed) succeeded = completed.Count;

        if (ending is not null)
        {
            DeletePods(key, job, active, release: true);
            if (pods.Any(IsTracked) || status["uncountedTerminatedPods"] is JsonObject { Count: > 0 })
            {
                WriteStatus(job, status, 0, 0, indexed ? completed : null, limitPerIndex is null ? null : failedIndexes, release);
                return Task.FromResult(Reconciled.Done);
            }
            var stamp = Stamp(now);
            if (ending == "FailureTarget")
            {
                var reached = Condition(status, "FailureTarget")!;
                var (reason, message) = (Json.Str(reached["reason"]) ?? "", Json.Str(reached["message"]) ?? "");
                SetCondition(status, "Failed", reason, message, stamp);
                _events.Warning(job, reason, message);
            }
            else
            {
                SetCondition(status, "Complete", "CompletionsReached", "Reached expected number of succeeded pods", stamp);
                status["completionTime"] = stamp;
                _events.Normal(job, "Completed", "Job completed");
            }
            WriteStatus(job, status, 0, 0, indexed ? completed : null, limitPerIndex is null ? null : failedIndexes, release);
            return Task.FromResult(Finished(status) is { } done ? AfterFinish(job, done, [], now) : Reconciled.Done);
        }

        Reconciled result = Reconciled.Done;
        string? failure = null, failureMessage = null;
        var backoffLimit = Int(spec["backoffLimit"], limitPerIndex is null ? 6 : int.MaxValue);
        var restarts = Json.Str(spec["template"]?["spec"]?["restartPolicy"]) == "OnFailure" ? active.Sum(PodStates.Restarts) : 0;
        if (policyFailure is not null)
            (failure, failureMessage) = ("PodFailurePolicy", policyFailure);
        else if (failed + restarts > backoffLimit)
            (failure, failureMessage) = ("BackoffLimitExceeded", "Job has reached the specified backoff limit");
        else if (spec["maxFailedIndexes"] is JsonValue mfi && mfi.TryGetValue<int>(out var maxFailedIndexes) && failedIndexes.Count > maxFailedIndexes)
            (failure, failureMessage) = ("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes");
        else if (failedIndexes.Count > 0 && completions is { } all && completed.Count + failedIndexes.Count >= all)
            (failure, failureMessage) = ("FailedIndexes", "Job has failed indexes");
        else if (spec["activeDeadlineSeconds"] is JsonValue deadlineNode && deadlineNode.TryGetValue<long>(out var deadline)
                 && !suspended && PodStates.Time(status["startTime"]) is { } started)
        {
            var due = started.AddSeconds(deadline);
            if (now >= due) (failure, failureMessage) = ("DeadlineExceeded", "Job was active longer than specified deadline");
            else result = Reconciled.After(due - now + TimeSpan.FromMilliseconds(100));
        }

        var complete = failure is null && (indexed
            ? completions is { } total && completed.Count >= total
            : completions is { } want ? succeeded >= want : succeeded > 0 && active.Count == 0);

        if (failure is not null || complete)
        {
            // The target first (its pods are stopped and let go under it); Complete or Failed once none is held.
            var stamp = Stamp(now);
            if (failure is not null) SetCondition(status, "FailureTarget", failure, failureMessage!, stamp);
            else SetCondition(status, "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", stamp);
            WriteStatus(job, status, 0, 0, indexed ? completed : null, limitPerIndex is null ? null : failedIndexes, release);
            return Task.FromResult(Reconciled.After(TimeSpan.Zero));
        }

        if (suspended)
        {
            DeletePods(key, job, active, release: true);
            if (Condition(status, "Suspended") is not { } sc || Json.Str(sc["status"]) != "True")
            {
                SetCondition(status, "Suspended", "JobSuspended", "Job suspended", Stamp(now));
                _events.Normal(job, "Suspended", "Job suspended");
            }
            status.Remove("startTime");
            WriteStatus(job, status, 0, 0, indexed ? completed : null, limitPerIndex is null ? null : failedIndexes, release);
            return Task.FromResult(Reconciled.Done);
        }
        if (Condition(status, "Suspended") is { } resumed && Json.Str(resumed["status"]) == "True")
        {
            SetCondition(status, "Suspended", "JobResumed", "Job resumed", Stamp(now), "False");
            _events.Normal(job, "Resumed", "Job resumed");
        }
        if (status["startTime"] is null)
        {
            status["startTime"] = Stamp(now);
            if (spec["activeDeadlineSeconds"] is JsonValue d && d.TryGetValue<long>(out var secs)) result = Reconciled.After(TimeSpan.FromSeconds(secs) + TimeSpan.FromMilliseconds(100));
        }

        if (_expectations.Satisfied(key))
        {
            // The job waits out its failures since the last success; under backoffLimitPerIndex each index its own.
            var wait = limitPerIndex is null ? Backoff(counted, succeededPods, now) : TimeSpan.Zero;
            if (indexed) ManageIndexed(key, job, active, completed, failedIndexes, indexFailures, indexLastFailure, wait, completions ?? 0, parallelism, now, ref result);
            else
            {
                var wantActive = Math.Max(0, completions is { } target ? Math.Min(parallelism, target - succeeded) : succeeded > 0 ? 0 : parallelism);
                if (active.Count < wantActive && wait > TimeSpan.Zero) result = Sooner(result, wait);
                else if (active.Count < wantActive) Create(key, job, Enumerable.Repeat<int?>(null, wantActive - active.Count).ToList());
                else if (active.Count > wantActive)
                    DeletePods(key, job, active.OrderBy(p => p, Comparer<JsonObject>.Create(PodStates.CompareForDeletion)).Take(active.Count - wantActive).ToList(), release: true);
            }
            Hold(active.Where(p => !IsTracked(p)));
        }
        WriteStatus(job, status, active.Count, active.Count(PodStates.IsReady), indexed ? completed : null, limitPerIndex is null ? null : failedIndexes, release);
        return Task.FromResult(result);
    }

    /// <summary>
    /// Counts finished pods through the tracking finalizer every job pod carries, so counts never depend on finished
    /// pods staying around: a pod that succeeded or failed (or was deleted before it finished: a failure) is first
    /// listed in status.uncountedTerminatedPods, then let go (its finalizer removed), and once let go moved into
    /// status.succeeded or status.failed. A crash between any two steps repeats none of them twice. A failure the pod
    /// failure policy ignores is let go uncounted; so is everything once the job has ended (its counts are final).
    /// Updates <paramref name="status"/> and returns the pods to let go once it is written.
    /// </summary>
    private static List<JsonObject> Track(JsonNode spec, JsonObject status, List<JsonObject> pods, bool ended)
    {
        var uncounted = status["uncountedTerminatedPods"] as JsonObject;
        var succeeded = Uids(uncounted?["succeeded"]);
        var failed = Uids(uncounted?["failed"]);
        var byUid = pods.ToDictionary(p => OwnerReferences.Uid(p)!);
        bool LetGo(string uid) => !byUid.TryGetValue(uid, out var p) || !IsTracked(p);
        void Move(HashSet<string> from, string counter)
        {
            var done = from.Where(LetGo).ToList();
            if (done.Count == 0) return;
            status[counter] = Int(status[counter]) + done.Count;
            from.ExceptWith(done);
        }
        Move(succeeded, "succeeded");
        Move(failed, "failed");
        var release = new List<JsonObject>();
        foreach (var pod in pods.Where(IsTracked))
        {
            var uid = OwnerReferences.Uid(pod)!;
            if (ended || succeeded.Contains(uid) || failed.Contains(uid)) { release.Add(pod); continue; }
            if (PodStates.Phase(pod) == "Succeeded") succeeded.Add(uid);
            else if (FailedNow(spec, pod))
            {
                if (PodFailurePolicy.Judge(spec["podFailurePolicy"], pod).Action != PodFailurePolicy.Action.Ignore) failed.Add(uid);
            }
            else continue;
            release.Add(pod);
        }
        status["uncountedTerminatedPods"] = new JsonObject();
        if (succeeded.Count > 0) status["uncountedTerminatedPods"]!["succeeded"] = new JsonArray(succeeded.Order().Select(u => (JsonNode)u).ToArray());
        if (failed.Count > 0) status["uncountedTerminatedPods"]!["failed"] = new JsonArray(failed.Order().Select(u => (JsonNode)u).ToArray());
        return release;
    }

    private static HashSet<string> Uids(JsonNode? list) => (list as JsonArray ?? []).Select(Json.Str).OfType<string>().ToHashSet();

    /// <summary>What the job's decisions count: the counter, and the pods listed as counted but not yet let go.</summary>
    private static int Counted(JsonObject status, string outcome) =>
        Int(status[outcome]) + ((status["uncountedTerminatedPods"]?[outcome] as JsonArray)?.Count ?? 0);

    /// <summary>A pod that failed: in phase Failed, or deleted before it finished by someone other than this controller
    /// (it still carries the finalizer). Under a pod failure policy a deleted pod its node is still stopping waits for
    /// what it ends with, which the policy may need.</summary>
    private static bool FailedNow(JsonNode spec, JsonObject pod)
    {
        var phase = PodStates.Phase(pod);
        if (phase == "Failed") return true;
        if (phase == "Succeeded" || !OwnerReferences.IsBeingDeleted(pod) || !IsTracked(pod)) return false;
        var stopping = Json.Str(pod["spec"]?["nodeName"]) is { Length: > 0 } && pod["metadata"]?["deletionGracePeriodSeconds"]?.GetValue<long>() != 0;
        return spec["podFailurePolicy"] is null || !stopping;
    }

    private static bool IsTracked(JsonObject pod) => Finalizers.Has(pod, TrackingFinalizer);

    /// <summary>Removes the tracking finalizer from <paramref name="pods"/> (a pod being deleted then goes).</summary>
    private void Release(IEnumerable<JsonObject> pods)
    {
        foreach (var pod in pods.Where(IsTracked))
            ChangePod(pod, fresh => Finalizers.Remove(fresh, TrackingFinalizer));
    }

    /// <summary>Puts the tracking finalizer on running pods that lack it (made before the job tracked its pods so, or
    /// let go by a controller that stopped before deleting them); only while the pod is still running.</summary>
    private void Hold(IEnumerable<JsonObject> pods)
    {
        foreach (var pod in pods)
            ChangePod(pod, fresh => { if (PodStates.IsActive(fresh)) Finalizers.Add(fresh, TrackingFinalizer); });
    }

    private void ChangePod(JsonObject pod, Action<JsonObject> change) =>
        ObjectWrites.ChangeIfSame(_context.Objects, ResourceKinds.Pod, Json.Str(pod["metadata"]?["namespace"]), NameOf(pod), OwnerReferences.Uid(pod), change);

    /// <summary>A tracked pod whose job is gone, made again, or no longer its owner: let go, once the store agrees.</summary>
    private Reconciled ReleaseOrphan(string podKey)
    {
        if (_pods.Get(podKey) is not { } pod || !IsTracked(pod)) return Reconciled.Done;
        if (OwnerReferences.ControllerOf(pod) is { } owner && Json.Str(owner["kind"]) == "Job")
        {
            try
            {
                var job = _context.Objects.Get(ResourceKinds.Job, Json.Str(pod["metadata"]?["namespace"]), Json.Str(owner["name"]) ?? "");
                if (OwnerReferences.Uid(job) == Json.Str(owner["uid"])) return Reconciled.Done; // its job is there; the cache is behind
            }
            catch (StatusException e) when (e.Code == 404) { }
        }
        Release([pod]);
        return Reconciled.Done;
    }

    /// <summary>How long to wait yet before replacing failed pods: the delay doubled per failure after the last success,
    /// counted from the last failure.</summary>
    private TimeSpan Backoff(List<JsonObject> failed, List<JsonObject> succeeded, DateTimeOffset now)
    {
        var lastSuccess = succeeded.Count == 0 ? DateTimeOffset.MinValue : succeeded.Max(PodStates.FinishedAt);
        var since = failed.Select(PodStates.FinishedAt).Where(t => t > lastSuccess).ToList();
        return since.Count == 0 ? TimeSpan.Zero : Remaining(since.Count, since.Max(), now);
    }

    private TimeSpan Remaining(int failures, DateTimeOffset lastFailure, DateTimeOffset now)
    {
        var options = _context.Options;
        var delay = options.JobBackoff * Math.Pow(2, Math.Min(failures - 1, 30));
        if (delay > options.MaxJobBackoff) delay = options.MaxJobBackoff;
        var left = lastFailure + delay - now;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private static Reconciled Sooner(Reconciled current, TimeSpan wait) =>
        Reconciled.Sooner(current, Reconciled.After(wait + TimeSpan.FromMilliseconds(50)));

    private void ManageIndexed(string key, JsonObject job, List<JsonObject> active, SortedSet<int> completed, SortedSet<int> failed,
        Dictionary<int, IndexFailures> failures, Dictionary<int, DateTimeOffset> lastFailure, TimeSpan jobWait, int completions, int parallelism,
        DateTimeOffset now, ref Reconciled result)
    {
        var running = active.Select(IndexOf).OfType<int>().ToHashSet();
        // A second pod for an index (a stale cache's double) or one for a completed or failed index goes.
        var extra = active.GroupBy(IndexOf).SelectMany(g => g.Key is { } i && !completed.Contains(i) && !failed.Contains(i) ? g.Skip(1) : g).ToList();
        if (extra.Count > 0) DeletePods(key, job, extra);
        if (jobWait > TimeSpan.Zero)
        {
            result = Sooner(result, jobWait);
            return;
        }
        var waiting = new HashSet<int>();
        foreach (var (index, so) in failures)
            if (so.Counted > 0 && lastFailure.TryGetValue(index, out var last) && Remaining(so.Counted, last, now) is var wait && wait > TimeSpan.Zero)
            {
                waiting.Add(index);
                result = Sooner(result, wait);
            }
        var missing = Enumerable.Range(0, completions).Where(i => !completed.Contains(i) && !failed.Contains(i) && !running.Contains(i) && !waiting.Contains(i))
            .Take(Math.Max(0, parallelism - (active.Count - extra.Count))).Select(i => (int?)i).ToList();
        if (missing.Count > 0) Create(key, job, missing, failures);
    }

    /// <summary>An index's failures so far under backoffLimitPerIndex: counted ones, and ones the policy ignored.</summary>
    private readonly record struct IndexFailures(int Counted, int Ignored)
    {
        public static IndexFailures Of(JsonObject pod) => new(Annotation(pod, IndexFailureCountAnnotation), Annotation(pod, IndexIgnoredFailureCountAnnotation));

        private static int Annotation(JsonObject pod, string name) =>
            int.TryParse(Json.Str(pod["metadata"]?["annotations"]?[name]), out var n) && n > 0 ? n : 0;
    }

    private static int? IndexOf(JsonObject pod) =>
        int.TryParse(Json.Str(pod["metadata"]?["annotations"]?[IndexAnnotation]), out var i) ? i : null;

    /// <summary>The indexes with a succeeded pod, with those status already lists.</summary>
    private static SortedSet<int> CompletedIndexes(JsonObject status, List<JsonObject> succeeded, int completions)
    {
        var set = ParseIndexes(Json.Str(status["completedIndexes"]), completions);
        foreach (var i in succeeded.Select(IndexOf).OfType<int>().Where(i => i >= 0 && i < completions)) set.Add(i);
        return set;
    }

    /// <summary>A status list of indexes ("0-2,5") below <paramref name="completions"/>.</summary>
    private static SortedSet<int> ParseIndexes(string? text, int completions)
    {
        var set = new SortedSet<int>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            if (int.TryParse(range[0], out var from) && int.TryParse(range[^1], out var to))
                for (var i = Math.Max(0, from); i <= Math.Min(to, completions - 1); i++) set.Add(i);
        }
        return set;
    }

    private static string IndexesText(SortedSet<int> indexes)
    {
        var parts = new List<string>();
        int? start = null, last = null;
        foreach (var i in indexes.Append(int.MinValue))
        {
            if (start is not null && i == last + 1) { last = i; continue; }
            if (start is not null) parts.Add(start == last ? $"{start}" : $"{start}-{last}");
            (start, last) = (i, i);
        }
        return string.Join(",", parts);
    }

    private void Create(string key, JsonObject job, List<int?> indexes, Dictionary<int, IndexFailures>? failures = null)
    {
        _expectations.ExpectCreations(key, indexes.Count);
        var made = 0;
        var (created, _) = ReplicaSetController.SlowStart(indexes.Count, () =>
        {
            var index = indexes[made++];
            var template = job["spec"]?["template"] as JsonObject ?? [];
            var meta = new JsonObject { ["generateName"] = index is { } i ? $"{NameOf(job)}-{i}-" : $"{NameOf(job)}-" };
            foreach (var field in new[] { "labels", "annotations", "finalizers" })
                if (template["metadata"]?[field] is { } value) meta[field] = value.DeepClone();
            meta["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(job));
            var spec = (JsonObject?)template["spec"]?.DeepClone() ?? [];
            if (index is { } n)
            {
                Json.Child(meta, "annotations")[IndexAnnotation] = n.ToString();
                Json.Child(meta, "labels")[IndexAnnotation] = n.ToString();
                // Under backoffLimitPerIndex a replacement carries its index's failures so far (0 for a first pod).
                if (job["spec"]?["backoffLimitPerIndex"] is not null)
                {
                    var so = failures?.GetValueOrDefault(n) ?? default;
                    Json.Child(meta, "annotations")[IndexFailureCountAnnotation] = so.Counted.ToString();
                    if (so.Ignored > 0) Json.Child(meta, "annotations")[IndexIgnoredFailureCountAnnotation] = so.Ignored.ToString();
                }
                spec["hostname"] ??= $"{NameOf(job)}-{n}";
                foreach (var list in new[] { "containers", "initContainers" })
                    foreach (var container in (spec[list] as JsonArray ?? []).OfType<JsonObject>())
                        Json.ChildArray(container, "env").Add((JsonNode)new JsonObject
                        {
                            ["name"] = "JOB_COMPLETION_INDEX",
                            ["valueFrom"] = new JsonObject { ["fieldRef"] = new JsonObject { ["fieldPath"] = $"metadata.annotations['{IndexAnnotation}']" } },
                        });
            }
            var pod = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec };
            Finalizers.Add(pod, TrackingFinalizer);
            try
            {
                var createdPod = _context.Objects.Create(ResourceKinds.Pod, Json.Str(job["metadata"]?["namespace"]), pod, FieldValidation.Ignore, dryRun: false, out _);
                _events.Normal(job, "SuccessfulCreate", $"Created pod: {NameOf(createdPod)}");
                return null;
            }
            catch (StatusException e)
            {
                _events.Warning(job, "FailedCreate", $"Error creating: {e.Message}");
                return e.Message;
            }
        });
        for (var i = created; i < indexes.Count; i++) _expectations.CreationObserved(key);
    }

    /// <param name="release">Pods the controller stops on its own account (suspended, fewer wanted, the job over):
    /// let go first, so their end is no failure.</param>
    private void DeletePods(string key, JsonObject job, List<JsonObject> pods, bool release = false)
    {
        if (pods.Count == 0) return;
        if (release) Release(pods);
        _expectations.ExpectDeletions(key, pods.Select(Informer.KeyOf));
        foreach (var pod in pods)
        {
            try
            {
                _context.Objects.Delete(ResourceKinds.Pod, Json.Str(pod["metadata"]?["namespace"]), NameOf(pod), null, OwnerReferences.Uid(pod), dryRun: false);
                _events.Normal(job, "SuccessfulDelete", $"Deleted pod: {NameOf(pod)}");
            }
            catch (StatusException) { _expectations.DeletionObserved(key, Informer.KeyOf(pod)); }
        }
    }

    /// <summary>When the job finished (its Complete or Failed condition), if it has.</summary>
    public static DateTimeOffset? Finished(JsonObject status) =>
        (status["conditions"] as JsonArray)?.OfType<JsonObject>()
            .Where(c => Json.Str(c["type"]) is "Complete" or "Failed" && Json.Str(c["status"]) == "True")
            .Select(c => PodStates.Time(c["lastTransitionTime"])).FirstOrDefault(t => t is not null);

    /// <summary>A finished job: its active pods stopped; removed (with its pods) after ttlSecondsAfterFinished.</summary>
    private Reconciled AfterFinish(JsonObject job, DateTimeOffset finishedAt, List<JsonObject> pods, DateTimeOffset now)
    {
        DeletePods(Informer.KeyOf(job), job, pods.Where(PodStates.IsActive).ToList(), release: true);
        Release(pods);
        if (job["spec"]?["ttlSecondsAfterFinished"] is not JsonValue ttlNode || !ttlNode.TryGetValue<long>(out var ttl) || OwnerReferences.IsBeingDeleted(job))
            return Reconciled.Done;
        var due = finishedAt.AddSeconds(ttl);
        if (now < due) return Reconciled.After(due - now + TimeSpan.FromMilliseconds(100));
        try { _context.Objects.Delete(ResourceKinds.Job, Json.Str(job["metadata"]?["namespace"]), NameOf(job), null, OwnerReferences.Uid(job), dryRun: false, propagation: "Foreground"); }
        catch (StatusException e) when (e.Code is 404 or 409) { }
        return Reconciled.Done;
    }

    /// <summary>Writes the job's status (the counters as <see cref="Track"/> left them; an Indexed job's succeeded is
    /// its completed indexes), then lets <paramref name="release"/> go: never before the status that counts them is
    /// stored.</summary>
    private void WriteStatus(JsonObject job, JsonObject status, int active, int ready, SortedSet<int>? completed,
        SortedSet<int>? failedIndexes, List<JsonObject> release)
    {
        void Count(string field, int value) { if (value > 0) status[field] = value; else status.Remove(field); }
        Count("active", active);
        status["ready"] = ready;
        Count("succeeded", completed?.Count ?? Int(status["succeeded"]));
        Count("failed", Int(status["failed"]));
        if (completed is not null)
        {
            if (completed.Count > 0) status["completedIndexes"] = IndexesText(completed);
            else status.Remove("completedIndexes");
        }
        if (failedIndexes is not null) status["failedIndexes"] = IndexesText(failedIndexes);
        if (!JsonNode.DeepEquals(status, job["status"]))
            try
            {
                _context.Objects.Update(ResourceKinds.Job, Json.Str(job["metadata"]?["namespace"]), NameOf(job), null, fresh =>
                {
                    if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(job)) fresh["status"] = status.DeepClone();
                    return fresh;
                }, statusOnly: true, dryRun: false);
            }
            catch (StatusException e) when (e.Code == 404) { return; }
        Release(release);
    }

    private static JsonObject? Condition(JsonObject status, string type) =>
        (status["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == type);

    private static void SetCondition(JsonObject status, string type, string reason, string message, string stamp, string value = "True")
    {
        var conditions = Json.ChildArray(status, "conditions");
        var existing = Condition(status, type);
        if (existing is not null && Json.Str(existing["status"]) == value && Json.Str(existing["reason"]) == reason) return;
        var condition = new JsonObject
        {
            ["type"] = type, ["status"] = value, ["lastProbeTime"] = stamp, ["lastTransitionTime"] = stamp, ["reason"] = reason, ["message"] = message,
        };
        if (existing is not null) conditions[conditions.IndexOf(existing)] = condition;
        else conditions.Add((JsonNode)condition);
    }

    private static string Stamp(DateTimeOffset t) => Json.Timestamp(t);
}
