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
        await ListAsync(client, Collection(ns, "deployments"), labelSelector, ct);

    public static async Task<List<JsonObject>> ListReplicaSetsAsync(this IContainerOpsClient client, string ns, string? labelSelector = null, CancellationToken ct = default) =>
        await ListAsync(client, Collection(ns, "replicasets"), labelSelector, ct);

    internal static async Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string path, string? labelSelector, CancellationToken ct)
    {
        if (labelSelector is { Length: > 0 }) path += "?labelSelector=" + Uri.EscapeDataString(labelSelector);
        var list = await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct);
        return (list?["items"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
    }

    public static async Task<JsonObject> GetDeploymentAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, DeploymentPath(ns, name), null, ct))!;

    public static async Task<JsonObject> CreateDeploymentAsync(this IContainerOpsClient client, string ns, JsonObject deployment, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Post, Collection(ns, "deployments"), deployment, ct))!;

    /// <summary>Read, change, write back with the resourceVersion read (so nobody's change in between is lost), retried
    /// on a conflict. <paramref name="subresource"/> "scale" changes the Scale object instead.</summary>
    public static Task<JsonObject> UpdateDeploymentAsync(this IContainerOpsClient client, string ns, string name, Action<JsonObject> change, string? subresource = null, CancellationToken ct = default) =>
        UpdateAsync(client, DeploymentPath(ns, name) + (subresource is null ? "" : "/" + subresource), change, ct);

    /// <summary>Read, change, write back the object at <paramref name="path"/>, retried on a conflict.</summary>
    internal static async Task<JsonObject> UpdateAsync(IContainerOpsClient client, string path, Action<JsonObject> change, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var current = (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct))!;
            change(current);
            try { return (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Put, path, current, ct))!; }
            catch (Core.Api.ContainerOpsException e) when (e.Error.Kind == Core.Api.ErrorKind.Conflict && attempt < 5) { }
        }
    }

    /// <summary>Sets the replica count through the scale subresource.</summary>
    public static Task<JsonObject> ScaleDeploymentAsync(this IContainerOpsClient client, string ns, string name, int replicas, CancellationToken ct = default) =>
        client.UpdateDeploymentAsync(ns, name, scale => scale["spec"] = new JsonObject { ["replicas"] = replicas }, "scale", ct);

    public static async Task<JsonObject> DeleteDeploymentAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Delete, DeploymentPath(ns, name), new JsonObject { ["apiVersion"] = "v1", ["kind"] = "DeleteOptions", ["propagationPolicy"] = "Background" }, ct))!;
}
