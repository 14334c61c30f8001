using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A cluster job (batch/v1 Job) as the cmdlets show it, with kubectl's STATUS, COMPLETIONS and DURATION.</summary>
public sealed class ClusterJobInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>Running, Complete, Failed, Suspended or Terminating, as `kubectl get jobs` says.</summary>
    public string Status { get; init; } = "";
    /// <summary>Succeeded / wanted, as "2/3".</summary>
    public string Completions { get; init; } = "";
    public int Succeeded { get; init; }
    public int Failed { get; init; }
    public int Active { get; init; }
    /// <summary>Start to completion (or to now while it runs).</summary>
    public TimeSpan? Duration { get; init; }
    /// <summary>The cron job that started it, if one did.</summary>
    public string? CronJob { get; init; }
    public string[] Images { get; init; } = [];
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The job as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    internal bool Finished => Status is "Complete" or "Failed";

    public static ClusterJobInfo From(JsonObject job)
    {
        var meta = job["metadata"];
        var status = job["status"];
        var spec = job["spec"];
        var succeeded = Int(status?["succeeded"]);
        var conditions = (status?["conditions"] as JsonArray)?.OfType<JsonObject>().Where(c => S(c["status"]) == "True").Select(c => S(c["type"])).ToHashSet() ?? [];
        var state = meta?["deletionTimestamp"] is not null ? "Terminating"
            : conditions.Contains("Complete") ? "Complete"
            : conditions.Contains("Failed") ? "Failed"
            : conditions.Contains("Suspended") ? "Suspended"
            : "Running";
        var started = Time(status?["startTime"]);
        var ended = Time(status?["completionTime"]);
        var owner = (meta?["ownerReferences"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(r => S(r["kind"]) == "CronJob");
        return new ClusterJobInfo
        {
            Name = S(meta?["name"]) ?? "", Namespace = S(meta?["namespace"]) ?? "", Status = state,
            Completions = spec?["completions"] is JsonValue c ? $"{succeeded}/{Int(c)}" : $"{succeeded}/1 of {Int(spec?["parallelism"])}",
            Succeeded = succeeded, Failed = Int(status?["failed"]), Active = Int(status?["active"]),
            Duration = started is { } from ? (ended ?? (state == "Running" ? DateTime.UtcNow : (DateTime?)null)) - from : null,
            CronJob = S(owner?["name"]),
            Images = (spec?["template"]?["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Select(x => S(x["image"]) ?? "").ToArray() ?? [],
            Created = Time(meta?["creationTimestamp"]) ?? DateTime.UtcNow,
            Json = job.ToJsonString(),
        };
    }

    internal static string? S(JsonNode? n) => DeploymentInfo.S(n);
    internal static int Int(JsonNode? n) => n is JsonValue v && v.TryGetValue<int>(out var i) ? i : 0;
    internal static DateTime? Time(JsonNode? n) =>
        S(n) is { } s && DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var t) ? t : null;
}

/// <summary>A cron job (batch/v1 CronJob) as the cmdlets show it, with kubectl's columns.</summary>
public sealed class CronJobInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    public string Schedule { get; init; } = "";
    public string? TimeZone { get; init; }
    public bool Suspend { get; init; }
    public string ConcurrencyPolicy { get; init; } = "Allow";
    /// <summary>Jobs it started that still run.</summary>
    public int Active { get; init; }
    public DateTime? LastSchedule { get; init; }
    public DateTime? LastSuccessful { get; init; }
    public string[] Images { get; init; } = [];
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The cron job as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    public static CronJobInfo From(JsonObject cron)
    {
        var meta = cron["metadata"];
        var spec = cron["spec"];
        var status = cron["status"];
        return new CronJobInfo
        {
            Name = ClusterJobInfo.S(meta?["name"]) ?? "", Namespace = ClusterJobInfo.S(meta?["namespace"]) ?? "",
            Schedule = ClusterJobInfo.S(spec?["schedule"]) ?? "", TimeZone = ClusterJobInfo.S(spec?["timeZone"]),
            Suspend = spec?["suspend"] is JsonValue s && s.TryGetValue<bool>(out var b) && b,
            ConcurrencyPolicy = ClusterJobInfo.S(spec?["concurrencyPolicy"]) ?? "Allow",
            Active = (status?["active"] as JsonArray)?.Count ?? 0,
            LastSchedule = ClusterJobInfo.Time(status?["lastScheduleTime"]), LastSuccessful = ClusterJobInfo.Time(status?["lastSuccessfulTime"]),
            Images = (spec?["jobTemplate"]?["spec"]?["template"]?["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Select(x => ClusterJobInfo.S(x["image"]) ?? "").ToArray() ?? [],
            Created = ClusterJobInfo.Time(meta?["creationTimestamp"]) ?? DateTime.UtcNow,
            Json = cron.ToJsonString(),
        };
    }
}

/// <summary>What Start-ClusterJob and Set-CronJob build a job's pod from: one container of an image and a command.</summary>
internal static class JobTemplates
{
    public static JsonObject PodTemplate(string name, string image, string[]? command, Hashtable? env, string restartPolicy)
    {
        var container = new JsonObject { ["name"] = name, ["image"] = image };
        if (command is { Length: > 0 }) container["command"] = new JsonArray(command.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray());
        if (env is { Count: > 0 })
            container["env"] = new JsonArray(env.Keys.Cast<object>().Select(k => (JsonNode?)new JsonObject { ["name"] = k.ToString(), ["value"] = env[k]?.ToString() ?? "" }).ToArray());
        return new JsonObject { ["spec"] = new JsonObject { ["restartPolicy"] = restartPolicy, ["containers"] = new JsonArray(container) } };
    }
}

/// <summary>Lists cluster jobs (`kubectl get jobs`): of a namespace or all, by name (wildcards), label selector or the
/// cron job that started them.</summary>
/// <example><code>Get-ClusterJob</code>The jobs of the default namespace: STATUS, COMPLETIONS, DURATION, AGE.</example>
/// <example><code>Get-ClusterJob -CronJob nightly | Where-Object Status -eq Failed</code>The failed runs of a cron job.</example>
[Cmdlet(VerbsCommon.Get, "ClusterJob", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(ClusterJobInfo))]
public sealed class GetClusterJobCommand : GetClusterObjectsCommand<ClusterJobInfo>
{
    /// <summary>Job names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ClusterJobNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Only the jobs this cron job started.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string? CronJob { get; set; }

    private protected override string[]? Names => Name;
    private protected override string KindName => "ClusterJob";
    private protected override async Task<IEnumerable<ClusterJobInfo>> ListAsync(string? ns, CancellationToken ct) =>
        (await Client.ListJobsAsync(ns, Selector, ct)).Select(ClusterJobInfo.From)
            .Where(j => CronJob is null || string.Equals(j.CronJob, CronJob, StringComparison.Ordinal));
}

/// <summary>
/// Starts a cluster job: from parameters, a job of one container (-Image, -Command) run to -Completions successes,
/// -Parallelism at a time, each pod restarted or replaced up to -BackoffLimit failures; -Indexed gives each
/// completion its index (JOB_COMPLETION_INDEX). From -Path, each Job in a manifest file is created.
/// </summary>
/// <example><code>Start-ClusterJob pi -Image perl -Command perl,-e,'print 3.14' | Wait-ClusterJob</code>Runs a job and waits for it.</example>
/// <example><code>Start-ClusterJob shard -Image worker:1 -Completions 10 -Parallelism 3 -Indexed</code>Ten indexed runs, three at a time.</example>
[Cmdlet(VerbsLifecycle.Start, "ClusterJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Parameters")]
[OutputType(typeof(ClusterJobInfo))]
public sealed class StartClusterJobCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Parameters")]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = "Parameters")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Image { get; set; } = "";

    /// <summary>The container's command (its entrypoint and arguments); the image's own when absent.</summary>
    [Parameter(Position = 2, ParameterSetName = "Parameters")]
    public string[]? Command { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(1, 100000)]
    public int Completions { get; set; } = 1;

    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(1, 100000)]
    public int Parallelism { get; set; } = 1;

    /// <summary>Failures allowed before the job fails (Kubernetes' default: 6).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(0, 100000)]
    public int BackoffLimit { get; set; } = 6;

    /// <summary>Each completion gets its index 0…Completions-1 (JOB_COMPLETION_INDEX in its environment).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    public SwitchParameter Indexed { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    public Hashtable? Env { get; set; }

    /// <summary>Never (a failed pod is replaced) or OnFailure (its container is restarted in place).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateSet("Never", "OnFailure")]
    public string RestartPolicy { get; set; } = "Never";

    /// <summary>Seconds after which a running job fails (activeDeadlineSeconds).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(1, long.MaxValue)]
    public long? DeadlineSec { get; set; }

    /// <summary>Seconds after finishing at which the job and its pods are removed (ttlSecondsAfterFinished).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(0, int.MaxValue)]
    public int? RemoveAfterSec { get; set; }

    /// <summary>Manifest files (YAML or JSON) holding Jobs.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Path")
        {
            foreach (var path in Path)
                foreach (var created in ManifestApplier.Apply(this, GetUnresolvedProviderPathFromPSPath(path), "Job", Namespace, (ns, _, job) => Run(ct => Client.CreateJobAsync(ns, job, ct))))
                    WriteObject(ClusterJobInfo.From(created));
            return;
        }
        if (!ShouldProcess($"{Namespace}/{Name}", "Start job")) return;
        try { WriteObject(ClusterJobInfo.From(Run(ct => Client.CreateJobAsync(Namespace, FromParameters(), ct)))); }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }

    private JsonObject FromParameters()
    {
        var spec = new JsonObject
        {
            ["completions"] = Completions, ["parallelism"] = Parallelism, ["backoffLimit"] = BackoffLimit,
            ["template"] = JobTemplates.PodTemplate(Name, Image, Command, Env, RestartPolicy),
        };
        if (Indexed) spec["completionMode"] = "Indexed";
        if (DeadlineSec is { } deadline) spec["activeDeadlineSeconds"] = deadline;
        if (RemoveAfterSec is { } ttl) spec["ttlSecondsAfterFinished"] = ttl;
        return new JsonObject
        {
            ["apiVersion"] = "batch/v1", ["kind"] = "Job",
            ["metadata"] = new JsonObject { ["name"] = Name, ["namespace"] = Namespace }, ["spec"] = spec,
        };
    }
}

/// <summary>Cmdlets that act on named cluster jobs of a namespace, taken from the pipeline by property name.</summary>
public abstract class ClusterJobTargetCmdlet : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterJobNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";
}

/// <summary>Waits for cluster jobs to finish (`kubectl wait --for=condition=complete`), with Write-Progress (succeeded
/// of wanted, running, failed). A job that fails ends its wait with an error; the finished job is written either way.</summary>
/// <example><code>Start-ClusterJob report -Image reporter:2 | Wait-ClusterJob -TimeoutSec 600</code>Starts a job and waits for it.</example>
[Cmdlet(VerbsLifecycle.Wait, "ClusterJob")]
[OutputType(typeof(ClusterJobInfo))]
public sealed class WaitClusterJobCommand : ClusterJobTargetCmdlet
{
    [Parameter]
    [ValidateRange(1, 604800)]
    public int TimeoutSec { get; set; } = 600;

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            var deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
            var progress = new ProgressRecord(Math.Abs(name.GetHashCode()) % 100000, $"Running job {Namespace}/{name}", "waiting");
            try
            {
                while (true)
                {
                    ClusterJobInfo job;
                    try { job = ClusterJobInfo.From(Run(ct => Client.GetJobAsync(Namespace, name, ct))); }
                    catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); break; }
                    if (job.Status == "Complete") { WriteObject(job); break; }
                    if (job.Status == "Failed")
                    {
                        var reason = (JsonNode.Parse(job.Json)?["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>()
                            .Where(c => ClusterJobInfo.S(c["type"]) == "Failed").Select(c => $"{ClusterJobInfo.S(c["reason"])}: {ClusterJobInfo.S(c["message"])}").FirstOrDefault();
                        WriteError(new ErrorRecord(new InvalidOperationException($"job {Namespace}/{name} failed ({reason}); {job.Failed} pod(s) failed"), "ClusterJobFailed", ErrorCategory.OperationStopped, job));
                        WriteObject(job);
                        break;
                    }
                    if (DateTime.UtcNow > deadline)
                    {
                        WriteError(new ErrorRecord(new TimeoutException($"job {Namespace}/{name} did not finish in {TimeoutSec} s: {job.Completions} completions, {job.Active} running"), "ClusterJobWaitTimeout", ErrorCategory.OperationTimeout, job));
                        break;
                    }
                    var wanted = Math.Max(1, ClusterJobInfo.Int(JsonNode.Parse(job.Json)?["spec"]?["completions"]));
                    progress.StatusDescription = $"{job.Completions} completed, {job.Active} running, {job.Failed} failed";
                    progress.PercentComplete = Math.Min(100, 100 * job.Succeeded / wanted);
                    WriteProgress(progress);
                    Thread.Sleep(250);
                }
            }
            finally
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }
        }
    }
}

/// <summary>Removes cluster jobs and, after them, their pods (as `kubectl delete job` does).</summary>
/// <example><code>Get-ClusterJob | Where-Object Status -eq Complete | Remove-ClusterJob -Force</code>Clears finished jobs without asking.</example>
[Cmdlet(VerbsCommon.Remove, "ClusterJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveClusterJobCommand : ClusterJobTargetCmdlet
{
    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            if (!(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf") || ShouldProcess($"{Namespace}/{name}", "Remove job and its pods"))) continue;
            try { Run(ct => Client.DeleteJobAsync(Namespace, name, ct)); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Lists cron jobs (`kubectl get cronjobs`): SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE, AGE.</summary>
/// <example><code>Get-CronJob</code>The cron jobs of the default namespace.</example>
[Cmdlet(VerbsCommon.Get, "CronJob", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(CronJobInfo))]
public sealed class GetCronJobCommand : GetClusterObjectsCommand<CronJobInfo>
{
    /// <summary>Cron job names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string[]? Name { get; set; }

    private protected override string[]? Names => Name;
    private protected override string KindName => "CronJob";
    private protected override async Task<IEnumerable<CronJobInfo>> ListAsync(string? ns, CancellationToken ct) =>
        (await Client.ListCronJobsAsync(ns, Selector, ct)).Select(CronJobInfo.From);
}

/// <summary>
/// Creates or changes a cron job. From parameters: a missing cron job is made (-Schedule and -Image needed; one
/// container named after it); an existing one changes only in what is given. From -Path: each CronJob in a manifest
/// file is created or replaced. A schedule or time zone the cluster cannot read is refused with its field.
/// </summary>
/// <example><code>Set-CronJob nightly -Schedule '0 2 * * *' -TimeZone Europe/Berlin -Image backup:3 -Command /backup.sh</code>A backup every night at 02:00 Berlin time.</example>
/// <example><code>Set-CronJob nightly -Schedule '30 3 * * *'</code>Moves it to 03:30.</example>
[Cmdlet(VerbsCommon.Set, "CronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Parameters")]
[OutputType(typeof(CronJobInfo))]
public sealed class SetCronJobCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Parameters", ValueFromPipelineByPropertyName = true)]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    [ValidateLength(1, 52)]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>Five cron fields (minute hour day-of-month month day-of-week) or a macro (@hourly, @daily…).</summary>
    [Parameter(Position = 1, ParameterSetName = "Parameters")]
    [ValidateNotNullOrEmpty]
    public string? Schedule { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string? Image { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    public string[]? Command { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    public Hashtable? Env { get; set; }

    /// <summary>An IANA time zone (Europe/Berlin) the schedule is read in; the node's own when absent.</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateNotNullOrEmpty]
    public string? TimeZone { get; set; }

    /// <summary>Allow (runs may overlap), Forbid (a firing is skipped while a run is active) or Replace.</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateSet("Allow", "Forbid", "Replace")]
    public string? ConcurrencyPolicy { get; set; }

    /// <summary>Manifest files (YAML or JSON) holding CronJobs.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Path")
        {
            foreach (var path in Path)
                foreach (var applied in ManifestApplier.Apply(this, GetUnresolvedProviderPathFromPSPath(path), "CronJob", Namespace, (ns, name, cron) =>
                {
                    try
                    {
                        return Run(ct => Client.UpdateCronJobAsync(ns, name, current =>
                        {
                            current["spec"] = cron["spec"]?.DeepClone();
                            ManifestApplier.MergeMetadata(current, cron["metadata"] as JsonObject);
                        }, ct));
                    }
                    catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound) { return Run(ct => Client.CreateCronJobAsync(ns, cron, ct)); }
                }))
                    WriteObject(CronJobInfo.From(applied));
            return;
        }
        try
        {
            bool exists;
            try { Run(ct => Client.GetCronJobAsync(Namespace, Name, ct)); exists = true; }
            catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound) { exists = false; }
            if (exists) Change();
            else Create();
        }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }

    private void Create()
    {
        if (Schedule is null || Image is null)
        {
            WriteError(new ErrorRecord(new ArgumentException($"cron job {Namespace}/{Name} does not exist: -Schedule and -Image are needed to create it"), "CronJobScheduleAndImageRequired", ErrorCategory.InvalidArgument, Name));
            return;
        }
        var spec = new JsonObject
        {
            ["schedule"] = Schedule,
            ["jobTemplate"] = new JsonObject { ["spec"] = new JsonObject { ["template"] = JobTemplates.PodTemplate(Name, Image, Command, Env, "OnFailure") } },
        };
        if (TimeZone is not null) spec["timeZone"] = TimeZone;
        if (ConcurrencyPolicy is not null) spec["concurrencyPolicy"] = ConcurrencyPolicy;
        var cron = new JsonObject
        {
            ["apiVersion"] = "batch/v1", ["kind"] = "CronJob",
            ["metadata"] = new JsonObject { ["name"] = Name, ["namespace"] = Namespace }, ["spec"] = spec,
        };
        if (!ShouldProcess($"{Namespace}/{Name}", $"Create cron job ({Schedule}, {Image})")) return;
        WriteObject(CronJobInfo.From(Run(ct => Client.CreateCronJobAsync(Namespace, cron, ct))));
    }

    private void Change()
    {
        if (!ShouldProcess($"{Namespace}/{Name}", "Update cron job")) return;
        var updated = Run(ct => Client.UpdateCronJobAsync(Namespace, Name, cron =>
        {
            var spec = cron["spec"]!.AsObject();
            if (Schedule is not null) spec["schedule"] = Schedule;
            if (TimeZone is not null) spec["timeZone"] = TimeZone;
            if (ConcurrencyPolicy is not null) spec["concurrencyPolicy"] = ConcurrencyPolicy;
            if (Image is null && Command is null && Env is null) return;
            var containers = spec["jobTemplate"]?["spec"]?["template"]?["spec"]?["containers"] as JsonArray ?? [];
            var container = containers.OfType<JsonObject>().FirstOrDefault(c => ClusterJobInfo.S(c["name"]) == Name)
                ?? (containers.Count == 1 ? containers[0] as JsonObject : null)
                ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "CronJobContainerAmbiguous", $"cron job {Namespace}/{Name} has {containers.Count} containers and none named {Name}: change it with -Path");
            var fresh = JobTemplates.PodTemplate(Name, Image ?? ClusterJobInfo.S(container["image"]) ?? "", Command, Env, "OnFailure")["spec"]!["containers"]![0]!.AsObject();
            if (Image is not null) container["image"] = Image;
            if (Command is not null) container["command"] = fresh["command"]?.DeepClone();
            if (Env is not null) container["env"] = fresh["env"]?.DeepClone();
        }, ct));
        WriteObject(CronJobInfo.From(updated));
    }
}

/// <summary>Cmdlets that act on named cron jobs of a namespace, taken from the pipeline by property name.</summary>
public abstract class CronJobTargetCmdlet : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    protected void Change(string action, Action<JsonObject> change)
    {
        foreach (var name in Name)
        {
            if (!ShouldProcess($"{Namespace}/{name}", action)) continue;
            try { WriteObject(CronJobInfo.From(Run(ct => Client.UpdateCronJobAsync(Namespace, name, change, ct)))); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Runs a cron job now (`kubectl create job --from=cronjob/NAME`): a job from its template, owned by it,
/// whatever its schedule or suspension says.</summary>
/// <example><code>Start-CronJob nightly | Wait-ClusterJob</code>Runs tonight's backup now and waits for it.</example>
[Cmdlet(VerbsLifecycle.Start, "CronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ClusterJobInfo))]
public sealed class StartCronJobCommand : CronJobTargetCmdlet
{
    /// <summary>The job's name; NAME-manual-xxxxx when absent.</summary>
    [Parameter]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    public string? JobName { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            if (!ShouldProcess($"{Namespace}/{name}", "Start a job from cron job")) continue;
            try { WriteObject(ClusterJobInfo.From(Run(ct => Client.StartCronJobAsync(Namespace, name, Name.Length == 1 ? JobName : null, ct)))); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Suspends cron jobs: no new runs start until resumed (running ones go on).</summary>
/// <example><code>Suspend-CronJob nightly</code>Pauses the nightly runs.</example>
[Cmdlet(VerbsLifecycle.Suspend, "CronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(CronJobInfo))]
public sealed class SuspendCronJobCommand : CronJobTargetCmdlet
{
    protected override void ProcessRecord() => Change("Suspend cron job", c => c["spec"]!["suspend"] = true);
}

/// <summary>Resumes suspended cron jobs: their next firing runs (missed ones are not made up, beyond the latest
/// within startingDeadlineSeconds).</summary>
/// <example><code>Resume-CronJob nightly</code>Resumes the nightly runs.</example>
[Cmdlet(VerbsLifecycle.Resume, "CronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(CronJobInfo))]
public sealed class ResumeCronJobCommand : CronJobTargetCmdlet
{
    protected override void ProcessRecord() => Change("Resume cron job", c => c["spec"]!["suspend"] = false);
}

/// <summary>Removes cron jobs and, after them, the jobs they started and those jobs' pods.</summary>
/// <example><code>Remove-CronJob nightly -Force</code>Removes it without asking.</example>
[Cmdlet(VerbsCommon.Remove, "CronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveCronJobCommand : CronJobTargetCmdlet
{
    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            if (!(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf") || ShouldProcess($"{Namespace}/{name}", "Remove cron job, its jobs and their pods"))) continue;
            try { Run(ct => Client.DeleteCronJobAsync(Namespace, name, ct)); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

public sealed class ClusterJobNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListJobsAsync(ns, null, ct);
    private protected override string Tip(JsonObject o) => ClusterJobInfo.From(o).Status;
}

public sealed class CronJobNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListCronJobsAsync(ns, null, ct);
    private protected override string Tip(JsonObject o) => ClusterJobInfo.S(o["spec"]?["schedule"]) ?? "";
}
