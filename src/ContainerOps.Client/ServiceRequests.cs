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
        ReadModifyWriteAsync(client, ServicePath(ns, name), change, ct);

    public static async Task<JsonObject> DeleteServiceAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Delete, ServicePath(ns, name), null, ct))!;

    /// <summary>The EndpointSlices of a namespace (or all), of one service when <paramref name="service"/> is given.</summary>
    public static Task<List<JsonObject>> ListEndpointSlicesAsync(this IContainerOpsClient client, string? ns, string? service = null, CancellationToken ct = default) =>
        ListAsync(client, ns is null ? "apis/discovery.k8s.io/v1/endpointslices" : $"apis/discovery.k8s.io/v1/namespaces/{Uri.EscapeDataString(ns)}/endpointslices",
            service is null ? null : "kubernetes.io/service-name=" + service, ct);

    internal static async Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string path, string? labelSelector, CancellationToken ct)
    {
        if (labelSelector is { Length: > 0 }) path += "?labelSelector=" + Uri.EscapeDataString(labelSelector);
        var list = await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct);
        return (list?["items"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
    }

    /// <summary>GET, change, PUT with the resourceVersion read (so nobody's change in between is lost), retried on a conflict.</summary>
    internal static async Task<JsonObject> ReadModifyWriteAsync(IContainerOpsClient client, string path, Action<JsonObject> change, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var current = (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct))!;
            change(current);
            try { return (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Put, path, current, ct))!; }
            catch (Core.Api.ContainerOpsException e) when (e.Error.Kind == Core.Api.ErrorKind.Conflict && attempt < 5) { }
        }
    }
}
