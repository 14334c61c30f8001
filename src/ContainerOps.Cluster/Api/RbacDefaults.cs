using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The roles and bindings a new cluster starts with, as the API server's bootstrap policy has them: cluster-admin for
/// system:masters; discovery, /version and the self reviews for every authenticated user; and the user-facing roles
/// admin, edit and view, which aggregate the system:aggregate-to-* roles (and any role labelled to join them).
/// Written when missing; at each start, as the API server reconciles them, what a default lacks is put back (rules,
/// subjects, labels) unless its annotation `rbac.authorization.kubernetes.io/autoupdate` is "false"; what a user added
/// stays.
/// </summary>
public static class RbacDefaults
{
    private static readonly string[] Read = ["get", "list", "watch"];
    private static readonly string[] Write = ["create", "delete", "deletecollection", "patch", "update"];
    private static readonly string[] ReadWrite = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    public static void Ensure(ClusterObjects objects)
    {
        var roles = ClusterRoles().ToList();
        var missing = roles.Where(r => !Exists(objects, ResourceKinds.ClusterRole, r)).ToList();
        foreach (var role in missing) Create(objects, ResourceKinds.ClusterRole, role);
        // The aggregating roles get their rules gathered at once, as the aggregation controller keeps them.
        foreach (var role in missing.Where(r => r["aggregationRule"] is not null))
        {
            try
            {
                objects.Update(ResourceKinds.ClusterRole, null, Json.Str(role["metadata"]!["name"])!, null, o =>
                {
                    o["rules"] = new JsonArray(Rbac.AggregatedRules(objects, o).Select(r => r.DeepClone()).ToArray());
                    return o;
                }, statusOnly: false, dryRun: false);
            }
            catch (StatusException) { } // the controller gathers them when it starts
        }
        foreach (var role in roles.Except(missing).Where(r => r["aggregationRule"] is null))
            PutBack(objects, ResourceKinds.ClusterRole, role, "rules");
        var bindings = ClusterRoleBindings().ToList();
        foreach (var binding in bindings)
            if (!Exists(objects, ResourceKinds.ClusterRoleBinding, binding)) Create(objects, ResourceKinds.ClusterRoleBinding, binding);
            else PutBack(objects, ResourceKinds.ClusterRoleBinding, binding, "subjects");
    }

    /// <summary>Adds to a stored default the items of <paramref name="list"/> and the labels it lacks, unless its
    /// user turned that off (autoupdate "false"). Nothing is written when nothing lacks.</summary>
    private static void PutBack(ClusterObjects objects, ResourceKind kind, JsonObject wanted, string list)
    {
        var name = Json.Str(wanted["metadata"]!["name"])!;
        try
        {
            objects.Update(kind, null, name, null, o =>
            {
                if (Json.Str(o["metadata"]?["annotations"]?["rbac.authorization.kubernetes.io/autoupdate"]) == "false") return o;
                var items = o[list] as JsonArray ?? [];
                foreach (var item in (wanted[list] as JsonArray ?? []).OfType<JsonObject>())
                    if (!items.Any(i => JsonNode.DeepEquals(i, item))) items.Add((JsonNode)item.DeepClone());
                o[list] = items;
                var labels = Json.Child(Json.Metadata(o), "labels");
                foreach (var (key, value) in wanted["metadata"]!["labels"]!.AsObject())
                    if (!labels.ContainsKey(key)) labels[key] = value?.DeepClone();
                return o;
            }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code is 404 or 409) { } // gone or changed meanwhile: the next start sees to it
    }

    private static bool Exists(ClusterObjects objects, ResourceKind kind, JsonObject o) =>
        objects.Store.Get(kind.Key(null, Json.Str(o["metadata"]!["name"])!)) is not null;

    private static void Create(ClusterObjects objects, ResourceKind kind, JsonObject o)
    {
        try { objects.Create(kind, null, o, FieldValidation.Strict, dryRun: false, out _); }
        catch (StatusException e) when (e.Code == 409) { }
    }

    private static JsonObject Metadata(string name, params (string Key, string Value)[] labels)
    {
        var all = new JsonObject { ["kubernetes.io/bootstrapping"] = "rbac-defaults" };
        foreach (var (k, v) in labels) all[k] = v;
        return new JsonObject
        {
            ["name"] = name, ["labels"] = all,
            ["annotations"] = new JsonObject { ["rbac.authorization.kubernetes.io/autoupdate"] = "true" },
        };
    }

    private static JsonObject ClusterRole(string name, JsonObject[] rules, params (string Key, string Value)[] labels) => new()
    {
        ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRole", ["metadata"] = Metadata(name, labels),
        ["rules"] = new JsonArray(rules.Select(r => (JsonNode)r).ToArray()),
    };

    private static JsonObject Aggregating(string name, string aggregateTo, params (string Key, string Value)[] labels) => new()
    {
        ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRole", ["metadata"] = Metadata(name, labels),
        ["aggregationRule"] = new JsonObject
        {
            ["clusterRoleSelectors"] = new JsonArray(new JsonObject { ["matchLabels"] = new JsonObject { [Rbac.AggregateLabelPrefix + aggregateTo] = "true" } }),
        },
        ["rules"] = new JsonArray(),
    };

    private static JsonObject R(string[] verbs, string group, params string[] resources) => Rbac.Rule(verbs, [group], resources);

    private static IEnumerable<JsonObject> ClusterRoles()
    {
        yield return ClusterRole("cluster-admin", [Rbac.Rule(["*"], ["*"], ["*"]), Rbac.PathRule(["*"], ["*"])]);
        yield return ClusterRole("system:discovery",
            [Rbac.PathRule(["get"], ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"])]);
        yield return ClusterRole("system:public-info-viewer", [Rbac.PathRule(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])]);
        yield return ClusterRole("system:basic-user",
        [
            R(["create"], "authorization.k8s.io", "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
            R(["create"], "authentication.k8s.io", "selfsubjectreviews"),
        ]);
        // For those that check tokens and access for others (an aggregated API server, a webhook).
        yield return ClusterRole("system:auth-delegator",
        [
            R(["create"], "authentication.k8s.io", "tokenreviews"),
            R(["create"], "authorization.k8s.io", "subjectaccessreviews"),
        ]);
        yield return ClusterRole("system:service-account-issuer-discovery", [Rbac.PathRule(["get"], ["/.well-known/openid-configuration", "/openid/v1/jwks"])]);
        yield return Aggregating("admin", "admin");
        yield return Aggregating("edit", "edit", (Rbac.AggregateLabelPrefix + "admin", "true"));
        yield return Aggregating("view", "view", (Rbac.AggregateLabelPrefix + "edit", "true"));
        yield return ClusterRole("system:aggregate-to-admin",
        [
            R(["create"], "authorization.k8s.io", "localsubjectaccessreviews"),
            R(ReadWrite, Rbac.Group, "rolebindings", "roles"),
        ], (Rbac.AggregateLabelPrefix + "admin", "true"));
        yield return ClusterRole("system:aggregate-to-edit",
        [
            R(Read, "", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"),
            R(["impersonate"], "", "serviceaccounts"),
            R(Write, "", "pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
            R(["create"], "", "pods/eviction"),
            R(Write, "", "configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets",
                "serviceaccounts", "services", "services/proxy"),
            R(["create"], "", "serviceaccounts/token"),
            R(Write, "apps", "daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale",
                "statefulsets", "statefulsets/scale"),
            R(Write, "autoscaling", "horizontalpodautoscalers"),
            R(Write, "batch", "cronjobs", "jobs"),
            R(Write, "networking.k8s.io", "ingresses", "networkpolicies"),
            R(Write, "policy", "poddisruptionbudgets"),
            R(Write, "discovery.k8s.io", "endpointslices"),
        ], (Rbac.AggregateLabelPrefix + "edit", "true"));
        yield return ClusterRole("system:aggregate-to-view",
        [
            R(Read, "", "configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"),
            R(Read, "", "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status", "replicationcontrollers/status",
                "resourcequotas", "resourcequotas/status"),
            R(Read, "", "namespaces"),
            R(Read, "discovery.k8s.io", "endpointslices"),
            R(Read, "apps", "controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
                "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"),
            R(Read, "autoscaling", "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
            R(Read, "batch", "cronjobs", "cronjobs/status", "jobs", "jobs/status"),
            R(Read, "policy", "poddisruptionbudgets", "poddisruptionbudgets/status"),
            R(Read, "networking.k8s.io", "ingresses", "ingresses/status", "networkpolicies"),
        ], (Rbac.AggregateLabelPrefix + "view", "true"));
        // What metrics-server adds beside its API, so that whoever may view pods may read their metrics.
        yield return ClusterRole("system:aggregated-metrics-reader", [R(Read, "metrics.k8s.io", "pods", "nodes")],
            (Rbac.AggregateLabelPrefix + "view", "true"), (Rbac.AggregateLabelPrefix + "edit", "true"), (Rbac.AggregateLabelPrefix + "admin", "true"));
    }

    private static JsonObject Binding(string name, string role, params (string Kind, string Name)[] subjects) => new()
    {
        ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRoleBinding", ["metadata"] = Metadata(name),
        ["roleRef"] = new JsonObject { ["apiGroup"] = Rbac.Group, ["kind"] = "ClusterRole", ["name"] = role },
        ["subjects"] = new JsonArray(subjects.Select(s => (JsonNode)new JsonObject { ["apiGroup"] = Rbac.Group, ["kind"] = s.Kind, ["name"] = s.Name }).ToArray()),
    };

    private static IEnumerable<JsonObject> ClusterRoleBindings()
    {
        yield return Binding("cluster-admin", "cluster-admin", ("Group", Rbac.MastersGroup));
        yield return Binding("system:discovery", "system:discovery", ("Group", "system:authenticated"));
        yield return Binding("system:basic-user", "system:basic-user", ("Group", "system:authenticated"));
        yield return Binding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery", ("Group", "system:serviceaccounts"));
        yield return Binding("system:public-info-viewer", "system:public-info-viewer", ("Group", "system:authenticated"), ("Group", "system:unauthenticated"));
    }
}
