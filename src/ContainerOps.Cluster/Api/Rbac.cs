using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// Role-based access control as the API server enforces it: a request is allowed when a ClusterRoleBinding, or a
/// RoleBinding in the request's namespace, binds a subject the user is (its name, one of its groups, its service
/// account) to a role with a rule that covers the request. Members of system:masters may do everything. Nothing is
/// denied by a rule; what no rule allows is forbidden. A user may only write a role, or bind one, with permissions it
/// holds itself, unless it may escalate or bind (<see cref="ConfirmNoEscalation"/>).
/// </summary>
public static class Rbac
{
    public const string Group = "rbac.authorization.k8s.io";
    public const string MastersGroup = "system:masters";
    public const string AggregateLabelPrefix = "rbac.authorization.k8s.io/aggregate-to-";

    /// <summary>A grant: the binding, role and subject that give a user <see cref="Rules"/> (as a decision names them).</summary>
    public sealed record Grant(string Binding, string Role, string Subject, IReadOnlyList<JsonObject> Rules);

    public readonly record struct Decision(bool Allowed, string Reason);

    private static readonly JsonObject FullAuthority = Rule(["*"], ["*"], ["*"]);
    private static readonly JsonObject EveryPath = PathRule(["*"], ["*"]);

    /// <summary>Whether <paramref name="user"/> may make <paramref name="request"/>, and by which binding.</summary>
    public static Decision Authorize(ClusterObjects objects, UserInfo user, AccessRequest request)
    {
        if (user.Groups.Contains(MastersGroup)) return new(true, $"allowed: {user.Username} is in the {MastersGroup} group");
        foreach (var grant in GrantsOf(objects, user, request.IsResource ? request.Namespace : ""))
            if (grant.Rules.Any(r => Allows(r, request)))
                return new(true, $"RBAC: allowed by {grant.Binding} of {grant.Role} to {grant.Subject}");
        return new(false, "");
    }

    /// <summary>The API server's words for a refusal, and its Forbidden status.</summary>
    public static StatusException Forbidden(UserInfo user, AccessRequest r)
    {
        if (!r.IsResource) return new StatusException(403, "Forbidden", $"forbidden: User \"{user.Username}\" cannot {r.Verb} path \"{r.Path}\"", new JsonObject());
        var groupResource = r.Group.Length > 0 ? $"{r.Resource}.{r.Group}" : r.Resource;
        var what = r.Name.Length > 0 ? $"{groupResource} \"{r.Name}\"" : groupResource;
        var scope = r.Namespace.Length > 0 ? $"in the namespace \"{r.Namespace}\"" : "at the cluster scope";
        return new StatusException(403, "Forbidden",
            $"{what} is forbidden: User \"{user.Username}\" cannot {r.Verb} resource \"{r.Combined}\" in API group \"{r.Group}\" {scope}",
            new JsonObject { ["name"] = r.Name.Length > 0 ? r.Name : null, ["group"] = r.Group.Length > 0 ? r.Group : null, ["kind"] = r.Resource });
    }

    /// <summary>Every grant <paramref name="user"/> has: cluster-wide ones, then those of RoleBindings in <paramref name="ns"/>
    /// (none when empty). Read lazily, so a decision stops at the first grant that allows.</summary>
    public static IEnumerable<Grant> GrantsOf(ClusterObjects objects, UserInfo user, string ns)
    {
        if (user.Groups.Contains(MastersGroup)) yield return new Grant($"the {MastersGroup} group", "full authority", $"User \"{user.Username}\"", [FullAuthority, EveryPath]);
        foreach (var item in objects.Store.List(ResourceKinds.ClusterRoleBinding.Key(null, null)).Items)
        {
            var binding = ClusterObjects.Parse(item.Value);
            if (SubjectOf(binding, user, null) is not { } subject) continue;
            var name = Json.Str(binding["metadata"]?["name"]);
            var roleName = Json.Str(binding["roleRef"]?["name"]) ?? "";
            if (Json.Str(binding["roleRef"]?["kind"]) != "ClusterRole") continue;
            yield return new Grant($"ClusterRoleBinding \"{name}\"", $"ClusterRole \"{roleName}\"", subject, RulesOf(objects, "ClusterRole", null, roleName));
        }
        if (ns.Length == 0) yield break;
        foreach (var item in objects.Store.List(ResourceKinds.RoleBinding.Key(ns, null)).Items)
        {
            var binding = ClusterObjects.Parse(item.Value);
            if (SubjectOf(binding, user, ns) is not { } subject) continue;
            var name = Json.Str(binding["metadata"]?["name"]);
            var roleKind = Json.Str(binding["roleRef"]?["kind"]) ?? "";
            var roleName = Json.Str(binding["roleRef"]?["name"]) ?? "";
            if (roleKind is not ("Role" or "ClusterRole")) continue;
            yield return new Grant($"RoleBinding \"{name}/{ns}\"", $"{roleKind} \"{roleName}\"", subject, RulesOf(objects, roleKind, ns, roleName));
        }
    }

    /// <summary>The subject of <paramref name="binding"/> that <paramref name="user"/> is, as a decision names it, or null.
    /// A service account subject without a namespace is in the RoleBinding's (<paramref name="bindingNs"/>).</summary>
    private static string? SubjectOf(JsonObject binding, UserInfo user, string? bindingNs)
    {
        if (binding["subjects"] is not JsonArray subjects) return null;
        foreach (var s in subjects.OfType<JsonObject>())
        {
            var name = Json.Str(s["name"]) ?? "";
            switch (Json.Str(s["kind"]))
            {
                case "User" when user.Username == name: return $"User \"{name}\"";
                case "Group" when user.Groups.Contains(name): return $"Group \"{name}\"";
                case "ServiceAccount":
                    var ns = Json.Str(s["namespace"]) is { Length: > 0 } n ? n : bindingNs;
                    if (ns is not null && user.Username == $"system:serviceaccount:{ns}:{name}") return $"ServiceAccount \"{name}/{ns}\"";
                    break;
            }
        }
        return null;
    }

    /// <summary>A role's rules (none when it does not exist). A ClusterRole with an aggregationRule has the rules of
    /// the ClusterRoles its selectors match, read here as well as written into it by the aggregation controller, so a
    /// decision does not wait for that controller.</summary>
    public static IReadOnlyList<JsonObject> RulesOf(ClusterObjects objects, string kind, string? ns, string name) =>
        RulesOfRole(objects, kind, ns, name) ?? [];

    /// <summary>The rules of a Role or ClusterRole, or null when there is no such role.</summary>
    private static IReadOnlyList<JsonObject>? RulesOfRole(ClusterObjects objects, string kind, string? ns, string name)
    {
        var roleKind = kind == "Role" ? ResourceKinds.Role : ResourceKinds.ClusterRole;
        if (kind == "Role" && ns is null) return null;
        if (objects.Store.Get(roleKind.Key(kind == "Role" ? ns : null, name)) is not { } stored) return null;
        var role = ClusterObjects.Parse(stored.Value);
        return kind == "ClusterRole" && role["aggregationRule"] is JsonObject ? AggregatedRules(objects, role) : OwnRules(role);
    }

    private static List<JsonObject> OwnRules(JsonObject role) => (role["rules"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];

    /// <summary>The rules an aggregated ClusterRole has: those of every other ClusterRole one of its selectors
    /// matches (aggregated ones included, by their own selectors), each rule once, in name order.</summary>
    public static List<JsonObject> AggregatedRules(ClusterObjects objects, JsonObject role)
    {
        var all = objects.Store.List(ResourceKinds.ClusterRole.Key(null, null)).Items.Select(i => ClusterObjects.Parse(i.Value))
            .ToDictionary(r => Json.Str(r["metadata"]?["name"]) ?? "", StringComparer.Ordinal);
        var rules = new List<JsonObject>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var visited = new HashSet<string>(StringComparer.Ordinal) { Json.Str(role["metadata"]?["name"]) ?? "" };
        void Collect(JsonObject aggregating)
        {
            var selectors = (aggregating["aggregationRule"]?["clusterRoleSelectors"] as JsonArray)?.OfType<JsonObject>().Select(LabelSelector.FromObject).ToList() ?? [];
            foreach (var (name, other) in all.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (visited.Contains(name)) continue;
                var labels = LabelSelector.LabelsOf(other["metadata"]?["labels"]);
                if (!selectors.Any(s => !s.IsEmpty && s.Matches(labels))) continue;
                visited.Add(name);
                if (other["aggregationRule"] is JsonObject) Collect(other);
                else
                    foreach (var rule in OwnRules(other))
                        if (seen.Add(rule.ToJsonString())) rules.Add(rule);
            }
        }
        Collect(role);
        return rules;
    }

    /// <summary>Whether <paramref name="rule"/> allows <paramref name="r"/>. Also the test of whether one rule covers
    /// another's atomic part, since "*" in a request then only matches "*" in the rule.</summary>
    public static bool Allows(JsonObject rule, AccessRequest r)
    {
        if (!Names(rule["verbs"], r.Verb)) return false;
        if (!r.IsResource)
            return (rule["nonResourceURLs"] as JsonArray)?.Select(u => Json.Str(u) ?? "").Any(u =>
                u == "*" || u == r.Path || (u.EndsWith('*') && r.Path!.StartsWith(u[..^1], StringComparison.Ordinal))) == true;
        if (!Names(rule["apiGroups"], r.Group)) return false;
        var resources = (rule["resources"] as JsonArray)?.Select(x => Json.Str(x) ?? "") ?? [];
        if (!resources.Any(x => x == "*" || x == r.Combined || (r.Subresource.Length > 0 && x == "*/" + r.Subresource))) return false;
        return rule["resourceNames"] is not JsonArray { Count: > 0 } names || names.Any(n => Json.Str(n) == r.Name);
    }

    private static bool Names(JsonNode? list, string value) =>
        list is JsonArray items && items.Any(i => Json.Str(i) is { } s && (s == "*" || s == value));

    /// <summary>
    /// The refusal of a role or binding write that would give more than the writer holds (the API server's escalation
    /// check): a Role or ClusterRole may only hold rules the user has where it applies, unless the user may escalate
    /// it; an aggregating ClusterRole needs full authority; a binding may only bind a role whose rules the user has
    /// where the binding applies, unless the user may bind that role.
    /// </summary>
    public static void ConfirmNoEscalation(ClusterObjects objects, UserInfo user, ResourceKind kind, string? ns, JsonObject o)
    {
        if (user.Groups.Contains(MastersGroup) || kind.Group != Group) return;
        var name = Json.Str(o["metadata"]?["name"]) ?? "";
        List<JsonObject> wanted;
        string? scope = kind == ResourceKinds.Role || kind == ResourceKinds.RoleBinding ? ns : null;
        if (kind == ResourceKinds.Role || kind == ResourceKinds.ClusterRole)
        {
            if (Authorize(objects, user, new AccessRequest("escalate", Group, kind.Resource, "", scope ?? "", name)).Allowed) return;
            if (kind == ResourceKinds.ClusterRole && o["aggregationRule"] is JsonObject)
            {
                if (!Holds(objects, user, null, FullAuthority))
                    throw new StatusException(403, "Forbidden", $"{kind.GroupResource} \"{name}\" is forbidden: must have cluster-admin privileges to use the aggregationRule", Details(kind, name));
                return;
            }
            wanted = OwnRules(o);
        }
        else if (kind == ResourceKinds.RoleBinding || kind == ResourceKinds.ClusterRoleBinding)
        {
            var roleKind = Json.Str(o["roleRef"]?["kind"]) ?? "";
            var roleName = Json.Str(o["roleRef"]?["name"]) ?? "";
            var roleResource = roleKind == "Role" ? "roles" : "clusterroles";
            if (Authorize(objects, user, new AccessRequest("bind", Group, roleResource, "", scope ?? "", roleName)).Allowed) return;
            // A role that is not there cannot be checked: refused as the API server refuses it (NotFound).
            wanted = [.. RulesOfRole(objects, roleKind, ns, roleName)
                ?? throw StatusException.NotFound(roleKind == "Role" ? ResourceKinds.Role : ResourceKinds.ClusterRole, roleName)];
        }
        else return;
        var held = HeldRules(objects, user, scope);
        var missing = wanted.SelectMany(Atoms).Where(a => !held.Any(r => Allows(r, a.Request))).ToList();
        if (missing.Count == 0) return;
        var groups = string.Join(" ", user.Groups.Select(g => $"\"{g}\""));
        throw new StatusException(403, "Forbidden",
            $"{kind.GroupResource} \"{name}\" is forbidden: user \"{user.Username}\" (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n"
            + string.Join("\n", missing.Select(m => m.Text).Distinct()), Details(kind, name));
    }

    private static JsonObject Details(ResourceKind kind, string name) => new() { ["name"] = name, ["group"] = kind.Group, ["kind"] = kind.Resource };

    private static bool Holds(ClusterObjects objects, UserInfo user, string? ns, JsonObject rule)
    {
        var held = HeldRules(objects, user, ns);
        return Atoms(rule).All(a => held.Any(r => Allows(r, a.Request)));
    }

    /// <summary>Every rule the user holds in <paramref name="ns"/> (cluster-wide ones when null), read once for a check
    /// of many atoms.</summary>
    private static List<JsonObject> HeldRules(ClusterObjects objects, UserInfo user, string? ns) =>
        GrantsOf(objects, user, ns ?? "").SelectMany(g => g.Rules).ToList();

    /// <summary>A rule broken into the one-verb, one-group, one-resource, one-name requests it allows (or one-verb,
    /// one-path ones), each with how the refusal names it.</summary>
    private static IEnumerable<(AccessRequest Request, string Text)> Atoms(JsonObject rule)
    {
        static List<string> Strings(JsonNode? n) => (n as JsonArray)?.Select(x => Json.Str(x) ?? "").ToList() ?? [];
        var verbs = Strings(rule["verbs"]);
        foreach (var url in Strings(rule["nonResourceURLs"]))
            foreach (var verb in verbs)
                yield return (AccessRequest.NonResource(verb, url), $"{{NonResourceURLs:[\"{url}\"], Verbs:[\"{verb}\"]}}");
        var names = Strings(rule["resourceNames"]);
        foreach (var group in Strings(rule["apiGroups"]))
            foreach (var resource in Strings(rule["resources"]))
                foreach (var verb in verbs)
                {
                    var slash = resource.IndexOf('/');
                    var (res, sub) = slash < 0 ? (resource, "") : (resource[..slash], resource[(slash + 1)..]);
                    var text = $"{{APIGroups:[\"{group}\"], Resources:[\"{resource}\"], Verbs:[\"{verb}\"]";
                    if (names.Count == 0) yield return (new AccessRequest(verb, group, res, sub, "", ""), text + "}");
                    else
                        foreach (var n in names)
                            yield return (new AccessRequest(verb, group, res, sub, "", n), text + $", ResourceNames:[\"{n}\"]}}");
                }
    }

    /// <summary>The rules <paramref name="user"/> has in <paramref name="ns"/> (cluster-wide ones when empty), as a
    /// SelfSubjectRulesReview lists them: resource rules and non-resource rules apart.</summary>
    public static (JsonArray ResourceRules, JsonArray NonResourceRules) RulesFor(ClusterObjects objects, UserInfo user, string ns)
    {
        var resourceRules = new JsonArray();
        var nonResourceRules = new JsonArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in GrantsOf(objects, user, ns).SelectMany(g => g.Rules))
        {
            if (rule["nonResourceURLs"] is JsonArray { Count: > 0 } urls)
            {
                var r = new JsonObject { ["verbs"] = rule["verbs"]?.DeepClone(), ["nonResourceURLs"] = urls.DeepClone() };
                if (seen.Add("n" + r.ToJsonString())) nonResourceRules.Add((JsonNode)r);
            }
            if (rule["resources"] is JsonArray { Count: > 0 } resources)
            {
                var r = new JsonObject { ["verbs"] = rule["verbs"]?.DeepClone(), ["apiGroups"] = rule["apiGroups"]?.DeepClone(), ["resources"] = resources.DeepClone() };
                if (rule["resourceNames"] is JsonArray { Count: > 0 } names) r["resourceNames"] = names.DeepClone();
                if (seen.Add("r" + r.ToJsonString())) resourceRules.Add((JsonNode)r);
            }
        }
        return (resourceRules, nonResourceRules);
    }

    internal static JsonObject Rule(string[] verbs, string[] groups, string[] resources) => new()
    {
        ["verbs"] = Strings(verbs), ["apiGroups"] = Strings(groups), ["resources"] = Strings(resources),
    };

    internal static JsonObject PathRule(string[] verbs, string[] paths) => new() { ["verbs"] = Strings(verbs), ["nonResourceURLs"] = Strings(paths) };

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)v).ToArray());
}
