using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Controllers;

/// <summary>A change an informer saw: <see cref="Old"/> is the cached object before (null for an add),
/// <see cref="Object"/> the object now (for a removal, its last state).</summary>
public sealed record InformerEvent(WatchEventType Type, JsonObject? Old, JsonObject Object);

/// <summary>
/// One kind's objects, listed once and then followed through the store's watch from the list's revision, kept in a
/// local cache indexed by namespace/name and by owner uid. Shared by every controller that reads the kind (one watch
/// per kind, however many controllers). After a compaction or when the store dropped the watch for falling behind,
/// it lists again and reports the differences as events, so handlers never miss a change.
/// Cached objects are shared: read them, and DeepClone one before changing it.
/// </summary>
public sealed class Informer : IDisposable
{
    private readonly ClusterObjects _objects;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, JsonObject> _byKey = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _byOwner = new();
    private readonly List<Action<InformerEvent>> _handlers = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _follow;

    public ResourceKind Kind { get; }

    internal Informer(ClusterObjects objects, ResourceKind kind, ILogger log)
    {
        _objects = objects;
        Kind = kind;
        _log = log;
    }

    /// <summary>Called for every change, on the informer's own thread, after the cache has it: keep it short
    /// (enqueue keys). Handlers added before <see cref="Start"/> also see the first list as additions.</summary>
    public void AddHandler(Action<InformerEvent> handler)
    {
        lock (_handlers) _handlers.Add(handler);
    }

    /// <summary>Lists (the cache is full when this returns), then follows the watch in the background.</summary>
    public void Start()
    {
        if (_follow is not null) return;
        var revision = Relist();
        _synced.TrySetResult();
        _follow = Task.Run(() => FollowAsync(revision));
    }

    public Task Synced => _synced.Task;

    /// <summary>"namespace/name", or "name" for a cluster-scoped object: the key controllers queue.</summary>
    public static string KeyOf(JsonObject o) => KeyOf(Json.Str(o["metadata"]?["namespace"]), Json.Str(o["metadata"]?["name"]) ?? "");

    public static string KeyOf(string? ns, string name) => string.IsNullOrEmpty(ns) ? name : $"{ns}/{name}";

    public static (string? Namespace, string Name) SplitKey(string key) =>
        key.IndexOf('/') is var i and >= 0 ? (key[..i], key[(i + 1)..]) : (null, key);

    public JsonObject? Get(string key) => _byKey.TryGetValue(key, out var o) ? o : null;

    public JsonObject? Get(string? ns, string name) => Get(KeyOf(ns, name));

    /// <summary>The cached objects, of one namespace or (null) of all.</summary>
    public IEnumerable<JsonObject> List(string? ns = null) =>
        ns is null ? _byKey.Values : _byKey.Where(kv => kv.Key.StartsWith(ns + "/", StringComparison.Ordinal)).Select(kv => kv.Value);

    /// <summary>The cached objects that name <paramref name="ownerUid"/> among their ownerReferences.</summary>
    public IEnumerable<JsonObject> ListByOwner(string ownerUid)
    {
        if (!_byOwner.TryGetValue(ownerUid, out var keys)) yield break;
        foreach (var key in keys.Keys)
            if (_byKey.TryGetValue(key, out var o)) yield return o;
    }

    public int Count => _byKey.Count;

    private async Task FollowAsync(long revision)
    {
        var prefix = Kind.Key(null, null);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var watch = _objects.Store.Watch(prefix, revision);
                await foreach (var e in watch.ReadAllAsync(_stop.Token))
                {
                    revision = e.Object.Revision;
                    var o = ClusterObjects.Parse(e.Object.Value);
                    if (e.Type == WatchEventType.Deleted) Json.Metadata(o)["resourceVersion"] = e.Object.Revision.ToString();
                    Apply(e.Type, o);
                }
                if (_stop.IsCancellationRequested) return;
                // The store dropped this watch for falling behind: what changed meanwhile comes from a fresh list.
                revision = Relist();
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (RevisionCompactedException) { revision = Relist(); }
            catch (Exception e)
            {
                _log.LogWarning("informer for {Kind}: {Message}", Kind.GroupResource, e.Message);
                try { await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token); } catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>Lists the kind and reports what differs from the cache (all of it, the first time).</summary>
    internal long Relist()
    {
        var list = _objects.Store.List(Kind.Key(null, null));
        var seen = new HashSet<string>();
        foreach (var item in list.Items)
        {
            var o = ClusterObjects.Parse(item.Value);
            var key = KeyOf(o);
            seen.Add(key);
            if (_byKey.TryGetValue(key, out var cached) && Json.Str(cached["metadata"]?["resourceVersion"]) == Json.Str(o["metadata"]?["resourceVersion"])) continue;
            Apply(cached is null ? WatchEventType.Added : WatchEventType.Modified, o);
        }
        foreach (var (key, gone) in _byKey.ToArray())
            if (!seen.Contains(key)) Apply(WatchEventType.Deleted, gone);
        return list.Revision;
    }

    private void Apply(WatchEventType type, JsonObject o)
    {
        var key = KeyOf(o);
        _byKey.TryGetValue(key, out var old);
        if (type == WatchEventType.Deleted)
        {
            _byKey.TryRemove(key, out _);
            if (old is not null) Unindex(key, old, keep: []);
        }
        else
        {
            // The new copy is indexed before the old one's owners are let go, and an owner both name is never let go:
            // a controller listing an owner's objects meanwhile (on another thread) must not find one missing, or it
            // would make it again.
            _byKey[key] = o;
            Index(key, o);
            if (old is not null) Unindex(key, old, keep: [.. OwnerUids(o)]);
        }
        if (type != WatchEventType.Deleted && old is null) type = WatchEventType.Added;
        else if (type == WatchEventType.Added && old is not null) type = WatchEventType.Modified;
        Action<InformerEvent>[] handlers;
        lock (_handlers) handlers = [.. _handlers];
        var e = new InformerEvent(type, old, o);
        foreach (var handler in handlers)
        {
            try { handler(e); }
            catch (Exception ex) { _log.LogWarning("{Kind} handler: {Message}", Kind.GroupResource, ex.Message); }
        }
    }

    private void Index(string key, JsonObject o)
    {
        foreach (var uid in OwnerUids(o))
            _byOwner.GetOrAdd(uid, _ => new ConcurrentDictionary<string, byte>())[key] = 0;
    }

    private void Unindex(string key, JsonObject o, IReadOnlyCollection<string> keep)
    {
        foreach (var uid in OwnerUids(o).Except(keep))
            if (_byOwner.TryGetValue(uid, out var keys))
            {
                keys.TryRemove(key, out _);
                if (keys.IsEmpty) _byOwner.TryRemove(new KeyValuePair<string, ConcurrentDictionary<string, byte>>(uid, keys));
            }
    }

    private static IEnumerable<string> OwnerUids(JsonObject o) =>
        (o["metadata"]?["ownerReferences"] as JsonArray ?? []).Select(r => Json.Str(r?["uid"])).OfType<string>();

    public void Dispose()
    {
        _stop.Cancel();
        try { _follow?.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}

/// <summary>One <see cref="Informer"/> per kind, made on first ask and shared by every controller.</summary>
public sealed class SharedInformers(ClusterObjects objects, ILogger log) : IDisposable
{
    private readonly ConcurrentDictionary<ResourceKind, Informer> _informers = new();

    public Informer For(ResourceKind kind) => _informers.GetOrAdd(kind, k => new Informer(objects, k, log));

    /// <summary>Starts every informer asked for so far (each lists before this returns).</summary>
    public void Start()
    {
        foreach (var informer in _informers.Values) informer.Start();
    }

    public void Dispose()
    {
        foreach (var informer in _informers.Values) informer.Dispose();
    }
}
