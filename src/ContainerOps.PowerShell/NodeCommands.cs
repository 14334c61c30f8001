using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A cluster node as the cmdlets show it, with kubectl's STATUS (Ready, and SchedulingDisabled when it is
/// cordoned), ROLES, VERSION and what -o wide adds.</summary>
public sealed class ClusterNodeInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    string? IClusterObjectInfo.Namespace => null;
    public string Status { get; init; } = "";
    /// <summary>Cordoned: new pods are kept off it (Disable-ClusterNode; Enable-ClusterNode undoes it).</summary>
    public bool Unschedulable { get; init; }
    public string Roles { get; init; } = "";
    public string Version { get; init; } = "";
    public string? InternalIP { get; init; }
    public string? OSImage { get; init; }
    public string? KernelVersion { get; init; }
    public string? ContainerRuntime { get; init; }
    public Hashtable Labels { get; init; } = [];
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    public string Json { get; init; } = "";

    public static ClusterNodeInfo From(JsonObject o)
    {
        var r = ClusterResource.From(o);
        var status = o["status"];
        var ready = (status?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => DeploymentInfo.S(c["type"]) == "Ready");
        var unschedulable = o["spec"]?["unschedulable"] is JsonValue u && u.TryGetValue<bool>(out var cordoned) && cordoned;
        var state = DeploymentInfo.S(ready?["status"]) switch { "True" => "Ready", "False" => "NotReady", _ => "Unknown" };
        var roles = r.Labels.Keys.Cast<string>().Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal))
            .Select(k => k["node-role.kubernetes.io/".Length..]).Order(StringComparer.Ordinal).ToList();
        return new ClusterNodeInfo
        {
            Name = r.Name, Labels = r.Labels, Created = r.Created, Json = r.Json, Unschedulable = unschedulable,
            Status = unschedulable ? state + ",SchedulingDisabled" : state,
            Roles = roles.Count > 0 ? string.Join(",", roles) : "<none>",
            Version = DeploymentInfo.S(status?["nodeInfo"]?["kubeletVersion"]) ?? "",
            InternalIP = (status?["addresses"] as JsonArray)?.OfType<JsonObject>().Where(a => DeploymentInfo.S(a["type"]) == "InternalIP").Select(a => DeploymentInfo.S(a["address"])).FirstOrDefault(),
            OSImage = DeploymentInfo.S(status?["nodeInfo"]?["osImage"]),
            KernelVersion = DeploymentInfo.S(status?["nodeInfo"]?["kernelVersion"]),
            ContainerRuntime = DeploymentInfo.S(status?["nodeInfo"]?["containerRuntimeVersion"]),
        };
    }

    internal static readonly ResourceRequests Nodes = new("api/v1", "nodes");
}

/// <summary>Lists the cluster's nodes (`kubectl get nodes`), by name (wildcards) or label selector.</summary>
/// <example><code>Get-ClusterNode</code>NAME, STATUS, ROLES, AGE and VERSION of every node.</example>
/// <example><code>Get-ClusterNode | Where-Object Unschedulable</code>The cordoned nodes.</example>
[Cmdlet(VerbsCommon.Get, "ClusterNode")]
[OutputType(typeof(ClusterNodeInfo))]
public sealed class GetClusterNodeCommand : ContainerOpsCmdlet
{
    /// <summary>Node names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ClusterNodeNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>A label selector on the nodes' labels: kubernetes.io/arch=amd64.</summary>
    [Parameter]
    public string? Selector { get; set; }

    protected override void ProcessRecord()
    {
        List<JsonObject> items;
        try { items = Run(ct => ClusterNodeInfo.Nodes.ListAsync(Client, null, Selector, ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }
        var shown = items.Select(ClusterNodeInfo.From).OrderBy(n => n.Name, StringComparer.Ordinal);
        foreach (var n in NameFilter.Select(this, Name, shown, n => n.Name, "Node", "in the cluster")) WriteObject(n);
    }
}

/// <summary>What cordoning and uncordoning share: the nodes named, spec.unschedulable set as asked.</summary>
public abstract class SetClusterNodeSchedulingCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNodeNameCompleter))]
    public string[] Name { get; set; } = [];

    private protected ClusterNodeInfo? SetUnschedulable(string name, bool unschedulable, string action)
    {
        if (!ShouldProcess(name, action)) return null;
        try { return PatchUnschedulable(name, unschedulable); }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); return null; }
    }

    /// <summary>A merge patch of spec.unschedulable: one field, no read-modify-write race with the node's own status
    /// updates.</summary>
    private protected ClusterNodeInfo PatchUnschedulable(string name, bool unschedulable) =>
        ClusterNodeInfo.From(Run(ct => ClusterNodeInfo.Nodes.PatchAsync(Client, null, name, new JsonObject { ["spec"] = new JsonObject { ["unschedulable"] = unschedulable ? true : null } }, ct)));
}

/// <summary>Cordons nodes (`kubectl cordon`): new pods are kept off them, the ones there keep running.
/// Enable-ClusterNode undoes it; Clear-ClusterNode also moves the pods off.</summary>
/// <example><code>Disable-ClusterNode node-1</code>node-1 takes no new pods.</example>
[Cmdlet(VerbsLifecycle.Disable, "ClusterNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ClusterNodeInfo))]
public sealed class DisableClusterNodeCommand : SetClusterNodeSchedulingCommand
{
    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            if (SetUnschedulable(name, true, "Cordon: keep new pods off the node") is { } node) WriteObject(node);
    }
}

/// <summary>Uncordons nodes (`kubectl uncordon`): they take new pods again, and pods that waited for them are placed.</summary>
/// <example><code>Get-ClusterNode | Where-Object Unschedulable | Enable-ClusterNode</code>Uncordons every cordoned node.</example>
[Cmdlet(VerbsLifecycle.Enable, "ClusterNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ClusterNodeInfo))]
public sealed class EnableClusterNodeCommand : SetClusterNodeSchedulingCommand
{
    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            if (SetUnschedulable(name, false, "Uncordon: let new pods on the node") is { } node) WriteObject(node);
    }
}

/// <summary>
/// Drains nodes (`kubectl drain`): cordons each, then evicts its pods through the eviction API, so that their
/// PodDisruptionBudgets are honoured — an eviction a budget holds back is tried again every 5 s until -TimeoutSec —
/// and waits until they are gone (Write-Progress meanwhile). DaemonSet pods stay with -IgnoreDaemonSet (they would
/// only come back) and stop the drain without it; pods no controller would make again stop it unless -Force. Finished
/// pods are removed. Medium impact: it takes workloads off the node.
/// </summary>
/// <example><code>Clear-ClusterNode node-1 -IgnoreDaemonSet</code>Moves the pods off node-1 for maintenance.</example>
/// <example><code>Clear-ClusterNode node-1 -IgnoreDaemonSet -TimeoutSec 60; Enable-ClusterNode node-1</code>Drains with a deadline, then lets pods back.</example>
[Cmdlet(VerbsCommon.Clear, "ClusterNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ClusterNodeInfo))]
public sealed class ClearClusterNodeCommand : SetClusterNodeSchedulingCommand
{
    /// <summary>Leaves DaemonSet pods on the node instead of stopping.</summary>
    [Parameter]
    public SwitchParameter IgnoreDaemonSet { get; set; }

    /// <summary>Also evicts pods that no controller owns (they are not made again elsewhere).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long to keep trying evictions and waiting for the pods to go (seconds).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 300;

    /// <summary>The pods' grace period in seconds; their own when not given.</summary>
    [Parameter]
    [ValidateRange(0, 86400)]
    public int? GracePeriod { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            if (!ShouldProcess(name, "Drain: cordon the node and evict its pods")) continue;
            try { Drain(name); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }

    private void Drain(string node)
    {
        PatchUnschedulable(node, true);
        var onNode = Run(ct => Client.ListPodsAsync(null, fieldSelector: "spec.nodeName=" + node, ct: ct));
        var evict = new List<JsonObject>();
        var refusals = new List<string>();
        foreach (var pod in onNode)
        {
            var owner = (pod["metadata"]?["ownerReferences"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(r => r["controller"]?.GetValue<bool>() == true);
            var finished = DeploymentInfo.S(pod["status"]?["phase"]) is "Succeeded" or "Failed";
            if (DeploymentInfo.S(owner?["kind"]) == "DaemonSet" && !finished)
            {
                if (!IgnoreDaemonSet) refusals.Add($"{PodKey(pod)} is a DaemonSet's (use -IgnoreDaemonSet)");
                continue;
            }
            if (owner is null && !finished && !Force) refusals.Add($"{PodKey(pod)} has no controller to make it again (use -Force)");
            else evict.Add(pod);
        }
        if (refusals.Count > 0)
            throw new ContainerOpsException(ErrorKind.Conflict, "NodeDrainRefused", $"node {node} is cordoned but not drained: {string.Join("; ", refusals)}", node);

        var deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
        var progress = new ProgressRecord(Math.Abs(node.GetHashCode()) % 100000, $"Draining node {node}", $"{evict.Count} pod(s) to evict");
        var pending = new List<JsonObject>(evict);
        while (pending.Count > 0)
        {
            foreach (var pod in pending.ToList())
            {
                var (ns, name) = (DeploymentInfo.S(pod["metadata"]?["namespace"]) ?? "default", DeploymentInfo.S(pod["metadata"]?["name"]) ?? "");
                try
                {
                    Run(ct => Client.EvictPodAsync(ns, name, GracePeriod, ct));
                    pending.Remove(pod);
                    WriteVerbose($"evicted pod {ns}/{name}");
                }
                catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { pending.Remove(pod); }
                catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.ResourceUnavailable)
                {
                    WriteVerbose($"pod {ns}/{name}: {e.Message} (trying again)");
                    progress.StatusDescription = $"{ns}/{name}: {e.Message}";
                }
            }
            progress.PercentComplete = evict.Count == 0 ? 100 : 100 * (evict.Count - pending.Count) / evict.Count;
            WriteProgress(progress);
            if (pending.Count == 0) break;
            if (DateTime.UtcNow > deadline)
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NodeDrainTimeout",
                    $"node {node} is cordoned; {pending.Count} pod(s) could not be evicted in {TimeoutSec} s: {string.Join(", ", pending.Select(PodKey))} (their disruption budgets allow no disruption now)", node);
            Thread.Sleep(5000);
        }
        // Evicted pods go through their grace period: wait until the node has none of them.
        while (true)
        {
            var left = Run(ct => Client.ListPodsAsync(null, fieldSelector: "spec.nodeName=" + node, ct: ct))
                .Count(p => evict.Any(e => DeploymentInfo.S(e["metadata"]?["uid"]) == DeploymentInfo.S(p["metadata"]?["uid"])));
            var gone = evict.Count - left;
            progress.StatusDescription = $"{gone} of {evict.Count} pod(s) gone";
            WriteProgress(progress);
            if (left == 0) break;
            if (DateTime.UtcNow > deadline)
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "NodeDrainTimeout", $"node {node}: {left} evicted pod(s) still there after {TimeoutSec} s", node);
            Thread.Sleep(500);
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        WriteObject(ClusterNodeInfo.From(Run(ct => ClusterNodeInfo.Nodes.GetAsync(Client, null, node, ct))));
    }

    private static string PodKey(JsonObject pod) => $"{DeploymentInfo.S(pod["metadata"]?["namespace"])}/{DeploymentInfo.S(pod["metadata"]?["name"])}";
}

public sealed class ClusterNodeNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => ClusterNodeInfo.Nodes.ListAsync(client, null, null, ct);
    private protected override string Tip(JsonObject o) => ClusterNodeInfo.From(o).Status;
}
