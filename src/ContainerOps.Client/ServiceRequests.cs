using System.Text.Json.Nodes;

namespace ContainerOps.Client;

/// <summary>Services, their Endpoints and EndpointSlices through the daemon's Kubernetes API on its socket (/api/v1/…,
/// /apis/discovery.k8s.io/v1/…), for the cmdlets and the CLI; errors as <see cref="PodRequests"/> makes them.</summary>
public static class ServiceRequests
{
    private static string Collection(string? ns, string resource) =>
        ns is null ? $"api/v1/{resource}" : $"api/v1/namespaces/{Uri.EscapeDataString(ns)}/{resource}";

    private static string ServicePath(string ns, string name) => $"{Collection(ns, "services")}/{Uri.EscapeDataString(name)}";

    public static Task<List<JsonObject>> ListServicesAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, CancellationToken ct = default) =>
        ListAsync(client, Collection(ns, "services"), labelSelector, ct);

    public static async Task<JsonObject> GetServiceAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, ServicePath(ns, name), null, ct))!;

    public static async Task<JsonObject> CreateServiceAsync(this IContainerOpsClient client, string ns, JsonObject service, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Post, Collection(ns, "services"), service, ct))!;

    /// <summary>Read, change, write back (retried on a conflict), as <see cref="DeploymentRequests.UpdateDeploymentAsync"/>.</summary>
    public static Task<JsonObject> UpdateServiceAsync(this IContainerOpsClient client, string ns, string name, Action<JsonObject> change, CancellationToken ct = default) =>
        ResourceRequests.ReadModifyWriteAsync(client, ServicePath(ns, name), change, ct);

    public static async Task<JsonObject> DeleteServiceAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Delete, ServicePath(ns, name), null, ct))!;

    /// <summary>The EndpointSlices of a namespace (or all), of one service when <paramref name="service"/> is given.</summary>
    public static Task<List<JsonObject>> ListEndpointSlicesAsync(this IContainerOpsClient client, string? ns, string? service = null, CancellationToken ct = default) =>
        ListAsync(client, ns is null ? "apis/discovery.k8s.io/v1/endpointslices" : $"apis/discovery.k8s.io/v1/namespaces/{Uri.EscapeDataString(ns)}/endpointslices",
            service is null ? null : "kubernetes.io/service-name=" + service, ct);

    private static Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string path, string? labelSelector, CancellationToken ct) =>
        ResourceRequests.ListAtAsync(client, path, labelSelector, ct);
}
