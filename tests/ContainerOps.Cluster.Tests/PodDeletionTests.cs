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
