using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Security;

namespace ContainerOps.Cluster.Api;

/// <summary>Who made a request, as the API server names users: a user name, a uid, groups and extra values.</summary>
public sealed record UserInfo(string Username, string Uid, IReadOnlyList<string> Groups, IReadOnlyDictionary<string, string[]> Extra)
{
    /// <summary>Whoever reaches the daemon's root-only socket.</summary>
    public static readonly UserInfo Local = new("system:admin", "", ["system:masters", "system:authenticated"], new Dictionary<string, string[]>());

    /// <summary>A client certificate's user: its common name, its organizations as groups.</summary>
    public static UserInfo FromCertificate(X509Certificate2 certificate)
    {
        var subject = certificate.SubjectName.EnumerateRelativeDistinguishedNames().ToList();
        string[] Values(string oid) => subject.Where(r => r.GetSingleElementType().Value == oid).Select(r => r.GetSingleElementValue() ?? "").ToArray();
        var groups = Values("2.5.4.10").Append("system:authenticated").Distinct().ToList();
        return new UserInfo(Values("2.5.4.3").FirstOrDefault() ?? "", "", groups, new Dictionary<string, string[]>());
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["username"] = Username };
        if (Uid.Length > 0) o["uid"] = Uid;
        o["groups"] = new JsonArray(Groups.Select(g => (JsonNode)g).ToArray());
        if (Extra.Count > 0)
            o["extra"] = new JsonObject(Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonArray(kv.Value.Select(v => (JsonNode)v).ToArray()))));
        return o;
    }
}

/// <summary>
/// Service account tokens as the API server deals in them (authentication.k8s.io/v1): the TokenRequest subresource
/// of a ServiceAccount (`kubectl create token`) issues one, bound to the account and, if asked, to a pod or secret;
/// a request that presents one as a bearer token acts as `system:serviceaccount:NS:NAME` for as long as the token has
/// not expired and the account (and the bound object) still exist with the uids it names; TokenReview checks one for
/// another party; SelfSubjectReview (`kubectl auth whoami`) says who the caller is. What the user may then do is
/// RBAC's to say (<see cref="Rbac"/>).
/// </summary>
public static class Authentication
{
    public const string Group = "authentication.k8s.io";
    public const string Version = "v1";
    private const string GroupVersion = Group + "/" + Version;
    private const long MinExpirationSeconds = 600;
    /// <summary>A token's lifetime when its request names none.</summary>
    internal const long DefaultExpirationSeconds = 3600;
    private const long MaxExpirationSeconds = 1L << 32;
    private const string ClaimsKey = "kubernetes.io";

    public static JsonObject GroupDocument() => Discovery.ServedGroup(Group, Version);

    public static JsonObject ResourceList() => new()
    {
        ["kind"] = "APIResourceList", ["apiVersion"] = "v1", ["groupVersion"] = GroupVersion,
        ["resources"] = new JsonArray(
            new JsonObject { ["name"] = "selfsubjectreviews", ["singularName"] = "selfsubjectreview", ["namespaced"] = false, ["kind"] = "SelfSubjectReview", ["verbs"] = new JsonArray("create") },
            new JsonObject { ["name"] = "tokenreviews", ["singularName"] = "tokenreview", ["namespaced"] = false, ["kind"] = "TokenReview", ["verbs"] = new JsonArray("create") }),
    };

    /// <summary>serviceaccounts/token in the core group's resource list, where kubectl looks for it.</summary>
    public static JsonObject TokenSubresource() => new()
    {
        ["name"] = "serviceaccounts/token", ["singularName"] = "", ["namespaced"] = true, ["group"] = Group, ["version"] = Version,
        ["kind"] = "TokenRequest", ["verbs"] = new JsonArray("create"),
    };

    /// <summary>POST serviceaccounts/NAME/token: a TokenRequest answered with its token.</summary>
    public static JsonObject RequestToken(ClusterObjects objects, ServiceAccountTokens tokens, string ns, string name, JsonObject request, DateTimeOffset now)
    {
        if (Json.Str(request["kind"]) is { } kind && kind != "TokenRequest")
            throw StatusException.BadRequest($"the body of a token request must be a TokenRequest, not {kind}");
        var spec = request["spec"] as JsonObject ?? [];
        var errors = new List<FieldError>();
        var expiration = DefaultExpirationSeconds;
        if (spec["expirationSeconds"] is { } e)
        {
            if (e is not JsonValue v || !v.TryGetValue<long>(out expiration))
                errors.Add(FieldError.InvalidRaw("spec.expirationSeconds", e.ToJsonString(), "must be an integer"));
            else if (expiration < MinExpirationSeconds)
                errors.Add(FieldError.InvalidRaw("spec.expirationSeconds", expiration.ToString(), "may not specify a duration less than 10 minutes"));
            else if (expiration > MaxExpirationSeconds)
                errors.Add(FieldError.InvalidRaw("spec.expirationSeconds", expiration.ToString(), "may not specify a duration larger than 2^32 seconds"));
        }
        var audiences = (spec["audiences"] as JsonArray ?? []).Select(Json.Str).OfType<string>().ToList();
        if (audiences.Count == 0) audiences.Add(tokens.Issuer);
        var bound = spec["boundObjectRef"] as JsonObject;
        if (bound is not null)
        {
            var boundKind = Json.Str(bound["kind"]);
            if (boundKind is not ("Pod" or "Secret"))
                errors.Add(FieldError.Unsupported("spec.boundObjectRef.kind", boundKind, ["Pod", "Secret"]));
            if (Json.Str(bound["name"]) is not { Length: > 0 }) errors.Add(FieldError.Required("spec.boundObjectRef.name"));
        }
        if (errors.Count > 0) throw StatusException.Invalid("TokenRequest", Group, name, errors);

        var account = objects.Get(ResourceKinds.ServiceAccount, ns, name);
        var claims = new JsonObject
        {
            ["namespace"] = ns,
            ["serviceaccount"] = new JsonObject { ["name"] = name, ["uid"] = Json.Str(account["metadata"]?["uid"]) },
        };
        if (bound is not null)
        {
            var boundKind = Json.Str(bound["kind"])!;
            var boundName = Json.Str(bound["name"])!;
            var target = objects.Get(boundKind == "Pod" ? ResourceKinds.Pod : ResourceKinds.Secret, ns, boundName);
            var uid = Json.Str(target["metadata"]?["uid"]);
            if (Json.Str(bound["uid"]) is { Length: > 0 } wanted && wanted != uid)
                throw new StatusException(409, "Conflict",
                    $"the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated");
            if (boundKind == "Pod" && Json.Str(target["spec"]?["serviceAccountName"]) is { } podAccount && podAccount != name)
                throw StatusException.BadRequest($"cannot bind a token to pod {boundName}: it runs as service account {podAccount}, not {name}");
            claims[boundKind == "Pod" ? "pod" : "secret"] = new JsonObject { ["name"] = boundName, ["uid"] = uid };
        }

        var issued = now.ToUnixTimeSeconds();
        var expires = now.AddSeconds(expiration);
        var token = tokens.Sign(new JsonObject
        {
            ["aud"] = new JsonArray(audiences.Select(a => (JsonNode)a).ToArray()),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["iat"] = issued,
            ["jti"] = Guid.NewGuid().ToString(),
            [ClaimsKey] = claims,
            ["nbf"] = issued,
            ["sub"] = $"system:serviceaccount:{ns}:{name}",
        });
        var answered = new JsonObject { ["audiences"] = new JsonArray(audiences.Select(a => (JsonNode)a).ToArray()), ["expirationSeconds"] = expiration };
        if (bound is not null) answered["boundObjectRef"] = bound.DeepClone();
        return new JsonObject
        {
            ["kind"] = "TokenRequest", ["apiVersion"] = GroupVersion,
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["creationTimestamp"] = Json.Timestamp(now) },
            ["spec"] = answered,
            ["status"] = new JsonObject { ["token"] = token, ["expirationTimestamp"] = Json.Timestamp(expires) },
        };
    }

    /// <summary>The user a bearer token stands for, if it is a live token of this cluster meant for
    /// <paramref name="audiences"/> (the API server's own when none); null with why otherwise.</summary>
    public static UserInfo? Authenticate(ClusterObjects objects, ServiceAccountTokens tokens, string token, DateTimeOffset now,
        IReadOnlyCollection<string>? audiences, out string problem, out List<string> matchedAudiences)
    {
        matchedAudiences = [];
        if (tokens.Verify(token, now, out problem) is not { } claims) return null;
        var wanted = audiences is { Count: > 0 } ? audiences : [tokens.Issuer];
        var aud = claims["aud"] switch
        {
            JsonArray a => a.Select(Json.Str).OfType<string>().ToList(),
            JsonValue v when Json.Str(v) is { } one => [one],
            _ => [],
        };
        matchedAudiences = aud.Where(wanted.Contains).ToList();
        if (matchedAudiences.Count == 0) { problem = "token audiences are not accepted by this server"; return null; }
        var k8s = claims[ClaimsKey] as JsonObject;
        var ns = Json.Str(k8s?["namespace"]);
        var accountName = Json.Str(k8s?["serviceaccount"]?["name"]);
        var accountUid = Json.Str(k8s?["serviceaccount"]?["uid"]);
        if (ns is null || accountName is null) { problem = "not a service account token"; return null; }
        if (Live(objects, ResourceKinds.ServiceAccount, ns, accountName, accountUid) is { } gone) { problem = gone; return null; }
        var extra = new Dictionary<string, string[]>();
        if (Json.Str(claims["jti"]) is { } jti) extra["authentication.kubernetes.io/credential-id"] = [$"JTI={jti}"];
        if (k8s!["pod"] is JsonObject pod)
        {
            if (Live(objects, ResourceKinds.Pod, ns, Json.Str(pod["name"]) ?? "", Json.Str(pod["uid"])) is { } podGone) { problem = podGone; return null; }
            extra["authentication.kubernetes.io/pod-name"] = [Json.Str(pod["name"]) ?? ""];
            extra["authentication.kubernetes.io/pod-uid"] = [Json.Str(pod["uid"]) ?? ""];
        }
        if (k8s["secret"] is JsonObject secret
            && Live(objects, ResourceKinds.Secret, ns, Json.Str(secret["name"]) ?? "", Json.Str(secret["uid"])) is { } secretGone) { problem = secretGone; return null; }
        return new UserInfo($"system:serviceaccount:{ns}:{accountName}", accountUid ?? "",
            ["system:serviceaccounts", $"system:serviceaccounts:{ns}", "system:authenticated"], extra);
    }

    /// <summary>Why a token's object no longer counts (gone, deleted, or made again), or null while it does.</summary>
    private static string? Live(ClusterObjects objects, ResourceKind kind, string ns, string name, string? uid)
    {
        JsonObject o;
        try { o = objects.Get(kind, ns, name); }
        catch (StatusException e) when (e.Code == 404) { return $"{kind.Resource} \"{name}\" not found"; }
        if (uid is not null && Json.Str(o["metadata"]?["uid"]) != uid) return $"the {kind.Kind} {ns}/{name} has been deleted and made again";
        if (o["metadata"]?["deletionTimestamp"] is not null) return $"the {kind.Kind} {ns}/{name} is being deleted";
        return null;
    }

    /// <summary>POST tokenreviews: whether spec.token is a live token, and whose.</summary>
    public static JsonObject ReviewToken(ClusterObjects objects, ServiceAccountTokens tokens, JsonObject review, DateTimeOffset now)
    {
        var token = Json.Str(review["spec"]?["token"]);
        if (string.IsNullOrEmpty(token)) throw StatusException.Invalid("TokenReview", Group, null, [FieldError.Required("spec.token")]);
        var audiences = (review["spec"]?["audiences"] as JsonArray ?? []).Select(Json.Str).OfType<string>().ToList();
        var status = new JsonObject();
        if (Authenticate(objects, tokens, token, now, audiences, out var problem, out var matched) is { } user)
        {
            status["authenticated"] = true;
            status["user"] = user.ToJson();
            status["audiences"] = new JsonArray(matched.Select(a => (JsonNode)a).ToArray());
        }
        else
        {
            status["authenticated"] = false;
            status["error"] = "[invalid bearer token, " + problem + "]";
        }
        return new JsonObject
        {
            ["kind"] = "TokenReview", ["apiVersion"] = GroupVersion, ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = review["spec"]?.DeepClone(), ["status"] = status,
        };
    }

    /// <summary>POST selfsubjectreviews: the caller as the server sees it (the body says nothing more).</summary>
    public static JsonObject ReviewSelf(UserInfo user) => new()
    {
        ["kind"] = "SelfSubjectReview", ["apiVersion"] = GroupVersion, ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
        ["status"] = new JsonObject { ["userInfo"] = user.ToJson() },
    };
}
