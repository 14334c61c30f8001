using System.Text.Json.Nodes;

namespace ContainerOps.Client;

/// <summary>Deployments and their ReplicaSets through the daemon's Kubernetes API on its socket (/apis/apps/v1/…), for
/// the cmdlets and the CLI; errors as <see cref="PodRequests"/> makes them.</summary>
public static class DeploymentRequests
{
    internal static string Collection(string? ns, string resource) =>
        ns is null ? $"apis/apps/v1/{resource}" : $"apis/apps/v1/namespaces/{Uri.EscapeDataString(ns)}/{resource}";

    private static string DeploymentPath(string ns, string name) => $"{Collection(ns, "deployments")}/{Uri.EscapeDataString(name)}";

    public static async Task<List<JsonObject>> ListDeploymentsAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, CancellationToken ct = default) =>
        await ResourceRequests.ListAtAsync(client, Collection(ns, "deployments"), labelSelector, ct);

    public static async Task<List<JsonObject>> ListReplicaSetsAsync(this IContainerOpsClient client, string ns, string? labelSelector = null, CancellationToken ct = default) =>
        await ResourceRequests.ListAtAsync(client, Collection(ns, "replicasets"), labelSelector, ct);

    public static async Task<JsonObject> GetDeploymentAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, DeploymentPath(ns, name), null, ct))!;

    public static async Task<JsonObject> CreateDeploymentAsync(this IContainerOpsClient client, string ns, JsonObject deployment, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Post, Collection(ns, "deployments"), deployment, ct))!;

    /// <summary>Read, change, write back with the resourceVersion read (so nobody's change in between is lost), retried
    /// on a conflict. <paramref name="subresource"/> "scale" changes the Scale object instead.</summary>
    public static Task<JsonObject> UpdateDeploymentAsync(this IContainerOpsClient client, string ns, string name, Action<JsonObject> change, string? subresource = null, CancellationToken ct = default) =>
        ResourceRequests.ReadModifyWriteAsync(client, DeploymentPath(ns, name) + (subresource is null ? "" : "/" + subresource), change, ct);

    /// <summary>Sets the replica count through the scale subresource.</summary>
    public static Task<JsonObject> ScaleDeploymentAsync(this IContainerOpsClient client, string ns, string name, int replicas, CancellationToken ct = default) =>
        client.UpdateDeploymentAsync(ns, name, scale => scale["spec"] = new JsonObject { ["replicas"] = replicas }, "scale", ct);

    public static async Task<JsonObject> DeleteDeploymentAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Delete, DeploymentPath(ns, name), new JsonObject { ["apiVersion"] = "v1", ["kind"] = "DeleteOptions", ["propagationPolicy"] = "Background" }, ct))!;
}
