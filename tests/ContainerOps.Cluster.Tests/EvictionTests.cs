using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Tests;

/// <summary>The eviction subresource and PodDisruptionBudget admission against the API alone (no controllers: the
/// budgets' status is written here as the disruption controller would).</summary>
public sealed class EvictionTests : IAsyncLifetime
{
    private ApiServer _api = null!;
    public Task InitializeAsync() { _api = new ApiServer(new()); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _api.DisposeAsync();

    private const string Pods = "/api/v1/namespaces/default/pods";
    private const string Budgets = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";

    private async Task RunningPodAsync(string name, bool ready)
    {
        Assert.Equal(201, (await _api.PostAsync(Pods, """{"metadata":{"name":"NAME","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}""".Replace("NAME", name))).Code);
        var (code, _) = await _api.PatchAsync($"{Pods}/{name}/status",
            """{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"READY"}]}}""".Replace("READY", ready ? "True" : "False"), "application/merge-patch+json");
        Assert.Equal(200, code);
    }

    private async Task BudgetAsync(string name, int allowed, int healthy, int desired)
    {
        Assert.Equal(201, (await _api.PostAsync(Budgets, """{"metadata":{"name":"NAME"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}}""".Replace("NAME", name))).Code);
        Assert.Equal(200, (await _api.PatchAsync($"{Budgets}/{name}/status",
            $"{{\"status\":{{\"observedGeneration\":1,\"disruptionsAllowed\":{allowed},\"currentHealthy\":{healthy},\"desiredHealthy\":{desired},\"expectedPods\":2}}}}", "application/merge-patch+json")).Code);
    }

    private Task<(int Code, JsonObject Body)> EvictAsync(string pod) =>
        _api.PostAsync($"{Pods}/{pod}/eviction", """{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"NAME","namespace":"default"}}""".Replace("NAME", pod));

    [Fact]
    public async Task AnEvictedPodIsMarkedDisruptionTargetBeforeItGoes()
    {
        // On a node, so that its deletion waits for the node (30 s of grace) and the pod can be read meanwhile.
        Assert.Equal(201, (await _api.PostAsync(Pods, """{"metadata":{"name":"placed"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}""")).Code);
        Assert.Equal(200, (await _api.PatchAsync($"{Pods}/placed/status", """{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}""", "application/merge-patch+json")).Code);
        Assert.Equal(201, (await EvictAsync("placed")).Code);
        var (code, pod) = await _api.GetAsync($"{Pods}/placed");
        Assert.Equal(200, code);
        Assert.NotNull(pod["metadata"]!["deletionTimestamp"]);
        var conditions = pod["status"]!["conditions"]!.AsArray().OfType<JsonObject>().ToList();
        var target = Assert.Single(conditions, c => (string?)c["type"] == "DisruptionTarget");
        Assert.Equal("True", (string?)target["status"]);
        Assert.Equal("EvictionByEvictionAPI", (string?)target["reason"]);
        Assert.Contains(conditions, c => (string?)c["type"] == "Ready"); // the others stay
    }

    [Fact]
    public async Task AnEvictionSpendsTheBudgetAndIsRefusedWhenNoneIsLeft()
    {
        await RunningPodAsync("web-1", ready: true);
        await RunningPodAsync("web-2", ready: true);
        await BudgetAsync("web", allowed: 1, healthy: 2, desired: 1);

        var (code, status) = await EvictAsync("web-1");
        Assert.Equal(201, code);
        Assert.Equal("Success", status["status"]!.GetValue<string>());
        Assert.Equal(404, (await _api.GetAsync($"{Pods}/web-1")).Code); // no grace on a pod no node runs
        var (_, budget) = await _api.GetAsync($"{Budgets}/web");
        Assert.Equal(0, budget["status"]!["disruptionsAllowed"]!.GetValue<int>());
        Assert.NotNull(budget["status"]!["disruptedPods"]!["web-1"]);

        (code, status) = await EvictAsync("web-2");
        Assert.Equal(429, code);
        Assert.Equal("Cannot evict pod as it would violate the pod's disruption budget.", status["message"]!.GetValue<string>());
        Assert.Equal("The disruption budget web needs 1 healthy pods and has 2 currently", status["details"]!["causes"]![0]!["message"]!.GetValue<string>());
        Assert.Equal(200, (await _api.GetAsync($"{Pods}/web-2")).Code);
    }

    [Fact]
    public async Task UnhealthyPodsGoWhenTheBudgetIsMetAndTwoBudgetsOrBothBoundsAreRefused()
    {
        await RunningPodAsync("sick", ready: false);
        await BudgetAsync("web", allowed: 0, healthy: 1, desired: 1);
        Assert.Equal(201, (await EvictAsync("sick")).Code); // not ready, and the budget is met without it
        var (_, budget) = await _api.GetAsync($"{Budgets}/web");
        Assert.Equal(0, budget["status"]!["disruptionsAllowed"]!.GetValue<int>());

        await RunningPodAsync("web-3", ready: true);
        await BudgetAsync("web-too", allowed: 1, healthy: 1, desired: 0);
        var (code, status) = await EvictAsync("web-3");
        Assert.Equal(500, code);
        Assert.Contains("more than one PodDisruptionBudget", status["message"]!.GetValue<string>());

        (code, status) = await _api.PostAsync(Budgets, """{"metadata":{"name":"both"},"spec":{"minAvailable":1,"maxUnavailable":"10%","selector":{"matchLabels":{"app":"x"}}}}""");
        Assert.Equal(422, code);
        Assert.Contains("minAvailable and maxUnavailable cannot be both set", status["message"]!.GetValue<string>());
        Assert.Equal(404, (await EvictAsync("nobody")).Code);
    }
}
