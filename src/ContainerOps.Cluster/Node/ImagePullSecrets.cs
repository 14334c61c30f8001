using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A pod's image pull secrets as the kubelet reads them: each Secret named in spec.imagePullSecrets, of type
/// kubernetes.io/dockerconfigjson (<c>.dockerconfigjson</c>: {"auths": {registry: {auth | username, password}}}) or
/// the older kubernetes.io/dockercfg (<c>.dockercfg</c>: the auths map alone), becomes one Docker config document the
/// image engine takes credentials from before the node's own. A secret that is missing or of another shape is an
/// event on the pod, and the pull goes on without it, as the kubelet's does.
/// </summary>
public static class ImagePullSecrets
{
    /// <summary>The Docker config documents ({"auths": …}) of the pod's pull secrets, in the order the pod names them.</summary>
    public static IReadOnlyList<string> Read(ClusterObjects objects, JsonObject pod)
    {
        var ns = Json.Str(pod["metadata"]?["namespace"]) ?? "default";
        var documents = new List<string>();
        var missing = new List<string>();
        foreach (var reference in pod["spec"]?["imagePullSecrets"] as JsonArray ?? [])
        {
            var name = Json.Str(reference?["name"]);
            if (string.IsNullOrEmpty(name)) continue;
            if (objects.Store.Get(ResourceKinds.Secret.Key(ns, name)) is not { } stored || Document(ClusterObjects.Parse(stored.Value)) is not { } document)
            {
                missing.Add(name);
                continue;
            }
            documents.Add(document);
        }
        if (missing.Count > 0)
            Events.Record(objects, pod, "Warning", "FailedToRetrieveImagePullSecret",
                $"Unable to retrieve some image pull secrets ({string.Join(", ", missing)}); attempting to pull the image may not succeed.", "kubelet");
        return documents;
    }

    /// <summary>The secret's Docker config as {"auths": …}, or null when it holds none.</summary>
    private static string? Document(JsonObject secret)
    {
        var data = secret["data"] as JsonObject;
        try
        {
            if (Json.Str(data?[".dockerconfigjson"]) is { Length: > 0 } config
                && JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(config))) is JsonObject { } doc && doc["auths"] is JsonObject)
                return doc.ToJsonString();
            if (Json.Str(data?[".dockercfg"]) is { Length: > 0 } legacy
                && JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(legacy))) is JsonObject auths)
                return new JsonObject { ["auths"] = auths }.ToJsonString();
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException) { }
        return null;
    }
}
