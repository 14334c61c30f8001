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

    /// <summary>One StatefulSet or DaemonSet (<paramref name="resource"/>: statefulsets, daemonsets).</summary>
    public static async Task<JsonObject> GetWorkloadSetAsync(this IContainerOpsClient client, string resource, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, $"{DeploymentRequests.Collection(ns, resource)}/{Uri.EscapeDataString(name)}", null, ct))!;

    /// <summary>Replaces every pod of a StatefulSet or DaemonSet through its update strategy (`kubectl rollout
    /// restart`: the kubectl.kubernetes.io/restartedAt annotation on the pod template); the set afterwards.</summary>
    public static Task<JsonObject> RestartWorkloadSetAsync(this IContainerOpsClient client, string resource, string ns, string name, DateTime at, CancellationToken ct = default) =>
        ResourceRequests.ReadModifyWriteAsync(client, $"{DeploymentRequests.Collection(ns, resource)}/{Uri.EscapeDataString(name)}", set => MarkRestarted(set, at), ct);

    /// <summary>What `kubectl rollout restart` writes into a Deployment, StatefulSet or DaemonSet: the pod template's
    /// kubectl.kubernetes.io/restartedAt annotation, which changes the template and so replaces every pod.</summary>
    public static void MarkRestarted(JsonObject workload, DateTime at)
    {
        var template = workload["spec"]?["template"] as JsonObject
            ?? throw new InvalidOperationException($"{workload["kind"]} {workload["metadata"]?["name"]} has no pod template");
        var meta = template["metadata"] as JsonObject ?? (JsonObject)(template["metadata"] = new JsonObject());
        var annotations = meta["annotations"] as JsonObject ?? (JsonObject)(meta["annotations"] = new JsonObject());
        annotations["kubectl.kubernetes.io/restartedAt"] = at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
    }

    /// <summary>A StatefulSet or DaemonSet and the ControllerRevisions it owns, lowest revision number first (`kubectl
    /// rollout history`): each holds one pod template the set has had.</summary>
    public static async Task<(JsonObject Set, List<JsonObject> Revisions)> GetWorkloadSetHistoryAsync(this IContainerOpsClient client, string resource, string ns, string name,
        CancellationToken ct = default)
    {
        var set = await client.GetWorkloadSetAsync(resource, ns, name, ct);
        var uid = set["metadata"]?["uid"]?.GetValue<string>();
        var revisions = await ResourceRequests.ListAtAsync(client, DeploymentRequests.Collection(ns, "controllerrevisions"), null, ct);
        return (set, revisions
            .Where(r => (r["metadata"]?["ownerReferences"] as JsonArray)?.OfType<JsonObject>()
                .Any(o => o["uid"]?.GetValue<string>() == uid && o["controller"]?.GetValue<bool>() == true) == true)
            .OrderBy(RevisionNumber).ToList());
    }

    public static long RevisionNumber(JsonObject revision) => revision["revision"]?.GetValue<long>() ?? 0;

    /// <summary>The pod template a ControllerRevision holds (its data is the patch that puts it back).</summary>
    public static JsonObject TemplateOf(JsonObject revision)
    {
        var template = revision["data"]?["spec"]?["template"]?.DeepClone() as JsonObject ?? [];
        template.Remove("$patch");
        return template;
    }

    /// <summary>Rolls a StatefulSet or DaemonSet back to <paramref name="revision"/>'s pod template (`kubectl rollout
    /// undo`); the controller then rolls it out, renumbering that revision as the newest. The set afterwards.</summary>
    public static Task<JsonObject> RollBackWorkloadSetAsync(this IContainerOpsClient client, string resource, string ns, string name, JsonObject revision, CancellationToken ct = default) =>
        ResourceRequests.ReadModifyWriteAsync(client, $"{DeploymentRequests.Collection(ns, resource)}/{Uri.EscapeDataString(name)}",
            set => set["spec"]!["template"] = TemplateOf(revision), ct);

    /// <summary>Sets a StatefulSet's replica count through its scale subresource; the set as it is afterwards.</summary>
    public static async Task<JsonObject> ScaleStatefulSetAsync(this IContainerOpsClient client, string ns, string name, int replicas, CancellationToken ct = default)
    {
        var path = $"{DeploymentRequests.Collection(ns, "statefulsets")}/{Uri.EscapeDataString(name)}";
        await ResourceRequests.ReadModifyWriteAsync(client, path + "/scale", scale => scale["spec"] = new JsonObject { ["replicas"] = replicas }, ct);
        return (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct))!;
    }
}
