using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>The discovery documents (/api, /apis, /api/v1, /apis/{group}/{version}), /version, and the OpenAPI v3
/// documents kubectl reads: per group-version, each kind's paths with its PATCH operation and its query parameters,
/// which is how kubectl learns that the server validates fields itself (fieldValidation), and the kinds' schemas
/// (<see cref="OpenApiSchemas"/>) that `kubectl explain` reads.</summary>
public static class Discovery
{
    public const string KubernetesVersion = "v1.32.0";
    private static readonly string[] ObjectVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
    private static readonly HashSet<string> InAll = ["pods", "services", "deployments", "replicasets", "replicationcontrollers", "daemonsets", "statefulsets", "jobs", "cronjobs", "horizontalpodautoscalers"];

    public static JsonObject Version() => new()
    {
        ["major"] = "1", ["minor"] = "32", ["gitVersion"] = KubernetesVersion + "+containerops", ["gitCommit"] = "", ["gitTreeState"] = "clean",
        ["buildDate"] = "2026-12-04T00:00:00Z", ["goVersion"] = "", ["compiler"] = "dotnet", ["platform"] = "linux/amd64",
    };

    public static JsonObject ApiVersions() => new()
    {
        ["kind"] = "APIVersions", ["versions"] = new JsonArray((JsonNode)"v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray((JsonNode)new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = "" }),
    };

    /// <param name="served">Groups served beside the stored kinds' (metrics.k8s.io when a node measures).</param>
    public static JsonObject ApiGroupList(IEnumerable<JsonObject> served)
    {
        var groups = new JsonArray();
        foreach (var g in ResourceKinds.Groups) groups.Add((JsonNode?)Group(g.Key));
        foreach (var g in served) groups.Add((JsonNode?)g);
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    /// <summary>The APIGroup document of a group served at one version beside the stored kinds (metrics, authentication).</summary>
    public static JsonObject ServedGroup(string name, string version) => new()
    {
        ["kind"] = "APIGroup", ["apiVersion"] = "v1", ["name"] = name,
        ["versions"] = new JsonArray(new JsonObject { ["groupVersion"] = $"{name}/{version}", ["version"] = version }),
        ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{name}/{version}", ["version"] = version },
    };

    public static JsonObject? Group(string name)
    {
        var versions = ResourceKinds.Served.Where(k => k.Group == name).Select(k => k.Version).Distinct().ToList();
        if (versions.Count == 0) return null;
        var list = new JsonArray();
        foreach (var v in versions) list.Add((JsonNode)new JsonObject { ["groupVersion"] = $"{name}/{v}", ["version"] = v });
        return new JsonObject
        {
            ["kind"] = "APIGroup", ["apiVersion"] = "v1", ["name"] = name, ["versions"] = list,
            ["preferredVersion"] = list[0]!.DeepClone(),
        };
    }

    public static JsonObject? ResourceList(string group, string version)
    {
        var kinds = ResourceKinds.Served.Where(k => k.Group == group && k.Version == version).ToList();
        if (kinds.Count == 0) return null;
        var resources = new JsonArray();
        foreach (var k in kinds)
        {
            var r = new JsonObject
            {
                ["name"] = k.Resource, ["singularName"] = k.Singular, ["namespaced"] = k.Namespaced, ["kind"] = k.Kind,
                ["verbs"] = new JsonArray(ObjectVerbs.Select(v => (JsonNode)v).ToArray()),
            };
            if (k.ShortNames.Length > 0) r["shortNames"] = new JsonArray(k.ShortNames.Select(s => (JsonNode)s).ToArray());
            if (InAll.Contains(k.Resource)) r["categories"] = new JsonArray((JsonNode)"all");
            resources.Add((JsonNode)r);
            if (k.HasStatus)
                resources.Add((JsonNode)new JsonObject
                {
                    ["name"] = k.Resource + "/status", ["singularName"] = "", ["namespaced"] = k.Namespaced, ["kind"] = k.Kind,
                    ["verbs"] = new JsonArray((JsonNode)"get", (JsonNode)"patch", (JsonNode)"update"),
                });
            // kubectl create token finds the TokenRequest subresource here.
            if (k == ResourceKinds.ServiceAccount) resources.Add((JsonNode)Authentication.TokenSubresource());
            // kubectl drain finds the eviction subresource, and its group and version, here.
            if (k == ResourceKinds.Pod)
                resources.Add((JsonNode)new JsonObject
                {
                    ["name"] = "pods/eviction", ["singularName"] = "", ["namespaced"] = true, ["group"] = "policy", ["version"] = "v1", ["kind"] = "Eviction",
                    ["verbs"] = new JsonArray((JsonNode)"create"),
                });
            // kubectl scale finds the Scale kind of a resource here.
            if (Scales.Has(k))
                resources.Add((JsonNode)new JsonObject
                {
                    ["name"] = k.Resource + "/scale", ["singularName"] = "", ["namespaced"] = k.Namespaced, ["group"] = "autoscaling", ["version"] = "v1", ["kind"] = "Scale",
                    ["verbs"] = new JsonArray((JsonNode)"get", (JsonNode)"patch", (JsonNode)"update"),
                });
        }
        return new JsonObject { ["kind"] = "APIResourceList", ["apiVersion"] = "v1", ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}", ["resources"] = resources };
    }

    /// <summary>The aggregated discovery document's media type (apidiscovery.k8s.io/v2): every group's versions and
    /// resources in one answer to /api or /apis, which kubectl 1.30+ asks for first and then needs no request per
    /// group-version.</summary>
    public const string AggregatedMediaType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

    /// <summary>Whether an Accept header lists the aggregated document (v2; v2beta1 alone gets the classic one).</summary>
    public static bool AcceptsAggregated(string accept)
    {
        foreach (var range in accept.Split(','))
        {
            var parameters = range.Split(';', StringSplitOptions.TrimEntries).Skip(1)
                .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
            if (parameters.GetValueOrDefault("g") == "apidiscovery.k8s.io" && parameters.GetValueOrDefault("v") == "v2"
                && parameters.GetValueOrDefault("as") == "APIGroupDiscoveryList") return true;
        }
        return false;
    }

    /// <summary>The aggregated document of the core group (/api) or of the named groups (/apis), from the same
    /// resource lists the classic documents serve.</summary>
    /// <param name="served">Groups served beside the stored kinds' (metrics.k8s.io): name, version, resource list.</param>
    public static JsonObject Aggregated(bool core, IEnumerable<(string Group, string Version, JsonObject Resources)> served)
    {
        var items = new JsonArray();
        var groups = core ? [""] : ResourceKinds.Groups.Select(g => g.Key).ToList();
        foreach (var group in groups)
        {
            var versions = new JsonArray();
            // The preferred version first, as the group document lists them.
            foreach (var version in ResourceKinds.Served.Where(k => k.Group == group).Select(k => k.Version).Distinct())
                versions.Add((JsonNode)VersionDiscovery(group, version, ResourceList(group, version)!));
            items.Add((JsonNode)new JsonObject { ["metadata"] = new JsonObject { ["name"] = group }, ["versions"] = versions });
        }
        if (!core)
            foreach (var (group, version, resources) in served)
                items.Add((JsonNode)new JsonObject
                {
                    ["metadata"] = new JsonObject { ["name"] = group },
                    ["versions"] = new JsonArray(VersionDiscovery(group, version, resources)),
                });
        return new JsonObject { ["kind"] = "APIGroupDiscoveryList", ["apiVersion"] = "apidiscovery.k8s.io/v2", ["metadata"] = new JsonObject(), ["items"] = items };
    }

    /// <summary>One version's resources in the aggregated shape: subresources (deployments/scale) under their resource.</summary>
    private static JsonObject VersionDiscovery(string group, string version, JsonObject resourceList)
    {
        var resources = new JsonArray();
        var byName = new Dictionary<string, JsonObject>();
        foreach (var r in resourceList["resources"]!.AsArray().OfType<JsonObject>())
        {
            var name = Json.Str(r["name"])!;
            var responseKind = new JsonObject
            {
                ["group"] = Json.Str(r["group"]) ?? group, ["version"] = Json.Str(r["version"]) ?? version, ["kind"] = Json.Str(r["kind"]),
            };
            if (name.IndexOf('/') is var slash and > 0)
            {
                if (!byName.TryGetValue(name[..slash], out var parent)) continue;
                ((JsonArray)parent["subresources"]!).Add((JsonNode)new JsonObject
                {
                    ["subresource"] = name[(slash + 1)..], ["responseKind"] = responseKind, ["verbs"] = r["verbs"]!.DeepClone(),
                });
                continue;
            }
            var resource = new JsonObject
            {
                ["resource"] = name, ["responseKind"] = responseKind,
                ["scope"] = r["namespaced"]?.GetValue<bool>() == true ? "Namespaced" : "Cluster",
                ["singularResource"] = Json.Str(r["singularName"]) is { Length: > 0 } singular ? singular : Json.Str(r["kind"])!.ToLowerInvariant(),
                ["verbs"] = r["verbs"]!.DeepClone(),
            };
            if (r["shortNames"] is { } shortNames) resource["shortNames"] = shortNames.DeepClone();
            if (r["categories"] is { } categories) resource["categories"] = categories.DeepClone();
            resource["subresources"] = new JsonArray();
            byName[name] = resource;
            resources.Add((JsonNode)resource);
        }
        return new JsonObject { ["version"] = version, ["resources"] = resources, ["freshness"] = "Current" };
    }

    /// <summary>Sent as plain bytes: the media type clients ask for has an '@', which Go's media type parser (and so
    /// kubectl's response handling) refuses in a Content-Type.</summary>
    public const string OpenApiV2ProtobufType = "application/octet-stream";

    /// <summary>/openapi/v2: the definitions of every served kind and the types they reach (no paths: kubectl reads the
    /// definitions, for explain, validation and apply's patches).</summary>
    public static JsonObject OpenApiV2() => new()
    {
        ["swagger"] = "2.0", ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = KubernetesVersion },
        ["paths"] = new JsonObject(),
        ["definitions"] = OpenApiSchemas.For(ResourceKinds.Served, ModelDescriptions.Load(), OpenApiVersion.V2),
    };

    /// <summary>The same document as protobuf, which kubectl 1.20 asks for.</summary>
    public static byte[] OpenApiV2Protobuf() => Api.OpenApiV2Protobuf.Encode(OpenApiV2());

    /// <summary>Each group-version document's hash: kubectl keeps documents by it, so a changed document is read again.
    /// The documents do not change while the daemon runs, so each is built and hashed once, not at every root request.</summary>
    private static readonly Lazy<Dictionary<(string Group, string Version), string>> DocumentHashes = new(() =>
    {
        var descriptions = ModelDescriptions.Load();
        return ResourceKinds.Served.Select(k => (k.Group, k.Version)).Distinct()
            .ToDictionary(gv => gv, gv => Hash(OpenApiV3(gv.Group, gv.Version, descriptions)!.ToJsonString()));
    });

    /// <summary>/openapi/v3: where each group-version's document is.</summary>
    public static JsonObject OpenApiV3Root()
    {
        var paths = new JsonObject();
        foreach (var gv in ResourceKinds.Served.Select(k => (k.Group, k.Version)).Distinct())
        {
            var path = gv.Group.Length == 0 ? $"api/{gv.Version}" : $"apis/{gv.Group}/{gv.Version}";
            paths[path] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{path}?hash={DocumentHashes.Value[gv]}" };
        }
        return new JsonObject { ["paths"] = paths };
    }

    public static JsonObject? OpenApiV3(string group, string version) => OpenApiV3(group, version, null);

    private static JsonObject? OpenApiV3(string group, string version, ModelDescriptions? descriptions)
    {
        var kinds = ResourceKinds.Served.Where(k => k.Group == group && k.Version == version).ToList();
        if (kinds.Count == 0) return null;
        var paths = new JsonObject();
        foreach (var k in kinds)
        {
            var root = k.Group.Length == 0 ? $"/api/{k.Version}" : $"/apis/{k.Group}/{k.Version}";
            var itemPath = k.Namespaced ? $"{root}/namespaces/{{namespace}}/{k.Resource}/{{name}}" : $"{root}/{k.Resource}/{{name}}";
            var gvk = new JsonObject { ["group"] = k.Group, ["version"] = k.Version, ["kind"] = k.Kind };
            // kubectl looks for the fieldValidation parameter among the PATCH operation's own parameters.
            JsonArray Parameters(params string[] names)
            {
                var parameters = new JsonArray();
                foreach (var p in names)
                    parameters.Add((JsonNode)new JsonObject { ["name"] = p, ["in"] = "query", ["schema"] = new JsonObject { ["type"] = p == "force" ? "boolean" : "string" } });
                return parameters;
            }
            JsonObject Op(string action, JsonArray parameters) => new()
            {
                ["operationId"] = action + k.Kind, ["x-kubernetes-action"] = action, ["x-kubernetes-group-version-kind"] = gvk.DeepClone(),
                ["parameters"] = parameters, ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
            };
            paths[itemPath] = new JsonObject
            {
                ["get"] = Op("get", Parameters("pretty")),
                ["put"] = Op("put", Parameters("dryRun", "fieldManager", "fieldValidation", "pretty")),
                ["patch"] = Op("patch", Parameters("dryRun", "fieldManager", "fieldValidation", "force", "pretty")),
                ["delete"] = Op("delete", Parameters("dryRun", "gracePeriodSeconds", "propagationPolicy", "pretty")),
            };
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0", ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = KubernetesVersion },
            ["paths"] = paths, ["components"] = new JsonObject { ["schemas"] = OpenApiSchemas.For(kinds, descriptions ?? ModelDescriptions.Load(), OpenApiVersion.V3) },
        };
    }

    private static string Hash(string s) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(s + KubernetesVersion)))[..16];
}
