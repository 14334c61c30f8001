using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A pod's PersistentVolumeClaims, as the scheduler's volume binding and the kubelet see them: whether the pod may be
/// placed on a node yet (every claim bound to a volume the node can reach; a WaitForFirstConsumer claim is given the
/// node and waited for), and the host path of a bound claim's volume.
/// </summary>
public static class PodClaims
{
    /// <summary>What the claims say about placing the pod on <paramref name="node"/>.</summary>
    public enum Verdict { Fits, Wait, Unfit }

    /// <summary>Fits when every claim is bound to a volume the node satisfies; Wait when a WaitForFirstConsumer claim
    /// has just been given this node (its provisioner and binder act next; the claim's change tries the pod again);
    /// Unfit with the scheduler's reason otherwise.</summary>
    public static (Verdict Verdict, string? Why) Check(ClusterObjects objects, JsonObject pod, JsonObject node)
    {
        var ns = Json.Str(pod["metadata"]?["namespace"]) ?? "default";
        var nodeName = Json.Str(node["metadata"]?["name"]) ?? "";
        var verdict = Verdict.Fits;
        foreach (var claimName in StorageProtectionController.ClaimsOf(pod))
        {
            if (Get(objects, ResourceKinds.PersistentVolumeClaim, ns, claimName) is not { } claim)
                return (Verdict.Unfit, $"persistentvolumeclaim \"{claimName}\" not found");
            if (claim["metadata"]?["deletionTimestamp"] is not null)
                return (Verdict.Unfit, $"persistentvolumeclaim \"{claimName}\" is being deleted");
            if (Json.Str(claim["status"]?["phase"]) == "Bound" && Json.Str(claim["spec"]?["volumeName"]) is { Length: > 0 } volumeName)
            {
                var volume = Get(objects, ResourceKinds.PersistentVolume, null, volumeName);
                if (volume?["spec"]?["nodeAffinity"]?["required"]?["nodeSelectorTerms"] is JsonArray terms && !NodeAffinity.MatchesTerms(terms, node))
                    return (Verdict.Unfit, "node(s) had volume node affinity conflict");
                continue;
            }
            var className = Json.Str(claim["spec"]?["storageClassName"]) ?? "";
            var storageClass = className.Length > 0 ? Get(objects, ResourceKinds.StorageClass, null, className) : null;
            if (Json.Str(storageClass?["volumeBindingMode"]) != "WaitForFirstConsumer")
                return (Verdict.Unfit, "pod has unbound immediate PersistentVolumeClaims");
            if (Json.Str(claim["metadata"]?["annotations"]?[PersistentVolumeBinder.SelectedNode]) != nodeName)
                objects.Update(ResourceKinds.PersistentVolumeClaim, ns, claimName, null, c =>
                {
                    Json.Child(Json.Metadata(c), "annotations")[PersistentVolumeBinder.SelectedNode] = nodeName;
                    return c;
                }, statusOnly: false, dryRun: false);
            verdict = Verdict.Wait;
        }
        return (verdict, null);
    }

    /// <summary>The node path of a claim's bound volume (spec.local or spec.hostPath) and its hostPath type check.
    /// Throws <see cref="ContainerConfigException"/> when the claim is missing or not bound.</summary>
    public static (string Path, string HostPathType) VolumePath(ClusterObjects objects, string ns, string claimName)
    {
        var claim = Get(objects, ResourceKinds.PersistentVolumeClaim, ns, claimName)
            ?? throw new ContainerConfigException($"persistentvolumeclaim \"{claimName}\" not found");
        var volumeName = Json.Str(claim["spec"]?["volumeName"]);
        if (Json.Str(claim["status"]?["phase"]) != "Bound" || string.IsNullOrEmpty(volumeName))
            throw new ContainerConfigException($"persistentvolumeclaim \"{claimName}\" is not bound");
        var volume = Get(objects, ResourceKinds.PersistentVolume, null, volumeName)
            ?? throw new ContainerConfigException($"persistentvolume \"{volumeName}\" of claim \"{claimName}\" not found");
        // A local volume's path must be there (the kubelet refuses a missing one); a hostPath one follows its type.
        if (Json.Str(volume["spec"]?["local"]?["path"]) is { Length: > 0 } local) return (local, "Directory");
        if (volume["spec"]?["hostPath"] is JsonObject host && Json.Str(host["path"]) is { Length: > 0 } path) return (path, Json.Str(host["type"]) ?? "");
        throw new ContainerConfigException($"persistentvolume \"{volumeName}\": only local and hostPath volumes can be mounted on this node");
    }

    private static JsonObject? Get(ClusterObjects objects, ResourceKind kind, string? ns, string name) =>
        objects.Store.Get(kind.Key(ns, name)) is { } stored ? ClusterObjects.Parse(stored.Value) : null;
}
