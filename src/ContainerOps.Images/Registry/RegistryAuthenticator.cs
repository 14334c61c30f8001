using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Credentials;

namespace ContainerOps.Images.Registry;

/// <summary>
/// Answers a registry's 401 challenges: Basic with the stored credentials, or Bearer by fetching a token from the
/// challenge's realm (with Basic credentials when there are some, anonymously otherwise). Tokens are cached per
/// realm, service and scope until shortly before they expire. Secrets stay in headers; nothing here logs or
/// puts them in a message.
/// </summary>
internal sealed class RegistryAuthenticator
{
    private readonly HttpClient _http;
    private readonly string _registry;
    private readonly RegistryCredential? _credential;
    private readonly Dictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _tokenLock = new(1, 1);
    private volatile AuthChallenge? _challenge; // the registry's scheme, learnt from its first 401

    public RegistryAuthenticator(HttpClient http, string registry, RegistryCredential? credential)
    {
        _http = http;
        _registry = registry;
        _credential = credential;
    }

    public bool HasCredential => _credential != null;

    /// <summary>The Authorization header to send for <paramref name="scope"/> before any challenge, if one is known.</summary>
    public AuthenticationHeaderValue? Cached(string scope)
    {
        var ch = _challenge;
        if (ch == null) return null;
        if (ch.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)) return BasicHeader();
        lock (_tokens)
            return _tokens.TryGetValue(Key(ch, scope), out var t) && t.Expires > DateTimeOffset.UtcNow
                ? new AuthenticationHeaderValue("Bearer", t.Token) : null;
    }

    /// <summary>Handles a 401: returns the header to retry with, or null when there is nothing better to try.</summary>
    public async Task<AuthenticationHeaderValue?> Answer(HttpResponseMessage unauthorized, string scope, string target, CancellationToken ct)
    {
        var challenges = AuthChallenge.From(unauthorized.Headers);
        var bearer = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) && c.Realm != null);
        if (bearer != null)
        {
            _challenge = bearer;
            return new AuthenticationHeaderValue("Bearer", await Token(bearer, scope, target, ct));
        }
        var basic = challenges.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase));
        if (basic != null && _credential != null)
        {
            _challenge = basic;
            return BasicHeader();
        }
        return null;
    }

    private AuthenticationHeaderValue? BasicHeader() => _credential == null ? null
        : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(_credential.Username + ":" + _credential.Secret)));

    private static string Key(AuthChallenge ch, string scope) => ch.Realm + "\n" + ch.Service + "\n" + scope;

    private async Task<string> Token(AuthChallenge ch, string scope, string target, CancellationToken ct)
    {
        // The registry's own scope wins when it asks for more than we guessed (e.g. a mount needs the source repo).
        var scopes = new SortedSet<string>(StringComparer.Ordinal);
        if (scope.Length > 0) foreach (var s in scope.Split(' ', StringSplitOptions.RemoveEmptyEntries)) scopes.Add(s);
        if (ch.Scope != null) foreach (var s in ch.Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries)) scopes.Add(s);
        var key = Key(ch, string.Join(' ', scopes));
        await _tokenLock.WaitAsync(ct);
        try
        {
            lock (_tokens)
                if (_tokens.TryGetValue(key, out var cached) && cached.Expires > DateTimeOffset.UtcNow) { _tokens[Key(ch, scope)] = cached; return cached.Token; }

            var query = new StringBuilder();
            if (ch.Service != null) query.Append("service=").Append(Uri.EscapeDataString(ch.Service));
            foreach (var s in scopes) query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(s));
            var realm = ch.Realm!;
            if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("https" or "http"))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidAuthChallenge", $"registry {_registry} names an unusable token realm", _registry);
            var url = realm + (query.Length == 0 ? "" : (realm.Contains('?') ? "&" : "?") + query);
            using var req = new HttpRequestMessage(HttpMethod.Get, url);
            if (_credential != null) req.Headers.Authorization = BasicHeader();
            HttpResponseMessage resp;
            try { resp = await _http.SendAsync(req, ct); }
            catch (HttpRequestException e) { throw RegistryErrors.Unreachable(realmUri.Authority, e); }
            using (resp)
            {
                if (resp.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                    throw RegistryErrors.Unauthorized(target, _credential == null
                        ? " (the token service refused anonymous access; log in first)"
                        : $" (the token service refused the credentials of user '{_credential.Username}')");
                if (!resp.IsSuccessStatusCode) throw await RegistryErrors.FromResponse(resp, "token request", target, ct);
                JsonObject doc;
                try { doc = JsonNode.Parse(await resp.Content.ReadAsStringAsync(ct)) as JsonObject ?? new JsonObject(); }
                catch (System.Text.Json.JsonException) { doc = new JsonObject(); }
                var token = (doc["token"] ?? doc["access_token"])?.GetValue<string>();
                if (string.IsNullOrEmpty(token))
                    throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "InvalidTokenResponse", $"token service of {_registry} returned no token", _registry);
                var lifetime = doc["expires_in"] is JsonValue v && v.TryGetValue<int>(out var secs) && secs > 0 ? secs : 60;
                var issued = doc["issued_at"] is JsonValue iv && iv.TryGetValue<string>(out var ist) && DateTimeOffset.TryParse(ist, out var at) ? at : DateTimeOffset.UtcNow;
                if (issued > DateTimeOffset.UtcNow) issued = DateTimeOffset.UtcNow;
                // Renew a little early so a token never expires in the middle of a request.
                var expires = issued.AddSeconds(lifetime) - TimeSpan.FromSeconds(Math.Min(10, lifetime / 4));
                lock (_tokens) { _tokens[key] = (token, expires); _tokens[Key(ch, scope)] = (token, expires); }
                return token;
            }
        }
        finally { _tokenLock.Release(); }
    }
}
