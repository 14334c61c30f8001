using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// The endpoints and endpoint-slice controllers in one, keyed by service: for a service with a selector it keeps an
/// `Endpoints` object (same name) and `EndpointSlice`s (discovery.k8s.io/v1, labelled with the service's name) in step
/// with the pods its selector matches. A pod is an address when it has an IP and has not finished; it is ready when
/// its Ready condition is and it is not terminating (`publishNotReadyAddresses` makes every one ready); a
/// terminating pod stays in the slices (serving, terminating) so that proxies may drain to it, and leaves Endpoints.
/// A named `targetPort` is resolved per pod from its containers' ports, so pods that name the port differently land
/// in different subsets and slices, as Kubernetes groups them. Services without a selector keep what users write.
/// </summary>
public sealed class EndpointsController : IController
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string ManagedByLabel = "endpointslice.kubernetes.io/managed-by";
    public const string ManagedBy = "endpointslice-controller.k8s.io";
    private static readonly ResourceKind Services = ResourceKinds.All.First(k => k.Kind == "Service");
    private static readonly ResourceKind Endpoints = ResourceKinds.All.First(k => k.Kind == "Endpoints");
    private static readonly ResourceKind Slices = ResourceKinds.All.First(k => k.Kind == "EndpointSlice");

    private Informer _services = null!, _pods = null!, _slices = null!;
    private ClusterObjects _objects = null!;

    public string Name => "endpoint-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _objects = context.Objects;
        _services = context.Informers.For(Services);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _slices = context.Informers.For(Slices);
        _services.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        // A pod's change wakes every service whose selector matched it before or matches it now.
        _pods.AddHandler(e =>
        {
            var ns = Json.Str(e.Object["metadata"]?["namespace"]);
            foreach (var service in _services.List(ns))
                if (Selects(service, e.Object) || (e.Old is { } old && Selects(service, old))) queue.Add(Informer.KeyOf(service));
        });
        // A slice changed or removed by someone else is put right again.
        _slices.AddHandler(e =>
        {
            if (Json.Str(e.Object["metadata"]?["labels"]?[ManagedByLabel]) == ManagedBy && Json.Str(e.Object["metadata"]?["labels"]?[ServiceNameLabel]) is { } service)
                queue.Add(Informer.KeyOf(Json.Str(e.Object["metadata"]?["namespace"]), service));
        });
    }

    private static Dictionary<string, string>? SelectorOf(JsonObject service) =>
        service["spec"]?["selector"] is JsonObject { Count: > 0 } selector ? LabelSelector.LabelsOf(selector) : null;

    private static bool Selects(JsonObject service, JsonObject pod)
    {
        if (SelectorOf(service) is not { } selector) return false;
        var labels = LabelSelector.LabelsOf(pod["metadata"]?["labels"]);
        return selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        var (ns, name) = Informer.SplitKey(key);
        var service = _services.Get(key);
        var owned = _slices.List(ns).Where(s => Json.Str(s["metadata"]?["labels"]?[ServiceNameLabel]) == name
            && Json.Str(s["metadata"]?["labels"]?[ManagedByLabel]) == ManagedBy).ToList();
        if (service is null || OwnerReferences.IsBeingDeleted(service) || SelectorOf(service) is null || Json.Str(service["spec"]?["type"]) == "ExternalName")
        {
            // Gone, or not ours to fill: what this controller made for it goes (a selectorless service's Endpoints are the user's).
            foreach (var slice in owned) Delete(Slices, ns, Json.Str(slice["metadata"]?["name"])!);
            if (service is null || SelectorOf(service) is not null) Delete(Endpoints, ns, name);
            return Task.FromResult(Reconciled.Done);
        }

        var groups = Group(service);
        WriteEndpoints(service, ns!, name, groups);
        var wanted = new HashSet<string>();
        foreach (var group in groups.Count > 0 ? groups : [new PortGroup([], [])])
        {
            var slice = Slice(service, ns!, name, group);
            var sliceName = Json.Str(slice["metadata"]!["name"])!;
            wanted.Add(sliceName);
            Write(Slices, ns!, sliceName, slice, current =>
            {
                current["metadata"]!["labels"] = slice["metadata"]!["labels"]!.DeepClone();
                current["metadata"]!["ownerReferences"] = slice["metadata"]!["ownerReferences"]!.DeepClone();
                current["addressType"] = "IPv4";
                current["endpoints"] = slice["endpoints"]!.DeepClone();
                current["ports"] = slice["ports"]?.DeepClone();
                return current;
            });
        }
        foreach (var stale in owned.Select(s => Json.Str(s["metadata"]?["name"])!).Where(n => !wanted.Contains(n)))
            Delete(Slices, ns, stale);
        return Task.FromResult(Reconciled.Done);
    }

    /// <summary>One pod as an endpoint, with the ports its service's ports resolve to on it.</summary>
    private sealed record PodEndpoint(JsonObject Pod, string Ip, bool Ready, bool Serving, bool Terminating, string? Hostname);

    /// <summary>Endpoints that share one resolved port list (a subset, a slice).</summary>
    private sealed record PortGroup(List<JsonObject> Ports, List<PodEndpoint> Endpoints)
    {
        public string Signature => string.Join(",", Ports.Select(p => $"{Json.Str(p["name"])}/{Json.Str(p["protocol"])}/{p["port"]}"));
    }

    private List<PortGroup> Group(JsonObject service)
    {
        var ns = Json.Str(service["metadata"]?["namespace"]);
        var publishNotReady = service["spec"]?["publishNotReadyAddresses"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        var servicePorts = (service["spec"]?["ports"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var groups = new Dictionary<string, PortGroup>(StringComparer.Ordinal);
        foreach (var pod in _pods.List(ns).Where(p => Selects(service, p)).OrderBy(p => Json.Str(p["metadata"]?["name"]), StringComparer.Ordinal))
        {
            if (Json.Str(pod["status"]?["podIP"]) is not { Length: > 0 } ip || PodStates.Phase(pod) is "Succeeded" or "Failed") continue;
            var terminating = OwnerReferences.IsBeingDeleted(pod);
            var serving = PodStates.IsReady(pod);
            // A pod whose subdomain is this service is known by its hostname under it (StatefulSet pods: web-0.web…).
            var hostname = Json.Str(pod["spec"]?["subdomain"]) == Json.Str(service["metadata"]?["name"]) ? Json.Str(pod["spec"]?["hostname"]) : null;
            var endpoint = new PodEndpoint(pod, ip, publishNotReady || (serving && !terminating), publishNotReady || serving, terminating, hostname);
            var ports = new List<JsonObject>();
            foreach (var sp in servicePorts)
                if (ResolveTargetPort(sp, pod) is { } port)
                    ports.Add(new JsonObject { ["name"] = Json.Str(sp["name"]) ?? "", ["port"] = port, ["protocol"] = Json.Str(sp["protocol"]) ?? "TCP" });
            if (ports.Count == 0 && servicePorts.Count > 0) continue; // none of the service's ports exists on this pod
            var group = new PortGroup(ports, []);
            if (!groups.TryGetValue(group.Signature, out var existing)) groups[group.Signature] = existing = group;
            existing.Endpoints.Add(endpoint);
        }
        return groups.Values.ToList();
    }

    /// <summary>The pod's port number for a service port: the targetPort's number, or the container port of that name.</summary>
    internal static long? ResolveTargetPort(JsonObject servicePort, JsonObject pod)
    {
        var target = servicePort["targetPort"] ?? servicePort["port"];
        if (target is JsonValue v && v.TryGetValue<string>(out var portName))
        {
            if (long.TryParse(portName, out var n)) return n;
            var protocol = Json.Str(servicePort["protocol"]) ?? "TCP";
            foreach (var c in (pod["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>())
                foreach (var p in (c["ports"] as JsonArray ?? []).OfType<JsonObject>())
                    if (Json.Str(p["name"]) == portName && (Json.Str(p["protocol"]) ?? "TCP") == protocol)
                        return ServiceAllocator.Number(p["containerPort"]);
            return null;
        }
        return ServiceAllocator.Number(target) is > 0 and var number ? number : null;
    }

    private static JsonObject Address(PodEndpoint e)
    {
        var a = new JsonObject { ["ip"] = e.Ip, ["targetRef"] = TargetRef(e.Pod) };
        if (e.Hostname is { Length: > 0 }) a["hostname"] = e.Hostname;
        if (Json.Str(e.Pod["spec"]?["nodeName"]) is { Length: > 0 } node) a["nodeName"] = node;
        return a;
    }

    private static JsonObject TargetRef(JsonObject pod) => new()
    {
        ["kind"] = "Pod", ["namespace"] = Json.Str(pod["metadata"]?["namespace"]), ["name"] = Json.Str(pod["metadata"]?["name"]),
        ["uid"] = Json.Str(pod["metadata"]?["uid"]),
    };

    private void WriteEndpoints(JsonObject service, string ns, string name, List<PortGroup> groups)
    {
        // Terminating pods leave Endpoints (the slices keep them for draining).
        var subsets = new JsonArray();
        foreach (var g in groups)
        {
            var ready = new JsonArray(g.Endpoints.Where(e => e.Ready && !e.Terminating).Select(e => (JsonNode)Address(e)).ToArray());
            var notReady = new JsonArray(g.Endpoints.Where(e => !e.Ready && !e.Terminating).Select(e => (JsonNode)Address(e)).ToArray());
            if (ready.Count + notReady.Count == 0) continue;
            var subset = new JsonObject();
            if (ready.Count > 0) subset["addresses"] = ready;
            if (notReady.Count > 0) subset["notReadyAddresses"] = notReady;
            subset["ports"] = new JsonArray(g.Ports.Select(p => (JsonNode)EndpointPort(p)).ToArray());
            subsets.Add((JsonNode)subset);
        }
        var labels = service["metadata"]?["labels"]?.DeepClone() as JsonObject ?? [];
        var desired = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Endpoints",
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = labels },
        };
        if (subsets.Count > 0) desired["subsets"] = subsets;
        Write(Endpoints, ns, name, desired, current =>
        {
            current["metadata"]!["labels"] = labels.DeepClone();
            current.Remove("subsets");
            if (subsets.Count > 0) current["subsets"] = subsets.DeepClone();
            return current;
        });
    }

    /// <summary>An Endpoints port has no empty name (one unnamed service port).</summary>
    private static JsonObject EndpointPort(JsonObject p)
    {
        var port = (JsonObject)p.DeepClone();
        if (Json.Str(port["name"]) is "") port.Remove("name");
        return port;
    }

    private static JsonObject Slice(JsonObject service, string ns, string name, PortGroup group)
    {
        // A stable name per port list: the same pods and ports always land in the same slice, so a resync rewrites nothing.
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(group.Signature)))[..5];
        var sliceName = name.Length > 56 ? name[..56] : name;
        var endpoints = new JsonArray(group.Endpoints.Select(e =>
        {
            var ep = new JsonObject
            {
                ["addresses"] = new JsonArray(e.Ip),
                ["conditions"] = new JsonObject { ["ready"] = e.Ready, ["serving"] = e.Serving, ["terminating"] = e.Terminating },
                ["targetRef"] = TargetRef(e.Pod),
            };
            if (Json.Str(e.Pod["spec"]?["nodeName"]) is { Length: > 0 } node) ep["nodeName"] = node;
            if (e.Hostname is { Length: > 0 }) ep["hostname"] = e.Hostname;
            return (JsonNode)ep;
        }).ToArray());
        var slice = new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1", ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{sliceName}-{hash}",
                ["labels"] = new JsonObject { [ServiceNameLabel] = name, [ManagedByLabel] = ManagedBy },
                ["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(service)),
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = endpoints,
        };
        if (group.Ports.Count > 0) slice["ports"] = new JsonArray(group.Ports.Select(p => p.DeepClone()).ToArray());
        return slice;
    }

    private void Write(ResourceKind kind, string ns, string name, JsonObject desired, Func<JsonObject, JsonObject> update) =>
        ObjectWrites.Write(_objects, kind, ns, name, desired, update);

    private void Delete(ResourceKind kind, string? ns, string name) => ObjectWrites.Delete(_objects, kind, ns, name);
}
