using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Tests;

/// <summary>Graceful deletion of pods, as the API server does it: a pod a node runs is only marked, for the node to stop
/// and then remove; an unbound one, or one deleted with a zero grace period, goes at once.</summary>
public sealed class PodDeletionTests : IAsyncLifetime
{
    private ApiServer _api = null!;
    public Task InitializeAsync() { _api = new ApiServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _api.DisposeAsync();

    private static string Pod(string name, string? node) =>
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" + name + "\"},\"spec\":{"
        + (node is null ? "" : "\"nodeName\":\"" + node + "\",")
        + "\"terminationGracePeriodSeconds\":7,\"containers\":[{\"name\":\"c\",\"image\":\"busybox:1.36\"}]}}";

    [Fact]
    public async Task ABoundPodIsMarkedWithItsGracePeriodAndAZeroGraceRemovesIt()
    {
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/pods", Pod("bound", "n1"))).Code);
        var (code, marked) = await _api.DeleteAsync("/api/v1/namespaces/default/pods/bound");
        Assert.Equal(200, code);
        Assert.NotNull(marked["metadata"]!["deletionTimestamp"]);
        Assert.Equal(7, marked["metadata"]!["deletionGracePeriodSeconds"]!.GetValue<long>());
        var (stillCode, _) = await _api.GetAsync("/api/v1/namespaces/default/pods/bound");
        Assert.Equal(200, stillCode);

        var (forceCode, _) = await _api.SendAsync(HttpMethod.Delete, "/api/v1/namespaces/default/pods/bound", """{"gracePeriodSeconds":0}""");
        Assert.Equal(200, forceCode);
        Assert.Equal(404, (await _api.GetAsync("/api/v1/namespaces/default/pods/bound")).Code);
    }

    /// <summary>A delete that names no revision is not refused because someone (a controller writing the status) wrote
    /// the object between the API's read and its removal: it reads again and removes it.</summary>
    [Fact]
    public async Task ADeleteWithoutPreconditionsOutlastsConcurrentWrites()
    {
        var objects = new Api.ClusterObjects(_api.Store);
        for (var round = 0; round < 30; round++)
        {
            var name = $"busy-{round}";
            Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/configmaps",
                """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"},"data":{"n":"0"}}""".Replace("NAME", name))).Code);
            using var stop = new CancellationTokenSource();
            var writer = Task.Run(() =>
            {
                // A busy writer: a write every millisecond or so, as a controller's status writes never come faster.
                for (var n = 1; !stop.IsCancellationRequested; n++)
                    try
                    {
                        objects.Update(Api.ResourceKinds.ConfigMap, "default", name, null, o => { o["data"]!["n"] = n.ToString(); return o; }, statusOnly: false, dryRun: false);
                        Thread.Sleep(1);
                    }
                    catch (Api.StatusException) { return; } // gone
            });
            await Task.Delay(2);
            var (code, body) = await _api.DeleteAsync($"/api/v1/namespaces/default/configmaps/{name}");
            stop.Cancel();
            await writer;
            Assert.True(code == 200, $"round {round}: {code} {body.ToJsonString()}");
            Assert.Equal(404, (await _api.GetAsync($"/api/v1/namespaces/default/configmaps/{name}")).Code);
        }
    }

    /// <summary>A delete decides to only mark an object (finalizers hold it, or its node has to stop it), and before the
    /// mark is written someone else writes it so that it may go now (its last finalizer removed, the pod finished). The
    /// delete reads again: it must not leave the object marked for ever with nothing left to finish it.</summary>
    [Theory]
    [InlineData("the last finalizer is removed")]
    [InlineData("the pod finishes")]
    public async Task ADeleteThatOnlyMarksGoesAtOnceWhenTheObjectMayGoByTheTimeItWrites(string cutIn)
    {
        var finalizer = cutIn == "the last finalizer is removed";
        var pod = JsonNode.Parse(Pod("held", finalizer ? null : "n1"))!.AsObject();
        if (finalizer) pod["metadata"]!["finalizers"] = new JsonArray("example.com/hold");
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/pods", pod.ToJsonString())).Code);
        if (!finalizer) SetPhase("Running");

        var store = new CutInStore(_api.Store);
        store.BeforeNextUpdate = () =>
        {
            if (finalizer) new Api.ClusterObjects(_api.Store).Update(Api.ResourceKinds.Pod, "default", "held", null, o =>
            {
                o["metadata"]!.AsObject().Remove("finalizers");
                return o;
            }, statusOnly: false, dryRun: false);
            else SetPhase("Succeeded");
        };
        new Api.ClusterObjects(store).Delete(Api.ResourceKinds.Pod, "default", "held", null, null, dryRun: false);

        Assert.Null(store.BeforeNextUpdate);
        Assert.Equal(404, (await _api.GetAsync("/api/v1/namespaces/default/pods/held")).Code);
    }

    private void SetPhase(string phase) => new Api.ClusterObjects(_api.Store).Update(Api.ResourceKinds.Pod, "default", "held", null, o =>
    {
        o["status"] = new JsonObject { ["phase"] = phase };
        return o;
    }, statusOnly: true, dryRun: false);

    /// <summary>The API's store, with one write of the test's cut in just before the next update.</summary>
    private sealed class CutInStore(Store.IClusterStore inner) : Store.IClusterStore
    {
        private Action? _beforeNextUpdate;
        public Action? BeforeNextUpdate { get => _beforeNextUpdate; set => _beforeNextUpdate = value; }
        public long CurrentRevision => inner.CurrentRevision;
        public long CompactedRevision => inner.CompactedRevision;
        public Store.StoredObject? Get(string key) => inner.Get(key);
        public Store.StoreList List(string prefix, long revision = 0, string? afterKey = null, int limit = 0) => inner.List(prefix, revision, afterKey, limit);
        public Store.StoredObject Create(string key, Func<long, byte[]> encode) => inner.Create(key, encode);
        public Store.StoredObject Update(string key, long expectedRevision, Func<long, byte[]> encode)
        {
            Interlocked.Exchange(ref _beforeNextUpdate, null)?.Invoke();
            return inner.Update(key, expectedRevision, encode);
        }
        public Store.StoredObject Delete(string key, long? expectedRevision = null) => inner.Delete(key, expectedRevision);
        public Store.IStoreWatch Watch(string prefix, long afterRevision) => inner.Watch(prefix, afterRevision);
        public void Compact(long revision) => inner.Compact(revision);
        public void Dispose() { }
    }

    [Fact]
    public async Task AnUnboundPodGoesAtOnceAndAGracePeriodOnTheQueryIsTaken()
    {
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/pods", Pod("loose", null))).Code);
        Assert.Equal(200, (await _api.DeleteAsync("/api/v1/namespaces/default/pods/loose")).Code);
        Assert.Equal(404, (await _api.GetAsync("/api/v1/namespaces/default/pods/loose")).Code);

        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/pods", Pod("quick", "n1"))).Code);
        var (_, marked) = await _api.DeleteAsync("/api/v1/namespaces/default/pods/quick?gracePeriodSeconds=3");
        Assert.Equal(3, marked["metadata"]!["deletionGracePeriodSeconds"]!.GetValue<long>());
        var (badCode, bad) = await _api.DeleteAsync("/api/v1/namespaces/default/pods/quick?gracePeriodSeconds=soon");
        Assert.Equal(400, badCode);
        Assert.Contains("gracePeriodSeconds", bad["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task EventsAreSelectedByReasonAndInvolvedObject()
    {
        var ev = """{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},"involvedObject":{"kind":"Pod","name":"web","namespace":"default"},"reason":"FailedScheduling","type":"Warning","message":"no"}""";
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/events", ev)).Code);
        var (_, hit) = await _api.GetAsync("/api/v1/namespaces/default/events?fieldSelector=reason%3DFailedScheduling,involvedObject.name%3Dweb");
        Assert.Single(hit["items"]!.AsArray());
        var (_, miss) = await _api.GetAsync("/api/v1/namespaces/default/events?fieldSelector=reason%3DScheduled");
        Assert.Empty(miss["items"]!.AsArray());
    }
}
