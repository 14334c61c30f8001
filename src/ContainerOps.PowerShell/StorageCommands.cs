using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A PersistentVolumeClaim as the cmdlets show it, with kubectl's STATUS, VOLUME, CAPACITY, ACCESS MODES and
/// STORAGECLASS.</summary>
public sealed class PersistentVolumeClaimInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>Pending, Bound, Lost or Terminating.</summary>
    public string Status { get; init; } = "";
    /// <summary>The PersistentVolume it is bound to, once bound.</summary>
    public string? Volume { get; init; }
    /// <summary>The bound volume's capacity ("1Gi"), once bound.</summary>
    public string? Capacity { get; init; }
    /// <summary>What was asked for ("1Gi").</summary>
    public string Request { get; init; } = "";
    public string[] AccessModes { get; init; } = [];
    public string? StorageClass { get; init; }
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The claim as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    /// <summary>kubectl's short access modes: RWO, ROX, RWX, RWOP.</summary>
    public string ShortAccessModes => string.Join(",", AccessModes.Select(m => m switch
    {
        "ReadWriteOnce" => "RWO", "ReadOnlyMany" => "ROX", "ReadWriteMany" => "RWX", "ReadWriteOncePod" => "RWOP", _ => m,
    }));

    public static PersistentVolumeClaimInfo From(JsonObject claim)
    {
        var meta = claim["metadata"];
        var status = claim["status"];
        var S = DeploymentInfo.S;
        return new PersistentVolumeClaimInfo
        {
            Name = S(meta?["name"]) ?? "", Namespace = S(meta?["namespace"]) ?? "",
            Status = meta?["deletionTimestamp"] is not null ? "Terminating" : S(status?["phase"]) ?? "Pending",
            Volume = S(claim["spec"]?["volumeName"]) is { Length: > 0 } v ? v : null,
            Capacity = S(status?["capacity"]?["storage"]),
            Request = S(claim["spec"]?["resources"]?["requests"]?["storage"]) ?? "",
            AccessModes = ((status?["accessModes"] ?? claim["spec"]?["accessModes"]) as JsonArray)?.Select(m => S(m) ?? "").ToArray() ?? [],
            StorageClass = S(claim["spec"]?["storageClassName"]),
            Created = ClusterJobInfo.Time(meta?["creationTimestamp"]) ?? DateTime.UtcNow,
            Json = claim.ToJsonString(),
        };
    }
}

/// <summary>Lists PersistentVolumeClaims (`kubectl get pvc`): of a namespace or all, by name (wildcards) or label
/// selector.</summary>
/// <example><code>Get-PersistentVolumeClaim</code>The claims of the default namespace: STATUS, VOLUME, CAPACITY, ACCESS MODES, STORAGECLASS, AGE.</example>
/// <example><code>Get-PersistentVolumeClaim -AllNamespaces | Where-Object Status -ne Bound</code>Claims still waiting for a volume.</example>
[Cmdlet(VerbsCommon.Get, "PersistentVolumeClaim", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(PersistentVolumeClaimInfo))]
public sealed class GetPersistentVolumeClaimCommand : GetClusterObjectsCommand<PersistentVolumeClaimInfo>
{
    /// <summary>Claim names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PersistentVolumeClaimNameCompleter))]
    public string[]? Name { get; set; }

    private protected override string[]? Names => Name;
    private protected override string KindName => "PersistentVolumeClaim";
    private protected override async Task<IEnumerable<PersistentVolumeClaimInfo>> ListAsync(string? ns, CancellationToken ct) =>
        (await Client.ListPersistentVolumeClaimsAsync(ns, Selector, ct)).Select(PersistentVolumeClaimInfo.From);
}

/// <summary>
/// Makes a PersistentVolumeClaim: -Size of storage with an access mode, of a storage class (the default class,
/// local-path, when none is named; "" for a hand-made volume without a class). Claims of the default class get their
/// volume when the first pod that uses them is placed on a node.
/// </summary>
/// <example><code>New-PersistentVolumeClaim data -Size 1Gi</code>A 1 GiB ReadWriteOnce claim of the default class.</example>
/// <example><code>New-PersistentVolumeClaim shared -Size 10Gi -AccessMode ReadWriteMany -StorageClass '' -Label @{ tier = 'files' }</code>A claim for a hand-made volume.</example>
[Cmdlet(VerbsCommon.New, "PersistentVolumeClaim", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(PersistentVolumeClaimInfo))]
public sealed class NewPersistentVolumeClaimCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>How much storage: a Kubernetes quantity ("1Gi", "500Mi") or a number of bytes (1GB).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Size { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")]
    public string[] AccessMode { get; set; } = ["ReadWriteOnce"];

    /// <summary>The storage class; absent: the default class; "": a volume without a class.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? StorageClass { get; set; }

    [Parameter]
    public Hashtable? Label { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"{Namespace}/{Name}", $"Create claim of {Size}")) return;
        var meta = new JsonObject { ["name"] = Name };
        if (Label is { Count: > 0 })
            meta["labels"] = ClusterLabels.ToJson(Label);
        var spec = new JsonObject
        {
            ["accessModes"] = new JsonArray(AccessMode.Select(m => (JsonNode?)JsonValue.Create(m)).ToArray()),
            ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["storage"] = Size } },
        };
        if (StorageClass is not null) spec["storageClassName"] = StorageClass;
        var claim = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "PersistentVolumeClaim", ["metadata"] = meta, ["spec"] = spec };
        try { WriteObject(PersistentVolumeClaimInfo.From(Run(ct => Client.CreatePersistentVolumeClaimAsync(Namespace, claim, ct)))); }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }
}

/// <summary>Removes PersistentVolumeClaims (`kubectl delete pvc`). A claim a pod still uses stays Terminating until the
/// pod is gone; then its volume follows its reclaim policy (the default class's Delete removes the data).</summary>
/// <example><code>Get-PersistentVolumeClaim -Selector app=db | Remove-PersistentVolumeClaim -Force</code>Removes a StatefulSet's claims and, with them, their data.</example>
[Cmdlet(VerbsCommon.Remove, "PersistentVolumeClaim", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemovePersistentVolumeClaimCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PersistentVolumeClaimNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            if (!(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf") || ShouldProcess($"{Namespace}/{name}", "Remove claim (its volume follows its reclaim policy)"))) continue;
            try { Run(ct => Client.DeletePersistentVolumeClaimAsync(Namespace, name, ct)); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

public sealed class PersistentVolumeClaimNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListPersistentVolumeClaimsAsync(ns, null, ct);
    private protected override string Tip(JsonObject o) => PersistentVolumeClaimInfo.From(o).Status;
}
