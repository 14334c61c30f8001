using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Network.Services;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-proxy's half on the cluster side: it reads services and endpoint slices from the informers and hands the
/// whole picture to the node's <see cref="IServiceProxy"/> (the nftables engine in ContainerOps.Network) whenever
/// either changes. One key for everything, so a burst of changes (a rollout, a restart) is one sync; the first sync
/// after the daemon starts rebuilds the rules from the API. Endpoints per service port: the ready ones, else (all
/// terminating) the serving terminating ones, as kube-proxy falls back to drain.
/// </summary>
public sealed class ServiceProxyController(IServiceProxy proxy) : IController
{
    private const string Key = "all";
    private static readonly ResourceKind Services = ResourceKinds.All.First(k => k.Kind == "Service");
    private static readonly ResourceKind Slices = ResourceKinds.All.First(k => k.Kind == "EndpointSlice");
    private Informer _services = null!, _slices = null!;

    public string Name => "service-proxy";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _services = context.Informers.For(Services);
        _slices = context.Informers.For(Slices);
        _services.AddHandler(_ => queue.Add(Key));
        _slices.AddHandler(_ => queue.Add(Key));
        queue.Add(Key); // at start, even with no service: a table a previous run left is put right
    }

    public async Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        await Task.WhenAll(_services.Synced, _slices.Synced).WaitAsync(ct);
        var slicesByService = _slices.List()
            .Where(s => Json.Str(s["metadata"]?["labels"]?[EndpointsController.ServiceNameLabel]) is not null)
            .ToLookup(s => Informer.KeyOf(Json.Str(s["metadata"]?["namespace"]), Json.Str(s["metadata"]?["labels"]?[EndpointsController.ServiceNameLabel])!));
        var services = _services.List().Select(s => ToProxy(s, slicesByService[Informer.KeyOf(s)].ToList())).OfType<ProxyService>().ToList();
        proxy.Sync(services);
        return Reconciled.Done;
    }

    /// <summary>The proxy's view of one service, or null when it has nothing for the proxy (headless, ExternalName).</summary>
    internal static ProxyService? ToProxy(JsonObject service, List<JsonObject> slices)
    {
        var spec = service["spec"] as JsonObject ?? [];
        var clusterIp = Json.Str(spec["clusterIP"]);
        if (clusterIp is null or "" or "None" || Json.Str(spec["type"]) == "ExternalName") return null;
        var ports = new List<ProxyPort>();
        foreach (var p in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var name = Json.Str(p["name"]) ?? "";
            var protocol = Json.Str(p["protocol"]) ?? "TCP";
            var ready = new List<ProxyEndpoint>();
            var draining = new List<ProxyEndpoint>();
            foreach (var slice in slices)
            {
                var slicePort = (slice["ports"] as JsonArray ?? []).OfType<JsonObject>()
                    .FirstOrDefault(sp => (Json.Str(sp["name"]) ?? "") == name && (Json.Str(sp["protocol"]) ?? "TCP") == protocol);
                if (slicePort is null || ServiceAllocator.Number(slicePort["port"]) is not (> 0 and var port)) continue;
                foreach (var e in (slice["endpoints"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    var conditions = e["conditions"];
                    var address = Json.Str((e["addresses"] as JsonArray)?.FirstOrDefault());
                    if (address is null) continue;
                    // An absent ready condition means ready (the API's rule for slices users write).
                    if (Flag(conditions?["ready"]) ?? true) ready.Add(new ProxyEndpoint(address, (int)port));
                    else if (Flag(conditions?["serving"]) == true && Flag(conditions?["terminating"]) == true) draining.Add(new ProxyEndpoint(address, (int)port));
                }
            }
            ports.Add(new ProxyPort(protocol, (int)ServiceAllocator.Number(p["port"]), (int)ServiceAllocator.Number(p["nodePort"]),
                (ready.Count > 0 ? ready : draining).Distinct().ToList()));
        }
        var affinity = Json.Str(spec["sessionAffinity"]) == "ClientIP"
            ? (int)(ServiceAllocator.Number(spec["sessionAffinityConfig"]?["clientIP"]?["timeoutSeconds"]) is > 0 and var t ? t : 10800) : 0;
        var externalIps = (spec["externalIPs"] as JsonArray ?? []).Select(Json.Str).OfType<string>().ToList();
        return new ProxyService(Json.Str(service["metadata"]?["namespace"])!, Json.Str(service["metadata"]?["name"])!, clusterIp, ports,
            affinity, Json.Str(spec["externalTrafficPolicy"]) == "Local", externalIps);
    }

    private static bool? Flag(JsonNode? node) => node is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;
}
