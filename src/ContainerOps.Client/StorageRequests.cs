using System.Text.Json.Nodes;

namespace ContainerOps.Client;

/// <summary>PersistentVolumeClaims (core/v1) through the daemon's Kubernetes API, for the cmdlets.</summary>
public static class StorageRequests
{
    private static readonly ResourceRequests Claims = new("api/v1", "persistentvolumeclaims");

    public static Task<List<JsonObject>> ListPersistentVolumeClaimsAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, CancellationToken ct = default) =>
        Claims.ListAsync(client, ns, labelSelector, ct);
    public static Task<JsonObject> CreatePersistentVolumeClaimAsync(this IContainerOpsClient client, string ns, JsonObject claim, CancellationToken ct = default) =>
        Claims.CreateAsync(client, ns, claim, ct);
    /// <summary>Removes a claim; one a pod still uses stays Terminating until the pod is gone (pvc-protection).</summary>
    public static Task<JsonObject> DeletePersistentVolumeClaimAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        Claims.DeleteAsync(client, ns, name, "Background", ct);
}
