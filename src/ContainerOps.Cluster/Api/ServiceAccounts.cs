using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The ServiceAccount admission of pods, as far as a node without account tokens needs it: a pod runs as its
/// namespace's "default" account unless it names one, the account must exist (403 as the API server words it), and a
/// pod that names no image pull secrets gets its account's — so a namespace's registry login can live on its account.
/// </summary>
internal static class ServiceAccounts
{
    internal static void Admit(IClusterStore store, ResourceKind kind, string? ns, JsonObject pod)
    {
        if (kind != ResourceKinds.Pod || ns is null || pod["spec"] is not JsonObject spec) return;
        var account = Json.Str(spec["serviceAccountName"]) is { Length: > 0 } named ? named
            : Json.Str(spec["serviceAccount"]) is { Length: > 0 } deprecated ? deprecated : "default";
        spec["serviceAccountName"] = account;
        spec["serviceAccount"] = account; // the deprecated field, which the API server keeps equal
        if (store.Get(ResourceKinds.ServiceAccount.Key(ns, account)) is not { } stored)
        {
            var podName = Json.Str(pod["metadata"]?["name"]) ?? Json.Str(pod["metadata"]?["generateName"]) ?? "";
            throw new StatusException(403, "Forbidden",
                $"pods \"{podName}\" is forbidden: error looking up service account {ns}/{account}: serviceaccount \"{account}\" not found",
                new JsonObject { ["name"] = podName, ["kind"] = "pods" });
        }
        if (spec["imagePullSecrets"] is JsonArray { Count: > 0 }) return;
        if (ClusterObjects.Parse(stored.Value)["imagePullSecrets"] is JsonArray { Count: > 0 } secrets) spec["imagePullSecrets"] = secrets.DeepClone();
    }
}
