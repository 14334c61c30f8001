namespace ContainerOps.Images.Credentials;

/// <summary>A user name and its password or token for one registry. <see cref="ToString"/> never shows the secret,
/// so a credential can be logged or put in a message by mistake without leaking.</summary>
public sealed class RegistryCredential
{
    public RegistryCredential(string username, string secret)
    {
        Username = username ?? "";
        Secret = secret ?? "";
    }

    public string Username { get; }
    public string Secret { get; }

    public override string ToString() => $"{Username}:***";
}

/// <summary>Where registry credentials are kept (by registry host, e.g. <c>docker.io</c> or <c>127.0.0.1:5000</c>).</summary>
public interface ICredentialStore
{
    RegistryCredential? Get(string registry);
    void Store(string registry, RegistryCredential credential);
    /// <summary>Forgets the registry's credentials; false when there were none.</summary>
    bool Erase(string registry);
}

/// <summary>Credentials held in memory (explicit <c>-Credential</c> arguments, tests).</summary>
public sealed class InMemoryCredentialStore : ICredentialStore
{
    private readonly Dictionary<string, RegistryCredential> _map = new(StringComparer.OrdinalIgnoreCase);

    public RegistryCredential? Get(string registry)
    {
        lock (_map) return _map.GetValueOrDefault(RegistryHosts.Normalize(registry));
    }

    public void Store(string registry, RegistryCredential credential)
    {
        lock (_map) _map[RegistryHosts.Normalize(registry)] = credential;
    }

    public bool Erase(string registry)
    {
        lock (_map) return _map.Remove(RegistryHosts.Normalize(registry));
    }
}
