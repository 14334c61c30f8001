using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// ResourceQuotas: what an object costs against a quota (<see cref="Usage"/>, also what the quota controller sums
/// into status.used), and the admission that refuses a create which would take a namespace past a quota's hard
/// limits, in Kubernetes' words. Counted: pods (not yet terminal), their requests and limits of cpu, memory and
/// ephemeral-storage (a pod's amount being its containers' sum, or its largest init container where more), services
/// (NodePort and LoadBalancer ones and their node ports too), configmaps, secrets, persistentvolumeclaims and their
/// requests.storage, replicationcontrollers, resourcequotas, and count/RESOURCE[.GROUP] of every kind. A scoped quota
/// counts only the pods its scopes match (<see cref="QuotaScopes"/>).
/// </summary>
internal static class ResourceQuotas
{
    /// <summary>Quota checks and the creates they admit, one at a time: two creates must not both fit the last room.</summary>
    private static readonly Lock Serial = new();

    private static readonly string[] Compute = ["cpu", "memory", "ephemeral-storage"];

    /// <summary>What <paramref name="obj"/> of <paramref name="kind"/> counts against a quota.</summary>
    public static Dictionary<string, decimal> Usage(ResourceKind kind, JsonObject obj)
    {
        var usage = new Dictionary<string, decimal>
        {
            [kind.Group.Length == 0 ? $"count/{kind.Resource}" : $"count/{kind.Resource}.{kind.Group}"] = 1,
        };
        var spec = obj["spec"] as JsonObject;
        switch (kind.Kind)
        {
            case "Pod" when kind.Group.Length == 0:
                if (Json.Str(obj["status"]?["phase"]) is "Succeeded" or "Failed") break;
                usage["pods"] = 1;
                var requests = Node.PodResources.Total(spec, "requests");
                var limits = Node.PodResources.Total(spec, "limits");
                foreach (var resource in Compute)
                {
                    if (requests.TryGetValue(resource, out var request))
                    {
                        usage[$"requests.{resource}"] = request;
                        usage[resource] = request;
                    }
                    if (limits.TryGetValue(resource, out var limit)) usage[$"limits.{resource}"] = limit;
                }
                break;
            case "Service" when kind.Group.Length == 0:
                usage["services"] = 1;
                var type = Json.Str(spec?["type"]);
                var ports = (spec?["ports"] as JsonArray)?.Count ?? 0;
                if (type == "LoadBalancer") usage["services.loadbalancers"] = 1;
                if (type is "NodePort" or "LoadBalancer") usage["services.nodeports"] = ports;
                break;
            case "ConfigMap": usage["configmaps"] = 1; break;
            case "Secret": usage["secrets"] = 1; break;
            case "ReplicationController": usage["replicationcontrollers"] = 1; break;
            case "ResourceQuota": usage["resourcequotas"] = 1; break;
            case "PersistentVolumeClaim":
                usage["persistentvolumeclaims"] = 1;
                if (Node.Quantity.TryValue(spec?["resources"]?["requests"]?["storage"], out var storage)) usage["requests.storage"] = storage;
                break;
        }
        return usage;
    }

    /// <summary>The sum of <see cref="Usage"/> over the namespace's stored objects of the kinds <paramref name="quota"/>
    /// counts in <paramref name="resources"/>, as far as its scopes take them in.</summary>
    public static Dictionary<string, decimal> Used(IClusterStore store, JsonObject quota, string ns, IEnumerable<string> resources)
    {
        var wanted = resources.ToHashSet();
        var used = wanted.ToDictionary(r => r, _ => 0m);
        var objects = KindsCounted(wanted).SelectMany(k => store.List(k.Key(ns, null)).Items.Select(i => (Kind: k, Object: ClusterObjects.Parse(i.Value))))
            .Where(x => QuotaScopes.Applies(quota, x.Kind, x.Object));
        foreach (var (kind, o) in objects)
            foreach (var (resource, amount) in Usage(kind, o))
                if (wanted.Contains(resource)) used[resource] += amount;
        return used;
    }

    /// <summary>The kinds whose objects a quota of these resources counts.</summary>
    public static IEnumerable<ResourceKind> KindsCounted(IEnumerable<string> resources)
    {
        var kinds = new HashSet<ResourceKind>();
        foreach (var r in resources)
        {
            var kind = r switch
            {
                "pods" or "cpu" or "memory" or "ephemeral-storage" => ResourceKinds.Pod,
                _ when r.StartsWith("requests.", StringComparison.Ordinal) && r != "requests.storage" => ResourceKinds.Pod,
                _ when r.StartsWith("limits.", StringComparison.Ordinal) => ResourceKinds.Pod,
                "services" or "services.nodeports" or "services.loadbalancers" => ResourceKinds.Service,
                "configmaps" => ResourceKinds.ConfigMap,
                "secrets" => ResourceKinds.Secret,
                "persistentvolumeclaims" or "requests.storage" => ResourceKinds.PersistentVolumeClaim,
                _ when r.StartsWith("count/", StringComparison.Ordinal) => ResourceKinds.All.FirstOrDefault(k =>
                    r == (k.Group.Length == 0 ? $"count/{k.Resource}" : $"count/{k.Resource}.{k.Group}")),
                _ => ResourceKinds.All.FirstOrDefault(k => k.Group.Length == 0 && k.Resource == r),
            };
            if (kind is not null) kinds.Add(kind);
        }
        return kinds;
    }

    /// <summary>The hard limits of a quota's spec, as numbers with their text.</summary>
    public static Dictionary<string, (string Text, decimal Value)> Hard(JsonObject quota)
    {
        var hard = new Dictionary<string, (string, decimal)>();
        foreach (var (resource, value) in quota["spec"]?["hard"] as JsonObject ?? [])
            if (Json.Scalar(value) is { } text && Node.Quantity.TryValue(text, out var v)) hard[resource] = (text, v);
        return hard;
    }

    /// <summary>Checks a create against the namespace's quotas. The returned scope is held until the object is
    /// stored (or refused later), so the next check sees it.</summary>
    public static IDisposable? Admit(IClusterStore store, ResourceKind kind, string? ns, JsonObject obj)
    {
        if (ns is null) return null;
        var quotaKey = ResourceKinds.ResourceQuota.Key(ns, null);
        if (store.List(quotaKey).Items.Count == 0) return null;
        var scope = new Scope();
        try
        {
            var quotas = store.List(quotaKey).Items.Select(i => ClusterObjects.Parse(i.Value)).ToList();
            var usage = Usage(kind, obj);
            var name = Json.Str(obj["metadata"]?["name"]) ?? Json.Str(obj["metadata"]?["generateName"]) ?? "";
            foreach (var quota in quotas)
            {
                var quotaName = Json.Str(quota["metadata"]?["name"]);
                var hard = Hard(quota);
                if (!QuotaScopes.Applies(quota, kind, obj)) continue;
                if (kind == ResourceKinds.Pod && MissingCompute(obj, hard.Keys) is { } missing)
                    throw Forbidden(kind, name, $"failed quota: {quotaName}: must specify {missing}");
                var touched = hard.Keys.Where(r => usage.GetValueOrDefault(r) > 0).ToList();
                if (touched.Count == 0) continue;
                var used = Used(store, quota, ns, touched);
                var over = touched.Where(r => used[r] + usage[r] > hard[r].Value).OrderBy(r => r, StringComparer.Ordinal).ToList();
                if (over.Count == 0) continue;
                string List(Func<string, string> value) => string.Join(",", over.Select(r => $"{r}={value(r)}"));
                throw Forbidden(kind, name, $"exceeded quota: {quotaName}, requested: {List(r => Node.Quantity.Format(r, usage[r]))}, " +
                    $"used: {List(r => Node.Quantity.Format(r, used[r]))}, limited: {List(r => hard[r].Text)}");
            }
            return scope;
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    /// <summary>A quota of cpu or memory makes every container say how much it wants of it (Kubernetes' rule):
    /// "limits.cpu for: app; requests.memory for: app,side", or null.</summary>
    private static string? MissingCompute(JsonObject pod, IEnumerable<string> hard)
    {
        var required = hard.Where(r => r is "cpu" or "memory" or "requests.cpu" or "requests.memory" or "limits.cpu" or "limits.memory").ToHashSet();
        if (required.Count == 0) return null;
        var missing = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var spec = pod["spec"] as JsonObject;
        foreach (var c in (spec?["containers"] as JsonArray ?? []).Concat(spec?["initContainers"] as JsonArray ?? []).OfType<JsonObject>())
            foreach (var r in required)
            {
                var (field, resource) = r.Contains('.') ? (r.StartsWith("limits", StringComparison.Ordinal) ? "limits" : "requests", r[(r.IndexOf('.') + 1)..]) : ("requests", r);
                if (c["resources"]?[field]?[resource] is null)
                    (missing.TryGetValue(r, out var names) ? names : missing[r] = new SortedSet<string>(StringComparer.Ordinal)).Add(Json.Str(c["name"]) ?? "");
            }
        return missing.Count == 0 ? null : string.Join("; ", missing.Select(kv => $"{kv.Key} for: {string.Join(",", kv.Value)}"));
    }

    private static StatusException Forbidden(ResourceKind kind, string name, string message) =>
        new(403, "Forbidden", $"{kind.Resource} \"{name}\" is forbidden: {message}", new JsonObject { ["name"] = name, ["kind"] = kind.Resource });

    /// <summary>Holds <see cref="Serial"/> from the check until the create is done.</summary>
    private sealed class Scope : IDisposable
    {
        private bool _held;
        public Scope() { Serial.Enter(); _held = true; }
        public void Dispose()
        {
            if (!_held) return;
            _held = false;
            Serial.Exit();
        }
    }
}
