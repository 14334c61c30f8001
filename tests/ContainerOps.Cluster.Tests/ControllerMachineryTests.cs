using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Cluster.Store;
using ContainerOps.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Cluster.Tests;

/// <summary>The controller machinery against the real SQLite store: the work queue's dedup, one-worker-per-key and
/// backoff; informers' caches, owner index and relists; expectations; event dedup; claiming by selector.</summary>
public sealed class ControllerMachineryTests : IDisposable
{
    private readonly TempDir _dir = new("cctl");
    private readonly SqliteClusterStore _store;
    private readonly ClusterObjects _objects;

    public ControllerMachineryTests()
    {
        _store = new SqliteClusterStore(Path.Combine(_dir.Path, "cluster.db"));
        _objects = new ClusterObjects(_store);
        _objects.EnsureInitialObjects();
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private JsonObject CreateConfigMap(string name, Dictionary<string, string>? labels = null, JsonObject? owner = null)
    {
        var meta = new JsonObject { ["name"] = name };
        if (labels is not null) meta["labels"] = new JsonObject(labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        if (owner is not null) meta["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(owner));
        return _objects.Create(ResourceKinds.ConfigMap, "default", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = meta }, FieldValidation.Strict, false, out _);
    }

    [Fact]
    public async Task TheQueueKeepsAKeyOnceAndOnOneWorkerAtATime()
    {
        using var queue = new WorkQueue();
        queue.Add("a");
        queue.Add("a");
        queue.Add("b");
        Assert.Equal(2, queue.Length);
        var first = await queue.GetAsync(CancellationToken.None);
        Assert.Equal("a", first);
        // Added again while a worker holds it: not handed out until that worker is done.
        queue.Add("a");
        Assert.Equal("b", await queue.GetAsync(CancellationToken.None));
        using (var none = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await queue.GetAsync(none.Token));
        queue.Done("a");
        Assert.Equal("a", await queue.GetAsync(CancellationToken.None));
        queue.Done("a");
        queue.Done("b");
        Assert.Equal(0, queue.Length);
        queue.ShutDown();
        Assert.Null(await queue.GetAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AFailingKeyComesBackAfterADoublingDelayUntilForgotten()
    {
        // On a clock the test moves: the delays are exact, whatever the machine's load.
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var queue = new WorkQueue(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), clock);
        async Task ComesBackAfter(int milliseconds)
        {
            queue.AddRateLimited("k");
            clock.Advance(TimeSpan.FromMilliseconds(milliseconds - 1));
            Assert.Equal(0, queue.Length);
            clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(1, queue.Length);
            Assert.Equal("k", await queue.GetAsync(CancellationToken.None));
            queue.Done("k");
        }
        // 100, 200, then capped at 300 ms.
        foreach (var delay in new[] { 100, 200, 300, 300 }) await ComesBackAfter(delay);
        Assert.Equal(4, queue.Requeues("k"));
        queue.Forget("k");
        Assert.Equal(0, queue.Requeues("k"));
        await ComesBackAfter(100);
    }

    [Fact]
    public async Task AnInformerListsThenFollowsAndIndexesByOwner()
    {
        var owner = CreateConfigMap("owner");
        CreateConfigMap("before", owner: owner);
        using var informers = new SharedInformers(_objects, NullLogger.Instance);
        var informer = informers.For(ResourceKinds.ConfigMap);
        Assert.Same(informer, informers.For(ResourceKinds.ConfigMap));
        var seen = new BlockingCollection<InformerEvent>();
        informer.AddHandler(seen.Add);
        informers.Start();
        Assert.Equal(["owner", "before"], seen.Take(2).Select(e => Json.Str(e.Object["metadata"]!["name"])!).Order().Reverse().ToArray());
        Assert.Equal("before", Json.Str(Assert.Single(informer.ListByOwner(OwnerReferences.Uid(owner)!))["metadata"]!["name"]));

        CreateConfigMap("after", owner: owner);
        var added = Next(seen, "after");
        Assert.Equal(WatchEventType.Added, added.Type);
        Assert.Equal(2, informer.ListByOwner(OwnerReferences.Uid(owner)!).Count());

        _objects.Update(ResourceKinds.ConfigMap, "default", "after", null, o => { OwnerReferences.RemoveReference(o, OwnerReferences.Uid(owner)!); o["data"] = new JsonObject { ["k"] = "v" }; return o; }, false, false);
        var modified = Next(seen, "after");
        Assert.Equal(WatchEventType.Modified, modified.Type);
        Assert.NotNull(modified.Old!["metadata"]!["ownerReferences"]);
        Assert.Single(informer.ListByOwner(OwnerReferences.Uid(owner)!));

        _objects.Delete(ResourceKinds.ConfigMap, "default", "before", null, null, false);
        Assert.Equal(WatchEventType.Deleted, Next(seen, "before").Type);
        Assert.Null(informer.Get("default", "before"));
        Assert.Empty(informer.ListByOwner(OwnerReferences.Uid(owner)!));
        Assert.NotNull(informer.Get("default/after"));
    }

    [Fact]
    public async Task AnObjectBeingUpdatedIsNeverMissingFromItsOwnersListing()
    {
        // A Job controller that listed its pod while the informer applied an update to it found none and made a second.
        var owner = CreateConfigMap("keeper");
        CreateConfigMap("kept", owner: owner);
        using var informers = new SharedInformers(_objects, NullLogger.Instance);
        var informer = informers.For(ResourceKinds.ConfigMap);
        var applied = 0;
        informer.AddHandler(e => { if (Json.Str(e.Object["metadata"]!["name"]) == "kept") Interlocked.Increment(ref applied); });
        informers.Start();
        var ownerUid = OwnerReferences.Uid(owner)!;
        using var done = new CancellationTokenSource();
        var misses = 0L;
        var reads = 0L;
        var reader = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                if (!informer.ListByOwner(ownerUid).Any()) Interlocked.Increment(ref misses);
                Interlocked.Increment(ref reads);
            }
        });
        const int updates = 300;
        for (var i = 0; i < updates; i++)
            _objects.Update(ResourceKinds.ConfigMap, "default", "kept", null, o => { o["data"] = new JsonObject { ["n"] = i.ToString() }; return o; }, false, false);
        for (var i = 0; i < 200 && Volatile.Read(ref applied) < updates + 1; i++) await Task.Delay(50);
        done.Cancel();
        await reader;
        Assert.Equal(updates + 1, Volatile.Read(ref applied));
        Assert.True(misses == 0, $"the owner's listing came back empty {misses} times in {reads} reads");
    }

    private static InformerEvent Next(BlockingCollection<InformerEvent> seen, string name)
    {
        while (seen.TryTake(out var e, TimeSpan.FromSeconds(10)))
            if (Json.Str(e.Object["metadata"]!["name"]) == name) return e;
        throw new Xunit.Sdk.XunitException($"no event for {name}");
    }

    [Fact]
    public void ARelistReportsWhatChangedUnseen()
    {
        CreateConfigMap("stays");
        CreateConfigMap("goes");
        CreateConfigMap("changes");
        using var informers = new SharedInformers(_objects, NullLogger.Instance);
        var informer = informers.For(ResourceKinds.ConfigMap);
        informer.Relist();
        var seen = new List<InformerEvent>();
        informer.AddHandler(seen.Add);
        // Changes the informer did not follow (as after a compaction or a dropped watch).
        _objects.Delete(ResourceKinds.ConfigMap, "default", "goes", null, null, false);
        _objects.Update(ResourceKinds.ConfigMap, "default", "changes", null, o => { o["data"] = new JsonObject { ["k"] = "v" }; return o; }, false, false);
        CreateConfigMap("new");
        informer.Relist();
        var byName = seen.ToDictionary(e => Json.Str(e.Object["metadata"]!["name"])!, e => e.Type);
        Assert.Equal(3, byName.Count);
        Assert.Equal(WatchEventType.Deleted, byName["goes"]);
        Assert.Equal(WatchEventType.Modified, byName["changes"]);
        Assert.Equal(WatchEventType.Added, byName["new"]);
        Assert.Equal(3, informer.Count);
    }

    [Fact]
    public void ExpectationsHoldUntilObservedOrExpired()
    {
        // A clock of the test's own: the real one could pass the 300 ms between two lines on a busy machine.
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var expectations = new Expectations(TimeSpan.FromMilliseconds(300), clock);
        Assert.True(expectations.Satisfied("ns/rs"));
        expectations.ExpectCreations("ns/rs", 2);
        Assert.False(expectations.Satisfied("ns/rs"));
        expectations.CreationObserved("ns/rs");
        Assert.False(expectations.Satisfied("ns/rs"));
        expectations.CreationObserved("ns/rs");
        Assert.True(expectations.Satisfied("ns/rs"));

        expectations.ExpectDeletions("ns/rs", ["ns/p1", "ns/p2"]);
        expectations.DeletionObserved("ns/rs", "ns/p1");
        expectations.DeletionObserved("ns/rs", "ns/p1");
        Assert.False(expectations.Satisfied("ns/rs"));
        expectations.DeletionObserved("ns/rs", "ns/p2");
        Assert.True(expectations.Satisfied("ns/rs"));

        expectations.ExpectCreations("ns/rs", 1);
        Assert.False(expectations.Satisfied("ns/rs"));
        clock.Advance(TimeSpan.FromMilliseconds(400));
        Assert.True(expectations.Satisfied("ns/rs"));
    }

    private sealed class FlakyController(int failures) : IController
    {
        public string Name => "flaky-controller";
        public readonly ConcurrentDictionary<string, int> Calls = new();
        private int _runningHot;
        public int MaxConcurrentPerKey;

        public void Register(ControllerContext context, WorkQueue queue) =>
            context.Informers.For(ResourceKinds.ConfigMap).AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));

        public async Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
        {
            var hot = key == "default/hot";
            if (hot) MaxConcurrentPerKey = Math.Max(MaxConcurrentPerKey, Interlocked.Increment(ref _runningHot));
            try
            {
                await Task.Delay(20, ct);
                var n = Calls.AddOrUpdate(key, 1, (_, c) => c + 1);
                if (key == "default/flaky" && n <= failures) throw new InvalidOperationException("not yet");
                return Reconciled.Done;
            }
            finally { if (hot) Interlocked.Decrement(ref _runningHot); }
        }
    }

    [Fact]
    public async Task TheRunnerRetriesFailuresAndNeverRunsAKeyTwiceAtOnce()
    {
        var controller = new FlakyController(failures: 3);
        var options = new ControllerOptions { Workers = 4, BaseRetryDelay = TimeSpan.FromMilliseconds(10) };
        await using (var manager = new ControllerManager(_objects, options, NullLogger.Instance, [_ => controller]))
        {
            CreateConfigMap("flaky");
            CreateConfigMap("hot");
            manager.Start();
            for (var i = 0; i < 20; i++)
                _objects.Update(ResourceKinds.ConfigMap, "default", "hot", null, o => { o["data"] = new JsonObject { ["i"] = i.ToString() }; return o; }, false, false);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (controller.Calls.GetValueOrDefault("default/flaky") < 4 && DateTime.UtcNow < deadline) await Task.Delay(20);
        }
        Assert.Equal(4, controller.Calls["default/flaky"]);
        Assert.Equal(1, controller.MaxConcurrentPerKey);
        // 21 changes to "hot": at least one reconcile and at most one per change (changes that arrive while the key is
        // queued are coalesced; on a busy machine each may be reconciled before the next arrives).
        Assert.InRange(controller.Calls["default/hot"], 1, 21);
    }

    [Fact]
    public void TheSameEventTwiceIsCountedNotRepeated()
    {
        var cm = CreateConfigMap("evented");
        var recorder = new EventRecorder(_objects, "test-controller", TimeProvider.System);
        recorder.Normal(cm, "SuccessfulCreate", "Created pod: x");
        recorder.Normal(cm, "SuccessfulCreate", "Created pod: x");
        recorder.Warning(cm, "FailedCreate", "Error creating: y");
        var events = _store.List(ResourceKinds.Event.Key("default", null)).Items.Select(i => ClusterObjects.Parse(i.Value))
            .Where(e => Json.Str(e["involvedObject"]!["uid"]) == OwnerReferences.Uid(cm)).ToList();
        Assert.Equal(2, events.Count);
        var created = events.Single(e => Json.Str(e["reason"]) == "SuccessfulCreate");
        Assert.Equal(2, created["count"]!.GetValue<int>());
        Assert.Equal("test-controller", Json.Str(created["source"]!["component"]));
        Assert.Equal("ConfigMap", Json.Str(created["involvedObject"]!["kind"]));
        Assert.StartsWith("evented.", Json.Str(created["metadata"]!["name"]));
    }

    [Fact]
    public void ClaimingAdoptsMatchingOrphansReleasesTheRestAndLeavesOthersAlone()
    {
        var owner = CreateConfigMap("owner");
        var stranger = CreateConfigMap("stranger");
        var app = new Dictionary<string, string> { ["app"] = "web" };
        var orphan = CreateConfigMap("orphan", app);
        var mine = CreateConfigMap("mine", app, owner);
        var strayed = CreateConfigMap("strayed", new() { ["app"] = "other" }, owner);
        var theirs = CreateConfigMap("theirs", app, stranger);
        var selector = LabelSelector.FromObject(new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = "web" } });
        var claimed = OwnerReferences.Claim(_objects, ResourceKinds.ConfigMap, ResourceKinds.ConfigMap, owner, selector, [orphan, mine, strayed, theirs]);
        Assert.Equal(["mine", "orphan"], claimed.Select(c => Json.Str(c["metadata"]!["name"])!).Order().ToArray());
        var ownerUid = OwnerReferences.Uid(owner)!;
        Assert.True(OwnerReferences.IsControlledBy(_objects.Get(ResourceKinds.ConfigMap, "default", "orphan"), ownerUid));
        Assert.Null(OwnerReferences.Of(_objects.Get(ResourceKinds.ConfigMap, "default", "strayed")));
        Assert.True(OwnerReferences.IsControlledBy(_objects.Get(ResourceKinds.ConfigMap, "default", "theirs"), OwnerReferences.Uid(stranger)!));

        // An owner being deleted adopts nothing (a fresh read decides, not the caller's copy).
        var late = CreateConfigMap("late", app);
        _objects.Update(ResourceKinds.ConfigMap, "default", "owner", null, o => { Json.Metadata(o)["finalizers"] = new JsonArray("test/hold"); return o; }, false, false);
        _objects.Delete(ResourceKinds.ConfigMap, "default", "owner", null, null, false);
        Assert.DoesNotContain(OwnerReferences.Claim(_objects, ResourceKinds.ConfigMap, ResourceKinds.ConfigMap, owner, selector, [late]), c => Json.Str(c["metadata"]!["name"]) == "late");
        Assert.Null(OwnerReferences.Of(_objects.Get(ResourceKinds.ConfigMap, "default", "late")));
    }
}
