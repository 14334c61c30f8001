using System.Net;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Network.Dns;

namespace ContainerOps.Cluster.Controllers;

/// <summary>Where the node's cluster DNS answers: the name server of the pod network, which takes a zone.</summary>
public interface IClusterDns
{
    /// <summary>The address and port pods' queries to the kube-dns service are sent on to (the pod network's gateway).</summary>
    IPEndPoint Server { get; }

    /// <summary>Replaces the zone the server answers from.</summary>
    void Publish(DnsZone zone);
}

/// <summary>
/// The cluster DNS, CoreDNS's kubernetes plugin in our shape: the `kube-dns` service in kube-system (at the service
/// range's tenth address, 10.96.0.10 by default, UDP and TCP 53) with an EndpointSlice that points at the pod network's
/// name server, and that server's zone rebuilt from services, endpoint slices and pods whenever one changes, as the
/// Kubernetes DNS specification has the records: `svc.ns.svc.DOMAIN` A to the cluster IP, or to the ready endpoints
/// of a headless service (each also as `hostname.svc.ns.svc.DOMAIN`, or its dashed address); `_port._proto.svc…` SRV
/// for named ports; ExternalName as a CNAME; `a-b-c-d.ns.pod.DOMAIN`; PTR for cluster IPs and endpoints with hostnames.
/// Every other name goes on to the host's resolvers, as the server already does for containers.
/// </summary>
public sealed class ClusterDnsController(IClusterDns dns, string domain = "cluster.local") : IController
{
    private const string Key = "all";
    public const string ServiceName = "kube-dns", ServiceNamespace = "kube-system";
    private const string ManagedBy = "cluster-dns.containerops.io";
    private static readonly ResourceKind Services = ResourceKinds.All.First(k => k.Kind == "Service");
    private static readonly ResourceKind Slices = ResourceKinds.All.First(k => k.Kind == "EndpointSlice");
    private Informer _services = null!, _slices = null!, _pods = null!;
    private ClusterObjects _objects = null!;

    public string Name => "cluster-dns";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _objects = context.Objects;
        _services = context.Informers.For(Services);
        _slices = context.Informers.For(Slices);
        _pods = context.Informers.For(ResourceKinds.Pod);
        _services.AddHandler(_ => queue.Add(Key));
        _slices.AddHandler(_ => queue.Add(Key));
        // Only a pod's address matters here (a-b-c-d.ns.pod): status churn without an address change is skipped.
        _pods.AddHandler(e => { if (Json.Str(e.Old?["status"]?["podIP"]) != Json.Str(e.Object["status"]?["podIP"]) || e.Type != Store.WatchEventType.Modified) queue.Add(Key); });
        queue.Add(Key);
    }

    public async Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        await Task.WhenAll(_services.Synced, _slices.Synced, _pods.Synced).WaitAsync(ct);
        EnsureService();
        dns.Publish(BuildZone(_services.List(), _slices.List(), _pods.List(), domain));
        return Reconciled.Done;
    }

    /// <summary>The kube-dns service and the slice that sends it to this node's name server (kept as they should be).</summary>
    private void EnsureService()
    {
        if (_services.Get(ServiceNamespace, ServiceName) is null)
        {
            var service = new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = ServiceName, ["labels"] = new JsonObject { ["k8s-app"] = "kube-dns", ["kubernetes.io/name"] = "CoreDNS" } },
                ["spec"] = new JsonObject
                {
                    ["clusterIP"] = _objects.ServiceNetwork.DnsServiceIp.ToString(),
                    ["ports"] = new JsonArray(
                        new JsonObject { ["name"] = "dns", ["port"] = 53L, ["protocol"] = "UDP", ["targetPort"] = 53L },
                        new JsonObject { ["name"] = "dns-tcp", ["port"] = 53L, ["protocol"] = "TCP", ["targetPort"] = 53L }),
                },
            };
            try { _objects.Create(Services, ServiceNamespace, service, FieldValidation.Strict, dryRun: false, out _); }
            catch (StatusException e) when (e.Code == 409) { }
        }
        var slice = new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1", ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject
            {
                ["name"] = ServiceName + "-node",
                ["labels"] = new JsonObject { [EndpointsController.ServiceNameLabel] = ServiceName, [EndpointsController.ManagedByLabel] = ManagedBy },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(new JsonObject
            {
                ["addresses"] = new JsonArray(dns.Server.Address.ToString()),
                ["conditions"] = new JsonObject { ["ready"] = true, ["serving"] = true, ["terminating"] = false },
            }),
            ["ports"] = new JsonArray(
                new JsonObject { ["name"] = "dns", ["port"] = (long)dns.Server.Port, ["protocol"] = "UDP" },
                new JsonObject { ["name"] = "dns-tcp", ["port"] = (long)dns.Server.Port, ["protocol"] = "TCP" }),
        };
        try
        {
            _objects.Update(Slices, ServiceNamespace, ServiceName + "-node", null, current =>
            {
                current["endpoints"] = slice["endpoints"]!.DeepClone();
                current["ports"] = slice["ports"]!.DeepClone();
                current["metadata"]!["labels"] = slice["metadata"]!["labels"]!.DeepClone();
                return current;
            }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404)
        {
            try { _objects.Create(Slices, ServiceNamespace, slice, FieldValidation.Strict, dryRun: false, out _); }
            catch (StatusException c) when (c.Code == 409) { }
        }
    }

    /// <summary>The zone for these objects (a pure function: tests call it directly).</summary>
    public static DnsZone BuildZone(IEnumerable<JsonObject> services, IEnumerable<JsonObject> slices, IEnumerable<JsonObject> pods, string domain)
    {
        var names = new Dictionary<string, List<DnsRecord>>(StringComparer.Ordinal);
        void Add(string name, DnsRecord r)
        {
            if (!names.TryGetValue(name, out var list)) names[name] = list = [];
            if (!list.Contains(r)) list.Add(r);
        }
        var slicesByService = slices.Where(s => Json.Str(s["metadata"]?["labels"]?[EndpointsController.ServiceNameLabel]) is not null)
            .ToLookup(s => $"{Json.Str(s["metadata"]?["namespace"])}/{Json.Str(s["metadata"]?["labels"]?[EndpointsController.ServiceNameLabel])}");
        foreach (var service in services)
        {
            var ns = Json.Str(service["metadata"]?["namespace"]) ?? "default";
            var name = Json.Str(service["metadata"]?["name"]) ?? "";
            var spec = service["spec"] as JsonObject ?? [];
            var fqdn = $"{name}.{ns}.svc.{domain}";
            if (Json.Str(spec["type"]) == "ExternalName")
            {
                if (Json.Str(spec["externalName"]) is { Length: > 0 } target) Add(fqdn, new CnameRecord(target.TrimEnd('.').ToLowerInvariant()));
                continue;
            }
            var clusterIp = Json.Str(spec["clusterIP"]);
            var servicePorts = (spec["ports"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            if (clusterIp is { Length: > 0 } && clusterIp != "None" && IPAddress.TryParse(clusterIp, out var ip))
            {
                Add(fqdn, new ARecord(ip));
                Add(DnsZone.ReverseName(ip), new PtrRecord(fqdn));
                foreach (var p in servicePorts.Where(p => Json.Str(p["name"]) is { Length: > 0 }))
                    Add($"_{Json.Str(p["name"])}._{(Json.Str(p["protocol"]) ?? "TCP").ToLowerInvariant()}.{fqdn}",
                        new SrvRecord(0, 100, (ushort)ServiceAllocator.Number(p["port"]), fqdn));
                continue;
            }
            // Headless: the ready endpoints themselves.
            foreach (var slice in slicesByService[$"{ns}/{name}"])
            {
                var ports = (slice["ports"] as JsonArray ?? []).OfType<JsonObject>().ToList();
                foreach (var e in (slice["endpoints"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    if (e["conditions"]?["ready"] is JsonValue r && r.TryGetValue<bool>(out var ready) && !ready) continue;
                    if (Json.Str((e["addresses"] as JsonArray)?.FirstOrDefault()) is not { } address || !IPAddress.TryParse(address, out var endpointIp)) continue;
                    var hostname = Json.Str(e["hostname"]);
                    var endpointName = $"{hostname ?? address.Replace('.', '-')}.{fqdn}";
                    Add(fqdn, new ARecord(endpointIp));
                    Add(endpointName, new ARecord(endpointIp));
                    if (hostname is not null) Add(DnsZone.ReverseName(endpointIp), new PtrRecord(endpointName));
                    foreach (var p in ports.Where(p => Json.Str(p["name"]) is { Length: > 0 }))
                        Add($"_{Json.Str(p["name"])}._{(Json.Str(p["protocol"]) ?? "TCP").ToLowerInvariant()}.{fqdn}",
                            new SrvRecord(0, 100, (ushort)ServiceAllocator.Number(p["port"]), endpointName));
                }
            }
        }
        foreach (var pod in pods)
            if (Json.Str(pod["status"]?["podIP"]) is { } podIp && IPAddress.TryParse(podIp, out var a))
                Add($"{podIp.Replace('.', '-')}.{Json.Str(pod["metadata"]?["namespace"])}.pod.{domain}", new ARecord(a));
        return new DnsZone([domain], names.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<DnsRecord>)kv.Value, StringComparer.Ordinal));
    }
}
