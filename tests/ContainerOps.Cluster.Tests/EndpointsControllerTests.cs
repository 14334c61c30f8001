using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Network.Services;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Cluster.Tests;

/// <summary>The endpoints controller and the proxy's feed over the API in process, without a node: pods get their IP
/// and Ready condition written here as a node would. The same with real pods and traffic is in ContainerOps.Daemon.Tests.</summary>
public sealed class EndpointsControllerTests : IAsyncLifetime
{
    private ApiServer _api = null!;
    private ClusterObjects _objects = null!;
    private ControllerManager _controllers = null!;
    private readonly RecordingProxy _proxy = new();

    private sealed class RecordingDns : Controllers.IClusterDns
    {
        public volatile Network.Dns.DnsZone Zone = Network.Dns.DnsZone.Empty;
        public System.Net.IPEndPoint Server { get; } = new(System.Net.IPAddress.Parse("10.42.0.1"), 53);
        public void Publish(Network.Dns.DnsZone zone) => Zone = zone;
    }

    private readonly RecordingDns _dns = new();

    private sealed class RecordingProxy : IServiceProxy
    {
        public volatile IReadOnlyCollection<ProxyService> Last = [];
        public void Sync(IReadOnlyCollection<ProxyService> services) => Last = services;
    }

    public Task InitializeAsync()
    {
        _api = new ApiServer();
        _objects = new ClusterObjects(_api.Store);
        _controllers = new ControllerManager(_objects, new ControllerOptions(), NullLogger.Instance,
            [.. ControllerManager.BuiltIn, _ => new ServiceProxyController(_proxy), _ => new ClusterDnsController(_dns)]);
        _controllers.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _controllers.DisposeAsync();
        await _api.DisposeAsync();
    }

    private static readonly ResourceKind Endpoints = ResourceKinds.All.First(k => k.Kind == "Endpoints");

    private async Task PodAsync(string name, string ip, bool ready, string portName = "http", int containerPort = 8080, string app = "web")
    {
        var pod = """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","labels":{"app":"APP"}},
             "spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox:1.36","ports":[{"name":"PORTNAME","containerPort":PORT}]}]}}
            """.Replace("PORTNAME", portName).Replace("PORT", containerPort.ToString()).Replace("NAME", name).Replace("APP", app);
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/pods", pod)).Code);
        await SetReadyAsync(name, ip, ready);
    }

    private Task SetReadyAsync(string name, string ip, bool ready)
    {
        _objects.Update(ResourceKinds.Pod, "default", name, null, p =>
        {
            p["status"] = new JsonObject
            {
                ["phase"] = "Running", ["podIP"] = ip,
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False" }),
            };
            return p;
        }, statusOnly: true, dryRun: false);
        return Task.CompletedTask;
    }

    private static async Task<T> EventuallyAsync<T>(Func<T> read, Func<T, bool> done, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        T value;
        while (!done(value = read()))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"{what}: not within {seconds} s; last: {value}");
            await Task.Delay(50);
        }
        return value;
    }

    private JsonObject? EndpointsOf(string name) => _api.Store.Get(Endpoints.Key("default", name)) is { } o ? ClusterObjects.Parse(o.Value) : null;

    private List<JsonObject> SlicesOf(string name) => _api.Store.List("endpointslices.discovery.k8s.io/default/").Items
        .Select(i => ClusterObjects.Parse(i.Value)).Where(s => Json.Str(s["metadata"]!["labels"]?["kubernetes.io/service-name"]) == name).ToList();

    private static string Ips(JsonNode? addresses) => string.Join(",", (addresses as JsonArray ?? []).Select(a => Json.Str(a!["ip"])).Order());

    [Fact]
    public async Task ReadyPodsAreReadyEndpointsAndNamedPortsResolvePerPod()
    {
        await PodAsync("web-1", "10.42.0.11", ready: true);
        await PodAsync("web-2", "10.42.0.12", ready: false);
        await PodAsync("web-3", "10.42.0.13", ready: true, containerPort: 9090);
        await PodAsync("other", "10.42.0.99", ready: true, app: "db");
        var svc = """{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http"}]}}""";
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/services", svc)).Code);

        var ep = await EventuallyAsync(() => EndpointsOf("web"), e => e?["subsets"] is JsonArray { Count: 2 }, "Endpoints with two subsets");
        var subsets = ep!["subsets"]!.AsArray().OrderBy(s => s!["ports"]![0]!["port"]!.GetValue<long>()).ToList();
        Assert.Equal("10.42.0.11", Ips(subsets[0]!["addresses"]));
        Assert.Equal("10.42.0.12", Ips(subsets[0]!["notReadyAddresses"]));
        Assert.Equal(8080, subsets[0]!["ports"]![0]!["port"]!.GetValue<long>());
        Assert.Equal("10.42.0.13", Ips(subsets[1]!["addresses"]));
        Assert.Equal(9090, subsets[1]!["ports"]![0]!["port"]!.GetValue<long>());
        var address = subsets[0]!["addresses"]![0]!;
        Assert.Equal("n1", Json.Str(address["nodeName"]));
        Assert.Equal("web-1", Json.Str(address["targetRef"]!["name"]));

        var slices = await EventuallyAsync(() => SlicesOf("web"), s => s.Count == 2, "two slices");
        Assert.All(slices, s => Assert.Equal("endpointslice-controller.k8s.io", Json.Str(s["metadata"]!["labels"]!["endpointslice.kubernetes.io/managed-by"])));
        Assert.All(slices, s => Assert.Equal("web", Json.Str(s["metadata"]!["ownerReferences"]![0]!["name"])));
        var notReady = slices.SelectMany(s => s["endpoints"]!.AsArray()).Single(e => Json.Str(e!["targetRef"]!["name"]) == "web-2")!;
        Assert.False(notReady["conditions"]!["ready"]!.GetValue<bool>());
        Assert.False(notReady["conditions"]!["terminating"]!.GetValue<bool>());

        // The proxy is told: port 80 goes to the two ready pods, each on its own port.
        var proxied = await EventuallyAsync(() => _proxy.Last.FirstOrDefault(s => s.Name == "web"), s => s?.Ports[0].Endpoints.Count == 2, "the proxy's view");
        Assert.Equal(["10.42.0.11:8080", "10.42.0.13:9090"], proxied!.Ports[0].Endpoints.Select(e => $"{e.Address}:{e.Port}").Order());

        // Readiness lost: out at once; gained: in.
        await SetReadyAsync("web-1", "10.42.0.11", ready: false);
        await SetReadyAsync("web-2", "10.42.0.12", ready: true);
        await EventuallyAsync(() => _proxy.Last.First(s => s.Name == "web").Ports[0].Endpoints.Select(e => e.Address).Order().ToList(),
            l => l.SequenceEqual(["10.42.0.12", "10.42.0.13"]), "web-1 out, web-2 in");

        // Deleted service: its Endpoints and slices go, and the proxy forgets it.
        Assert.Equal(200, (await _api.DeleteAsync("/api/v1/namespaces/default/services/web")).Code);
        await EventuallyAsync(() => (EndpointsOf("web"), SlicesOf("web").Count), x => x.Item1 is null && x.Item2 == 0, "Endpoints and slices removed");
        await EventuallyAsync(() => _proxy.Last.Any(s => s.Name == "web"), any => !any, "the proxy forgot web");
    }

    [Fact]
    public async Task TheClusterDnsServiceReachesTheNodesNameServerAndItsZoneFollowsServices()
    {
        var dnsProxy = await EventuallyAsync(() => _proxy.Last.FirstOrDefault(s => s.Name == "kube-dns"), s => s?.Ports.Count == 2 && s.Ports.All(p => p.Endpoints.Count == 1), "kube-dns in the proxy");
        Assert.Equal("10.96.0.10", dnsProxy!.ClusterIp);
        var udp = dnsProxy.Ports.Single(p => p.Protocol == "UDP");
        Assert.Equal("10.42.0.1:53", $"{udp.Endpoints[0].Address}:{udp.Endpoints[0].Port}");
        var tcp = dnsProxy.Ports.Single(p => p.Protocol == "TCP");
        Assert.Equal("10.42.0.1:53", $"{tcp.Endpoints[0].Address}:{tcp.Endpoints[0].Port}");
        var svc = """{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"clusterIP":"10.96.7.8","ports":[{"port":80}]}}""";
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/services", svc)).Code);
        await EventuallyAsync(() => _dns.Zone.Lookup("web.default.svc.cluster.local", 1)?.Records.Count ?? 0, n => n == 1, "web in the zone");
    }

    [Fact]
    public async Task PublishNotReadyAddressesAndServicesWithoutSelectors()
    {
        await PodAsync("db-0", "10.42.0.21", ready: false, app: "db");
        var headless = """{"apiVersion":"v1","kind":"Service","metadata":{"name":"db"},"spec":{"clusterIP":"None","publishNotReadyAddresses":true,"selector":{"app":"db"},"ports":[{"port":5432,"targetPort":8080}]}}""";
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/services", headless)).Code);
        var ep = await EventuallyAsync(() => EndpointsOf("db"), e => e?["subsets"] is JsonArray { Count: 1 }, "db endpoints");
        Assert.Equal("10.42.0.21", Ips(ep!["subsets"]![0]!["addresses"]));
        // Headless: nothing for the proxy.
        await Task.Delay(200);
        Assert.DoesNotContain(_proxy.Last, s => s.Name == "db");

        // No selector: the user's Endpoints stay as written, and the user's slice feeds the proxy.
        var manual = """{"apiVersion":"v1","kind":"Service","metadata":{"name":"ext"},"spec":{"ports":[{"port":80}]}}""";
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/services", manual)).Code);
        var slice = """
            {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"ext-1","labels":{"kubernetes.io/service-name":"ext"}},
             "addressType":"IPv4","endpoints":[{"addresses":["192.0.2.7"]}],"ports":[{"name":"","port":8443,"protocol":"TCP"}]}
            """;
        Assert.Equal(201, (await _api.PostAsync("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice)).Code);
        var proxied = await EventuallyAsync(() => _proxy.Last.FirstOrDefault(s => s.Name == "ext"), s => s?.Ports[0].Endpoints.Count == 1, "ext in the proxy");
        Assert.Equal("192.0.2.7:8443", $"{proxied!.Ports[0].Endpoints[0].Address}:{proxied.Ports[0].Endpoints[0].Port}");
        await Task.Delay(200);
        Assert.Single(SlicesOf("ext"));
    }

    [Fact]
    public async Task EndpointsWrittenForAServiceWithoutSelectorAreMirroredIntoSlicesThatFeedTheProxyAndDns()
    {
        // The Endpoints first (as a manifest may list them), then the service: mirrored once both exist.
        var endpoints = """
            {"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"legacy"},"subsets":[
              {"addresses":[{"ip":"192.0.2.10","hostname":"one"}],"notReadyAddresses":[{"ip":"192.0.2.11"}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]}
            """;
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/endpoints", endpoints)).Code);
        var service = """{"apiVersion":"v1","kind":"Service","metadata":{"name":"legacy"},"spec":{"ports":[{"name":"http","port":80,"targetPort":8080}]}}""";
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/services", service)).Code);

        var slice = (await EventuallyAsync(() => SlicesOf("legacy"), s => s.Count == 1, "the mirrored slice"))[0];
        Assert.Equal(EndpointSliceMirroringController.ManagedBy, Json.Str(slice["metadata"]!["labels"]![EndpointsController.ManagedByLabel]));
        Assert.Equal("""[{"name":"http","port":8080,"protocol":"TCP"}]""", slice["ports"]!.ToJsonString());
        var mirrored = slice["endpoints"]!.AsArray().Select(e => $"{Json.Str(e!["addresses"]![0])}:{e["conditions"]!["ready"]}:{Json.Str(e["hostname"])}").ToList();
        Assert.Equal(["192.0.2.10:true:one", "192.0.2.11:false:"], mirrored);
        var proxied = await EventuallyAsync(() => _proxy.Last.FirstOrDefault(s => s.Name == "legacy"), s => s?.Ports[0].Endpoints.Count == 1, "legacy in the proxy");
        Assert.Equal("192.0.2.10:8080", $"{proxied!.Ports[0].Endpoints[0].Address}:{proxied.Ports[0].Endpoints[0].Port}");

        // The user's Endpoints are theirs: never rewritten; a change to them reaches the slice.
        var written = EndpointsOf("legacy")!;
        written["subsets"]![0]!["addresses"] = JsonNode.Parse("""[{"ip":"192.0.2.12"}]""");
        Assert.Equal(200, (await _api.PutAsync("/api/v1/namespaces/default/endpoints/legacy", written.ToJsonString())).Code);
        await EventuallyAsync(() => _proxy.Last.FirstOrDefault(s => s.Name == "legacy"), s => s?.Ports[0].Endpoints is [{ Address: "192.0.2.12" }], "the change in the proxy");
        await Task.Delay(300);
        Assert.Equal("192.0.2.12", Ips(EndpointsOf("legacy")!["subsets"]![0]!["addresses"]));
        Assert.Single(SlicesOf("legacy"));

        // Skipped when asked, and gone with the Endpoints.
        Assert.Equal(200, (await _api.DeleteAsync("/api/v1/namespaces/default/endpoints/legacy")).Code);
        await EventuallyAsync(() => SlicesOf("legacy"), s => s.Count == 0, "the mirrored slice gone");
        var skipped = endpoints.Replace("\"name\":\"legacy\"}", "\"name\":\"legacy\",\"labels\":{\"endpointslice.kubernetes.io/skip-mirror\":\"true\"}}");
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/endpoints", skipped)).Code);
        await Task.Delay(500);
        Assert.Empty(SlicesOf("legacy"));
    }
}
