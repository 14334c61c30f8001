using System.Text.Json.Nodes;

namespace ContainerOps.Client;

/// <summary>StatefulSets and DaemonSets through the daemon's Kubernetes API on its socket (/apis/apps/v1/…), for the
/// cmdlets; errors as <see cref="PodRequests"/> makes them.</summary>
public static class WorkloadRequests
{
    public static Task<List<JsonObject>> ListStatefulSetsAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, CancellationToken ct = default) =>
        ResourceRequests.ListAtAsync(client, DeploymentRequests.Collection(ns, "statefulsets"), labelSelector, ct);

    public static Task<List<JsonObject>> ListDaemonSetsAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, CancellationToken ct = default) =>
        ResourceRequests.ListAtAsync(client, DeploymentRequests.Collection(ns, "daemonsets"), labelSelector, ct);

    /// <summary>Sets a StatefulSet's replica count through its scale subresource; the set as it is afterwards.</summary>
    public static async Task<JsonObject> ScaleStatefulSetAsync(this IContainerOpsClient client, string ns, string name, int replicas, CancellationToken ct = default)
    {
        var path = $"{DeploymentRequests.Collection(ns, "statefulsets")}/{Uri.EscapeDataString(name)}";
        await ResourceRequests.ReadModifyWriteAsync(client, path + "/scale", scale => scale["spec"] = new JsonObject { ["replicas"] = replicas }, ct);
        return (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct))!;
    }
}
