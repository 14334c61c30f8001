using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;

namespace ContainerOps.Cluster.Node;

/// <summary>Where a node keeps the data of the volumes it provisions. The daemon's implementation makes them named
/// volumes of its volume engine, so a node has one storage implementation and `containerops volume ls` shows them.</summary>
public interface INodeStorage
{
    /// <summary>Makes the volume if it is not there (idempotent) and returns its data directory on the node.</summary>
    string CreateVolume(string name, IReadOnlyDictionary<string, string> labels);

    /// <summary>Removes the volume and its data; nothing when it is not there.</summary>
    void DeleteVolume(string name);
}

/// <summary>
/// The local provisioner of the default class (provisioner <see cref="Storage.LocalProvisioner"/>), one per node, as
/// k3s' local-path-provisioner runs: for a claim whose class is its own and whose selected node is this one, it makes a
/// directory on the node and a PersistentVolume `pvc-UID` for it — spec.local at that path, node affinity to this node,
/// reserved for the claim (claimRef), the class's reclaim policy — which the binder then binds. A Released volume it made
/// with reclaim policy Delete loses its data and its object. Keys: "claim:NS/NAME" and "volume:NAME".
/// </summary>
public sealed class LocalVolumeProvisioner(INodeStorage storage, string nodeName) : IController
{
    private const string ClaimPrefix = "claim:", VolumePrefix = "volume:";

    private Informer _claims = null!, _volumes = null!, _classes = null!;
    private ControllerContext _context = null!;
    private EventRecorder _events = null!;

    public string Name => Storage.LocalProvisioner + "_" + nodeName;

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _events = context.Events(Storage.LocalProvisioner);
        _claims = context.Informers.For(ResourceKinds.PersistentVolumeClaim);
        _volumes = context.Informers.For(ResourceKinds.PersistentVolume);
        _classes = context.Informers.For(ResourceKinds.StorageClass);
        _claims.AddHandler(e => queue.Add(ClaimPrefix + Informer.KeyOf(e.Object)));
        _volumes.AddHandler(e => queue.Add(VolumePrefix + Informer.KeyOf(e.Object)));
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (key.StartsWith(ClaimPrefix, StringComparison.Ordinal)) Provision(key[ClaimPrefix.Length..]);
        else if (key.StartsWith(VolumePrefix, StringComparison.Ordinal)) Reclaim(key[VolumePrefix.Length..]);
        return Task.FromResult(Reconciled.Done);
    }

    private void Provision(string key)
    {
        if (_claims.Get(key) is not { } claim || OwnerReferences.IsBeingDeleted(claim)) return;
        var annotations = claim["metadata"]?["annotations"];
        if (Json.Str(claim["spec"]?["volumeName"]) is { Length: > 0 }) return;
        if (Json.Str(annotations?[PersistentVolumeBinder.StorageProvisioner]) != Storage.LocalProvisioner) return;
        if (Json.Str(annotations?[PersistentVolumeBinder.SelectedNode]) != nodeName) return;
        var className = Json.Str(claim["spec"]?["storageClassName"]) ?? "";
        if (_classes.Get(className) is not { } storageClass || Json.Str(storageClass["provisioner"]) != Storage.LocalProvisioner) return;
        var uid = Json.Str(claim["metadata"]?["uid"])!;
        var name = "pvc-" + uid;
        if (_context.Objects.Store.Get(ResourceKinds.PersistentVolume.Key(null, name)) is not null) return;
        var ns = Json.Str(claim["metadata"]?["namespace"]);
        var claimName = Json.Str(claim["metadata"]?["name"]);
        _events.Normal(claim, "Provisioning", $"External provisioner is provisioning volume for claim \"{ns}/{claimName}\"");
        string path;
        try { path = storage.CreateVolume(name, new Dictionary<string, string> { ["io.kubernetes.pvc.namespace"] = ns ?? "", ["io.kubernetes.pvc.name"] = claimName ?? "" }); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _events.Warning(claim, "ProvisioningFailed", $"failed to provision volume with StorageClass \"{className}\": {e.Message}");
            throw;
        }
        var volume = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "PersistentVolume",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["annotations"] = new JsonObject { [PersistentVolumeBinder.ProvisionedBy] = Storage.LocalProvisioner },
            },
            ["spec"] = new JsonObject
            {
                ["capacity"] = new JsonObject { ["storage"] = Json.Str(claim["spec"]?["resources"]?["requests"]?["storage"]) },
                ["accessModes"] = claim["spec"]?["accessModes"]?.DeepClone(),
                ["persistentVolumeReclaimPolicy"] = Json.Str(storageClass["reclaimPolicy"]) ?? "Delete",
                ["storageClassName"] = className,
                ["volumeMode"] = "Filesystem",
                ["local"] = new JsonObject { ["path"] = path },
                ["nodeAffinity"] = new JsonObject
                {
                    ["required"] = new JsonObject
                    {
                        ["nodeSelectorTerms"] = new JsonArray(new JsonObject
                        {
                            ["matchExpressions"] = new JsonArray(new JsonObject { ["key"] = "kubernetes.io/hostname", ["operator"] = "In", ["values"] = new JsonArray((JsonNode)nodeName) }),
                        }),
                    },
                },
                ["claimRef"] = new JsonObject
                {
                    ["kind"] = "PersistentVolumeClaim", ["apiVersion"] = "v1", ["namespace"] = ns, ["name"] = claimName, ["uid"] = uid,
                    ["resourceVersion"] = Json.Str(claim["metadata"]?["resourceVersion"]),
                },
            },
        };
        try { _context.Objects.Create(ResourceKinds.PersistentVolume, null, volume, FieldValidation.Strict, dryRun: false, out _); }
        catch (StatusException e) when (e.Code == 409) { return; } // made by an earlier look
        catch
        {
            // Nothing half-made: no directory without its volume object.
            storage.DeleteVolume(name);
            throw;
        }
        _events.Normal(claim, "ProvisioningSucceeded", $"Successfully provisioned volume {name}");
    }

    /// <summary>A Released volume of this node made here, with reclaim policy Delete: its data, then its object.</summary>
    private void Reclaim(string name)
    {
        if (_volumes.Get(name) is not { } volume) return;
        if (Json.Str(volume["metadata"]?["annotations"]?[PersistentVolumeBinder.ProvisionedBy]) != Storage.LocalProvisioner || !OnThisNode(volume)) return;
        if (Json.Str(volume["spec"]?["persistentVolumeReclaimPolicy"]) != "Delete" || Json.Str(volume["status"]?["phase"]) != "Released") return;
        storage.DeleteVolume(name);
        try { _context.Objects.Delete(ResourceKinds.PersistentVolume, null, name, null, Json.Str(volume["metadata"]?["uid"]), dryRun: false); }
        catch (StatusException e) when (e.Code == 404) { }
    }

    private bool OnThisNode(JsonObject volume) =>
        (volume["spec"]?["nodeAffinity"]?["required"]?["nodeSelectorTerms"] as JsonArray)?.OfType<JsonObject>()
            .SelectMany(t => (t["matchExpressions"] as JsonArray)?.OfType<JsonObject>() ?? [])
            .Any(e => Json.Str(e["key"]) == "kubernetes.io/hostname" && (e["values"] as JsonArray)?.Any(v => Json.Str(v) == nodeName) == true) == true;
}
