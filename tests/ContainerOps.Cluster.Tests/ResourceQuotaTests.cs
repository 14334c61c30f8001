using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>ResourceQuotas: the admission refuses what would pass a hard limit, in Kubernetes' words, and the quota
/// controller keeps status.used, with the controllers running over the API in process.</summary>
public sealed class ResourceQuotaTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = new(_ => Task.FromResult<JsonObject?>(ControllerHarness.RunningAndReady()));
    private ApiServer Api => _harness.Api;
    private const string Pods = "/api/v1/namespaces/default/pods";

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private async Task QuotaAsync(string name, string hard) =>
        Assert.Equal(201, (await Api.PostAsync("/api/v1/namespaces/default/resourcequotas",
            """{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"NAME"},"spec":{"hard":{HARD}}}""".Replace("NAME", name).Replace("HARD", hard))).Code);

    private static string Pod(string name, string resources) =>
        """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME"},"spec":{"containers":[{"name":"app","image":"busybox","resources":{RESOURCES}}]}}"""
            .Replace("NAME", name).Replace("RESOURCES", resources);

    private Task<JsonObject> UsedAsync(string quota, Func<JsonObject, bool> done) =>
        ControllerHarness.EventuallyAsync(async () => (JsonObject?)(await Api.GetAsync($"/api/v1/namespaces/default/resourcequotas/{quota}")).Body["status"]?["used"] ?? new JsonObject(),
            done, $"quota {quota}'s status.used");

    [Fact]
    public async Task ACreatePastAHardLimitIsRefusedAndTheStatusCountsWhatIsUsed()
    {
        await QuotaAsync("compute", """ "pods":"2","requests.cpu":"1","limits.memory":"1Gi" """);
        var used = await UsedAsync("compute", u => Json.Str(u["pods"]) == "0");
        Assert.Equal("0", Json.Str(used["requests.cpu"]));

        const string small = """ "requests":{"cpu":"400m"},"limits":{"memory":"256Mi"} """;
        Assert.Equal(201, (await Api.PostAsync(Pods, Pod("one", small))).Code);
        var (code, status) = await Api.PostAsync(Pods, Pod("big", """ "requests":{"cpu":"700m"},"limits":{"memory":"256Mi"} """));
        Assert.Equal(403, code);
        Assert.Equal("pods \"big\" is forbidden: exceeded quota: compute, requested: requests.cpu=700m, used: requests.cpu=400m, limited: requests.cpu=1",
            Json.Str(status["message"]));
        Assert.Equal(404, (await Api.GetAsync($"{Pods}/big")).Code);

        // A quota of cpu or memory makes every container say how much it wants.
        (code, status) = await Api.PostAsync(Pods, Pod("vague", ""));
        Assert.Equal(403, code);
        Assert.Equal("pods \"vague\" is forbidden: failed quota: compute: must specify limits.memory for: app; requests.cpu for: app", Json.Str(status["message"]));

        Assert.Equal(201, (await Api.PostAsync(Pods, Pod("two", small))).Code);
        (code, status) = await Api.PostAsync(Pods, Pod("three", """ "requests":{"cpu":"100m"},"limits":{"memory":"64Mi"} """));
        Assert.Equal(403, code);
        Assert.StartsWith("pods \"three\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2", Json.Str(status["message"]));

        used = await UsedAsync("compute", u => Json.Str(u["pods"]) == "2");
        Assert.Equal("800m", Json.Str(used["requests.cpu"]));
        Assert.Equal("512Mi", Json.Str(used["limits.memory"]));
        var (_, quota) = await Api.GetAsync("/api/v1/namespaces/default/resourcequotas/compute");
        Assert.Equal("1Gi", Json.Str(quota["status"]!["hard"]!["limits.memory"]));
        // kubectl get quota's columns.
        var (_, table) = await Api.GetAsync("/api/v1/namespaces/default/resourcequotas/compute", "application/json;as=Table;v=v1;g=meta.k8s.io");
        var cells = table["rows"]![0]!["cells"]!.AsArray();
        Assert.Equal("pods: 2/2, requests.cpu: 800m/1", Json.Str(cells[2]));
        Assert.Equal("limits.memory: 512Mi/1Gi", Json.Str(cells[3]));

        // A pod that goes gives its share back.
        await Api.DeleteAsync($"{Pods}/one");
        await ControllerHarness.EventuallyAsync(async () => (await Api.GetAsync($"{Pods}/one")).Code, c => c == 404, "pod one gone");
        Assert.Equal(201, (await Api.PostAsync(Pods, Pod("three", """ "requests":{"cpu":"100m"},"limits":{"memory":"64Mi"} """))).Code);
        await UsedAsync("compute", u => Json.Str(u["requests.cpu"]) == "500m");
    }

    [Fact]
    public async Task ObjectCountsAreLimitedForServicesConfigMapsAndAnyKind()
    {
        // Room for one more configmap than the namespace holds (whatever the server made in it).
        var existing = (await Api.GetAsync("/api/v1/namespaces/default/configmaps")).Body["items"]!.AsArray().Count;
        await QuotaAsync("objects", """ "services.nodeports":"1","configmaps":"MAPS","count/deployments.apps":"0" """.Replace("MAPS", (existing + 1).ToString()));
        const string nodePort = """{"apiVersion":"v1","kind":"Service","metadata":{"name":"NAME"},"spec":{"type":"NodePort","selector":{"app":"x"},"ports":[{"port":80}]}}""";
        Assert.Equal(201, (await Api.PostAsync("/api/v1/namespaces/default/services", nodePort.Replace("NAME", "first"))).Code);
        var (code, status) = await Api.PostAsync("/api/v1/namespaces/default/services", nodePort.Replace("NAME", "second"));
        Assert.Equal(403, code);
        Assert.Contains("exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1", Json.Str(status["message"]));
        // A ClusterIP service has no node port: not counted against it.
        Assert.Equal(201, (await Api.PostAsync("/api/v1/namespaces/default/services",
            """{"apiVersion":"v1","kind":"Service","metadata":{"name":"inner"},"spec":{"selector":{"app":"x"},"ports":[{"port":80}]}}""")).Code);

        const string map = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"},"data":{"a":"b"}}""";
        Assert.Equal(201, (await Api.PostAsync("/api/v1/namespaces/default/configmaps", map.Replace("NAME", "settings"))).Code);
        (code, status) = await Api.PostAsync("/api/v1/namespaces/default/configmaps", map.Replace("NAME", "more"));
        Assert.Equal(403, code);
        Assert.StartsWith("configmaps \"more\" is forbidden: exceeded quota: objects, requested: configmaps=1", Json.Str(status["message"]));

        (code, status) = await Api.PostAsync("/apis/apps/v1/namespaces/default/deployments",
            """{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}""");
        Assert.Equal(403, code);
        Assert.Equal("deployments \"web\" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0",
            Json.Str(status["message"]));
    }

    [Fact]
    public async Task AScopedQuotaIsRefusedRatherThanCountedWrongly()
    {
        var (code, status) = await Api.PostAsync("/api/v1/namespaces/default/resourcequotas",
            """{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"scoped"},"spec":{"hard":{"pods":"1"},"scopes":["BestEffort"]}}""");
        Assert.Equal(422, code);
        Assert.Equal("spec.scopes", Json.Str(status["details"]!["causes"]![0]!["field"]));
    }
}
