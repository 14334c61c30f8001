namespace ContainerOps.Cluster.Store;

/// <summary>
/// The cluster's key-value store, shaped like etcd's so that an etcd-backed one can replace the embedded one: every
/// write makes a new global revision, which is the written object's resourceVersion; lists are read at one revision;
/// writes are compare-and-swap on the revision a client last saw; watches resume from any revision still kept.
/// Keys are paths ("pods/default/web"); a prefix ("pods/default/") selects a subtree.
/// </summary>
public interface IClusterStore : IDisposable
{
    /// <summary>The revision of the last write.</summary>
    long CurrentRevision { get; }

    /// <summary>The oldest revision still kept: lists and watches from before it are answered with
    /// <see cref="RevisionCompactedException"/>.</summary>
    long CompactedRevision { get; }

    StoredObject? Get(string key);

    /// <summary>The objects under <paramref name="prefix"/> as they were at <paramref name="revision"/> (0: now), in key
    /// order, after <paramref name="afterKey"/>, at most <paramref name="limit"/> (0: all).</summary>
    StoreList List(string prefix, long revision = 0, string? afterKey = null, int limit = 0);

    /// <summary>Writes a new key; <see cref="StoreConflictException"/> with <see cref="ConflictKind.AlreadyExists"/> when it
    /// exists. <paramref name="encode"/> makes the value from the revision it will have (so it can carry it).</summary>
    StoredObject Create(string key, Func<long, byte[]> encode);

    /// <summary>Replaces the value of a key if its revision is still <paramref name="expectedRevision"/>; otherwise
    /// <see cref="StoreConflictException"/> (<see cref="ConflictKind.NotFound"/> or <see cref="ConflictKind.Stale"/>).</summary>
    StoredObject Update(string key, long expectedRevision, Func<long, byte[]> encode);

    /// <summary>Removes a key (if its revision is <paramref name="expectedRevision"/>, when given). Returns the
    /// removed value with the revision of the removal.</summary>
    StoredObject Delete(string key, long? expectedRevision = null);

    /// <summary>Every change under <paramref name="prefix"/> after <paramref name="afterRevision"/>, in revision order,
    /// then the changes to come, until the watch is disposed. <see cref="RevisionCompactedException"/> when
    /// changes after that revision are no longer all kept.</summary>
    IStoreWatch Watch(string prefix, long afterRevision);

    /// <summary>Forgets the history before <paramref name="revision"/>: superseded values and removals.</summary>
    void Compact(long revision);
}

public sealed record StoredObject(string Key, long Revision, long CreateRevision, byte[] Value);

public sealed record StoreList(IReadOnlyList<StoredObject> Items, long Revision, bool More, long Remaining);

public enum WatchEventType { Added, Modified, Deleted }

/// <summary>One change; for a removal, <see cref="StoredObject.Value"/> is the last value and the revision that of
/// the removal.</summary>
public sealed record StoreEvent(WatchEventType Type, StoredObject Object);

public interface IStoreWatch : IDisposable
{
    /// <summary>The events, in revision order. Ends when the watch is disposed, or when its reader fell so far behind
    /// that the store dropped it (<see cref="Overflowed"/>; a client then watches again from its last revision).</summary>
    IAsyncEnumerable<StoreEvent> ReadAllAsync(CancellationToken ct);

    /// <summary>The next event if one is waiting.</summary>
    bool TryRead(out StoreEvent? e);

    /// <summary>Waits until an event is waiting (true) or the watch ended (false).</summary>
    ValueTask<bool> WaitToReadAsync(CancellationToken ct);

    bool Overflowed { get; }
}

public enum ConflictKind { AlreadyExists, NotFound, Stale }

public sealed class StoreConflictException(ConflictKind kind, string key, long currentRevision)
    : Exception(kind switch
    {
        ConflictKind.AlreadyExists => $"{key} already exists",
        ConflictKind.NotFound => $"{key} does not exist",
        _ => $"{key} was changed since (now at revision {currentRevision})",
    })
{
    public ConflictKind Kind { get; } = kind;
    public string Key { get; } = key;
    public long CurrentRevision { get; } = currentRevision;
}

public sealed class RevisionCompactedException(long requested, long compacted)
    : Exception($"revision {requested} is older than the oldest revision kept ({compacted})")
{
    public long Requested { get; } = requested;
    public long Compacted { get; } = compacted;
}

public sealed class RevisionTooNewException(long requested, long current)
    : Exception($"revision {requested} is newer than the store's ({current})")
{
    public long Requested { get; } = requested;
    public long Current { get; } = current;
}
