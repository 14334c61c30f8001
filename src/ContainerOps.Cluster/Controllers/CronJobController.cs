using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Starts a CronJob's Jobs on its schedule (kube-controller-manager's cronjob controller, v2). Each look finds the
/// most recent time the schedule fired since the last run (or since the CronJob was made), and starts one Job for
/// it — only the most recent: after the daemon was down for several firings, one catch-up run, as Kubernetes does,
/// and none if that time is older than startingDeadlineSeconds. The Job's name holds the scheduled minute
/// (NAME-&lt;unix minutes&gt;), so a second look at the same firing, a retry or a restart never starts it twice.
/// concurrencyPolicy Forbid skips a firing while a Job runs, Replace deletes the running ones first; finished Jobs
/// beyond successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted, oldest first. Between firings it
/// sleeps until the next one: no polling.
/// </summary>
public sealed class CronJobController : IController
{
    public const string ScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp";
    /// <summary>More missed firings than this is reported (a stopped clock, a long outage); the newest still runs.</summary>
    private const int TooManyMissed = 100;

    private ControllerContext _context = null!;
    private Informer _cronJobs = null!;
    private Informer _jobs = null!;
    private EventRecorder _events = null!;

    public string Name => "cronjob-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _events = context.Events(Name);
        _cronJobs = context.Informers.For(ResourceKinds.CronJob);
        _jobs = context.Informers.For(ResourceKinds.Job);
        _cronJobs.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        // A Job's change (it finished, it went) wakes its CronJob.
        _jobs.AddHandler(e =>
        {
            if (OwnerReferences.ControllerOf(e.Object) is { } owner && Json.Str(owner["kind"]) == "CronJob")
                queue.Add(Informer.KeyOf(Json.Str(e.Object["metadata"]?["namespace"]), Json.Str(owner["name"]) ?? ""));
        });
    }

    private static string NameOf(JsonObject o) => Json.Str(o["metadata"]?["name"]) ?? "";
    private static string? NamespaceOf(JsonObject o) => Json.Str(o["metadata"]?["namespace"]);

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (_cronJobs.Get(key) is not { } cached) return Task.FromResult(Reconciled.Done);
        var cronJob = (JsonObject)cached.DeepClone();
        var uid = OwnerReferences.Uid(cronJob)!;
        var now = _context.Clock.GetUtcNow();
        var jobs = _jobs.ListByOwner(uid).Where(j => OwnerReferences.IsControlledBy(j, uid)).ToList();
        var status = (JsonObject?)cronJob["status"]?.DeepClone() ?? [];
        var active = TrackActive(cronJob, status, jobs);

        if (OwnerReferences.IsBeingDeleted(cronJob)) return Task.FromResult(WriteStatus(cronJob, status, Reconciled.Done));
        var spec = cronJob["spec"] as JsonObject ?? [];
        if (CronSchedule.Read(spec, out var errors) is not { } schedule)
        {
            // Admission refuses these; one stored before the check (or restored) is reported, not retried.
            _events.Warning(cronJob, "InvalidSchedule", string.Join("; ", errors.Select(e => $"{e.Field}: {e.Detail}")));
            return Task.FromResult(WriteStatus(cronJob, status, Reconciled.Done));
        }
        CleanUpHistory(cronJob, spec, jobs);
        if (spec["suspend"] is JsonValue s && s.TryGetValue<bool>(out var suspended) && suspended)
            return Task.FromResult(WriteStatus(cronJob, status, Reconciled.Done));

        var next = schedule.Next(now) is { } n ? Reconciled.After(n - now + TimeSpan.FromMilliseconds(100)) : Reconciled.Done;
        if (MostRecentFiring(cronJob, spec, status, schedule, now) is not { } firing) return Task.FromResult(WriteStatus(cronJob, status, next));

        long? startingDeadline = spec["startingDeadlineSeconds"] is JsonValue d && d.TryGetValue<long>(out var secs) ? secs : null;
        if (startingDeadline is { } deadline && firing.AddSeconds(deadline) < now)
        {
            _events.Warning(cronJob, "MissSchedule", $"Missed scheduled time to start a job: {firing.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}");
            return Task.FromResult(WriteStatus(cronJob, status, next));
        }
        var jobName = JobName(cronJob, firing);
        if (active.OfType<JsonObject>().Any(r => Json.Str(r["name"]) == jobName) || jobs.Any(j => NameOf(j) == jobName))
        {
            // This firing has its Job (the status that says so may be what a crash lost).
            status["lastScheduleTime"] = Json.Timestamp(firing);
            return Task.FromResult(WriteStatus(cronJob, status, next));
        }

        switch (Json.Str(spec["concurrencyPolicy"]) ?? "Allow")
        {
            case "Forbid" when active.Count > 0:
                // The firing waits: if the running Job ends before the next one (and within startingDeadlineSeconds) it
                // starts then, as in Kubernetes.
                _events.Normal(cronJob, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid");
                return Task.FromResult(WriteStatus(cronJob, status, next));
            case "Replace":
                foreach (var running in active.OfType<JsonObject>().ToList())
                    if (DeleteJob(cronJob, Json.Str(running["name"]) ?? "", Json.Str(running["uid"])))
                        active.Remove(running);
                break;
        }

        if (CreateJob(cronJob, jobName, firing, schedule) is not { } job) return Task.FromResult(WriteStatus(cronJob, status, Reconciled.After(TimeSpan.FromSeconds(10))));
        if (!active.OfType<JsonObject>().Any(r => Json.Str(r["uid"]) == OwnerReferences.Uid(job))) active.Add((JsonNode)ReferenceTo(job));
        status["lastScheduleTime"] = Json.Timestamp(firing);
        return Task.FromResult(WriteStatus(cronJob, status, next));
    }

    /// <summary>status.active brought in step with the Jobs: finished ones leave it (and a success moves
    /// lastSuccessfulTime), vanished ones leave it, running ones not in it (made just before a crash) join it.</summary>
    private JsonArray TrackActive(JsonObject cronJob, JsonObject status, List<JsonObject> jobs)
    {
        var active = status["active"] as JsonArray ?? [];
        status["active"] = active;
        foreach (var reference in active.OfType<JsonObject>().ToList())
        {
            var job = jobs.FirstOrDefault(j => OwnerReferences.Uid(j) == Json.Str(reference["uid"]));
            if (job is null)
            {
                // A Job made moments ago may not have reached the cache: only one the store lacks went missing.
                if (ExistsInStore(cronJob, reference)) continue;
                _events.Warning(cronJob, "MissingJob", $"Active job went missing: {Json.Str(reference["name"])}");
                active.Remove(reference);
                continue;
            }
            if (JobController.Finished(job["status"] as JsonObject ?? []) is null) continue;
            active.Remove(reference);
            var condition = Succeeded(job) ? "Complete" : "Failed";
            _events.Normal(cronJob, "SawCompletedJob", $"Saw completed job: {NameOf(job)}, condition: {condition}");
            if (Succeeded(job) && PodStates.Time(job["status"]?["completionTime"]) is { } done
                && (PodStates.Time(status["lastSuccessfulTime"]) is not { } last || done > last))
                status["lastSuccessfulTime"] = Json.Timestamp(done);
        }
        foreach (var job in jobs)
            if (JobController.Finished(job["status"] as JsonObject ?? []) is null && !OwnerReferences.IsBeingDeleted(job)
                && !active.OfType<JsonObject>().Any(r => Json.Str(r["uid"]) == OwnerReferences.Uid(job)))
                active.Add((JsonNode)ReferenceTo(job));
        return active;
    }

    private bool ExistsInStore(JsonObject cronJob, JsonObject reference)
    {
        try { return OwnerReferences.Uid(_context.Objects.Get(ResourceKinds.Job, NamespaceOf(cronJob), Json.Str(reference["name"]) ?? "")) == Json.Str(reference["uid"]); }
        catch (StatusException e) when (e.Code == 404) { return false; }
    }

    private static bool Succeeded(JsonObject job) =>
        (job["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().Any(c => Json.Str(c["type"]) == "Complete" && Json.Str(c["status"]) == "True") == true;

    /// <summary>The newest time the schedule fired after the last run (or the CronJob's creation, or now minus
    /// startingDeadlineSeconds if later), if it fired since.</summary>
    private DateTimeOffset? MostRecentFiring(JsonObject cronJob, JsonObject spec, JsonObject status, CronSchedule schedule, DateTimeOffset now)
    {
        var since = PodStates.Time(status["lastScheduleTime"]) ?? PodStates.Time(cronJob["metadata"]?["creationTimestamp"]) ?? now;
        if (spec["startingDeadlineSeconds"] is JsonValue d && d.TryGetValue<long>(out var deadline) && now.AddSeconds(-deadline) > since)
            since = now.AddSeconds(-deadline);
        var fired = schedule.FiredBetween(since, now, TooManyMissed + 1);
        if (fired.Count > TooManyMissed)
            _events.Warning(cronJob, "TooManyMissedTimes", $"too many missed start times: > {TooManyMissed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
        return fired.Count > 0 ? fired[0] : null;
    }

    /// <summary>The Job name for a firing: the CronJob's name and the firing's minute since the epoch, as Kubernetes
    /// names them.</summary>
    public static string JobName(JsonObject cronJob, DateTimeOffset firing) => $"{NameOf(cronJob)}-{firing.ToUnixTimeSeconds() / 60}";

    private JsonObject? CreateJob(JsonObject cronJob, string name, DateTimeOffset firing, CronSchedule schedule)
    {
        var template = cronJob["spec"]?["jobTemplate"] as JsonObject ?? [];
        var meta = new JsonObject { ["name"] = name, ["namespace"] = NamespaceOf(cronJob) };
        foreach (var field in new[] { "labels", "annotations" })
            if (template["metadata"]?[field] is { } value) meta[field] = value.DeepClone();
        Json.Child(meta, "annotations")[ScheduledTimestampAnnotation] = TimeZoneInfo.ConvertTime(firing, schedule.Zone).ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);
        meta["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(cronJob));
        var job = new JsonObject
        {
            ["apiVersion"] = "batch/v1", ["kind"] = "Job", ["metadata"] = meta,
            ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject(),
        };
        try
        {
            var created = _context.Objects.Create(ResourceKinds.Job, NamespaceOf(cronJob), job, FieldValidation.Ignore, dryRun: false, out _);
            _events.Normal(cronJob, "SuccessfulCreate", $"Created job {name}");
            return created;
        }
        catch (StatusException e) when (e.Code == 409)
        {
            // Made by an earlier look whose status write was lost: ours if it names us as its controller.
            try
            {
                var existing = _context.Objects.Get(ResourceKinds.Job, NamespaceOf(cronJob), name);
                if (OwnerReferences.IsControlledBy(existing, OwnerReferences.Uid(cronJob)!)) return existing;
            }
            catch (StatusException) { }
            _events.Warning(cronJob, "FailedCreate", $"Error creating job: {e.Message}");
            return null;
        }
        catch (StatusException e)
        {
            _events.Warning(cronJob, "FailedCreate", $"Error creating job: {e.Message}");
            return null;
        }
    }

    private bool DeleteJob(JsonObject cronJob, string name, string? uid)
    {
        try
        {
            _context.Objects.Delete(ResourceKinds.Job, NamespaceOf(cronJob), name, null, uid, dryRun: false, propagation: "Background");
            _events.Normal(cronJob, "SuccessfulDelete", $"Deleted job {name}");
            return true;
        }
        catch (StatusException e) when (e.Code == 404) { return true; }
        catch (StatusException e)
        {
            _events.Warning(cronJob, "FailedDelete", $"Deleted job {name}: {e.Message}");
            return false;
        }
    }

    /// <summary>Finished Jobs beyond the history limits go, oldest first (by start time, as Kubernetes sorts them).</summary>
    private void CleanUpHistory(JsonObject cronJob, JsonObject spec, List<JsonObject> jobs)
    {
        int Limit(string field, int fallback) => spec[field] is JsonValue v && v.TryGetValue<int>(out var i) ? i : fallback;
        var finished = jobs.Where(j => !OwnerReferences.IsBeingDeleted(j) && JobController.Finished(j["status"] as JsonObject ?? []) is not null)
            .OrderBy(j => PodStates.Time(j["status"]?["startTime"]) ?? PodStates.Time(j["metadata"]?["creationTimestamp"]) ?? DateTimeOffset.MinValue)
            .ToList();
        foreach (var (succeeded, limit) in new[] { (true, Limit("successfulJobsHistoryLimit", 3)), (false, Limit("failedJobsHistoryLimit", 1)) })
        {
            var kept = finished.Where(j => Succeeded(j) == succeeded).ToList();
            foreach (var old in kept.Take(Math.Max(0, kept.Count - limit))) DeleteJob(cronJob, NameOf(old), OwnerReferences.Uid(old));
        }
    }

    private static JsonObject ReferenceTo(JsonObject job) => new()
    {
        ["kind"] = "Job", ["namespace"] = NamespaceOf(job), ["name"] = NameOf(job),
        ["uid"] = OwnerReferences.Uid(job), ["apiVersion"] = "batch/v1", ["resourceVersion"] = Json.Str(job["metadata"]?["resourceVersion"]),
    };

    private Reconciled WriteStatus(JsonObject cronJob, JsonObject status, Reconciled result)
    {
        if (status["active"] is JsonArray { Count: 0 }) status.Remove("active");
        if (JsonNode.DeepEquals(status, cronJob["status"] ?? new JsonObject())) return result;
        try
        {
            // Written over the version read: a status computed from a stale cache conflicts and is computed again.
            var read = long.TryParse(Json.Str(cronJob["metadata"]?["resourceVersion"]), out var rv) ? rv : (long?)null;
            _context.Objects.Update(ResourceKinds.CronJob, NamespaceOf(cronJob), NameOf(cronJob), read, fresh =>
            {
                if (OwnerReferences.Uid(fresh) == OwnerReferences.Uid(cronJob)) fresh["status"] = status.DeepClone();
                return fresh;
            }, statusOnly: true, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
        return result;
    }
}
