using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The ServiceAccount admission of pods: a pod runs as its namespace's "default" account unless it names one, the
/// account must exist (403 as the API server words it), a pod that names no image pull secrets gets its account's — so
/// a namespace's registry login can live on its account — and, unless the pod or its account says
/// automountServiceAccountToken: false, the account's token is mounted in every container at
/// /var/run/secrets/kubernetes.io/serviceaccount: a projected volume kube-api-access-* of a bound token the node
/// writes and renews, the cluster's CA (the kube-root-ca.crt ConfigMap) and the namespace.
/// </summary>
internal static class ServiceAccounts
{
    public const string TokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
    /// <summary>The token's lifetime as the API server's admission asks for it (an hour and seven seconds).</summary>
    private const long TokenExpirationSeconds = 3607;

    internal static void Admit(IClusterStore store, ResourceKind kind, string? ns, JsonObject pod, bool mountToken)
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
        var serviceAccount = ClusterObjects.Parse(stored.Value);
        if (spec["imagePullSecrets"] is not JsonArray { Count: > 0 } && serviceAccount["imagePullSecrets"] is JsonArray { Count: > 0 } secrets)
            spec["imagePullSecrets"] = secrets.DeepClone();
        var automount = spec["automountServiceAccountToken"] is JsonValue own && own.TryGetValue<bool>(out var podSays) ? podSays
            : serviceAccount["automountServiceAccountToken"] is not JsonValue accountValue || !accountValue.TryGetValue<bool>(out var accountSays) || accountSays;
        if (mountToken && automount) MountToken(spec);
    }

    private static void MountToken(JsonObject spec)
    {
        var containers = new[] { "initContainers", "containers" }.SelectMany(list => (spec[list] as JsonArray)?.OfType<JsonObject>() ?? []).ToList();
        // A pod that mounts something of its own there already keeps it.
        if (containers.Any(c => ((c["volumeMounts"] as JsonArray)?.OfType<JsonObject>() ?? []).Any(m => Json.Str(m["mountPath"])?.TrimEnd('/') == TokenMountPath)))
            return;
        if (spec["volumes"] is not JsonArray volumes) spec["volumes"] = volumes = [];
        var name = "kube-api-access-" + ClusterObjects.RandomSuffix();
        volumes.Add((JsonNode)new JsonObject
        {
            ["name"] = name,
            ["projected"] = new JsonObject
            {
                ["defaultMode"] = 420,
                ["sources"] = new JsonArray(
                    new JsonObject { ["serviceAccountToken"] = new JsonObject { ["expirationSeconds"] = TokenExpirationSeconds, ["path"] = "token" } },
                    new JsonObject { ["configMap"] = new JsonObject { ["name"] = Controllers.RootCaPublisher.ConfigMapName, ["items"] = new JsonArray(new JsonObject { ["key"] = "ca.crt", ["path"] = "ca.crt" }) } },
                    new JsonObject { ["downwardAPI"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["path"] = "namespace", ["fieldRef"] = new JsonObject { ["apiVersion"] = "v1", ["fieldPath"] = "metadata.namespace" } }) } }),
            },
        });
        foreach (var c in containers)
        {
            if (c["volumeMounts"] is not JsonArray mounts) c["volumeMounts"] = mounts = [];
            mounts.Add((JsonNode)new JsonObject { ["name"] = name, ["readOnly"] = true, ["mountPath"] = TokenMountPath });
        }
    }
}
