using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A StatefulSet as the cmdlets show it, with kubectl's READY, and its revisions.</summary>
public sealed class StatefulSetInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>Ready pods / desired, as "3/3".</summary>
    public string Ready { get; init; } = "";
    public int Replicas { get; init; }
    public int ReadyReplicas { get; init; }
    public int UpdatedReplicas { get; init; }
    public string ServiceName { get; init; } = "";
    /// <summary>OrderedReady or Parallel.</summary>
    public string PodManagementPolicy { get; init; } = "";
    /// <summary>RollingUpdate or OnDelete.</summary>
    public string UpdateStrategy { get; init; } = "";
    public int Partition { get; init; }
    public string? CurrentRevision { get; init; }
    public string? UpdateRevision { get; init; }
    public string[] Images { get; init; } = [];
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The StatefulSet as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    public static StatefulSetInfo From(JsonObject s)
    {
        var meta = s["metadata"];
        var status = s["status"];
        var replicas = s["spec"]?["replicas"] is { } r ? Int(r) : 1;
        return new StatefulSetInfo
        {
            Name = DeploymentInfo.S(meta?["name"]) ?? "", Namespace = DeploymentInfo.S(meta?["namespace"]) ?? "",
            Ready = $"{Int(status?["readyReplicas"])}/{replicas}", Replicas = replicas,
            ReadyReplicas = Int(status?["readyReplicas"]), UpdatedReplicas = Int(status?["updatedReplicas"]),
            ServiceName = DeploymentInfo.S(s["spec"]?["serviceName"]) ?? "",
            PodManagementPolicy = DeploymentInfo.S(s["spec"]?["podManagementPolicy"]) ?? "OrderedReady",
            UpdateStrategy = DeploymentInfo.S(s["spec"]?["updateStrategy"]?["type"]) ?? "RollingUpdate",
            Partition = Int(s["spec"]?["updateStrategy"]?["rollingUpdate"]?["partition"]),
            CurrentRevision = DeploymentInfo.S(status?["currentRevision"]), UpdateRevision = DeploymentInfo.S(status?["updateRevision"]),
            Images = ImagesOf(s), Created = CreatedOf(s), Json = s.ToJsonString(),
        };
    }

    internal static int Int(JsonNode? n) => n?.GetValue<int>() ?? 0;

    internal static string[] ImagesOf(JsonObject o) =>
        (o["spec"]?["template"]?["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Select(c => DeploymentInfo.S(c["image"]) ?? "").ToArray() ?? [];

    internal static DateTime CreatedOf(JsonObject o) =>
        DateTime.TryParse(DeploymentInfo.S(o["metadata"]?["creationTimestamp"]), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : DateTime.UtcNow;
}

/// <summary>A DaemonSet as the cmdlets show it, with kubectl's DESIRED, CURRENT, READY, UP-TO-DATE and AVAILABLE.</summary>
public sealed class DaemonSetInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    public int Desired { get; init; }
    public int Current { get; init; }
    public int Ready { get; init; }
    public int UpToDate { get; init; }
    public int Available { get; init; }
    public int Misscheduled { get; init; }
    /// <summary>The template's nodeSelector, as "disk=ssd,zone=a" ("" for every node).</summary>
    public string NodeSelector { get; init; } = "";
    /// <summary>RollingUpdate or OnDelete.</summary>
    public string UpdateStrategy { get; init; } = "";
    public string[] Images { get; init; } = [];
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The DaemonSet as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    public static DaemonSetInfo From(JsonObject d)
    {
        var meta = d["metadata"];
        var status = d["status"];
        var selector = d["spec"]?["template"]?["spec"]?["nodeSelector"] as JsonObject ?? [];
        return new DaemonSetInfo
        {
            Name = DeploymentInfo.S(meta?["name"]) ?? "", Namespace = DeploymentInfo.S(meta?["namespace"]) ?? "",
            Desired = StatefulSetInfo.Int(status?["desiredNumberScheduled"]), Current = StatefulSetInfo.Int(status?["currentNumberScheduled"]),
            Ready = StatefulSetInfo.Int(status?["numberReady"]), UpToDate = StatefulSetInfo.Int(status?["updatedNumberScheduled"]),
            Available = StatefulSetInfo.Int(status?["numberAvailable"]), Misscheduled = StatefulSetInfo.Int(status?["numberMisscheduled"]),
            NodeSelector = string.Join(",", selector.Select(kv => $"{kv.Key}={DeploymentInfo.S(kv.Value)}")),
            UpdateStrategy = DeploymentInfo.S(d["spec"]?["updateStrategy"]?["type"]) ?? "RollingUpdate",
            Images = StatefulSetInfo.ImagesOf(d), Created = StatefulSetInfo.CreatedOf(d), Json = d.ToJsonString(),
        };
    }
}

/// <summary>Lists StatefulSets (`kubectl get statefulsets`): of a namespace or all, by name (wildcards) or label selector.</summary>
/// <example><code>Get-StatefulSet</code>The StatefulSets of the default namespace: READY and AGE.</example>
/// <example><code>Get-StatefulSet web | Set-StatefulSet -Replicas 5</code>Scales web to five pods.</example>
[Cmdlet(VerbsCommon.Get, "StatefulSet", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(StatefulSetInfo))]
public sealed class GetStatefulSetCommand : GetClusterObjectsCommand<StatefulSetInfo>
{
    /// <summary>StatefulSet names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(StatefulSetNameCompleter))]
    public string[]? Name { get; set; }

    private protected override string[]? Names => Name;
    private protected override string KindName => "StatefulSet";
    private protected override async Task<IEnumerable<StatefulSetInfo>> ListAsync(string? ns, CancellationToken ct) =>
        (await Client.ListStatefulSetsAsync(ns, Selector, ct)).Select(StatefulSetInfo.From);
}

/// <summary>Scales a StatefulSet (`kubectl scale statefulset`): its controller then adds pods in ordinal order or
/// removes them from the highest ordinal down.</summary>
/// <example><code>Set-StatefulSet web -Replicas 1</code>Scales web down to web-0.</example>
/// <example><code>Get-StatefulSet -Selector tier=db | Set-StatefulSet -Replicas 3 -WhatIf</code>Shows what would be scaled.</example>
[Cmdlet(VerbsCommon.Set, "StatefulSet", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(StatefulSetInfo))]
public sealed class SetStatefulSetCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    [ArgumentCompleter(typeof(StatefulSetNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>The number of pods (ordinals 0 to Replicas-1).</summary>
    [Parameter(Mandatory = true)]
    [ValidateRange(0, 100000)]
    public int Replicas { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"{Namespace}/{Name}", $"Scale statefulset to {Replicas}")) return;
        try { WriteObject(StatefulSetInfo.From(Run(ct => Client.ScaleStatefulSetAsync(Namespace, Name, Replicas, ct)))); }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }
}

/// <summary>Lists DaemonSets (`kubectl get daemonsets`): of a namespace or all, by name (wildcards) or label selector.</summary>
/// <example><code>Get-DaemonSet</code>The DaemonSets of the default namespace: DESIRED, CURRENT, READY, UP-TO-DATE, AVAILABLE.</example>
/// <example><code>Get-DaemonSet -AllNamespaces | Where-Object Misscheduled -gt 0</code>Sets with pods on nodes they no longer select.</example>
[Cmdlet(VerbsCommon.Get, "DaemonSet", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(DaemonSetInfo))]
public sealed class GetDaemonSetCommand : GetClusterObjectsCommand<DaemonSetInfo>
{
    /// <summary>DaemonSet names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DaemonSetNameCompleter))]
    public string[]? Name { get; set; }

    private protected override string[]? Names => Name;
    private protected override string KindName => "DaemonSet";
    private protected override async Task<IEnumerable<DaemonSetInfo>> ListAsync(string? ns, CancellationToken ct) =>
        (await Client.ListDaemonSetsAsync(ns, Selector, ct)).Select(DaemonSetInfo.From);
}

/// <summary>Completes StatefulSet names of the default namespace (or the one bound).</summary>
public sealed class StatefulSetNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListStatefulSetsAsync(ns, null, ct);
    private protected override string Tip(JsonObject o) => StatefulSetInfo.From(o).Ready;
}

/// <summary>Completes DaemonSet names of the default namespace (or the one bound).</summary>
public sealed class DaemonSetNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListDaemonSetsAsync(ns, null, ct);
    private protected override string Tip(JsonObject o) => $"{DaemonSetInfo.From(o).Ready}/{DaemonSetInfo.From(o).Desired} ready";
}

/// <summary>What Wait- and Restart- of StatefulSets and DaemonSets share: the sets named, in one namespace, by name or
/// from the pipeline (Get-StatefulSet web | Wait-StatefulSet).</summary>
public abstract class WorkloadSetTargetCmdlet : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(WorkloadSetNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>statefulsets or daemonsets.</summary>
    private protected abstract string Resource { get; }
    private protected abstract object Show(JsonObject set);
}

/// <summary>Waits for rollouts of StatefulSets or DaemonSets (`kubectl rollout status`), with Write-Progress, until
/// kubectl's condition holds, or -TimeoutSec passes (an OperationTimeout error saying what it still waits for).</summary>
public abstract class WaitWorkloadSetCommand : WorkloadSetTargetCmdlet
{
    /// <summary>How long to wait for each set (seconds).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 600;

    /// <summary>Done, or what the rollout waits for, in kubectl's words.</summary>
    private protected abstract (bool Done, string Message) RolloutStatus(JsonObject set);

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            var deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
            var progress = new ProgressRecord(Math.Abs(name.GetHashCode()) % 100000, $"Rolling out {Resource} {Namespace}/{name}", "waiting");
            try
            {
                while (true)
                {
                    JsonObject set;
                    try { set = Run(ct => Client.GetWorkloadSetAsync(Resource, Namespace, name, ct)); }
                    catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); break; }
                    if (DeploymentInfo.S(set["spec"]?["updateStrategy"]?["type"]) is { } strategy && strategy != "RollingUpdate")
                    {
                        WriteError(new ErrorRecord(new InvalidOperationException($"rollout status is only available for RollingUpdate strategy type ({Namespace}/{name} is {strategy})"),
                            "RolloutStatusUnavailable", ErrorCategory.InvalidOperation, Show(set)));
                        break;
                    }
                    var (done, message) = RolloutStatus(set);
                    if (done) { WriteObject(Show(set)); break; }
                    if (DateTime.UtcNow > deadline)
                    {
                        WriteError(new ErrorRecord(new TimeoutException($"{Resource} {Namespace}/{name} did not finish its rollout in {TimeoutSec} s: {message}"),
                            "RolloutWaitTimeout", ErrorCategory.OperationTimeout, Show(set)));
                        break;
                    }
                    progress.StatusDescription = message;
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

    private protected static bool Observed(JsonObject set) =>
        (set["status"]?["observedGeneration"]?.GetValue<long>() ?? 0) >= (set["metadata"]?["generation"]?.GetValue<long>() ?? 0);
}

/// <summary>Waits for StatefulSets' rollouts (`kubectl rollout status statefulset`): every pod ready and of the update
/// revision, or, with a partition, every pod above it.</summary>
/// <example><code>Restart-StatefulSet db; Wait-StatefulSet db -TimeoutSec 300</code>Replaces db's pods one by one and waits.</example>
[Cmdlet(VerbsLifecycle.Wait, "StatefulSet")]
[OutputType(typeof(StatefulSetInfo))]
public sealed class WaitStatefulSetCommand : WaitWorkloadSetCommand
{
    private protected override string Resource => "statefulsets";
    private protected override object Show(JsonObject set) => StatefulSetInfo.From(set);

    private protected override (bool Done, string Message) RolloutStatus(JsonObject set)
    {
        if (!Observed(set)) return (false, "waiting for statefulset spec update to be observed");
        var info = StatefulSetInfo.From(set);
        if (info.ReadyReplicas < info.Replicas) return (false, $"Waiting for {info.Replicas - info.ReadyReplicas} pods to be ready");
        if (info.Partition > 0)
            return info.UpdatedReplicas < info.Replicas - info.Partition
                ? (false, $"Waiting for partitioned roll out to finish: {info.UpdatedReplicas} out of {info.Replicas - info.Partition} new pods have been updated")
                : (true, $"partitioned roll out complete: {info.UpdatedReplicas} new pods have been updated");
        return info.UpdateRevision != info.CurrentRevision
            ? (false, $"waiting for statefulset rolling update to complete {info.UpdatedReplicas} pods at revision {info.UpdateRevision}")
            : (true, $"statefulset rolling update complete {info.Replicas} pods at revision {info.CurrentRevision}");
    }
}

/// <summary>Waits for DaemonSets' rollouts (`kubectl rollout status daemonset`): a pod of the newest template available
/// on every node that should run one.</summary>
/// <example><code>Restart-DaemonSet agent | Wait-DaemonSet</code>Replaces agent's pods node by node and waits.</example>
[Cmdlet(VerbsLifecycle.Wait, "DaemonSet")]
[OutputType(typeof(DaemonSetInfo))]
public sealed class WaitDaemonSetCommand : WaitWorkloadSetCommand
{
    private protected override string Resource => "daemonsets";
    private protected override object Show(JsonObject set) => DaemonSetInfo.From(set);

    private protected override (bool Done, string Message) RolloutStatus(JsonObject set)
    {
        if (!Observed(set)) return (false, "waiting for daemon set spec update to be observed");
        var info = DaemonSetInfo.From(set);
        if (info.UpToDate < info.Desired) return (false, $"{info.UpToDate} out of {info.Desired} new pods have been updated");
        if (info.Available < info.UpToDate) return (false, $"{info.Available} of {info.UpToDate} updated pods are available");
        return (true, $"daemon set \"{info.Name}\" successfully rolled out");
    }
}

/// <summary>Replaces every pod of StatefulSets or DaemonSets through their update strategy (`kubectl rollout restart`).</summary>
public abstract class RestartWorkloadSetCommand : WorkloadSetTargetCmdlet
{
    protected override void ProcessRecord()
    {
        var now = DateTime.UtcNow;
        foreach (var name in Name)
        {
            if (!ShouldProcess($"{Namespace}/{name}", "Restart pods")) continue;
            try { WriteObject(Show(Run(ct => Client.RestartWorkloadSetAsync(Resource, Namespace, name, now, ct)))); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Replaces every pod of a StatefulSet, from the highest ordinal down, each after the one before is ready
/// (`kubectl rollout restart statefulset`).</summary>
/// <example><code>Restart-StatefulSet db; Wait-StatefulSet db</code>New pods for db, in order.</example>
[Cmdlet(VerbsLifecycle.Restart, "StatefulSet", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(StatefulSetInfo))]
public sealed class RestartStatefulSetCommand : RestartWorkloadSetCommand
{
    private protected override string Resource => "statefulsets";
    private protected override object Show(JsonObject set) => StatefulSetInfo.From(set);
}

/// <summary>Replaces a DaemonSet's pods node by node, within its maxUnavailable (`kubectl rollout restart daemonset`).</summary>
/// <example><code>Get-DaemonSet agent | Restart-DaemonSet | Wait-DaemonSet</code>New agent pods, then waits for them.</example>
[Cmdlet(VerbsLifecycle.Restart, "DaemonSet", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(DaemonSetInfo))]
public sealed class RestartDaemonSetCommand : RestartWorkloadSetCommand
{
    private protected override string Resource => "daemonsets";
    private protected override object Show(JsonObject set) => DaemonSetInfo.From(set);
}

/// <summary>One revision of a StatefulSet or DaemonSet (a ControllerRevision), as `kubectl rollout history` lists it.</summary>
public sealed class WorkloadSetRevision
{
    /// <summary>StatefulSet or DaemonSet.</summary>
    public string Kind { get; init; } = "";
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    public long Revision { get; init; }
    /// <summary>The ControllerRevision's name (SET-HASH); its hash is the pods' controller-revision-hash label.</summary>
    public string ControllerRevision { get; init; } = "";
    /// <summary>The kubernetes.io/change-cause annotation of the template, as `kubectl rollout history` shows it.</summary>
    public string? ChangeCause { get; init; }
    public string[] Images { get; init; } = [];
    /// <summary>Whether the set's pods are to be of this revision now (its updateRevision, or the newest).</summary>
    public bool Current { get; init; }
    public DateTime Created { get; init; }

    internal static WorkloadSetRevision From(JsonObject set, JsonObject revision, long newest)
    {
        var template = WorkloadRequests.TemplateOf(revision);
        return new WorkloadSetRevision
        {
            Kind = DeploymentInfo.S(set["kind"]) ?? "", Name = DeploymentInfo.S(set["metadata"]?["name"]) ?? "",
            Namespace = DeploymentInfo.S(set["metadata"]?["namespace"]) ?? "", Revision = WorkloadRequests.RevisionNumber(revision),
            ControllerRevision = DeploymentInfo.S(revision["metadata"]?["name"]) ?? "",
            ChangeCause = DeploymentInfo.S(template["metadata"]?["annotations"]?["kubernetes.io/change-cause"]),
            Images = (template["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Select(c => DeploymentInfo.S(c["image"]) ?? "").ToArray() ?? [],
            Current = WorkloadRequests.RevisionNumber(revision) == newest, Created = StatefulSetInfo.CreatedOf(revision),
        };
    }
}

/// <summary>Lists the revisions of StatefulSets or DaemonSets (`kubectl rollout history`), lowest first.</summary>
public abstract class GetWorkloadSetHistoryCommand : WorkloadSetTargetCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            try
            {
                var (set, revisions) = Run(ct => Client.GetWorkloadSetHistoryAsync(Resource, Namespace, name, ct));
                var newest = revisions.Count == 0 ? 0 : revisions.Max(WorkloadRequests.RevisionNumber);
                foreach (var revision in revisions) WriteObject(WorkloadSetRevision.From(set, revision, newest));
            }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }
}

/// <summary>Lists a StatefulSet's revisions (`kubectl rollout history statefulset`).</summary>
/// <example><code>Get-StatefulSetHistory db</code>db's revisions, with their images; the last is the current one.</example>
[Cmdlet(VerbsCommon.Get, "StatefulSetHistory")]
[OutputType(typeof(WorkloadSetRevision))]
public sealed class GetStatefulSetHistoryCommand : GetWorkloadSetHistoryCommand
{
    private protected override string Resource => "statefulsets";
    private protected override object Show(JsonObject set) => StatefulSetInfo.From(set);
}

/// <summary>Lists a DaemonSet's revisions (`kubectl rollout history daemonset`).</summary>
/// <example><code>Get-DaemonSet agent | Get-DaemonSetHistory</code>agent's revisions.</example>
[Cmdlet(VerbsCommon.Get, "DaemonSetHistory")]
[OutputType(typeof(WorkloadSetRevision))]
public sealed class GetDaemonSetHistoryCommand : GetWorkloadSetHistoryCommand
{
    private protected override string Resource => "daemonsets";
    private protected override object Show(JsonObject set) => DaemonSetInfo.From(set);
}

/// <summary>Rolls StatefulSets or DaemonSets back (`kubectl rollout undo`): the pod template becomes that of the
/// revision before the newest, or of -ToRevision; the controller then replaces the pods through the update strategy.</summary>
public abstract class UndoWorkloadSetCommand : WorkloadSetTargetCmdlet
{
    /// <summary>The revision to go back to; 0 (the default): the one before the newest.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long ToRevision { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            try
            {
                var (_, revisions) = Run(ct => Client.GetWorkloadSetHistoryAsync(Resource, Namespace, name, ct));
                var newest = revisions.Count == 0 ? 0 : revisions.Max(WorkloadRequests.RevisionNumber);
                var target = ToRevision == 0
                    ? revisions.Where(r => WorkloadRequests.RevisionNumber(r) < newest).MaxBy(WorkloadRequests.RevisionNumber)
                    : revisions.FirstOrDefault(r => WorkloadRequests.RevisionNumber(r) == ToRevision);
                if (target is null)
                {
                    var what = ToRevision == 0 ? "no revision before the newest" : $"no revision {ToRevision}";
                    WriteError(new ErrorRecord(new ItemNotFoundException($"{Singular} {Namespace}/{name} has {what}"), "WorkloadSetRevisionNotFound", ErrorCategory.ObjectNotFound, name));
                    continue;
                }
                var number = WorkloadRequests.RevisionNumber(target);
                if (number == newest)
                {
                    WriteWarning($"{Singular} {Namespace}/{name} is already at revision {number}: nothing to undo");
                    continue;
                }
                if (!ShouldProcess($"{Namespace}/{name}", $"Roll back to revision {number}")) continue;
                WriteObject(Show(Run(ct => Client.RollBackWorkloadSetAsync(Resource, Namespace, name, target, ct))));
            }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }

    private string Singular => Resource.TrimEnd('s');
}

/// <summary>Rolls a StatefulSet back (`kubectl rollout undo statefulset`); its pods are replaced from the highest
/// ordinal down.</summary>
/// <example><code>Undo-StatefulSet db; Wait-StatefulSet db</code>Back to the revision before, and waits for the pods.</example>
/// <example><code>Undo-StatefulSet db -ToRevision 1</code>Back to revision 1 (see Get-StatefulSetHistory).</example>
[Cmdlet(VerbsCommon.Undo, "StatefulSet", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(StatefulSetInfo))]
public sealed class UndoStatefulSetCommand : UndoWorkloadSetCommand
{
    private protected override string Resource => "statefulsets";
    private protected override object Show(JsonObject set) => StatefulSetInfo.From(set);
}

/// <summary>Rolls a DaemonSet back (`kubectl rollout undo daemonset`); its pods are replaced node by node.</summary>
/// <example><code>Undo-DaemonSet agent | Wait-DaemonSet</code>Back to the revision before, and waits.</example>
[Cmdlet(VerbsCommon.Undo, "DaemonSet", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(DaemonSetInfo))]
public sealed class UndoDaemonSetCommand : UndoWorkloadSetCommand
{
    private protected override string Resource => "daemonsets";
    private protected override object Show(JsonObject set) => DaemonSetInfo.From(set);
}

/// <summary>Completes StatefulSet or DaemonSet names, as the command's noun says.</summary>
public sealed class WorkloadSetNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        System.Management.Automation.Language.CommandAst commandAst, IDictionary fakeBoundParameters) =>
        (commandName.EndsWith("DaemonSet", StringComparison.OrdinalIgnoreCase) ? new DaemonSetNameCompleter() : (IArgumentCompleter)new StatefulSetNameCompleter())
            .CompleteArgument(commandName, parameterName, wordToComplete, commandAst, fakeBoundParameters);
}
