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
    public async Task AScopedQuotaCountsOnlyThePodsItsScopesMatch()
    {
        // At most one pod that asks for nothing, and 1 cpu among pods of the "batch" priority class.
        Assert.Equal(201, (await Api.PostAsync("/apis/scheduling.k8s.io/v1/priorityclasses",
            """{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"batch"},"value":100}""")).Code);
        Assert.Equal(201, (await Api.PostAsync("/api/v1/namespaces/default/resourcequotas",
            """{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"besteffort"},"spec":{"hard":{"pods":"1"},"scopes":["BestEffort"]}}""")).Code);
        Assert.Equal(201, (await Api.PostAsync("/api/v1/namespaces/default/resourcequotas",
            """{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"batch-cpu"},"spec":{"hard":{"requests.cpu":"1"},"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["batch"]}]}}}""")).Code);

        Assert.Equal(201, (await Api.PostAsync(Pods, Pod("free", ""))).Code);
        var (code, status) = await Api.PostAsync(Pods, Pod("free-two", ""));
        Assert.Equal(403, code);
        Assert.StartsWith("pods \"free-two\" is forbidden: exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1", Json.Str(status["message"]));
        // A pod with requests is not BestEffort, and no batch pod: neither quota counts it.
        Assert.Equal(201, (await Api.PostAsync(Pods, Pod("sized", """ "requests":{"cpu":"2"} """))).Code);

        static string Batch(string name, string cpu) =>
            """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME"},"spec":{"priorityClassName":"batch","containers":[{"name":"app","image":"busybox","resources":{"requests":{"cpu":"CPU"}}}]}}"""
                .Replace("NAME", name).Replace("CPU", cpu);
        Assert.Equal(201, (await Api.PostAsync(Pods, Batch("job-a", "600m"))).Code);
        (code, status) = await Api.PostAsync(Pods, Batch("job-b", "600m"));
        Assert.Equal(403, code);
        Assert.Contains("exceeded quota: batch-cpu, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1", Json.Str(status["message"]));

        await UsedAsync("besteffort", u => Json.Str(u["pods"]) == "1");
        await UsedAsync("batch-cpu", u => Json.Str(u["requests.cpu"]) == "600m");
    }

    [Theory]
    [InlineData(""" "hard":{"requests.cpu":"1"},"scopes":["BestEffort"] """, "spec.hard[requests.cpu]", "unsupported scope applied to resource")]
    [InlineData(""" "hard":{"pods":"1"},"scopes":["Terminating","NotTerminating"] """, "spec.scopes", "conflicting scopes")]
    [InlineData(""" "hard":{"services":"1"},"scopes":["NotBestEffort"] """, "spec.hard[services]", "unsupported scope applied to resource")]
    [InlineData(""" "hard":{"pods":"1"},"scopeSelector":{"matchExpressions":[{"scopeName":"BestEffort","operator":"In","values":["x"]}]} """, "spec.scopeSelector.matchExpressions[0].operator", "must be 'Exists'")]
    [InlineData(""" "hard":{"pods":"1"},"scopes":["CrossNamespacePodAffinity"] """, "spec.scopes", "not supported by this server")]
    public async Task AWrongScopeIsRefusedNamingTheField(string spec, string field, string message)
    {
        var (code, status) = await Api.PostAsync("/api/v1/namespaces/default/resourcequotas",
            """{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"scoped"},"spec":{SPEC}}""".Replace("SPEC", spec));
        Assert.Equal(422, code);
        var cause = status["details"]!["causes"]!.AsArray().OfType<JsonObject>().Single(c => Json.Str(c["field"]) == field);
        Assert.Contains(message, Json.Str(cause["message"]));
    }
}
