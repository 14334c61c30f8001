using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// authorization.k8s.io/v1: access reviews answered by the RBAC authorizer (<see cref="Rbac"/>), so `kubectl auth
/// can-i` (with --as, --list) and tools that ask before they act get the answer their request would get.
/// SelfSubjectAccessReview and SelfSubjectRulesReview ask about the caller; SubjectAccessReview (and its namespaced
/// LocalSubjectAccessReview) about any user, for those allowed to create them.
/// </summary>
public static class Authorization
{
    public const string Group = "authorization.k8s.io";
    public const string Version = "v1";
    private const string GroupVersion = Group + "/" + Version;

    public static JsonObject GroupDocument() => Discovery.ServedGroup(Group, Version);

    public static JsonObject ResourceList()
    {
        static JsonObject Resource(string name, string kind, bool namespaced) => new()
        {
            ["name"] = name, ["singularName"] = name[..^1], ["namespaced"] = namespaced, ["kind"] = kind, ["verbs"] = new JsonArray("create"),
        };
        return new JsonObject
        {
            ["kind"] = "APIResourceList", ["apiVersion"] = "v1", ["groupVersion"] = GroupVersion,
            ["resources"] = new JsonArray(
                Resource("localsubjectaccessreviews", "LocalSubjectAccessReview", true),
                Resource("selfsubjectaccessreviews", "SelfSubjectAccessReview", false),
                Resource("selfsubjectrulesreviews", "SelfSubjectRulesReview", false),
                Resource("subjectaccessreviews", "SubjectAccessReview", false)),
        };
    }

    /// <summary>The answer to a review (<paramref name="resource"/>, its body <paramref name="review"/>) made by
    /// <paramref name="caller"/>; <paramref name="ns"/> is a LocalSubjectAccessReview's namespace.</summary>
    public static JsonObject Review(ClusterObjects objects, UserInfo caller, string resource, JsonObject review, string? ns)
    {
        var spec = review["spec"] as JsonObject ?? [];
        var kind = resource switch
        {
            "selfsubjectrulesreviews" => "SelfSubjectRulesReview",
            "selfsubjectaccessreviews" => "SelfSubjectAccessReview",
            "subjectaccessreviews" => "SubjectAccessReview",
            "localsubjectaccessreviews" => "LocalSubjectAccessReview",
            _ => throw StatusException.PathNotFound(),
        };
        if (Json.Str(review["kind"]) is { Length: > 0 } sent && sent != kind)
            throw StatusException.BadRequest($"the body of a {resource} request must be a {kind}, not {sent}");
        JsonObject status;
        if (kind == "SelfSubjectRulesReview")
        {
            var inNs = Json.Str(spec["namespace"]) ?? "";
            var (resourceRules, nonResourceRules) = Rbac.RulesFor(objects, caller, inNs);
            status = new JsonObject { ["resourceRules"] = resourceRules, ["nonResourceRules"] = nonResourceRules, ["incomplete"] = false };
        }
        else
        {
            var user = kind.StartsWith("Self", StringComparison.Ordinal) ? caller : Subject(spec);
            var request = RequestOf(spec, kind, ns);
            var decision = Rbac.Authorize(objects, user, request);
            status = new JsonObject { ["allowed"] = decision.Allowed };
            if (decision.Reason.Length > 0) status["reason"] = decision.Reason;
        }
        var metadata = new JsonObject { ["creationTimestamp"] = null };
        if (ns is not null) metadata["namespace"] = ns;
        return new JsonObject
        {
            ["kind"] = kind, ["apiVersion"] = GroupVersion, ["metadata"] = metadata,
            ["spec"] = spec.DeepClone(), ["status"] = status,
        };
    }

    /// <summary>The user a SubjectAccessReview asks about: its user, groups, uid and extra values.</summary>
    private static UserInfo Subject(JsonObject spec)
    {
        var user = Json.Str(spec["user"]) ?? "";
        var groups = (spec["groups"] as JsonArray)?.Select(g => Json.Str(g) ?? "").ToList() ?? [];
        if (user.Length == 0 && groups.Count == 0)
            throw StatusException.Invalid("SubjectAccessReview", Group, "", [FieldError.Invalid("spec.user", "", "at least one of user or group must be specified")]);
        var extra = (spec["extra"] as JsonObject)?.ToDictionary(kv => kv.Key, kv => (kv.Value as JsonArray)?.Select(v => Json.Str(v) ?? "").ToArray() ?? [])
            ?? new Dictionary<string, string[]>();
        return new UserInfo(user, Json.Str(spec["uid"]) ?? "", groups, extra);
    }

    private static AccessRequest RequestOf(JsonObject spec, string kind, string? ns)
    {
        if (spec["resourceAttributes"] is JsonObject a)
        {
            var inNs = Json.Str(a["namespace"]) ?? "";
            if (ns is not null && inNs != ns)
                throw StatusException.Invalid(kind, Group, "", [FieldError.Invalid("spec.resourceAttributes.namespace", inNs, "must match metadata.namespace")]);
            return new AccessRequest(Json.Str(a["verb"]) ?? "", Json.Str(a["group"]) ?? "", Json.Str(a["resource"]) ?? "",
                Json.Str(a["subresource"]) ?? "", inNs, Json.Str(a["name"]) ?? "");
        }
        if (spec["nonResourceAttributes"] is JsonObject n && ns is null)
            return AccessRequest.NonResource(Json.Str(n["verb"]) ?? "", Json.Str(n["path"]) ?? "");
        throw StatusException.Invalid(kind, Group, "",
            [FieldError.Invalid("spec.resourceAttributes", "null", ns is null ? "exactly one of nonResourceAttributes or resourceAttributes must be specified" : "resourceAttributes must be specified")]);
    }
}
