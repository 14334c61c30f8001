using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A deployment as the cmdlets show it, with kubectl's READY, UP-TO-DATE and AVAILABLE.</summary>
public sealed class DeploymentInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>Ready pods / desired, as "3/3".</summary>
    public string Ready { get; init; } = "";
    public int Replicas { get; init; }
    public int UpToDate { get; init; }
    public int Available { get; init; }
    public long Revision { get; init; }
    public bool Paused { get; init; }
    /// <summary>The Progressing condition's reason (NewReplicaSetAvailable, ReplicaSetUpdated, ProgressDeadlineExceeded…).</summary>
    public string? Progress { get; init; }
    public string[] Images { get; init; } = [];
    public string Selector { get; init; } = "";
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The deployment as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    public static DeploymentInfo From(JsonObject d)
    {
        var meta = d["metadata"];
        var status = d["status"];
        int Int(JsonNode? n) => n?.GetValue<int>() ?? 0;
        var replicas = d["spec"]?["replicas"] is { } r ? Int(r) : 1;
        var matchLabels = d["spec"]?["selector"]?["matchLabels"] as JsonObject ?? [];
        return new DeploymentInfo
        {
            Name = S(meta?["name"]) ?? "", Namespace = S(meta?["namespace"]) ?? "",
            Ready = $"{Int(status?["readyReplicas"])}/{replicas}", Replicas = replicas,
            UpToDate = Int(status?["updatedReplicas"]), Available = Int(status?["availableReplicas"]),
            Revision = long.TryParse(S(meta?["annotations"]?["deployment.kubernetes.io/revision"]), out var rev) ? rev : 0,
            Paused = d["spec"]?["paused"]?.GetValue<bool>() == true,
            Progress = (status?["conditions"] as JsonArray)?.OfType<JsonObject>().Where(c => S(c["type"]) == "Progressing").Select(c => S(c["reason"])).FirstOrDefault(),
            Images = (d["spec"]?["template"]?["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Select(c => S(c["image"]) ?? "").ToArray() ?? [],
            Selector = string.Join(",", matchLabels.Select(kv => $"{kv.Key}={S(kv.Value)}")),
            Created = DateTime.TryParse(S(meta?["creationTimestamp"]), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : DateTime.UtcNow,
            Json = d.ToJsonString(),
        };
    }

    internal static string? S(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}

/// <summary>One revision of a deployment: the ReplicaSet that holds its template.</summary>
public sealed class DeploymentRevision
{
    public string Deployment { get; init; } = "";
    public string Namespace { get; init; } = "";
    public long Revision { get; init; }
    public string ReplicaSet { get; init; } = "";
    /// <summary>The kubernetes.io/change-cause annotation, as `kubectl rollout history` shows it.</summary>
    public string? ChangeCause { get; init; }
    public string[] Images { get; init; } = [];
    public int Replicas { get; init; }
    public DateTime Created { get; init; }
}

/// <summary>Lists deployments (`kubectl get deployments`): of a namespace or all, by name (wildcards) or label selector.</summary>
/// <example><code>Get-Deployment</code>The deployments of the default namespace: READY, UP-TO-DATE, AVAILABLE, AGE.</example>
/// <example><code>Get-Deployment web | Wait-Deployment</code>Waits for web's rollout.</example>
[Cmdlet(VerbsCommon.Get, "Deployment", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(DeploymentInfo))]
public sealed class GetDeploymentCommand : GetClusterObjectsCommand<DeploymentInfo>
{
    /// <summary>Deployment names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeploymentNameCompleter))]
    public string[]? Name { get; set; }

    private protected override string[]? Names => Name;
    private protected override string KindName => "Deployment";
    private protected override async Task<IEnumerable<DeploymentInfo>> ListAsync(string? ns, CancellationToken ct) =>
        (await Client.ListDeploymentsAsync(ns, Selector, ct)).Select(DeploymentInfo.From);
}

/// <summary>
/// Creates or changes a deployment. From parameters: a missing deployment is made (one container named after it);
/// an existing one changes only in what is given — -Replicas alone scales it, -Image alone rolls it out.
/// From -Path: each Deployment in a manifest file (YAML or JSON, several documents) is created or replaced.
/// </summary>
/// <example><code>Set-Deployment -Name web -Image nginx:1.27 -Replicas 3 -Port 80</code>Creates web with three pods.</example>
/// <example><code>Set-Deployment -Name web -Replicas 5</code>Scales web to five pods.</example>
/// <example><code>Set-Deployment -Name web -Image nginx:1.28; Wait-Deployment web</code>Rolls web to a new image and waits for the rollout.</example>
/// <example><code>Set-Deployment -Path ./web.yaml</code>Creates or updates the deployments the file describes.</example>
[Cmdlet(VerbsCommon.Set, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Parameters")]
[OutputType(typeof(DeploymentInfo))]
public sealed class SetDeploymentCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Parameters", ValueFromPipelineByPropertyName = true)]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    [ArgumentCompleter(typeof(DeploymentNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The image of the deployment's container (required to create one).</summary>
    [Parameter(Position = 1, ParameterSetName = "Parameters")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string? Image { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(0, 100000)]
    public int? Replicas { get; set; }

    /// <summary>Container ports (TCP).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(1, 65535)]
    public int[]? Port { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    public Hashtable? Env { get; set; }

    /// <summary>Labels of the pods (and the selector, when the deployment is created: app=NAME when none are given).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    public Hashtable? Label { get; set; }

    /// <summary>Manifest files (YAML or JSON) holding Deployments.</summary>
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
            foreach (var path in Path) ApplyFile(GetUnresolvedProviderPathFromPSPath(path));
            return;
        }
        JsonObject? current;
        try { current = Run(ct => Client.GetDeploymentAsync(Namespace, Name, ct)); }
        catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound) { current = null; }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); return; }
        try
        {
            if (current is null) Create();
            else if (Replicas is { } onlyReplicas && Image is null && Port is null && Env is null && Label is null) Scale(onlyReplicas);
            else Change();
        }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }

    private void Create()
    {
        if (Image is null)
        {
            WriteError(new ErrorRecord(new ArgumentException($"deployment {Namespace}/{Name} does not exist: -Image is needed to create it"), "DeploymentImageRequired", ErrorCategory.InvalidArgument, Name));
            return;
        }
        var labels = new JsonObject();
        foreach (var (k, v) in Labels()) labels[k] = v;
        if (labels.Count == 0) labels["app"] = Name;
        var container = new JsonObject { ["name"] = Name, ["image"] = Image };
        ApplyContainer(container);
        var d = new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "Deployment",
            ["metadata"] = new JsonObject { ["name"] = Name, ["namespace"] = Namespace, ["labels"] = labels.DeepClone() },
            ["spec"] = new JsonObject
            {
                ["replicas"] = Replicas ?? 1,
                ["selector"] = new JsonObject { ["matchLabels"] = labels.DeepClone() },
                ["template"] = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["labels"] = labels },
                    ["spec"] = new JsonObject { ["containers"] = new JsonArray(container) },
                },
            },
        };
        if (!ShouldProcess($"{Namespace}/{Name}", $"Create deployment ({Image}, {Replicas ?? 1} replicas)")) return;
        WriteObject(DeploymentInfo.From(Run(ct => Client.CreateDeploymentAsync(Namespace, d, ct))));
    }

    private void Scale(int replicas)
    {
        if (!ShouldProcess($"{Namespace}/{Name}", $"Scale deployment to {replicas}")) return;
        Run(ct => Client.ScaleDeploymentAsync(Namespace, Name, replicas, ct));
        WriteObject(DeploymentInfo.From(Run(ct => Client.GetDeploymentAsync(Namespace, Name, ct))));
    }

    private void Change()
    {
        if (!ShouldProcess($"{Namespace}/{Name}", "Update deployment")) return;
        var updated = Run(ct => Client.UpdateDeploymentAsync(Namespace, Name, d =>
        {
            if (Replicas is { } r) d["spec"]!["replicas"] = r;
            var template = d["spec"]!["template"]!.AsObject();
            var containers = template["spec"]?["containers"] as JsonArray ?? [];
            // The container named after the deployment, or its only one.
            var container = containers.OfType<JsonObject>().FirstOrDefault(c => DeploymentInfo.S(c["name"]) == Name)
                ?? (containers.Count == 1 ? containers[0] as JsonObject : null)
                ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "DeploymentContainerAmbiguous", $"deployment {Namespace}/{Name} has {containers.Count} containers and none named {Name}: change it with -Path");
            if (Image is not null) container["image"] = Image;
            ApplyContainer(container);
            if (Label is { Count: > 0 })
            {
                var labels = template["metadata"]?["labels"] as JsonObject;
                if (labels is null) { labels = []; ((JsonObject)(template["metadata"] ??= new JsonObject()))["labels"] = labels; }
                foreach (var (k, v) in Labels()) labels[k] = v;
            }
        }, null, ct));
        WriteObject(DeploymentInfo.From(updated));
    }

    private IEnumerable<(string Key, string Value)> Labels() =>
        Label is null ? [] : Label.Keys.Cast<object>().Select(k => (k.ToString()!, Label[k]?.ToString() ?? ""));

    private void ApplyContainer(JsonObject container)
    {
        if (Port is { Length: > 0 }) container["ports"] = new JsonArray(Port.Select(p => (JsonNode?)new JsonObject { ["containerPort"] = p }).ToArray());
        if (Env is { Count: > 0 })
        {
            var env = container["env"] as JsonArray;
            if (env is null) { env = []; container["env"] = env; }
            foreach (var k in Env.Keys.Cast<object>().Select(k => k.ToString()!))
            {
                if (env.OfType<JsonObject>().FirstOrDefault(e => DeploymentInfo.S(e["name"]) == k) is { } existing) env.Remove(existing);
                env.Add((JsonNode)new JsonObject { ["name"] = k, ["value"] = Env[k]?.ToString() ?? "" });
            }
        }
    }

    private void ApplyFile(string path)
    {
        var applied = ManifestApplier.Apply(this, path, "Deployment", Namespace, (ns, name, d) =>
        {
            try
            {
                return Run(ct => Client.UpdateDeploymentAsync(ns, name, current =>
                {
                    current["spec"] = d["spec"]?.DeepClone();
                    ManifestApplier.MergeMetadata(current, d["metadata"] as JsonObject);
                }, null, ct));
            }
            catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound)
            {
                return Run(ct => Client.CreateDeploymentAsync(ns, d, ct));
            }
        });
        foreach (var d in applied) WriteObject(DeploymentInfo.From(d));
    }
}

/// <summary>Cmdlets that act on named deployments of a namespace, taken from the pipeline by property name.</summary>
public abstract class DeploymentTargetCmdlet : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(DeploymentNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>The deployment's ReplicaSets by revision, each with its template.</summary>
    protected List<(DeploymentRevision Revision, JsonObject Set)> History(string ns, string name)
    {
        var d = Run(ct => Client.GetDeploymentAsync(ns, name, ct));
        var uid = DeploymentInfo.S(d["metadata"]?["uid"]);
        var sets = Run(ct => Client.ListReplicaSetsAsync(ns, null, ct));
        return sets
            .Where(s => (s["metadata"]?["ownerReferences"] as JsonArray)?.OfType<JsonObject>().Any(r => DeploymentInfo.S(r["uid"]) == uid && r["controller"]?.GetValue<bool>() == true) == true)
            .Select(s => (new DeploymentRevision
            {
                Deployment = name, Namespace = ns, ReplicaSet = DeploymentInfo.S(s["metadata"]?["name"]) ?? "",
                Revision = long.TryParse(DeploymentInfo.S(s["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"]), out var r) ? r : 0,
                ChangeCause = DeploymentInfo.S(s["metadata"]?["annotations"]?["kubernetes.io/change-cause"]),
                Images = (s["spec"]?["template"]?["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Select(c => DeploymentInfo.S(c["image"]) ?? "").ToArray() ?? [],
                Replicas = s["spec"]?["replicas"]?.GetValue<int>() ?? 0,
                Created = DateTime.TryParse(DeploymentInfo.S(s["metadata"]?["creationTimestamp"]), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : default,
            }, s))
            .OrderBy(h => h.Item1.Revision).ToList();
    }

    /// <summary>Changes each named deployment (read, change, written back) after asking; writes what came back.</summary>
    protected void Change(string action, Action<JsonObject> change)
    {
        foreach (var name in Name)
        {
            if (!ShouldProcess($"{Namespace}/{name}", action)) continue;
            try { WriteObject(DeploymentInfo.From(Run(ct => Client.UpdateDeploymentAsync(Namespace, name, change, null, ct)))); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Waits for deployments' rollouts (`kubectl rollout status`): until every pod is of the newest template and
/// available, with Write-Progress (updated, ready, available of desired). A rollout past its progress deadline ends
/// the wait with an error.</summary>
/// <example><code>Set-Deployment web -Image nginx:1.28; Wait-Deployment web -TimeoutSec 120</code>Rolls, then waits.</example>
[Cmdlet(VerbsLifecycle.Wait, "Deployment")]
[OutputType(typeof(DeploymentInfo))]
public sealed class WaitDeploymentCommand : DeploymentTargetCmdlet
{
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 600;

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            var deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
            var progress = new ProgressRecord(Math.Abs(name.GetHashCode()) % 100000, $"Rolling out deployment {Namespace}/{name}", "waiting");
            try
            {
                while (true)
                {
                    JsonObject d;
                    try { d = Run(ct => Client.GetDeploymentAsync(Namespace, name, ct)); }
                    catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); break; }
                    var (done, message) = RolloutStatus(d);
                    if (done) { WriteObject(DeploymentInfo.From(d)); break; }
                    if (message.Contains("exceeded its progress deadline", StringComparison.Ordinal))
                    {
                        WriteError(new ErrorRecord(new TimeoutException(message), "DeploymentProgressDeadlineExceeded", ErrorCategory.OperationTimeout, DeploymentInfo.From(d)));
                        break;
                    }
                    if (DateTime.UtcNow > deadline)
                    {
                        WriteError(new ErrorRecord(new TimeoutException($"deployment {Namespace}/{name} did not finish its rollout in {TimeoutSec} s: {message}"), "DeploymentWaitTimeout", ErrorCategory.OperationTimeout, DeploymentInfo.From(d)));
                        break;
                    }
                    var info = DeploymentInfo.From(d);
                    progress.StatusDescription = message;
                    progress.PercentComplete = info.Replicas == 0 ? 0 : Math.Min(100, 100 * Math.Min(info.UpToDate, info.Available) / info.Replicas);
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

    /// <summary>kubectl's rollout status: done, or what it is waiting for.</summary>
    internal static (bool Done, string Message) RolloutStatus(JsonObject d)
    {
        int Int(JsonNode? n) => n?.GetValue<int>() ?? 0;
        var name = DeploymentInfo.S(d["metadata"]?["name"]);
        var status = d["status"];
        if ((status?["observedGeneration"]?.GetValue<long>() ?? 0) < (d["metadata"]?["generation"]?.GetValue<long>() ?? 0))
            return (false, "waiting for the deployment spec update to be observed");
        if ((status?["conditions"] as JsonArray)?.OfType<JsonObject>().Any(c => DeploymentInfo.S(c["type"]) == "Progressing" && DeploymentInfo.S(c["reason"]) == "ProgressDeadlineExceeded") == true)
            return (false, $"deployment \"{name}\" exceeded its progress deadline");
        var replicas = d["spec"]?["replicas"] is { } r ? Int(r) : 1;
        var updated = Int(status?["updatedReplicas"]);
        if (updated < replicas) return (false, $"{updated} of {replicas} new replicas have been updated");
        if (Int(status?["replicas"]) > updated) return (false, $"{Int(status?["replicas"]) - updated} old replicas are pending termination");
        if (Int(status?["availableReplicas"]) < updated) return (false, $"{Int(status?["availableReplicas"])} of {updated} updated replicas are available");
        return (true, $"deployment \"{name}\" successfully rolled out");
    }
}

/// <summary>Lists a deployment's revisions (`kubectl rollout history`): one per ReplicaSet it owns.</summary>
/// <example><code>Get-DeploymentHistory web</code>web's revisions, oldest first, with their change causes and images.</example>
[Cmdlet(VerbsCommon.Get, "DeploymentHistory")]
[OutputType(typeof(DeploymentRevision))]
public sealed class GetDeploymentHistoryCommand : DeploymentTargetCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            try
            {
                foreach (var revision in History(Namespace, name).Select(h => h.Revision)) WriteObject(revision);
            }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Rolls a deployment back (`kubectl rollout undo`): its template becomes that of the previous revision, or of
/// -ToRevision; the controller then rolls it out as the newest revision.</summary>
/// <example><code>Undo-Deployment web</code>Back to the revision before the current one.</example>
/// <example><code>Undo-Deployment web -ToRevision 2</code>Back to revision 2 (see Get-DeploymentHistory).</example>
[Cmdlet(VerbsCommon.Undo, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(DeploymentInfo))]
public sealed class UndoDeploymentCommand : DeploymentTargetCmdlet
{
    /// <summary>The revision to go back to; 0 (the default): the one before the current.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long ToRevision { get; set; }

    /// <summary>Annotations a revision's set carries that are the controller's, not the template's author's.</summary>
    private static readonly HashSet<string> Skipped =
    [
        "kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision", "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
    ];

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            try
            {
                var history = History(Namespace, name);
                var current = history.Count == 0 ? 0 : history.Max(h => h.Revision.Revision);
                var target = ToRevision == 0
                    ? history.Where(h => h.Revision.Revision < current).OrderByDescending(h => h.Revision.Revision).Select(h => ((DeploymentRevision, JsonObject)?)h).FirstOrDefault()
                    : history.Where(h => h.Revision.Revision == ToRevision).Select(h => ((DeploymentRevision, JsonObject)?)h).FirstOrDefault();
                if (target is not { } found)
                {
                    var what = ToRevision == 0 ? "no revision before the current one" : $"no revision {ToRevision}";
                    WriteError(new ErrorRecord(new ItemNotFoundException($"deployment {Namespace}/{name} has {what}"), "DeploymentRevisionNotFound", ErrorCategory.ObjectNotFound, name));
                    continue;
                }
                if (found.Item1.Revision == current)
                {
                    WriteWarning($"deployment {Namespace}/{name} is already at revision {current}: nothing to undo");
                    continue;
                }
                if (!ShouldProcess($"{Namespace}/{name}", $"Roll back to revision {found.Item1.Revision}")) continue;
                var template = found.Item2["spec"]!["template"]!.DeepClone().AsObject();
                (template["metadata"]?["labels"] as JsonObject)?.Remove("pod-template-hash");
                var annotations = found.Item2["metadata"]?["annotations"] as JsonObject ?? [];
                var updated = Run(ct => Client.UpdateDeploymentAsync(Namespace, name, d =>
                {
                    d["spec"]!["template"] = template.DeepClone();
                    var meta = d["metadata"]!.AsObject();
                    var own = meta["annotations"] as JsonObject;
                    if (own is null) { own = []; meta["annotations"] = own; }
                    foreach (var (k, v) in annotations)
                        if (!Skipped.Contains(k)) own[k] = v?.DeepClone();
                }, null, ct));
                WriteObject(DeploymentInfo.From(updated));
            }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Pauses a deployment's rollouts (`kubectl rollout pause`): template changes wait until it is resumed.</summary>
/// <example><code>Suspend-Deployment web; Set-Deployment web -Image nginx:1.28 -Env @{MODE='x'}; Resume-Deployment web</code>Two changes, one rollout.</example>
[Cmdlet(VerbsLifecycle.Suspend, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(DeploymentInfo))]
public sealed class SuspendDeploymentCommand : DeploymentTargetCmdlet
{
    protected override void ProcessRecord() => Change("Pause rollouts", d => d["spec"]!["paused"] = true);
}

/// <summary>Resumes a paused deployment (`kubectl rollout resume`): what changed meanwhile rolls out.</summary>
/// <example><code>Resume-Deployment web</code>Resumes web's rollouts.</example>
[Cmdlet(VerbsLifecycle.Resume, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(DeploymentInfo))]
public sealed class ResumeDeploymentCommand : DeploymentTargetCmdlet
{
    protected override void ProcessRecord() => Change("Resume rollouts", d => ((JsonObject)d["spec"]!).Remove("paused"));
}

/// <summary>Replaces every pod of a deployment through a rollout (`kubectl rollout restart`: the
/// kubectl.kubernetes.io/restartedAt annotation on the pod template).</summary>
/// <example><code>Restart-Deployment web; Wait-Deployment web</code>New pods for web, within its rollout limits.</example>
[Cmdlet(VerbsLifecycle.Restart, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(DeploymentInfo))]
public sealed class RestartDeploymentCommand : DeploymentTargetCmdlet
{
    protected override void ProcessRecord()
    {
        var now = DateTime.UtcNow;
        Change("Restart pods", d => WorkloadRequests.MarkRestarted(d, now));
    }
}

/// <summary>Completes deployment names of the default namespace (or the one bound).</summary>
public sealed class DeploymentNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListDeploymentsAsync(ns, null, ct);
    private protected override string Tip(JsonObject d) => DeploymentInfo.From(d).Ready;
}
