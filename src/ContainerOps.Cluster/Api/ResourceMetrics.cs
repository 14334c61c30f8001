using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Api;

/// <summary>CPU (in nanocores, averaged over <see cref="Window"/>) and memory (bytes in use) of one container.</summary>
public sealed record ContainerUsage(string Name, long CpuNanoCores, long MemoryBytes);

public sealed record PodUsage(string Namespace, string Name, DateTimeOffset Timestamp, TimeSpan Window, IReadOnlyList<ContainerUsage> Containers);

public sealed record NodeUsage(string Name, DateTimeOffset Timestamp, TimeSpan Window, long CpuNanoCores, long MemoryBytes);

/// <summary>The resource usage the node measures: what metrics-server collects from kubelets in Kubernetes. The node
/// agent provides it once it runs; the API serves it as metrics.k8s.io and the autoscaler reads it.</summary>
public interface IResourceMetrics
{
    /// <summary>The running pods of this node with their containers' usage.</summary>
    Task<IReadOnlyList<PodUsage>> PodsAsync(CancellationToken ct);

    Task<NodeUsage> NodeAsync(CancellationToken ct);
}

/// <summary>
/// metrics.k8s.io/v1beta1 (PodMetrics, NodeMetrics) as metrics-server serves it, so `kubectl top pod|node` works:
/// read-only, computed on each request from <see cref="IResourceMetrics"/>, never stored.
/// </summary>
internal static class MetricsApi
{
    public const string Group = "metrics.k8s.io";
    public const string Version = "v1beta1";
    private const string GroupVersion = Group + "/" + Version;

    public static JsonObject GroupDocument() => Discovery.ServedGroup(Group, Version);

    public static JsonObject ResourceList() => new()
    {
        ["kind"] = "APIResourceList", ["apiVersion"] = "v1", ["groupVersion"] = GroupVersion,
        ["resources"] = new JsonArray(
            new JsonObject { ["name"] = "nodes", ["singularName"] = "", ["namespaced"] = false, ["kind"] = "NodeMetrics", ["verbs"] = new JsonArray("get", "list") },
            new JsonObject { ["name"] = "pods", ["singularName"] = "", ["namespaced"] = true, ["kind"] = "PodMetrics", ["verbs"] = new JsonArray("get", "list") }),
    };

    /// <summary>Answers a GET under /apis/metrics.k8s.io; <paramref name="rest"/> is the path after the group.</summary>
    public static async Task<JsonObject> ServeAsync(HttpContext ctx, ClusterObjects objects, IResourceMetrics? metrics, string[] rest)
    {
        if (rest.Length == 0) return GroupDocument();
        if (rest[0] != Version) throw StatusException.PathNotFound();
        if (rest.Length == 1) return ResourceList();
        if (ctx.Request.Method != "GET") throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource");
        var source = metrics ?? throw new StatusException(503, "ServiceUnavailable", "no node agent runs on this daemon to measure pods and nodes");
        var ct = ctx.RequestAborted;
        var labels = LabelSelector.Parse(ctx.Request.Query["labelSelector"]);
        switch (rest[1..])
        {
            case ["nodes"]:
                return List("NodeMetricsList", [Node(await source.NodeAsync(ct))]);
            case ["nodes", var name]:
                var node = await source.NodeAsync(ct);
                return node.Name == name ? Node(node) : throw new StatusException(404, "NotFound", $"nodemetrics.metrics.k8s.io \"{name}\" not found");
            case ["pods"]:
                return List("PodMetricsList", Pods(objects, await source.PodsAsync(ct), null, labels));
            case ["namespaces", var ns, "pods"]:
                return List("PodMetricsList", Pods(objects, await source.PodsAsync(ct), ns, labels));
            case ["namespaces", var ns, "pods", var name]:
                return Pods(objects, await source.PodsAsync(ct), ns, LabelSelector.Parse(null)).FirstOrDefault(p => Json.Str(p["metadata"]?["name"]) == name)
                    ?? throw new StatusException(404, "NotFound", $"podmetrics.metrics.k8s.io \"{ns}/{name}\" not found");
        }
        throw StatusException.PathNotFound();
    }

    private static JsonObject List(string kind, IEnumerable<JsonObject> items) => new()
    {
        ["kind"] = kind, ["apiVersion"] = GroupVersion, ["metadata"] = new JsonObject(),
        ["items"] = new JsonArray(items.Select(i => (JsonNode?)i).ToArray()),
    };

    private static IEnumerable<JsonObject> Pods(ClusterObjects objects, IReadOnlyList<PodUsage> usage, string? ns, LabelSelector labels)
    {
        foreach (var pod in usage.Where(p => ns is null || p.Namespace == ns).OrderBy(p => p.Namespace, StringComparer.Ordinal).ThenBy(p => p.Name, StringComparer.Ordinal))
        {
            JsonObject stored;
            try { stored = objects.Get(ResourceKinds.Pod, pod.Namespace, pod.Name); }
            catch (StatusException) { continue; } // its pod object is gone: its containers are going
            if (!labels.Matches(LabelSelector.LabelsOf(stored["metadata"]?["labels"]))) continue;
            yield return new JsonObject
            {
                ["kind"] = "PodMetrics", ["apiVersion"] = GroupVersion,
                ["metadata"] = new JsonObject
                {
                    ["name"] = pod.Name, ["namespace"] = pod.Namespace, ["creationTimestamp"] = Json.Timestamp(pod.Timestamp),
                    ["labels"] = stored["metadata"]?["labels"]?.DeepClone(),
                },
                ["timestamp"] = Json.Timestamp(pod.Timestamp), ["window"] = Window(pod.Window),
                ["containers"] = new JsonArray(pod.Containers.Select(c => (JsonNode?)new JsonObject
                {
                    ["name"] = c.Name, ["usage"] = Usage(c.CpuNanoCores, c.MemoryBytes),
                }).ToArray()),
            };
        }
    }

    private static JsonObject Node(NodeUsage node) => new()
    {
        ["kind"] = "NodeMetrics", ["apiVersion"] = GroupVersion,
        ["metadata"] = new JsonObject { ["name"] = node.Name, ["creationTimestamp"] = Json.Timestamp(node.Timestamp) },
        ["timestamp"] = Json.Timestamp(node.Timestamp), ["window"] = Window(node.Window),
        ["usage"] = Usage(node.CpuNanoCores, node.MemoryBytes),
    };

    /// <summary>Quantities as metrics-server writes them: nanocores and kibibytes.</summary>
    private static JsonObject Usage(long nanoCores, long bytes) => new()
    {
        ["cpu"] = $"{nanoCores}n", ["memory"] = $"{bytes / 1024}Ki",
    };

    private static string Window(TimeSpan window) => window.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
}
