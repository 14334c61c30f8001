using System.Text;
using ContainerOps.Cluster.Store;
using ContainerOps.TestSupport;
using Microsoft.Data.Sqlite;

namespace ContainerOps.Cluster.Tests;

public sealed class SqliteClusterStoreTests : IDisposable
{
    private readonly TempDir _dir = new("cst");
    private string DbPath => Path.Combine(_dir.Path, "cluster.db");
    private SqliteClusterStore _store;

    public SqliteClusterStoreTests() => _store = new SqliteClusterStore(DbPath);

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private static Func<long, byte[]> Value(string text) => _ => Encoding.UTF8.GetBytes(text);
    private static string Text(StoredObject o) => Encoding.UTF8.GetString(o.Value);

    [Fact]
    public async Task AListsRevisionIsThatOfTheSnapshotItsItemsComeFrom()
    {
        // One key written again and again: every revision is a write of it, so a list's revision must be exactly its
        // item's. A later one (a write committed while the list's snapshot was taken) would make a watch from the
        // list skip that write.
        var first = _store.Create("deployments/default/web", Value("0"));
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            var rev = first.Revision;
            for (var i = 1; i <= 3000 && !stop.IsCancellationRequested; i++) rev = _store.Update("deployments/default/web", rev, Value(i.ToString())).Revision;
        });
        var lists = 0;
        try
        {
            while (!writer.IsCompleted)
            {
                var before = _store.CurrentRevision;
                var list = _store.List("deployments/");
                Assert.Equal(list.Revision, Assert.Single(list.Items).Revision);
                // And it holds every write that was done before it began: a list after a write sees the write.
                Assert.True(list.Revision >= before, $"a list begun at revision {before} read revision {list.Revision}");
                lists++;
            }
        }
        finally { stop.Cancel(); }
        await writer;
        Assert.True(lists > 10, $"only {lists} lists ran beside the writes");
    }

    [Fact]
    public void EveryWriteMakesTheNextGlobalRevision()
    {
        var a = _store.Create("pods/default/a", Value("a1"));
        var b = _store.Create("pods/default/b", Value("b1"));
        var a2 = _store.Update("pods/default/a", a.Revision, Value("a2"));
        var deleted = _store.Delete("pods/default/b");
        Assert.Equal([1L, 2, 3, 4], new[] { a.Revision, b.Revision, a2.Revision, deleted.Revision });
        Assert.Equal(a.Revision, a2.CreateRevision);
        Assert.Equal(4, _store.CurrentRevision);
        Assert.Equal("a2", Text(_store.Get("pods/default/a")!));
        Assert.Null(_store.Get("pods/default/b"));
    }

    [Fact]
    public void TheValueIsMadeFromTheRevisionItWillHave()
    {
        _store.Create("x", Value("first"));
        var o = _store.Create("y", rev => Encoding.UTF8.GetBytes($"rv={rev}"));
        Assert.Equal("rv=2", Text(o));
        Assert.Equal("rv=2", Text(_store.Get("y")!));
    }

    [Fact]
    public void WritesAreCompareAndSwapOnTheRevision()
    {
        var a = _store.Create("k", Value("1"));
        var e = Assert.Throws<StoreConflictException>(() => _store.Create("k", Value("again")));
        Assert.Equal(ConflictKind.AlreadyExists, e.Kind);
        var a2 = _store.Update("k", a.Revision, Value("2"));
        var stale = Assert.Throws<StoreConflictException>(() => _store.Update("k", a.Revision, Value("lost")));
        Assert.Equal(ConflictKind.Stale, stale.Kind);
        Assert.Equal(a2.Revision, stale.CurrentRevision);
        Assert.Equal(ConflictKind.Stale, Assert.Throws<StoreConflictException>(() => _store.Delete("k", a.Revision)).Kind);
        Assert.Equal("2", Text(_store.Get("k")!));
        _store.Delete("k", a2.Revision);
        Assert.Equal(ConflictKind.NotFound, Assert.Throws<StoreConflictException>(() => _store.Update("k", a2.Revision, Value("3"))).Kind);
        Assert.Equal(ConflictKind.NotFound, Assert.Throws<StoreConflictException>(() => _store.Delete("k")).Kind);
        // A removed key can be made again, with a new creation revision.
        var again = _store.Create("k", Value("new"));
        Assert.Equal(again.Revision, again.CreateRevision);
    }

    [Fact]
    public void ListsReadOnePrefixAtOneRevisionInPages()
    {
        for (var i = 0; i < 7; i++) _store.Create($"pods/ns1/p{i}", Value($"v{i}"));
        _store.Create("pods/ns10/other", Value("x"));
        _store.Create("services/ns1/s", Value("x"));
        var at = _store.CurrentRevision;

        var first = _store.List("pods/ns1/", limit: 3);
        Assert.Equal(["pods/ns1/p0", "pods/ns1/p1", "pods/ns1/p2"], first.Items.Select(o => o.Key));
        Assert.True(first.More);
        Assert.Equal(4, first.Remaining);
        Assert.Equal(at, first.Revision);

        // Changes after the first page do not show in the next pages read at the same revision.
        _store.Delete("pods/ns1/p4");
        _store.Update("pods/ns1/p5", _store.Get("pods/ns1/p5")!.Revision, Value("changed"));
        _store.Create("pods/ns1/p9", Value("later"));
        var second = _store.List("pods/ns1/", first.Revision, first.Items[^1].Key, 3);
        Assert.Equal(["pods/ns1/p3", "pods/ns1/p4", "pods/ns1/p5"], second.Items.Select(o => o.Key));
        Assert.Equal("v5", Text(second.Items[2]));
        var third = _store.List("pods/ns1/", first.Revision, second.Items[^1].Key, 3);
        Assert.Equal(["pods/ns1/p6"], third.Items.Select(o => o.Key));
        Assert.False(third.More);

        var now = _store.List("pods/ns1/");
        Assert.Equal(["p0", "p1", "p2", "p3", "p5", "p6", "p9"], now.Items.Select(o => o.Key["pods/ns1/".Length..]));
        Assert.Equal(9, _store.List("").Items.Count);
        Assert.Throws<RevisionTooNewException>(() => _store.List("pods/", _store.CurrentRevision + 5));
    }

    [Fact]
    public async Task AWatchFromARevisionReplaysWhatFollowedThenFollowsInOrder()
    {
        var a = _store.Create("pods/ns/a", Value("a1"));
        var from = a.Revision;
        _store.Update("pods/ns/a", a.Revision, Value("a2"));
        _store.Create("services/ns/s", Value("not watched"));
        _store.Create("pods/ns/b", Value("b1"));
        using var watch = _store.Watch("pods/", from);
        _store.Delete("pods/ns/a");
        _store.Create("pods/ns/c", Value("c1"));

        var seen = new List<StoreEvent>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var e in watch.ReadAllAsync(cts.Token))
        {
            seen.Add(e);
            if (seen.Count == 4) break;
        }
        Assert.Equal(
            ["Modified pods/ns/a a2", "Added pods/ns/b b1", "Deleted pods/ns/a a2", "Added pods/ns/c c1"],
            seen.Select(e => $"{e.Type} {e.Object.Key} {Text(e.Object)}"));
        var revisions = seen.Select(e => e.Object.Revision).ToList();
        Assert.Equal(revisions.Order(), revisions);
        Assert.All(revisions, r => Assert.True(r > from));
    }

    [Fact]
    public async Task ManyWatchersEachSeeEveryChangeInOrder()
    {
        var watches = Enumerable.Range(0, 20).Select(_ => _store.Watch("cm/", _store.CurrentRevision)).ToList();
        var o = _store.Create("cm/ns/x", Value("0"));
        for (var i = 1; i < 200; i++) o = _store.Update("cm/ns/x", o.Revision, Value(i.ToString()));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var w in watches)
        {
            var values = new List<string>();
            await foreach (var e in w.ReadAllAsync(cts.Token)) { values.Add(Text(e.Object)); if (values.Count == 200) break; }
            Assert.Equal(Enumerable.Range(0, 200).Select(i => i.ToString()), values);
            w.Dispose();
        }
    }

    [Fact]
    public void CompactionForgetsHistoryAndRefusesWatchesAndListsBeforeIt()
    {
        var a = _store.Create("k/a", Value("1"));
        var a2 = _store.Update("k/a", a.Revision, Value("2"));
        _store.Create("k/b", Value("b"));
        _store.Delete("k/b");
        var a3 = _store.Update("k/a", a2.Revision, Value("3"));
        _store.Compact(a3.Revision);

        var e = Assert.Throws<RevisionCompactedException>(() => _store.Watch("k/", a.Revision));
        Assert.Equal(a3.Revision, e.Compacted);
        Assert.Throws<RevisionCompactedException>(() => _store.List("k/", a2.Revision));
        using (_store.Watch("k/", a3.Revision - 1)) { }
        Assert.Equal("3", Text(Assert.Single(_store.List("k/").Items)));

        using var db = new SqliteConnection($"Data Source={DbPath}");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM kv";
        Assert.Equal(1L, (long)cmd.ExecuteScalar()!);

        // The revision and the compaction point survive a reopen.
        _store.Dispose();
        _store = new SqliteClusterStore(DbPath);
        Assert.Equal(a3.Revision, _store.CurrentRevision);
        Assert.Equal(a3.Revision, _store.CompactedRevision);
        Assert.Equal(a3.Revision + 1, _store.Create("k/c", Value("c")).Revision);
    }

    [Fact]
    public void TheDatabaseIsReadableByItsOwnerOnly()
    {
        _store.Create("secrets/ns/s", Value("{\"data\":{}}"));
        foreach (var file in Directory.GetFiles(_dir.Path, "cluster.db*"))
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Fact]
    public async Task ACrashImageTakenDuringWritesHoldsEveryAcknowledgedWriteAndNoHalfOne()
    {
        // The database files copied while a writer runs are what a kill -9 at that moment leaves on disk (the writes
        // are in the files, not in the process). Each image must open sound, with every write acknowledged before
        // the copy began, at consecutive revisions, and nothing torn.
        long acknowledged = 0;
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            var payload = new string('x', 3000);
            for (var i = 1; !stop.IsCancellationRequested; i++)
            {
                _store.Create($"cm/ns/c{i:D6}", rev => Encoding.UTF8.GetBytes($"{rev}:{payload}"));
                Interlocked.Exchange(ref acknowledged, i);
            }
        });
        try
        {
            for (var image = 0; image < 5; image++)
            {
                await Task.Delay(30);
                var before = Interlocked.Read(ref acknowledged);
                var dir = Path.Combine(_dir.Path, $"crash{image}");
                Directory.CreateDirectory(dir);
                // The WAL first, then the main file: a checkpoint in between only moves pages into the main file.
                foreach (var suffix in new[] { "-wal", "" })
                    if (File.Exists(DbPath + suffix)) File.Copy(DbPath + suffix, Path.Combine(dir, "cluster.db" + suffix));
                using var reopened = new SqliteClusterStore(Path.Combine(dir, "cluster.db"));
                var items = reopened.List("cm/").Items;
                Assert.True(items.Count >= before, $"image {image}: {items.Count} objects, {before} acknowledged");
                for (var i = 0; i < items.Count; i++)
                {
                    Assert.Equal($"cm/ns/c{i + 1:D6}", items[i].Key);
                    Assert.Equal(i + 1, items[i].Revision);
                    Assert.Equal($"{i + 1}:{new string('x', 3000)}", Text(items[i]));
                }
                Assert.Equal(items.Count, reopened.CurrentRevision);
            }
        }
        finally
        {
            stop.Cancel();
            await writer;
        }
    }
}
