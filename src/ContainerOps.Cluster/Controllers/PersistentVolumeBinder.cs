using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Node;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-controller-manager's persistent volume controller: binds each claim to a matching Available volume (class,
/// access modes, capacity, selector, volumeName, and the selected node's affinity for WaitForFirstConsumer claims), or
/// asks the class's provisioner for one (the annotations external provisioners follow); writes both sides' status; a
/// volume whose claim is gone is Released, and kept (Retain) or left to its provisioner to delete (Delete). One queue,
/// two kinds of keys: "claim:NS/NAME" and "volume:NAME".
/// </summary>
public sealed class PersistentVolumeBinder : IController
{
    public const string BindCompleted = "pv.kubernetes.io/bind-completed";
    public const string BoundByController = "pv.kubernetes.io/bound-by-controller";
    public const string ProvisionedBy = "pv.kubernetes.io/provisioned-by";
    public const string SelectedNode = "volume.kubernetes.io/selected-node";
    public const string StorageProvisioner = "volume.kubernetes.io/storage-provisioner";
    public const string BetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner";
    private const string ClaimPrefix = "claim:", VolumePrefix = "volume:";

    private Informer _claims = null!, _volumes = null!, _classes = null!, _nodes = null!;
    private ControllerContext _context = null!;
    private EventRecorder _events = null!;

    public string Name => "persistentvolume-binder-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _events = context.Events(Name);
        _claims = context.Informers.For(ResourceKinds.PersistentVolumeClaim);
        _volumes = context.Informers.For(ResourceKinds.PersistentVolume);
        _classes = context.Informers.For(ResourceKinds.StorageClass);
        _nodes = context.Informers.For(ResourceKinds.Node);
        _claims.AddHandler(e =>
        {
            queue.Add(ClaimPrefix + Informer.KeyOf(e.Object));
            // A claim that goes releases its volume.
            if (Json.Str(e.Object["spec"]?["volumeName"]) is { Length: > 0 } volume) queue.Add(VolumePrefix + volume);
        });
        _volumes.AddHandler(e =>
        {
            queue.Add(VolumePrefix + Informer.KeyOf(e.Object));
            if (ClaimKeyOf(e.Object) is { } claim) queue.Add(ClaimPrefix + claim);
            // A volume that became Available may suit a waiting claim.
            if (e.Object["spec"]?["claimRef"] is null)
                foreach (var c in _claims.List().Where(c => Json.Str(c["status"]?["phase"]) == "Pending")) queue.Add(ClaimPrefix + Informer.KeyOf(c));
        });
        // A class made after its claims lets them go on.
        _classes.AddHandler(e =>
        {
            foreach (var c in _claims.List().Where(c => Json.Str(c["spec"]?["storageClassName"]) == Json.Str(e.Object["metadata"]?["name"])))
                queue.Add(ClaimPrefix + Informer.KeyOf(c));
        });
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (key.StartsWith(ClaimPrefix, StringComparison.Ordinal)) SyncClaim(key[ClaimPrefix.Length..]);
        else if (key.StartsWith(VolumePrefix, StringComparison.Ordinal)) SyncVolume(key[VolumePrefix.Length..]);
        return Task.FromResult(Reconciled.Done);
    }

    internal static string? ClaimKeyOf(JsonObject volume) =>
        volume["spec"]?["claimRef"] is JsonObject r && Json.Str(r["name"]) is { } name ? Informer.KeyOf(Json.Str(r["namespace"]), name) : null;

    private void SyncClaim(string key)
    {
        if (_claims.Get(key) is not { } claim || OwnerReferences.IsBeingDeleted(claim)) return;
        var spec = claim["spec"] as JsonObject ?? new JsonObject();
        if (Json.Str(spec["volumeName"]) is { Length: > 0 } volumeName)
        {
            var volume = _volumes.Get(volumeName);
            if (volume is null)
            {
                // Bound before, its volume gone: Lost, as Kubernetes says; never bound: it waits for that volume.
                if (Json.Str(claim["status"]?["phase"]) == "Bound")
                {
                    SetClaimStatus(claim, "Lost", null);
                    _events.Warning(claim, "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
                }
                return;
            }
            if (!ReservedFor(volume, claim)) { SetClaimStatus(claim, "Pending", null); return; }
            Bind(claim, volume);
            return;
        }
        var className = Json.Str(spec["storageClassName"]) ?? "";
        var storageClass = className.Length > 0 ? _classes.Get(className) : null;
        var waitForConsumer = Json.Str(storageClass?["volumeBindingMode"]) == "WaitForFirstConsumer";
        var selectedNode = Json.Str(claim["metadata"]?["annotations"]?[SelectedNode]);
        if (waitForConsumer && selectedNode is null)
        {
            _events.Normal(claim, "WaitForFirstConsumer", "waiting for first consumer to be created before binding");
            return;
        }
        var node = selectedNode is null ? null : _nodes.Get(selectedNode);
        if (FindVolume(claim, className, node) is { } match) { Bind(claim, match); return; }
        if (storageClass is null)
        {
            if (className.Length == 0) _events.Normal(claim, "FailedBinding", "no persistent volumes available for this claim and no storage class is set");
            else _events.Warning(claim, "ProvisioningFailed", $"storageclass.storage.k8s.io \"{className}\" not found");
            return;
        }
        // Dynamic provisioning: the provisioner follows the claim's annotations; an Immediate claim of the local
        // provisioner is placed on a node here, since no pod chose one.
        var provisioner = Json.Str(storageClass["provisioner"]) ?? "";
        var annotations = claim["metadata"]?["annotations"] as JsonObject;
        var placement = selectedNode ?? (provisioner == Storage.LocalProvisioner ? _nodes.List().Select(n => Json.Str(n["metadata"]?["name"])).OrderBy(n => n, StringComparer.Ordinal).FirstOrDefault() : null);
        if (Json.Str(annotations?[StorageProvisioner]) != provisioner || Json.Str(annotations?[SelectedNode]) != placement)
            _context.Objects.Update(ResourceKinds.PersistentVolumeClaim, Json.Str(claim["metadata"]?["namespace"]), Json.Str(claim["metadata"]?["name"])!, null, c =>
            {
                var a = Json.Child(Json.Metadata(c), "annotations");
                a[StorageProvisioner] = provisioner;
                a[BetaStorageProvisioner] = provisioner;
                if (placement is not null) a[SelectedNode] = placement;
                return c;
            }, statusOnly: false, dryRun: false);
        _events.Normal(claim, "ExternalProvisioning",
            $"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.");
    }

    /// <summary>The smallest Available volume that suits the claim; one already reserved for it (claimRef) first.</summary>
    private JsonObject? FindVolume(JsonObject claim, string className, JsonObject? node)
    {
        var spec = claim["spec"]!;
        var request = Quantity.Value(Json.Str(spec["resources"]?["requests"]?["storage"]) ?? "0");
        var modes = (spec["accessModes"] as JsonArray)?.Select(m => Json.Str(m)).ToList() ?? [];
        var selector = spec["selector"] is JsonObject s ? LabelSelector.FromObject(s) : LabelSelector.Everything;
        var candidates = _volumes.List().Where(v =>
        {
            var vs = v["spec"]!;
            if (OwnerReferences.IsBeingDeleted(v) || Json.Str(v["status"]?["phase"]) is "Released" or "Failed") return false;
            if (vs["claimRef"] is not null && !ReservedFor(v, claim)) return false;
            if ((Json.Str(vs["storageClassName"]) ?? "") != className) return false;
            if ((Json.Str(vs["volumeMode"]) ?? "Filesystem") != (Json.Str(spec["volumeMode"]) ?? "Filesystem")) return false;
            var has = (vs["accessModes"] as JsonArray)?.Select(m => Json.Str(m)).ToHashSet() ?? [];
            if (!modes.All(has.Contains)) return false;
            if (Quantity.Value(Json.Str(vs["capacity"]?["storage"]) ?? "0") < request) return false;
            if (!selector.Matches(LabelSelector.LabelsOf(v["metadata"]?["labels"]))) return false;
            return node is null || vs["nodeAffinity"]?["required"]?["nodeSelectorTerms"] is not JsonArray terms || NodeAffinity.MatchesTerms(terms, node);
        }).ToList();
        return candidates.OrderBy(v => v["spec"]?["claimRef"] is null ? 1 : 0)
            .ThenBy(v => Quantity.Value(Json.Str(v["spec"]?["capacity"]?["storage"]) ?? "0")).FirstOrDefault();
    }

    /// <summary>The volume's claimRef is this claim (by uid once it has one).</summary>
    private static bool ReservedFor(JsonObject volume, JsonObject claim)
    {
        if (volume["spec"]?["claimRef"] is not JsonObject r) return true;
        return Json.Str(r["name"]) == Json.Str(claim["metadata"]?["name"]) && Json.Str(r["namespace"]) == Json.Str(claim["metadata"]?["namespace"])
            && (Json.Str(r["uid"]) is null or "" || Json.Str(r["uid"]) == Json.Str(claim["metadata"]?["uid"]));
    }

    /// <summary>Volume first (claimRef, then Bound), claim second (volumeName and annotations, then Bound): a crash in
    /// between leaves a volume reserved for its claim, which the next look completes.</summary>
    private void Bind(JsonObject claim, JsonObject volume)
    {
        var objects = _context.Objects;
        var claimMeta = claim["metadata"]!;
        var volumeName = Json.Str(volume["metadata"]?["name"])!;
        var claimRef = new JsonObject
        {
            ["kind"] = "PersistentVolumeClaim", ["apiVersion"] = "v1", ["namespace"] = Json.Str(claimMeta["namespace"]),
            ["name"] = Json.Str(claimMeta["name"]), ["uid"] = Json.Str(claimMeta["uid"]), ["resourceVersion"] = Json.Str(claimMeta["resourceVersion"]),
        };
        var reservedBefore = volume["spec"]?["claimRef"] is JsonObject { } existing && Json.Str(existing["uid"]) == Json.Str(claimMeta["uid"]);
        if (!reservedBefore)
            objects.Update(ResourceKinds.PersistentVolume, null, volumeName, null, v =>
            {
                var vs = Json.Child(v, "spec");
                var hadRef = vs["claimRef"] is not null;
                vs["claimRef"] = claimRef.DeepClone();
                if (!hadRef) Json.Child(Json.Metadata(v), "annotations")[BoundByController] = "yes";
                return v;
            }, statusOnly: false, dryRun: false);
        var bound = SetVolumeStatus(volumeName, "Bound");
        var claimName = Json.Str(claimMeta["name"])!;
        var ns = Json.Str(claimMeta["namespace"]);
        objects.Update(ResourceKinds.PersistentVolumeClaim, ns, claimName, null, c =>
        {
            var a = Json.Child(Json.Metadata(c), "annotations");
            a[BindCompleted] = "yes";
            if (Json.Str(c["spec"]?["volumeName"]) is null or "") { a[BoundByController] = "yes"; Json.Child(c, "spec")["volumeName"] = volumeName; }
            return c;
        }, statusOnly: false, dryRun: false);
        SetClaimStatus(claim, "Bound", bound);
    }

    private JsonObject SetVolumeStatus(string name, string phase, string? reason = null, string? message = null) =>
        _context.Objects.Update(ResourceKinds.PersistentVolume, null, name, null, v =>
        {
            var status = Json.Child(v, "status");
            if (Json.Str(status["phase"]) != phase) status["lastPhaseTransitionTime"] = Json.Timestamp(_context.Clock.GetUtcNow());
            status["phase"] = phase;
            if (reason is null) status.Remove("reason"); else status["reason"] = reason;
            if (message is null) status.Remove("message"); else status["message"] = message;
            return v;
        }, statusOnly: true, dryRun: false);

    private void SetClaimStatus(JsonObject claim, string phase, JsonObject? volume)
    {
        try
        {
            _context.Objects.Update(ResourceKinds.PersistentVolumeClaim, Json.Str(claim["metadata"]?["namespace"]), Json.Str(claim["metadata"]?["name"])!, null, c =>
            {
                if (Json.Str(c["metadata"]?["uid"]) != Json.Str(claim["metadata"]?["uid"])) return c;
                var status = new JsonObject { ["phase"] = phase };
                if (phase == "Bound" && volume is not null)
                {
                    status["accessModes"] = volume["spec"]?["accessModes"]?.DeepClone();
                    status["capacity"] = volume["spec"]?["capacity"]?.DeepClone();
                }
                c["status"] = status;
                return c;
            }, statusOnly: true, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
    }

    private void SyncVolume(string name)
    {
        // A volume being deleted still follows its claim: Released is what lets pv-protection go.
        if (_volumes.Get(name) is not { } volume) return;
        var phase = Json.Str(volume["status"]?["phase"]);
        if (volume["spec"]?["claimRef"] is not JsonObject claimRef)
        {
            if (phase != "Available") SetVolumeStatus(name, "Available");
            return;
        }
        var claim = _claims.Get(Json.Str(claimRef["namespace"]), Json.Str(claimRef["name"]) ?? "");
        var uid = Json.Str(claimRef["uid"]);
        if (claim is not null && (uid is null or "" || uid == Json.Str(claim["metadata"]?["uid"])))
        {
            // Reserved for a claim that has not named it yet: Available until the claim binds (its key is queued).
            var boundBoth = Json.Str(claim["spec"]?["volumeName"]) == name;
            if (boundBoth && phase != "Bound") SetVolumeStatus(name, "Bound");
            else if (!boundBoth && phase is null or "Pending") SetVolumeStatus(name, "Available");
            return;
        }
        if (uid is null or "") return; // pre-bound to a claim not made yet
        // Its claim is gone.
        if (phase is "Released" or "Failed") return;
        var policy = Json.Str(volume["spec"]?["persistentVolumeReclaimPolicy"]) ?? "Retain";
        var provisioner = Json.Str(volume["metadata"]?["annotations"]?[ProvisionedBy]);
        if (policy == "Delete" && provisioner is null)
        {
            var message = $"error getting deleter volume plugin for volume \"{name}\": no deletable volume plugin matched";
            SetVolumeStatus(name, "Failed", "VolumeFailedDelete", message);
            _events.Warning(volume, "VolumeFailedDelete", message);
            return;
        }
        if (policy == "Recycle")
        {
            SetVolumeStatus(name, "Failed", "VolumeFailedRecycle", "recycling is not supported: use Delete or Retain");
            return;
        }
        // Retain keeps it Released; Delete with a provisioner leaves the deletion to that provisioner.
        SetVolumeStatus(name, "Released");
    }
}
