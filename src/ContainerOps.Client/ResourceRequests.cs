using System.Text.Json.Nodes;

namespace ContainerOps.Client;

/// <summary>One kind of cluster object through the daemon's Kubernetes API on its socket: list, get, create,
/// read-change-write and delete at its REST path (`apis/batch/v1` + `jobs`), errors as <see cref="PodRequests"/>
/// makes them. The per-kind request classes are thin names over this. A null namespace: all of them (lists), or a
/// kind that belongs to none.</summary>
public sealed class ResourceRequests(string groupVersionPath, string resource)
{
    public string Collection(string? ns) =>
        ns is null ? $"{groupVersionPath}/{resource}" : $"{groupVersionPath}/namespaces/{Uri.EscapeDataString(ns)}/{resource}";

    public string ItemPath(string? ns, string name) => $"{Collection(ns)}/{Uri.EscapeDataString(name)}";

    public Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string? ns, string? labelSelector, CancellationToken ct) =>
        ListAtAsync(client, Collection(ns), labelSelector, ct);

    /// <summary>The items of the list at <paramref name="path"/>, of a label selector if given.</summary>
    internal static async Task<List<JsonObject>> ListAtAsync(IContainerOpsClient client, string path, string? labelSelector, CancellationToken ct)
    {
        if (labelSelector is { Length: > 0 }) path += "?labelSelector=" + Uri.EscapeDataString(labelSelector);
        var list = await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct);
        return (list?["items"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
    }

    public async Task<JsonObject> GetAsync(IContainerOpsClient client, string? ns, string name, CancellationToken ct) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, ItemPath(ns, name), null, ct))!;

    public async Task<JsonObject> CreateAsync(IContainerOpsClient client, string? ns, JsonObject o, CancellationToken ct) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Post, Collection(ns), o, ct))!;

    public Task<JsonObject> UpdateAsync(IContainerOpsClient client, string ns, string name, Action<JsonObject> change, CancellationToken ct) =>
        ReadModifyWriteAsync(client, ItemPath(ns, name), change, ct);

    /// <summary>GET, change, PUT the object at <paramref name="path"/> with the resourceVersion read (so nobody's change
    /// in between is lost), retried on a conflict.</summary>
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

    /// <summary>A JSON merge patch (fields set or, as null, removed) of the object: no read-modify-write race with
    /// other writers of its other fields.</summary>
    public async Task<JsonObject> PatchAsync(IContainerOpsClient client, string? ns, string name, JsonObject patch, CancellationToken ct) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Patch, ItemPath(ns, name), patch, ct, "application/merge-patch+json"))!;

    /// <param name="propagation">Background (dependents go after), Foreground (before) or Orphan (they stay).</param>
    public async Task<JsonObject> DeleteAsync(IContainerOpsClient client, string? ns, string name, string propagation, CancellationToken ct) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Delete, ItemPath(ns, name),
            new JsonObject { ["apiVersion"] = "v1", ["kind"] = "DeleteOptions", ["propagationPolicy"] = propagation }, ct))!;
}
