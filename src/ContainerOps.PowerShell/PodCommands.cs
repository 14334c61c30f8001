using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A pod as the cmdlets show it, with kubectl's READY, STATUS and RESTARTS worked out.</summary>
public sealed class PodInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>Ready containers / containers, as "2/2".</summary>
    public string Ready { get; init; } = "";
    /// <summary>kubectl's STATUS: Terminating, a container's waiting or terminated reason, or the phase.</summary>
    public string Status { get; init; } = "";
    public string Phase { get; init; } = "";
    public int Restarts { get; init; }
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    public string? IP { get; init; }
    public string? Node { get; init; }
    public string Uid { get; init; } = "";
    public Hashtable Labels { get; init; } = new();
    public string[] Containers { get; init; } = [];
    /// <summary>The pod as the API has it (JSON), for what the properties above leave out.</summary>
    public string Json { get; init; } = "";

    public static PodInfo From(JsonObject pod)
    {
        var meta = pod["metadata"];
        var statuses = (pod["status"]?["containerStatuses"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var containers = (pod["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().Select(c => S(c["name"]) ?? "").ToArray() ?? [];
        var phase = S(pod["status"]?["phase"]) ?? "Pending";
        var status = meta?["deletionTimestamp"] is not null ? "Terminating"
            : statuses.Select(c => S(c["state"]?["waiting"]?["reason"])).FirstOrDefault(r => r is not null and not "ContainerCreating")
              ?? (phase is "Succeeded" or "Failed" ? statuses.Select(c => S(c["state"]?["terminated"]?["reason"])).FirstOrDefault(r => r is not null) : null)
              ?? (statuses.Any(c => S(c["state"]?["waiting"]?["reason"]) == "ContainerCreating") && phase == "Pending" ? "ContainerCreating" : null)
              ?? phase;
        var labels = new Hashtable();
        foreach (var (k, v) in meta?["labels"] as JsonObject ?? []) labels[k] = S(v);
        return new PodInfo
        {
            Name = S(meta?["name"]) ?? "", Namespace = S(meta?["namespace"]) ?? "", Uid = S(meta?["uid"]) ?? "",
            Ready = $"{statuses.Count(c => c["ready"]?.GetValue<bool>() == true)}/{containers.Length}",
            Status = status, Phase = phase,
            Restarts = statuses.Sum(c => c["restartCount"]?.GetValue<int>() ?? 0),
            Created = DateTime.TryParse(S(meta?["creationTimestamp"]), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : DateTime.UtcNow,
            IP = S(pod["status"]?["podIP"]), Node = S(pod["spec"]?["nodeName"]),
            Labels = labels, Containers = containers, Json = pod.ToJsonString(),
        };
    }

    private static string? S(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public bool IsReady => Ready.Split('/') is [var a, var b] && a == b && b != "0" && Phase == "Running";
}

/// <summary>Lists pods (`kubectl get pods`): of a namespace or all, by name (wildcards), label or field selector.</summary>
/// <example><code>Get-Pod</code>The pods of the default namespace, as `kubectl get pods` shows them.</example>
/// <example><code>Get-Pod -Selector app=web -AllNamespaces</code>Every pod labelled app=web.</example>
/// <example><code>Get-Pod web-* | Remove-Pod -Force</code>Removes the pods whose names start with web-.</example>
[Cmdlet(VerbsCommon.Get, "Pod", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(PodInfo))]
public sealed class GetPodCommand : GetClusterObjectsCommand<PodInfo>
{
    /// <summary>Pod names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PodNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>A field selector: status.phase=Running, spec.nodeName=node1.</summary>
    [Parameter]
    public string? FieldSelector { get; set; }

    private protected override string[]? Names => Name;
    private protected override string KindName => "Pod";
    private protected override async Task<IEnumerable<PodInfo>> ListAsync(string? ns, CancellationToken ct) =>
        (await Client.ListPodsAsync(ns, Selector, FieldSelector, ct)).Select(PodInfo.From);
}

/// <summary>Runs a pod on the node: from -Name and -Image (with -Command, -Port, -Env, -Label), or from a manifest
/// (-Manifest: a Pod in YAML or JSON). With -Wait, waits until it is Ready (Write-Progress meanwhile).</summary>
/// <example><code>Start-Pod -Name web -Image nginx:1.27 -Port 80 -Label @{app='web'} -Wait</code>A one-container pod, waited for until Ready.</example>
/// <example><code>Get-Content pod.yaml -Raw | Start-Pod</code>A pod from a manifest (YAML or JSON).</example>
[Cmdlet(VerbsLifecycle.Start, "Pod", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Parameters")]
[OutputType(typeof(PodInfo))]
public sealed class StartPodCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Parameters")]
    [ValidatePattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = "Parameters")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Image { get; set; } = "";

    /// <summary>The container's command (its entrypoint), then its arguments.</summary>
    [Parameter(Position = 2, ParameterSetName = "Parameters")]
    public string[]? Command { get; set; }

    /// <summary>Container ports (TCP).</summary>
    [Parameter(ParameterSetName = "Parameters")]
    [ValidateRange(1, 65535)]
    public int[]? Port { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    public Hashtable? Env { get; set; }

    [Parameter(ParameterSetName = "Parameters")]
    public Hashtable? Label { get; set; }

    /// <summary>A Pod manifest: one YAML (or JSON) document.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "Manifest")]
    [ValidateNotNullOrEmpty]
    public string Manifest { get; set; } = "";

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>Wait until the pod is Ready (or fails).</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 300;

    protected override void ProcessRecord()
    {
        JsonObject pod;
        try { pod = ParameterSetName == "Manifest" ? FromManifest() : FromParameters(); }
        catch (Exception ex) when (ex is FormatException or InvalidCastException)
        {
            WriteError(new ErrorRecord(ex, "InvalidPodManifest", ErrorCategory.InvalidData, Manifest));
            return;
        }
        var name = pod["metadata"]?["name"] is JsonValue n && n.TryGetValue<string>(out var named) ? named : "";
        var ns = pod["metadata"]?["namespace"] is JsonValue space && space.TryGetValue<string>(out var inNamespace) ? inNamespace : Namespace;
        if (!ShouldProcess($"{ns}/{name}", "Start pod")) return;
        JsonObject created;
        try { created = Run(ct => Client.CreatePodAsync(ns, pod, ct)); }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); return; }
        if (!Wait)
        {
            WriteObject(PodInfo.From(created));
            return;
        }
        if (PodWaiter.Wait(this, ns, name, "Ready", TimeSpan.FromSeconds(TimeoutSec), () => Run(ct => Client.GetPodAsync(ns, name, ct))) is { } ready) WriteObject(ready);
    }

    private JsonObject FromManifest()
    {
        var documents = ManifestReader.Read(Manifest, "the manifest");
        if (documents is not [var pod]) throw new InvalidCastException($"the manifest holds {documents.Count} objects: Start-Pod takes one Pod");
        if (pod["kind"] is not JsonValue kind || !kind.TryGetValue<string>(out var k) || k != "Pod") throw new InvalidCastException("the manifest is not a Pod");
        return pod;
    }

    private JsonObject FromParameters()
    {
        var container = new JsonObject { ["name"] = Name, ["image"] = Image };
        if (Command is { Length: > 0 })
        {
            container["command"] = new JsonArray((JsonNode)Command[0]);
            if (Command.Length > 1) container["args"] = new JsonArray(Command.Skip(1).Select(a => (JsonNode?)a).ToArray());
        }
        if (Port is { Length: > 0 }) container["ports"] = new JsonArray(Port.Select(p => (JsonNode?)new JsonObject { ["containerPort"] = p }).ToArray());
        if (Env is { Count: > 0 })
            container["env"] = new JsonArray(Env.Keys.Cast<object>().Select(k => (JsonNode?)new JsonObject { ["name"] = k.ToString(), ["value"] = Env[k]?.ToString() ?? "" }).ToArray());
        var meta = new JsonObject { ["name"] = Name, ["namespace"] = Namespace };
        if (Label is { Count: > 0 })
        {
            var labels = new JsonObject();
            foreach (var k in Label.Keys) labels[k.ToString()!] = Label[k]?.ToString() ?? "";
            meta["labels"] = labels;
        }
        return new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta,
            ["spec"] = new JsonObject { ["containers"] = new JsonArray(container) },
        };
    }
}

/// <summary>Removes pods: their containers get the stop signal, then SIGKILL after the grace period (the pod's own,
/// 30 s by default, or -GracePeriod), then the pod goes.</summary>
/// <example><code>Remove-Pod web</code>Asks, then removes pod web of the default namespace.</example>
/// <example><code>Get-Pod -Selector app=web | Remove-Pod -Force -GracePeriod 0</code>Removes them without asking or waiting.</example>
[Cmdlet(VerbsCommon.Remove, "Pod", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemovePodCommand : PodTargetCmdlet
{
    /// <summary>Seconds the containers get to stop; 0: at once.</summary>
    [Parameter]
    [ValidateRange(0, 86400)]
    public int? GracePeriod { get; set; }

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            var target = $"{Namespace}/{name}";
            var confirmed = Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf")
                || ShouldProcess(target, "Remove pod");
            if (!confirmed) continue;
            try { Run(ct => Client.DeletePodAsync(Namespace, name, GracePeriod, ct)); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>
/// Restarts pods: a pod that a controller owns (a ReplicaSet, a Job…) is removed for its controller to make anew; a bare
/// pod is removed and, once it is gone, created again from its own spec (same name, labels, annotations and spec,
/// without what the cluster filled in). -PassThru writes the recreated bare pods.
/// </summary>
/// <example><code>Restart-Pod web</code>Asks, then restarts pod web of the default namespace.</example>
/// <example><code>Get-Pod -Selector app=web | Restart-Pod -Force -GracePeriod 5</code>Restarts every web pod without asking, giving each 5 s to stop.</example>
[Cmdlet(VerbsLifecycle.Restart, "Pod", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(PodInfo))]
public sealed class RestartPodCommand : PodTargetCmdlet
{
    /// <summary>Seconds the containers get to stop; 0: at once.</summary>
    [Parameter]
    [ValidateRange(0, 86400)]
    public int? GracePeriod { get; set; }

    /// <summary>How long to wait for the old pod to go before making it again.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 300;

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the recreated pods.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            var target = $"{Namespace}/{name}";
            var confirmed = Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf")
                || ShouldProcess(target, "Restart pod");
            if (!confirmed) continue;
            try { Restart(name, target); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }

    private void Restart(string name, string target)
    {
        var pod = Run(ct => Client.GetPodAsync(Namespace, name, ct));
        var owned = (pod["metadata"]?["ownerReferences"] as JsonArray)?.Any(o => o?["controller"]?.GetValue<bool>() == true) == true;
        var uid = pod["metadata"]?["uid"]?.GetValue<string>();
        Run(ct => Client.DeletePodAsync(Namespace, name, GracePeriod, ct));
        if (owned)
        {
            WriteVerbose($"pod {target} has a controller, which makes its replacement");
            return;
        }
        var progress = new ProgressRecord(Math.Abs(target.GetHashCode()) % 100000, $"Restarting pod {target}", "waiting for the old pod to go");
        var deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
        while (true)
        {
            try
            {
                if (Run(ct => Client.GetPodAsync(Namespace, name, ct))["metadata"]?["uid"]?.GetValue<string>() != uid) break;
            }
            catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound) { break; }
            if (DateTime.UtcNow > deadline)
            {
                WriteError(new ErrorRecord(new TimeoutException($"pod {target} was still stopping after {TimeoutSec} s; it was not made again"), "PodRestartTimeout", ErrorCategory.OperationTimeout, target));
                return;
            }
            WriteProgress(progress);
            Thread.Sleep(200);
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        var created = Run(ct => Client.CreatePodAsync(Namespace, Fresh(pod), ct));
        if (PassThru) WriteObject(PodInfo.From(created));
    }

    /// <summary>The pod as its author wrote it: name, labels, annotations and spec, without the node it was bound to.</summary>
    private static JsonObject Fresh(JsonObject pod)
    {
        var meta = new JsonObject { ["name"] = pod["metadata"]?["name"]?.DeepClone(), ["namespace"] = pod["metadata"]?["namespace"]?.DeepClone() };
        foreach (var field in new[] { "labels", "annotations", "generateName" })
            if (pod["metadata"]?[field] is { } value) meta[field] = value.DeepClone();
        var spec = (JsonObject)pod["spec"]!.DeepClone();
        spec.Remove("nodeName");
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec };
    }
}

/// <summary>Waits until pods meet a condition (Ready), with Write-Progress; a pod that fails or the timeout ends the
/// wait with an error.</summary>
/// <example><code>Get-Pod -Selector app=web | Wait-Pod -Condition Ready -TimeoutSec 60</code>Waits for every web pod.</example>
[Cmdlet(VerbsLifecycle.Wait, "Pod")]
[OutputType(typeof(PodInfo))]
public sealed class WaitPodCommand : PodTargetCmdlet
{
    /// <summary>Ready, or a phase: Running, Succeeded.</summary>
    [Parameter]
    [ValidateSet("Ready", "Running", "Succeeded")]
    public string Condition { get; set; } = "Ready";

    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 300;

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            if (PodWaiter.Wait(this, Namespace, name, Condition, TimeSpan.FromSeconds(TimeoutSec), () => Run(ct => Client.GetPodAsync(Namespace, name, ct))) is { } pod) WriteObject(pod);
    }
}

/// <summary>Cmdlets that act on named pods of a namespace, taken from the pipeline by property name (Get-Pod's objects).</summary>
public abstract class PodTargetCmdlet : ContainerOpsCmdlet
{
    /// <summary>The pods' names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PodNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";
}

/// <summary>The wait of Wait-Pod and Start-Pod -Wait: the pod read every 250 ms, its progress shown.</summary>
internal static class PodWaiter
{
    public static PodInfo? Wait(ContainerOpsCmdlet cmdlet, string ns, string name, string condition, TimeSpan timeout, Func<JsonObject> get)
    {
        var deadline = DateTime.UtcNow + timeout;
        var progress = new ProgressRecord(Math.Abs(name.GetHashCode()) % 100000, $"Waiting for pod {ns}/{name}", condition);
        try
        {
            while (true)
            {
                PodInfo pod;
                try { pod = PodInfo.From(get()); }
                catch (ContainerOpsException ex) { cmdlet.WriteError(ErrorRecords.From(ex)); return null; }
                var met = condition switch { "Ready" => pod.IsReady, "Running" => pod.Phase == "Running", _ => pod.Phase == "Succeeded" };
                if (met) return pod;
                if (pod.Phase == "Failed" || (condition != "Succeeded" && pod.Phase == "Succeeded"))
                {
                    cmdlet.WriteError(new ErrorRecord(new InvalidOperationException($"pod {ns}/{name} ended {pod.Phase} ({pod.Status}) before it was {condition}"), "PodEnded", ErrorCategory.InvalidResult, pod));
                    return null;
                }
                if (DateTime.UtcNow > deadline)
                {
                    cmdlet.WriteError(new ErrorRecord(new TimeoutException($"pod {ns}/{name} was not {condition} after {timeout.TotalSeconds:0} s: {pod.Status}, {pod.Ready} ready"), "PodWaitTimeout", ErrorCategory.OperationTimeout, pod));
                    return null;
                }
                progress.StatusDescription = $"{pod.Status}, {pod.Ready} ready";
                cmdlet.WriteProgress(progress);
                Thread.Sleep(250);
            }
        }
        finally
        {
            progress.RecordType = ProgressRecordType.Completed;
            cmdlet.WriteProgress(progress);
        }
    }
}

/// <summary>Completes pod names of the default namespace (or the one bound).</summary>
public sealed class PodNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListPodsAsync(ns, null, null, ct);
    private protected override string Tip(JsonObject o) => o["status"]?["phase"]?.GetValue<string>() ?? "";
}
