using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// Kubernetes' endpointslicemirroring controller: the `Endpoints` a user writes for a service without a selector are
/// mirrored into `EndpointSlice`s (one per subset, labelled with the service's name and managed by this controller), so
/// that the proxy, the cluster DNS and the cmdlets read one kind for every service, as kube-proxy reads only slices.
/// Mirroring rather than a proxy that reads both kinds: one reader path, and the slices clients see are the ones in
/// use. The user's Endpoints are never written here; a slice the user writes with the service-name label is read as it
/// is. Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"` are not mirrored.
/// </summary>
public sealed class EndpointSliceMirroringController : IController
{
    public const string ManagedBy = "endpointslicemirroring-controller.k8s.io";
    public const string SkipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror";
    private static readonly ResourceKind Services = ResourceKinds.All.First(k => k.Kind == "Service");
    private static readonly ResourceKind Endpoints = ResourceKinds.All.First(k => k.Kind == "Endpoints");
    private static readonly ResourceKind Slices = ResourceKinds.All.First(k => k.Kind == "EndpointSlice");

    private Informer _services = null!, _endpoints = null!, _slices = null!;
    private ClusterObjects _objects = null!;

    public string Name => "endpointslice-mirroring-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _objects = context.Objects;
        _services = context.Informers.For(Services);
        _endpoints = context.Informers.For(Endpoints);
        _slices = context.Informers.For(Slices);
        _services.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        _endpoints.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        // A mirrored slice changed or removed by someone else is put right again.
        _slices.AddHandler(e =>
        {
            if (Json.Str(e.Object["metadata"]?["labels"]?[EndpointsController.ManagedByLabel]) == ManagedBy
                && Json.Str(e.Object["metadata"]?["labels"]?[EndpointsController.ServiceNameLabel]) is { } service)
                queue.Add(Informer.KeyOf(Json.Str(e.Object["metadata"]?["namespace"]), service));
        });
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        var (ns, name) = Informer.SplitKey(key);
        var service = _services.Get(key);
        var endpoints = _endpoints.Get(key);
        var owned = _slices.List(ns).Where(s => Json.Str(s["metadata"]?["labels"]?[EndpointsController.ServiceNameLabel]) == name
            && Json.Str(s["metadata"]?["labels"]?[EndpointsController.ManagedByLabel]) == ManagedBy).ToList();
        var mirror = service is not null && !OwnerReferences.IsBeingDeleted(service)
            && service["spec"]?["selector"] is not JsonObject { Count: > 0 } && Json.Str(service["spec"]?["type"]) != "ExternalName"
            && endpoints is not null && Json.Str(endpoints["metadata"]?["labels"]?[SkipMirrorLabel]) != "true";
        var wanted = new HashSet<string>();
        if (mirror)
        {
            var subsets = (endpoints!["subsets"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            for (var i = 0; i < subsets.Count; i++)
            {
                var slice = Slice(service!, name, i, subsets[i]);
                if (slice is null) continue;
                var sliceName = Json.Str(slice["metadata"]!["name"])!;
                wanted.Add(sliceName);
                ObjectWrites.Write(_objects, Slices, ns!, sliceName, slice, current =>
                {
                    current["metadata"]!["labels"] = slice["metadata"]!["labels"]!.DeepClone();
                    current["metadata"]!["ownerReferences"] = slice["metadata"]!["ownerReferences"]!.DeepClone();
                    current["addressType"] = "IPv4";
                    current["endpoints"] = slice["endpoints"]!.DeepClone();
                    current["ports"] = slice["ports"]!.DeepClone();
                    return current;
                });
            }
        }
        foreach (var stale in owned.Select(s => Json.Str(s["metadata"]?["name"])!).Where(n => !wanted.Contains(n)))
            ObjectWrites.Delete(_objects, Slices, ns, stale);
        return Task.FromResult(Reconciled.Done);
    }

    /// <summary>One subset as a slice: its ready addresses ready, its not-ready ones not; null when it has no IPv4 address.</summary>
    private static JsonObject? Slice(JsonObject service, string name, int index, JsonObject subset)
    {
        var endpoints = new JsonArray();
        foreach (var (field, ready) in new[] { ("addresses", true), ("notReadyAddresses", false) })
            foreach (var a in (subset[field] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (Json.Str(a["ip"]) is not { } ip || !System.Net.IPAddress.TryParse(ip, out var parsed)
                    || parsed.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork) continue;
                var e = new JsonObject
                {
                    ["addresses"] = new JsonArray(ip),
                    ["conditions"] = new JsonObject { ["ready"] = ready, ["serving"] = ready, ["terminating"] = false },
                };
                foreach (var copied in new[] { "hostname", "nodeName", "targetRef" })
                    if (a[copied] is { } value) e[copied] = value.DeepClone();
                endpoints.Add((JsonNode)e);
            }
        if (endpoints.Count == 0) return null;
        var ports = new JsonArray((subset["ports"] as JsonArray ?? []).OfType<JsonObject>().Select(p => (JsonNode)new JsonObject
        {
            ["name"] = Json.Str(p["name"]) ?? "", ["port"] = p["port"]?.DeepClone(), ["protocol"] = Json.Str(p["protocol"]) ?? "TCP",
        }).ToArray());
        // A stable name per subset position and port list, so a resync rewrites nothing.
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{index}/{ports.ToJsonString()}")))[..5];
        return new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1", ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{(name.Length > 54 ? name[..54] : name)}-m{hash}",
                ["labels"] = new JsonObject { [EndpointsController.ServiceNameLabel] = name, [EndpointsController.ManagedByLabel] = ManagedBy },
                ["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(service)),
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = endpoints,
            ["ports"] = ports,
        };
    }
}
