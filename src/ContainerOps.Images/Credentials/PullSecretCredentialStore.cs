using System.Text.Json.Nodes;

namespace ContainerOps.Images.Credentials;

/// <summary>
/// Credentials for one pull from Docker config documents handed over with it (a pod's image pull secrets:
/// {"auths": {"registry.example:5000": {"auth": base64("user:password")}}}), before those of a fallback store (the
/// daemon's own). The first document that names the registry wins, as the kubelet tries a pod's secrets in order.
/// Read-only: a pull never stores or forgets a login.
/// </summary>
public sealed class PullSecretCredentialStore(IReadOnlyList<string> documents, ICredentialStore? fallback) : ICredentialStore
{
    public RegistryCredential? Get(string registry)
    {
        var want = RegistryHosts.Normalize(registry);
        foreach (var document in documents)
        {
            if ((JsonNode.Parse(document) as JsonObject)?["auths"] is not JsonObject auths) continue;
            foreach (var (key, value) in auths)
                if (RegistryHosts.Normalize(key) == want && value is JsonObject entry && DockerConfigCredentialStore.Decode(entry) is { } credential)
                    return credential;
        }
        return fallback?.Get(registry);
    }

    public void Store(string registry, RegistryCredential credential) =>
        throw new InvalidOperationException("a pull's secrets are not a place to keep logins");

    public bool Erase(string registry) =>
        throw new InvalidOperationException("a pull's secrets are not a place to keep logins");
}
