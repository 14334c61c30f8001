using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace ContainerOps.Cluster.Store;

/// <summary>
/// The embedded store: one SQLite database in WAL mode, one transaction per write, synchronous=FULL (an acknowledged
/// write is on disk; a write cut off by a crash is rolled back on the next open). Every write appends a row whose
/// rowid is the new revision (kine's layout): the history is what lists at a revision and watches from a revision
/// read, and <see cref="Compact"/> trims it. Writes are serialised by one lock, which also orders the watch fan-out.
/// </summary>
public sealed class SqliteClusterStore : IClusterStore
{
    private const int WatchBacklog = 10_000;
    private readonly SqliteConnection _write;
    private readonly string _readConnectionString;
    private readonly Lock _lock = new();
    private readonly List<Watcher> _watchers = [];
    private long _revision;
    private long _compacted;

    public SqliteClusterStore(string path)
    {
        // Created 0600 before SQLite opens it: it holds Secrets. SQLite gives its -wal and -shm files the same mode.
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            using (new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite })) { }
        }
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = true };
        _write = new SqliteConnection(builder.ToString());
        _write.Open();
        Execute(_write, """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS kv (
              rev INTEGER PRIMARY KEY,          -- the revision this row was written at
              key TEXT NOT NULL,
              created INTEGER NOT NULL,         -- the revision the key was created at
              deleted INTEGER NOT NULL,         -- 1: a removal (value is the last value)
              value BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS kv_key_rev ON kv(key, rev);
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """);
        _readConnectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = true }.ToString();
        _revision = Scalar(_write, "SELECT COALESCE(MAX(rev), 0) FROM kv");
        _compacted = Scalar(_write, "SELECT COALESCE((SELECT value FROM meta WHERE name = 'compacted'), 0)");
        _revision = Math.Max(_revision, Scalar(_write, "SELECT COALESCE((SELECT value FROM meta WHERE name = 'revision'), 0)"));
    }

    public long CurrentRevision { get { lock (_lock) return _revision; } }
    public long CompactedRevision { get { lock (_lock) return _compacted; } }

    public StoredObject? Get(string key)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT rev, created, deleted, value FROM kv WHERE key = $key ORDER BY rev DESC LIMIT 1";
        cmd.Parameters.AddWithValue("$key", key);
        using var r = cmd.ExecuteReader();
        if (!r.Read() || r.GetInt64(2) != 0) return null;
        return new StoredObject(key, r.GetInt64(0), r.GetInt64(1), (byte[])r[3]);
    }

    public StoreList List(string prefix, long revision = 0, string? afterKey = null, int limit = 0)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (TryList(prefix, revision, afterKey, limit, lastAttempt: attempt == 3) is { } list) return list;
        }
    }

    /// <summary>One list from one read snapshot; null when the revision asked for was written after the snapshot
    /// began (a fresh snapshot will hold it).</summary>
    private StoreList? TryList(string prefix, long revision, string? afterKey, int limit, bool lastAttempt)
    {
        using var c = OpenRead();
        using var tx = c.BeginTransaction(deferred: true);
        // The list's revision is its snapshot's. A write committed while the snapshot was being taken is not in it, so
        // a later revision (the writer's counter) would make a watch from this list skip that write: a client would
        // never see it (kubectl rollout status waited on a deployment whose last status write it had missed).
        var current = Scalar(c, "SELECT COALESCE(MAX(rev), 0) FROM kv", tx);
        if (revision > current)
        {
            if (!lastAttempt && revision <= CurrentRevision) return null;
            throw new RevisionTooNewException(revision, Math.Max(current, CurrentRevision));
        }
        if (revision == 0) revision = current;
        if (revision < CompactedRevision) throw new RevisionCompactedException(revision, CompactedRevision);
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        var (lo, hi) = Range(prefix);
        // The newest row of each key at the revision, if it is not a removal.
        cmd.CommandText = """
            SELECT k.key, k.rev, k.created, k.value FROM kv k
            JOIN (SELECT key, MAX(rev) AS r FROM kv WHERE key >= $lo AND ($hi IS NULL OR key < $hi) AND key > $after AND rev <= $rev GROUP BY key) m
              ON k.rev = m.r
            WHERE k.deleted = 0 ORDER BY k.key
            """ + (limit > 0 ? " LIMIT $limit" : "");
        cmd.Parameters.AddWithValue("$lo", lo);
        cmd.Parameters.AddWithValue("$hi", (object?)hi ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$after", afterKey ?? "");
        cmd.Parameters.AddWithValue("$rev", revision);
        if (limit > 0) cmd.Parameters.AddWithValue("$limit", limit + 1);
        var items = new List<StoredObject>();
        using (var r = cmd.ExecuteReader())
            while (r.Read()) items.Add(new StoredObject(r.GetString(0), r.GetInt64(1), r.GetInt64(2), (byte[])r[3]));
        if (limit <= 0 || items.Count <= limit) return new StoreList(items, revision, false, 0);
        items.RemoveAt(items.Count - 1);
        using var count = c.CreateCommand();
        count.Transaction = tx;
        count.CommandText = """
            SELECT COUNT(*) FROM kv k
            JOIN (SELECT key, MAX(rev) AS r FROM kv WHERE key > $after AND key >= $lo AND ($hi IS NULL OR key < $hi) AND rev <= $rev GROUP BY key) m ON k.rev = m.r
            WHERE k.deleted = 0
            """;
        count.Parameters.AddWithValue("$lo", lo);
        count.Parameters.AddWithValue("$hi", (object?)hi ?? DBNull.Value);
        count.Parameters.AddWithValue("$after", items[^1].Key);
        count.Parameters.AddWithValue("$rev", revision);
        return new StoreList(items, revision, true, (long)count.ExecuteScalar()!);
    }

    public StoredObject Create(string key, Func<long, byte[]> encode)
    {
        lock (_lock)
        {
            if (Latest(key) is { Deleted: false } existing) throw new StoreConflictException(ConflictKind.AlreadyExists, key, existing.Rev);
            var rev = _revision + 1;
            var value = encode(rev);
            Append(key, rev, rev, deleted: false, value);
            var stored = new StoredObject(key, rev, rev, value);
            Publish(new StoreEvent(WatchEventType.Added, stored));
            return stored;
        }
    }

    public StoredObject Update(string key, long expectedRevision, Func<long, byte[]> encode)
    {
        lock (_lock)
        {
            var latest = Latest(key);
            if (latest is null or { Deleted: true }) throw new StoreConflictException(ConflictKind.NotFound, key, 0);
            if (latest.Value.Rev != expectedRevision) throw new StoreConflictException(ConflictKind.Stale, key, latest.Value.Rev);
            var rev = _revision + 1;
            var value = encode(rev);
            Append(key, rev, latest.Value.Created, deleted: false, value);
            var stored = new StoredObject(key, rev, latest.Value.Created, value);
            Publish(new StoreEvent(WatchEventType.Modified, stored));
            return stored;
        }
    }

    public StoredObject Delete(string key, long? expectedRevision = null)
    {
        lock (_lock)
        {
            var latest = Latest(key);
            if (latest is null or { Deleted: true }) throw new StoreConflictException(ConflictKind.NotFound, key, 0);
            if (expectedRevision is { } expected && latest.Value.Rev != expected) throw new StoreConflictException(ConflictKind.Stale, key, latest.Value.Rev);
            var rev = _revision + 1;
            Append(key, rev, latest.Value.Created, deleted: true, latest.Value.Value);
            var stored = new StoredObject(key, rev, latest.Value.Created, latest.Value.Value);
            Publish(new StoreEvent(WatchEventType.Deleted, stored));
            return stored;
        }
    }

    public IStoreWatch Watch(string prefix, long afterRevision)
    {
        lock (_lock)
        {
            // Changes after R are all kept when R + 1 is at or after the compaction point.
            if (afterRevision + 1 < _compacted) throw new RevisionCompactedException(afterRevision, _compacted);
            var watcher = new Watcher(this, prefix);
            // The history is read and the watcher registered under the write lock: nothing is missed or doubled.
            using var cmd = _write.CreateCommand();
            var (lo, hi) = Range(prefix);
            cmd.CommandText = "SELECT key, rev, created, deleted, value FROM kv WHERE rev > $after AND key >= $lo AND ($hi IS NULL OR key < $hi) ORDER BY rev";
            cmd.Parameters.AddWithValue("$after", afterRevision);
            cmd.Parameters.AddWithValue("$lo", lo);
            cmd.Parameters.AddWithValue("$hi", (object?)hi ?? DBNull.Value);
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                {
                    var o = new StoredObject(r.GetString(0), r.GetInt64(1), r.GetInt64(2), (byte[])r[4]);
                    var type = r.GetInt64(3) != 0 ? WatchEventType.Deleted : o.CreateRevision == o.Revision ? WatchEventType.Added : WatchEventType.Modified;
                    watcher.Offer(new StoreEvent(type, o));
                }
            _watchers.Add(watcher);
            return watcher;
        }
    }

    public void Compact(long revision)
    {
        lock (_lock)
        {
            revision = Math.Min(revision, _revision);
            if (revision <= _compacted) return;
            using var tx = _write.BeginTransaction();
            using var cmd = _write.CreateCommand();
            cmd.Transaction = tx;
            // Rows before the point that a later row (before the point) supersedes, then removals before the point;
            // the newest row of the store is kept so that the revision survives a reopen.
            cmd.CommandText = """
                DELETE FROM kv WHERE rev < $rev AND EXISTS (SELECT 1 FROM kv n WHERE n.key = kv.key AND n.rev > kv.rev AND n.rev <= $rev);
                DELETE FROM kv WHERE rev <= $rev AND deleted = 1 AND rev <> (SELECT MAX(rev) FROM kv);
                INSERT INTO meta(name, value) VALUES ('compacted', $rev), ('revision', $current)
                  ON CONFLICT(name) DO UPDATE SET value = excluded.value;
                """;
            cmd.Parameters.AddWithValue("$rev", revision);
            cmd.Parameters.AddWithValue("$current", _revision);
            cmd.ExecuteNonQuery();
            tx.Commit();
            _compacted = revision;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var w in _watchers.ToArray()) w.Complete();
            _watchers.Clear();
            _write.Dispose();
        }
        SqliteConnection.ClearAllPools();
    }

    private readonly record struct Row(long Rev, long Created, bool Deleted, byte[] Value);

    private Row? Latest(string key)
    {
        using var cmd = _write.CreateCommand();
        cmd.CommandText = "SELECT rev, created, deleted, value FROM kv WHERE key = $key ORDER BY rev DESC LIMIT 1";
        cmd.Parameters.AddWithValue("$key", key);
        using var r = cmd.ExecuteReader();
        return r.Read() ? new Row(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2) != 0, (byte[])r[3]) : null;
    }

    private void Append(string key, long rev, long created, bool deleted, byte[] value)
    {
        using var tx = _write.BeginTransaction();
        using var cmd = _write.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO kv(rev, key, created, deleted, value) VALUES ($rev, $key, $created, $deleted, $value)";
        cmd.Parameters.AddWithValue("$rev", rev);
        cmd.Parameters.AddWithValue("$key", key);
        cmd.Parameters.AddWithValue("$created", created);
        cmd.Parameters.AddWithValue("$deleted", deleted ? 1 : 0);
        cmd.Parameters.AddWithValue("$value", value);
        cmd.ExecuteNonQuery();
        tx.Commit();
        _revision = rev;
    }

    private void Publish(StoreEvent e)
    {
        foreach (var w in _watchers)
            if (e.Object.Key.StartsWith(w.Prefix, StringComparison.Ordinal)) w.Offer(e);
        _watchers.RemoveAll(w => w.Overflowed);
    }

    private SqliteConnection OpenRead()
    {
        var c = new SqliteConnection(_readConnectionString);
        c.Open();
        return c;
    }

    /// <summary>The key range a prefix covers: [prefix, prefix with its last character raised).</summary>
    private static (string Lo, string? Hi) Range(string prefix) =>
        prefix.Length == 0 ? ("", null) : (prefix, prefix[..^1] + (char)(prefix[^1] + 1));

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static long Scalar(SqliteConnection c, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return Convert.ToInt64(cmd.ExecuteScalar());
    }

    private sealed class Watcher(SqliteClusterStore store, string prefix) : IStoreWatch
    {
        private readonly Channel<StoreEvent> _events = Channel.CreateBounded<StoreEvent>(
            new BoundedChannelOptions(WatchBacklog) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        public string Prefix { get; } = prefix;
        public bool Overflowed { get; private set; }

        /// <summary>Called under the store's lock. A reader this far behind is dropped rather than slowing writers.</summary>
        public void Offer(StoreEvent e)
        {
            if (Overflowed) return;
            if (_events.Writer.TryWrite(e)) return;
            Overflowed = true;
            _events.Writer.TryComplete();
        }

        public void Complete() => _events.Writer.TryComplete();

        public IAsyncEnumerable<StoreEvent> ReadAllAsync(CancellationToken ct) => _events.Reader.ReadAllAsync(ct);
        public bool TryRead(out StoreEvent? e) => _events.Reader.TryRead(out e);
        public ValueTask<bool> WaitToReadAsync(CancellationToken ct) => _events.Reader.WaitToReadAsync(ct);

        public void Dispose()
        {
            lock (store._lock) store._watchers.Remove(this);
            Complete();
        }
    }
}
