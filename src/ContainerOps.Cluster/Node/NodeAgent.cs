using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// The kubelet's job inside the daemon: registers the node and renews its lease, binds unscheduled pods to it
/// (<see cref="PodBinder"/>), and runs the pods bound to it, one <see cref="PodWorker"/> each. It follows the store's
/// watch of pods (no polling): with no pods it only renews its lease. On start it adopts the containers of pods it
/// still has, and removes containers and sandboxes that no pod owns.
/// </summary>
public sealed class NodeAgent : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, PodWorker> _workers = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _watchLoop;
    private Timer? _leaseTimer;
    private PodBinder _binder = null!;

    internal INodeRuntime Runtime { get; }
    internal ClusterObjects Objects { get; }
    internal NodeAgentOptions Options { get; }
    internal ILogger Log { get; }
    public NodeRegistration Registration { get; }

    /// <summary>The signer of the service account tokens pods' volumes hold; without one, such volumes cannot be made.</summary>
    public Security.ServiceAccountTokens? Tokens { get; init; }

    public NodeAgent(ClusterObjects objects, INodeRuntime runtime, NodeAgentOptions options, ILogger log)
    {
        Objects = objects;
        Runtime = runtime;
        Options = options;
        Log = log;
        Registration = new NodeRegistration(objects, options);
    }

    /// <summary>Registers the node, settles what is on it, then follows the pods.</summary>
    public void Start()
    {
        Registration.Register();
        RenewLease();
        _leaseTimer = new Timer(_ => RenewLease(), null, Options.LeaseRenewInterval, Options.LeaseRenewInterval);
        _binder = new PodBinder(Objects, Options.NodeName);
        var list = Objects.Store.List(ResourceKinds.Pod.Key(null, null));
        var uids = new HashSet<string>();
        foreach (var item in list.Items)
        {
            var pod = ClusterObjects.Parse(item.Value);
            if (Handle(pod)) uids.Add(Json.Str(pod["metadata"]?["uid"]) ?? "");
        }
        RemoveOrphans(uids);
        var nodeKey = ResourceKinds.Node.Key(null, Options.NodeName);
        // A change to this Node (a label, a taint) or to a claim (bound now) may let pending pods on it; a ConfigMap or
        // Secret changes the volumes made of it.
        _watchLoop = Task.WhenAll(Task.Run(() => FollowAsync(list.Revision)),
            Task.Run(() => FollowChangesAsync(nodeKey, key => { if (key is null || key == nodeKey) RetryPending(); }, $"node {Options.NodeName}", list.Revision)),
            Task.Run(() => FollowChangesAsync(ResourceKinds.PersistentVolumeClaim.Key(null, null), _ => RetryPending(), "claims", list.Revision)),
            Task.Run(() => FollowChangesAsync(ResourceKinds.ConfigMap.Key(null, null), key => VolumeSourceChanged("ConfigMap", key), "configmaps", list.Revision)),
            Task.Run(() => FollowChangesAsync(ResourceKinds.Secret.Key(null, null), key => VolumeSourceChanged("Secret", key), "secrets", list.Revision)));
        Log.LogInformation("node {Node} registered; {Count} pod(s) on it", Options.NodeName, uids.Count);
    }

    private void RenewLease()
    {
        try { Registration.RenewLease(); }
        catch (Exception e) when (e is StatusException or ObjectDisposedException or InvalidOperationException) { Log.LogWarning("node lease: {Message}", e.Message); }
    }

    /// <summary>Containers and sandboxes of pods this node no longer has (deleted while the daemon was down).</summary>
    private void RemoveOrphans(HashSet<string> uids)
    {
        var containers = Runtime.ListPodContainers().Where(c => !uids.Contains(c.PodUid)).ToList();
        var sandboxes = Runtime.ListSandboxes().Where(s => !uids.Contains(s.PodUid)).ToList();
        if (containers.Count == 0 && sandboxes.Count == 0) return;
        Log.LogInformation("removing {Containers} container(s) and {Sandboxes} sandbox(es) no pod owns", containers.Count, sandboxes.Count);
        _ = Task.Run(async () =>
        {
            foreach (var c in containers)
                try { await Runtime.RemoveContainerAsync(c.Id); } catch (Exception e) { Log.LogWarning("orphan {Id}: {Message}", c.Id, e.Message); }
            foreach (var s in sandboxes)
                try { await Runtime.RemoveSandboxAsync(s.PodUid); } catch (Exception e) { Log.LogWarning("orphan sandbox {Uid}: {Message}", s.PodUid, e.Message); }
        });
    }

    /// <summary>Binds an unscheduled pod, hands one bound here to its worker. True when the pod is (now) this node's.</summary>
    private bool Handle(JsonObject pod)
    {
        var uid = Json.Str(pod["metadata"]?["uid"]) ?? "";
        var node = Json.Str(pod["spec"]?["nodeName"]);
        if (string.IsNullOrEmpty(node))
        {
            // The bind's own write comes back through the watch as an update with the node name.
            if (pod["metadata"]?["deletionTimestamp"] is null) _binder.TryBind(pod);
            return false;
        }
        if (node != Options.NodeName) return false;
        _workers.GetOrAdd(uid, u => new PodWorker(this, u)).Update(pod);
        return true;
    }

    private async Task FollowAsync(long revision)
    {
        var prefix = ResourceKinds.Pod.Key(null, null);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var watch = Objects.Store.Watch(prefix, revision);
                await foreach (var e in watch.ReadAllAsync(_stop.Token))
                {
                    revision = e.Object.Revision;
                    var pod = ClusterObjects.Parse(e.Object.Value);
                    if (e.Type == WatchEventType.Deleted)
                    {
                        if (_workers.TryGetValue(Json.Str(pod["metadata"]?["uid"]) ?? "", out var w)) w.Update(null);
                    }
                    else Handle(pod);
                }
                if (_stop.IsCancellationRequested) return;
                // Dropped for falling behind: every pod is looked at again from a fresh list.
                revision = Relist();
            }
            catch (OperationCanceledException) { return; }
            catch (RevisionCompactedException) { revision = Relist(); }
            catch (Exception e) when (e is ObjectDisposedException) { return; }
            catch (Exception e)
            {
                Log.LogWarning("following pods: {Message}", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ContinueWith(_ => { });
            }
        }
    }

    /// <summary>Follows the objects under <paramref name="prefix"/>, calling <paramref name="changed"/> with the key of each
    /// one made or changed (deletions ask nothing of the node), or with null when the watch was dropped and any of them
    /// may have changed unseen.</summary>
    private async Task FollowChangesAsync(string prefix, Action<string?> changed, string what, long revision)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var watch = Objects.Store.Watch(prefix, revision);
                await foreach (var e in watch.ReadAllAsync(_stop.Token))
                {
                    revision = e.Object.Revision;
                    if (e.Type != WatchEventType.Deleted) changed(e.Object.Key);
                }
                if (_stop.IsCancellationRequested) return;
                revision = Objects.Store.CurrentRevision;
                changed(null);
            }
            catch (OperationCanceledException) { return; }
            catch (RevisionCompactedException)
            {
                revision = Objects.Store.CurrentRevision;
                changed(null);
            }
            catch (Exception e) when (e is ObjectDisposedException) { return; }
            catch (Exception e)
            {
                Log.LogWarning("following {What}: {Message}", what, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ContinueWith(_ => { });
            }
        }
    }

    /// <summary>A ConfigMap or Secret changed (key null: any may have): each pod that uses it is told.</summary>
    private void VolumeSourceChanged(string kind, string? key)
    {
        // Keys are "configmaps/NAMESPACE/NAME".
        var parts = key?.Split('/', 3);
        foreach (var worker in _workers.Values) worker.SourceChanged(kind, parts?[1], parts?[2]);
    }

    private void RetryPending()
    {
        foreach (var item in Objects.Store.List(ResourceKinds.Pod.Key(null, null)).Items)
        {
            var pod = ClusterObjects.Parse(item.Value);
            if (string.IsNullOrEmpty(Json.Str(pod["spec"]?["nodeName"]))) Handle(pod);
        }
    }

    private long Relist()
    {
        var list = Objects.Store.List(ResourceKinds.Pod.Key(null, null));
        var present = new HashSet<string>();
        foreach (var item in list.Items)
        {
            var pod = ClusterObjects.Parse(item.Value);
            present.Add(Json.Str(pod["metadata"]?["uid"]) ?? "");
            Handle(pod);
        }
        foreach (var (uid, w) in _workers)
            if (!present.Contains(uid)) w.Update(null);
        return list.Revision;
    }

    /// <summary>A worker is done: its pod is gone from the store and from the node.</summary>
    internal void Finished(string uid, PodWorker worker)
    {
        _workers.TryRemove(new KeyValuePair<string, PodWorker>(uid, worker));
        worker.Dispose();
    }

    public int PodCount => _workers.Count;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _leaseTimer?.Dispose();
        foreach (var w in _workers.Values) w.Dispose();
        if (_watchLoop is not null) await _watchLoop.ContinueWith(_ => { });
    }
}
