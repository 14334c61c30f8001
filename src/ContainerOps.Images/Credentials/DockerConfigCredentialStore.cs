using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;

namespace ContainerOps.Images.Credentials;

/// <summary>
/// Credentials in Docker's <c>config.json</c> (<c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>):
/// <c>{"auths": {"host:port": {"auth": base64("user:password")}}}</c>. Other keys of the file are kept as they are.
/// The file is replaced atomically and left readable by its owner only (0600). A credential helper named for the
/// registry in <c>credHelpers</c>, else one named by <c>credsStore</c>, keeps the secret instead, as with Docker: the
/// file then holds an empty entry for the registry.
/// </summary>
public sealed class DockerConfigCredentialStore : ICredentialStore
{
    private static readonly object FileLock = new();

    public DockerConfigCredentialStore(string? path = null) => Path = path ?? DefaultPath();

    public string Path { get; }

    public static string DefaultPath()
    {
        var dir = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        if (string.IsNullOrEmpty(dir))
            dir = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        return System.IO.Path.Combine(dir, "config.json");
    }

    public RegistryCredential? Get(string registry)
    {
        var doc = Load();
        if (HelperFor(doc, registry)?.Get(ConfigKey(registry)) is { } fromHelper) return fromHelper;
        var auths = doc["auths"] as JsonObject;
        if (auths == null) return null;
        var want = RegistryHosts.Normalize(registry);
        foreach (var (key, value) in auths)
        {
            if (RegistryHosts.Normalize(key) != want || value is not JsonObject entry) continue;
            if (Decode(entry) is { } cred) return cred;
        }
        return null;
    }

    public void Store(string registry, RegistryCredential credential)
    {
        lock (FileLock)
        {
            var doc = Load();
            var auths = doc["auths"] as JsonObject ?? new JsonObject();
            doc["auths"] = auths;
            foreach (var key in MatchingKeys(auths, registry)) auths.Remove(key);
            if (HelperFor(doc, registry) is { } helper)
            {
                helper.Store(ConfigKey(registry), credential);
                auths[ConfigKey(registry)] = new JsonObject();
            }
            else
            {
                var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes(credential.Username + ":" + credential.Secret));
                auths[ConfigKey(registry)] = new JsonObject { ["auth"] = auth };
            }
            Save(doc);
        }
    }

    public bool Erase(string registry)
    {
        lock (FileLock)
        {
            var doc = Load();
            HelperFor(doc, registry)?.Erase(ConfigKey(registry));
            if (doc["auths"] is not JsonObject auths) return false;
            var keys = MatchingKeys(auths, registry);
            if (keys.Count == 0) return false;
            foreach (var key in keys) auths.Remove(key);
            Save(doc);
            return true;
        }
    }

    /// <summary>The helper for <paramref name="registry"/>: its entry in credHelpers, else credsStore, else none.</summary>
    private CredentialHelper? HelperFor(JsonObject doc, string registry)
    {
        if (doc["credHelpers"] is JsonObject helpers)
            foreach (var key in MatchingKeys(helpers, registry))
                if (helpers[key] is JsonValue v && v.TryGetValue<string>(out var name) && name.Length > 0)
                    return new CredentialHelper(name, Path);
        return doc["credsStore"] is JsonValue store && store.TryGetValue<string>(out var storeName) && storeName.Length > 0
            ? new CredentialHelper(storeName, Path)
            : null;
    }

    private static List<string> MatchingKeys(JsonObject auths, string registry)
    {
        var want = RegistryHosts.Normalize(registry);
        return auths.Where(kv => RegistryHosts.Normalize(kv.Key) == want).Select(kv => kv.Key).ToList();
    }

    /// <summary>Docker keeps Docker Hub under its v1 index URL and every other registry under its host[:port].</summary>
    private static string ConfigKey(string registry)
    {
        var host = RegistryHosts.Normalize(registry);
        return host == "docker.io" ? RegistryHosts.DockerHubConfigKey : host;
    }

    internal static RegistryCredential? Decode(JsonObject entry)
    {
        if (entry["auth"] is JsonValue v && v.TryGetValue<string>(out var auth) && auth.Length > 0)
        {
            string text;
            try { text = Encoding.UTF8.GetString(Convert.FromBase64String(auth)); }
            catch (FormatException) { return null; }
            var colon = text.IndexOf(':');
            return colon < 0 ? null : new RegistryCredential(text[..colon], text[(colon + 1)..]);
        }
        if (entry["username"] is JsonValue u && u.TryGetValue<string>(out var user) &&
            entry["password"] is JsonValue p && p.TryGetValue<string>(out var pass))
            return new RegistryCredential(user, pass);
        return null;
    }

    private JsonObject Load()
    {
        if (!File.Exists(Path)) return new JsonObject();
        try
        {
            var text = File.ReadAllText(Path);
            return string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject();
        }
        catch (JsonException e)
        {
            // The parser's message may quote the file's content; keep it out.
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCredentialFile",
                $"{Path} is not valid JSON (line {e.LineNumber + 1})", Path, inner: null);
        }
    }

    private void Save(JsonObject doc)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        if (!Directory.Exists(dir) && !OperatingSystem.IsWindows())
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        AtomicFile.WriteAllText(Path, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
