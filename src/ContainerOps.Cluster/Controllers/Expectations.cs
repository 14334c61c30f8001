using System.Collections.Concurrent;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// What a controller has asked for and not yet seen through its informers, per owner key (kube-controller-manager's
/// ControllerExpectations with UID tracking for deletions): while creations or deletions are in flight the cache is
/// stale for that owner, and the controller must not act on it again (it would create duplicates, or delete twice).
/// Expectations that never arrive (a lost write) expire after a timeout, so an owner is never stuck.
/// </summary>
public sealed class Expectations(TimeSpan timeout, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Entry> _entries = new();

    private sealed class Entry
    {
        public int Adds;
        public readonly HashSet<string> Deletes = [];
        public DateTimeOffset Set;
    }

    /// <summary>True when the owner's cache can be trusted: nothing in flight, nothing ever expected, or expired.</summary>
    public bool Satisfied(string ownerKey)
    {
        if (!_entries.TryGetValue(ownerKey, out var e)) return true;
        lock (e)
            return (e.Adds <= 0 && e.Deletes.Count == 0) || _clock.GetUtcNow() - e.Set > timeout;
    }

    /// <summary>The owner is about to create <paramref name="count"/> objects.</summary>
    public void ExpectCreations(string ownerKey, int count) => Set(ownerKey, count, []);

    /// <summary>The owner is about to delete these objects (by key).</summary>
    public void ExpectDeletions(string ownerKey, IEnumerable<string> keys) => Set(ownerKey, 0, keys);

    private void Set(string ownerKey, int adds, IEnumerable<string> deletes)
    {
        var e = _entries.GetOrAdd(ownerKey, _ => new Entry());
        lock (e)
        {
            e.Adds = adds;
            e.Deletes.Clear();
            e.Deletes.UnionWith(deletes);
            e.Set = _clock.GetUtcNow();
        }
    }

    /// <summary>One of the owner's creations arrived (or failed, and so never will).</summary>
    public void CreationObserved(string ownerKey)
    {
        if (_entries.TryGetValue(ownerKey, out var e)) lock (e) e.Adds--;
    }

    /// <summary>The object <paramref name="key"/> is being deleted or gone (or its deletion failed).</summary>
    public void DeletionObserved(string ownerKey, string key)
    {
        if (_entries.TryGetValue(ownerKey, out var e)) lock (e) e.Deletes.Remove(key);
    }

    /// <summary>Counts what an informer's event about one of <paramref name="ownerKey"/>'s pods shows of its creations
    /// (the pod added) and deletions (marked for deletion, or gone).</summary>
    public void Observe(InformerEvent e, string ownerKey)
    {
        var deleting = OwnerReferences.IsBeingDeleted(e.Object);
        switch (e.Type)
        {
            case Store.WatchEventType.Added when deleting:
            case Store.WatchEventType.Modified when deleting && e.Old is not null && !OwnerReferences.IsBeingDeleted(e.Old):
            case Store.WatchEventType.Deleted:
                DeletionObserved(ownerKey, Informer.KeyOf(e.Object));
                break;
            case Store.WatchEventType.Added:
                CreationObserved(ownerKey);
                break;
        }
    }

    /// <summary>The owner is gone: its expectations with it.</summary>
    public void Forget(string ownerKey) => _entries.TryRemove(ownerKey, out _);
}
