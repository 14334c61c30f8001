using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>LimitRanges as the API server's LimitRanger admission applies them: defaults for containers that lack
/// limits or requests (and the annotation that says which), then min, max and ratio for containers, pods and claims.</summary>
public sealed class LimitRangeTests : IAsyncLifetime
{
    private readonly ApiServer _api = new();
    private const string Pods = "/api/v1/namespaces/default/pods";

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _api.DisposeAsync();

    private async Task RangeAsync(string limits) =>
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/limitranges",
            $$$"""{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"bounds"},"spec":{"limits":[{{{limits}}}]}}""")).Code);

    private static string Pod(string name, string resources, string init = "") =>
        """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME"},"spec":{INIT"containers":[{"name":"app","image":"busybox","resources":{RESOURCES}}]}}"""
            .Replace("NAME", name).Replace("INIT", init).Replace("RESOURCES", resources);

    [Fact]
    public async Task AContainerWithoutLimitsGetsTheDefaultsAndTheAnnotationSaysSo()
    {
        await RangeAsync("""{"type":"Container","default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"100m"}}""");
        var (_, range) = await _api.GetAsync("/api/v1/namespaces/default/limitranges/bounds");
        // Stored as the API server defaults it: the memory request falls back to the default limit.
        Assert.Equal("256Mi", Json.Str(range["spec"]!["limits"]![0]!["defaultRequest"]!["memory"]));

        var (code, pod) = await _api.PostAsync(Pods, Pod("plain", ""));
        Assert.Equal(201, code);
        var resources = pod["spec"]!["containers"]![0]!["resources"]!;
        Assert.Equal("500m", Json.Str(resources["limits"]!["cpu"]));
        Assert.Equal("256Mi", Json.Str(resources["limits"]!["memory"]));
        Assert.Equal("100m", Json.Str(resources["requests"]!["cpu"]));
        Assert.Equal("256Mi", Json.Str(resources["requests"]!["memory"]));
        Assert.Equal("LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app",
            Json.Str(pod["metadata"]!["annotations"]![LimitRanges.Annotation]));

        // What a container names stays; a limit without a request is its request too (the API server's pod default).
        (code, pod) = await _api.PostAsync(Pods, Pod("own", """ "limits":{"cpu":"250m"} """));
        Assert.Equal(201, code);
        resources = pod["spec"]!["containers"]![0]!["resources"]!;
        Assert.Equal("250m", Json.Str(resources["limits"]!["cpu"]));
        Assert.Equal("250m", Json.Str(resources["requests"]!["cpu"]));
        Assert.Equal("256Mi", Json.Str(resources["limits"]!["memory"]));
    }

    [Fact]
    public async Task AContainerOutsideMinMaxOrRatioIsRefusedInKubernetesWords()
    {
        await RangeAsync("""{"type":"Container","min":{"cpu":"100m"},"max":{"cpu":"1","memory":"1Gi"},"maxLimitRequestRatio":{"cpu":"4"}}""");
        var (code, status) = await _api.PostAsync(Pods, Pod("greedy", """ "limits":{"cpu":"2","memory":"512Mi"},"requests":{"cpu":"200m"} """));
        Assert.Equal(403, code);
        Assert.Equal("Forbidden", Json.Str(status["reason"]));
        Assert.Equal("pods \"greedy\" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, " +
            "cpu max limit to request ratio per Container is 4, but provided ratio is 10.000000]", Json.Str(status["message"]));

        (code, status) = await _api.PostAsync(Pods, Pod("tiny", """ "limits":{"cpu":"50m","memory":"64Mi"} """));
        Assert.Equal(403, code);
        Assert.Equal("pods \"tiny\" is forbidden: minimum cpu usage per Container is 100m, but request is 50m", Json.Str(status["message"]));
        Assert.Equal(404, (await _api.GetAsync($"{Pods}/tiny")).Code);

        // Within bounds; the max's defaults (default limit = max, request = limit) fill what is missing.
        (code, var pod) = await _api.PostAsync(Pods, Pod("fits", """ "requests":{"cpu":"500m"} """));
        Assert.Equal(201, code);
        Assert.Equal("1", Json.Str(pod["spec"]!["containers"]![0]!["resources"]!["limits"]!["cpu"]));
        Assert.Equal("1Gi", Json.Str(pod["spec"]!["containers"]![0]!["resources"]!["limits"]!["memory"]));
    }

    [Fact]
    public async Task APodsTotalAndAClaimsStorageAreHeldToTheirItems()
    {
        await RangeAsync("""{"type":"Pod","max":{"memory":"1Gi"}},{"type":"PersistentVolumeClaim","min":{"storage":"1Gi"},"max":{"storage":"10Gi"}}""");
        var two = """ "initContainers":[{"name":"setup","image":"busybox","resources":{"limits":{"memory":"300Mi"}}}],""";
        var (code, _) = await _api.PostAsync(Pods, Pod("sum", """ "limits":{"memory":"900Mi"} """, two));
        Assert.Equal(201, code); // the init container runs before, so the pod's total is the larger, 900Mi
        var (refused, status) = await _api.PostAsync(Pods, Pod("over", """ "limits":{"memory":"1200Mi"} """));
        Assert.Equal(403, refused);
        Assert.Contains("maximum memory usage per Pod is 1Gi, but limit is 1200Mi", Json.Str(status["message"]));

        static string Claim(string name, string size) =>
            """{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"NAME"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"SIZE"}}}}"""
                .Replace("NAME", name).Replace("SIZE", size);
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/persistentvolumeclaims", Claim("ok", "5Gi"))).Code);
        (code, status) = await _api.PostAsync("/api/v1/namespaces/default/persistentvolumeclaims", Claim("huge", "20Gi"));
        Assert.Equal(403, code);
        Assert.Equal("persistentvolumeclaims \"huge\" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi",
            Json.Str(status["message"]));
    }

    [Fact]
    public async Task ANamespaceWithoutLimitRangesChangesNothing()
    {
        var (code, pod) = await _api.PostAsync(Pods, Pod("free", ""));
        Assert.Equal(201, code);
        Assert.Null(pod["metadata"]!["annotations"]?[LimitRanges.Annotation]);
        Assert.Null(pod["spec"]!["containers"]![0]!["resources"]!["limits"]);
    }
}
