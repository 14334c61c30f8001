using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// authorization.k8s.io/v1 as a server that enforces no roles answers it: every access review is allowed, and says
/// why, so `kubectl auth can-i` and tools that ask before they act get the truth (an authenticated user may do
/// everything here; RBAC objects are stored, not enforced).
/// </summary>
public static class Authorization
{
    public const string Group = "authorization.k8s.io";
    public const string Version = "v1";
    private const string GroupVersion = Group + "/" + Version;
    private const string Reason = "this server enforces no authorization: every authenticated user may do everything";

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

    /// <summary>The answer to a review of <paramref name="resource"/>; <paramref name="spec"/> is the request's, when it
    /// could be read (it is echoed, as the API server does).</summary>
    public static JsonObject Review(string resource, JsonNode? spec, string? ns)
    {
        var (kind, status) = resource switch
        {
            "selfsubjectrulesreviews" => ("SelfSubjectRulesReview", new JsonObject
            {
                ["resourceRules"] = new JsonArray(new JsonObject { ["verbs"] = new JsonArray("*"), ["apiGroups"] = new JsonArray("*"), ["resources"] = new JsonArray("*") }),
                ["nonResourceRules"] = new JsonArray(new JsonObject { ["verbs"] = new JsonArray("*"), ["nonResourceURLs"] = new JsonArray("*") }),
                ["incomplete"] = false,
            }),
            "selfsubjectaccessreviews" => ("SelfSubjectAccessReview", Allowed()),
            "subjectaccessreviews" => ("SubjectAccessReview", Allowed()),
            "localsubjectaccessreviews" => ("LocalSubjectAccessReview", Allowed()),
            _ => throw StatusException.PathNotFound(),
        };
        var metadata = new JsonObject { ["creationTimestamp"] = null };
        if (ns is not null) metadata["namespace"] = ns;
        return new JsonObject
        {
            ["kind"] = kind, ["apiVersion"] = GroupVersion, ["metadata"] = metadata,
            ["spec"] = spec?.DeepClone() ?? new JsonObject(), ["status"] = status,
        };

        static JsonObject Allowed() => new() { ["allowed"] = true, ["reason"] = Reason };
    }
}
