using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Removes what belongs to owners that are gone, through ownerReferences, with the propagation the owner's deletion
/// asked for (kube-controller-manager's garbage collector):
/// Background — the owner goes at once; each dependent whose owners are all gone is deleted after it.
/// Foreground — the owner stays (deletionTimestamp, the foregroundDeletion finalizer) while its dependents are
/// deleted, themselves in the foreground; the finalizer goes when no dependent that blocks owner deletion is left.
/// Orphan — the owner stays (the orphan finalizer) until its dependents no longer name it, then goes; they stay.
/// A dependent with owners left keeps living, without its references to owners that are gone.
/// Keys are "resource:namespace/name"; the absence of an owner is checked with a fresh read, never the cache alone.
/// </summary>
public sealed class GarbageCollector : IController
{
    private readonly Dictionary<ResourceKind, Informer> _informers = [];
    private ControllerContext _context = null!;
    private WorkQueue _queue = null!;

    public string Name => "garbage-collector-controller";

    /// <summary>Kinds that neither own nor are owned in practice, and change often: not followed.</summary>
    private static bool Followed(ResourceKind kind) => kind.Kind is not ("Event" or "Lease");

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _queue = queue;
        foreach (var kind in ResourceKinds.All.Where(Followed))
        {
            var informer = context.Informers.For(kind);
            _informers[kind] = informer;
            informer.AddHandler(e => OnChange(kind, e));
        }
    }

    private static string KeyOf(ResourceKind kind, string? ns, string name) => $"{kind.GroupResource}:{Informer.KeyOf(ns, name)}";

    private void OnChange(ResourceKind kind, InformerEvent e)
    {
        var o = e.Object;
        var meta = o["metadata"];
        var ns = Json.Str(meta?["namespace"]);
        var name = Json.Str(meta?["name"]) ?? "";
        var deleted = e.Type == Store.WatchEventType.Deleted;
        var deleting = deleted || OwnerReferences.IsBeingDeleted(o);
        if (!deleted && (OwnerReferences.Of(o) is { Count: > 0 } || Finalizers.Has(o, ClusterObjects.ForegroundFinalizer) || Finalizers.Has(o, ClusterObjects.OrphanFinalizer)))
            _queue.Add(KeyOf(kind, ns, name));
        // An owner going or gone: its dependents are looked at again.
        if (deleting && OwnerReferences.Uid(o) is { } uid)
            foreach (var (dependentKind, dependent) in Dependents(uid))
                _queue.Add(KeyOf(dependentKind, Json.Str(dependent["metadata"]?["namespace"]), Json.Str(dependent["metadata"]?["name"]) ?? ""));
        // A dependent going or gone: an owner waiting for it in the foreground may be done.
        if (deleting)
            foreach (var owner in (OwnerReferences.Of(o) ?? []).OfType<JsonObject>())
                if (OwnerKind(owner) is { } ownerKind)
                    _queue.Add(KeyOf(ownerKind, ownerKind.Namespaced ? ns : null, Json.Str(owner["name"]) ?? ""));
    }

    private static ResourceKind? OwnerKind(JsonObject reference) =>
        ResourceKinds.All.FirstOrDefault(k => k.ApiVersion == Json.Str(reference["apiVersion"]) && k.Kind == Json.Str(reference["kind"]));

    private IEnumerable<(ResourceKind Kind, JsonObject Object)> Dependents(string ownerUid) =>
        _informers.SelectMany(i => i.Value.ListByOwner(ownerUid).Select(o => (i.Key, o)));

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        var colon = key.IndexOf(':');
        var kind = ResourceKinds.All.First(k => k.GroupResource == key[..colon]);
        var (ns, name) = Informer.SplitKey(key[(colon + 1)..]);
        // Read fresh, not from the cache: a dependent's informer may lag its owner's, and a stale copy that still names
        // a deleted owner must not get the dependent collected after it was orphaned.
        if (_context.Objects.Store.Get(kind.Key(ns, name)) is not { } stored) return Task.FromResult(Reconciled.Done);
        var o = ClusterObjects.Parse(stored.Value);
        if (OwnerReferences.IsBeingDeleted(o))
        {
            if (Finalizers.Has(o, ClusterObjects.OrphanFinalizer)) OrphanDependents(kind, ns, name, o);
            else if (Finalizers.Has(o, ClusterObjects.ForegroundFinalizer)) DeleteDependentsFirst(kind, ns, name, o);
            return Task.FromResult(Reconciled.Done);
        }
        if (OwnerReferences.Of(o) is { Count: > 0 } refs) CollectIfOwnersGone(kind, ns, name, o, refs, stored.Revision);
        return Task.FromResult(Reconciled.Done);
    }

    private enum OwnerState { Present, Absent, DeletingForeground }

    /// <summary>The owner named by <paramref name="reference"/>, read fresh from the store.</summary>
    private OwnerState StateOf(JsonObject reference, string? ns)
    {
        if (OwnerKind(reference) is not { } kind) return OwnerState.Present; // a kind not served here: not ours to judge
        var stored = _context.Objects.Store.Get(kind.Key(kind.Namespaced ? ns : null, Json.Str(reference["name"]) ?? ""));
        if (stored is null) return OwnerState.Absent;
        var owner = ClusterObjects.Parse(stored.Value);
        if (OwnerReferences.Uid(owner) != Json.Str(reference["uid"])) return OwnerState.Absent;
        return OwnerReferences.IsBeingDeleted(owner) && Finalizers.Has(owner, ClusterObjects.ForegroundFinalizer) ? OwnerState.DeletingForeground : OwnerState.Present;
    }

    private void CollectIfOwnersGone(ResourceKind kind, string? ns, string name, JsonObject o, JsonArray refs, long revision)
    {
        var states = refs.OfType<JsonObject>().Select(r => (Ref: r, State: StateOf(r, ns))).ToList();
        var absent = states.Where(s => s.State == OwnerState.Absent).Select(s => Json.Str(s.Ref["uid"])!).ToList();
        if (states.Any(s => s.State == OwnerState.Present))
        {
            // Owners left: the dependent lives on, without the references to owners that are gone.
            if (absent.Count == 0) return;
            Update(kind, ns, name, OwnerReferences.Uid(o), fresh => { foreach (var uid in absent) OwnerReferences.RemoveReference(fresh, uid); });
            return;
        }
        if (absent.Count == states.Count || states.Any(s => s.State == OwnerState.DeletingForeground))
        {
            var propagation = states.Any(s => s.State == OwnerState.DeletingForeground) ? "Foreground" : "Background";
            _context.Log.LogInformation("garbage collector: deleting {Kind} {Key} ({Propagation}), its owners are gone", kind.Kind, Informer.KeyOf(ns, name), propagation);
            // Only as read: if it changed since (an orphaning, a new owner), its change brings it back here.
            Delete(kind, ns, name, OwnerReferences.Uid(o), propagation, revision);
        }
    }

    private void DeleteDependentsFirst(ResourceKind kind, string? ns, string name, JsonObject owner)
    {
        var uid = OwnerReferences.Uid(owner)!;
        var blocking = 0;
        foreach (var (dependentKind, dependent) in Dependents(uid).ToList())
        {
            var reference = (OwnerReferences.Of(dependent) ?? []).OfType<JsonObject>().First(r => Json.Str(r["uid"]) == uid);
            if (reference["blockOwnerDeletion"] is JsonValue b && b.TryGetValue<bool>(out var blocks) && blocks) blocking++;
            if (!OwnerReferences.IsBeingDeleted(dependent))
                Delete(dependentKind, Json.Str(dependent["metadata"]?["namespace"]), Json.Str(dependent["metadata"]?["name"])!, OwnerReferences.Uid(dependent), "Foreground");
        }
        // Dependents that do not block go along in the background; the owner waits only for those that do.
        if (blocking == 0) Update(kind, ns, name, uid, fresh => Finalizers.Remove(fresh, ClusterObjects.ForegroundFinalizer));
    }

    private void OrphanDependents(ResourceKind kind, string? ns, string name, JsonObject owner)
    {
        var uid = OwnerReferences.Uid(owner)!;
        foreach (var (dependentKind, dependent) in Dependents(uid).ToList())
            Update(dependentKind, Json.Str(dependent["metadata"]?["namespace"]), Json.Str(dependent["metadata"]?["name"])!, OwnerReferences.Uid(dependent),
                fresh => OwnerReferences.RemoveReference(fresh, uid));
        Update(kind, ns, name, uid, fresh => Finalizers.Remove(fresh, ClusterObjects.OrphanFinalizer));
    }

    private void Update(ResourceKind kind, string? ns, string name, string? uid, Action<JsonObject> change) =>
        ObjectWrites.ChangeIfSame(_context.Objects, kind, ns, name, uid, change);

    private void Delete(ResourceKind kind, string? ns, string name, string? uid, string propagation, long? revision = null)
    {
        try { _context.Objects.Delete(kind, ns, name, revision, uid, dryRun: false, propagation: propagation); }
        catch (StatusException e) when (e.Code is 404 or 409) { }
    }
}
