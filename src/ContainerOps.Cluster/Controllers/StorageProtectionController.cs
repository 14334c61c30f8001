using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-controller-manager's pvc-protection and pv-protection controllers in one: a deleted claim keeps its
/// kubernetes.io/pvc-protection finalizer while a pod that is not finished uses it, and a deleted volume keeps
/// kubernetes.io/pv-protection while it is Bound; then the finalizer goes and the object with it.
/// Keys: "claim:NS/NAME" and "volume:NAME".
/// </summary>
public sealed class StorageProtectionController : IController
{
    private const string ClaimPrefix = "claim:", VolumePrefix = "volume:";
    private Informer _claims = null!, _volumes = null!, _pods = null!;
    private ControllerContext _context = null!;

    public string Name => "pvc-protection-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _claims = context.Informers.For(ResourceKinds.PersistentVolumeClaim);
        _volumes = context.Informers.For(ResourceKinds.PersistentVolume);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _claims.AddHandler(e => { if (OwnerReferences.IsBeingDeleted(e.Object)) queue.Add(ClaimPrefix + Informer.KeyOf(e.Object)); });
        _volumes.AddHandler(e => { if (OwnerReferences.IsBeingDeleted(e.Object)) queue.Add(VolumePrefix + Informer.KeyOf(e.Object)); });
        // A pod that goes or finishes may free the claims it used.
        _pods.AddHandler(e =>
        {
            var ns = Json.Str(e.Object["metadata"]?["namespace"]);
            foreach (var claim in ClaimsOf(e.Object)) queue.Add(ClaimPrefix + Informer.KeyOf(ns, claim));
        });
    }

    public static IEnumerable<string> ClaimsOf(JsonObject pod) =>
        (pod["spec"]?["volumes"] as JsonArray)?.OfType<JsonObject>().Select(v => Json.Str(v["persistentVolumeClaim"]?["claimName"])).OfType<string>() ?? [];

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (key.StartsWith(ClaimPrefix, StringComparison.Ordinal))
        {
            var (ns, name) = Informer.SplitKey(key[ClaimPrefix.Length..]);
            if (_claims.Get(ns, name) is { } claim && OwnerReferences.IsBeingDeleted(claim) && !InUse(ns, name))
                RemoveFinalizer(ResourceKinds.PersistentVolumeClaim, ns, name, Storage.ClaimProtectionFinalizer);
        }
        else if (key.StartsWith(VolumePrefix, StringComparison.Ordinal))
        {
            var name = key[VolumePrefix.Length..];
            if (_volumes.Get(name) is { } volume && OwnerReferences.IsBeingDeleted(volume) && Json.Str(volume["status"]?["phase"]) != "Bound")
                RemoveFinalizer(ResourceKinds.PersistentVolume, null, name, Storage.VolumeProtectionFinalizer);
        }
        return Task.FromResult(Reconciled.Done);
    }

    /// <summary>A pod of the namespace that is not Succeeded or Failed names the claim (read fresh: the cache may not
    /// have a pod made a moment ago, and a claim removed under a starting pod is data lost).</summary>
    private bool InUse(string? ns, string name) =>
        _context.Objects.Store.List(ResourceKinds.Pod.Key(ns, null)).Items.Select(i => ClusterObjects.Parse(i.Value))
            .Any(p => Json.Str(p["status"]?["phase"]) is not ("Succeeded" or "Failed") && ClaimsOf(p).Contains(name));

    private void RemoveFinalizer(ResourceKind kind, string? ns, string name, string finalizer)
    {
        try
        {
            _context.Objects.Update(kind, ns, name, null, o => { Finalizers.Remove(o, finalizer); return o; }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
    }
}
