using System.Net;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;
using ContainerOps.Network.Ipam;
using ContainerOps.TestSupport;

namespace ContainerOps.Cluster.Tests;

/// <summary>Cluster IPs and node ports as the API server hands them out: defaults, chosen ones honoured or refused with
/// the field, never twice (concurrently, across restarts), released on delete.</summary>
public sealed class ServiceAdmissionTests : IDisposable
{
    private readonly TempDir _dir = new("csvc");
    private SqliteClusterStore _store;
    private ClusterObjects _objects;
    private static readonly ResourceKind Services = ResourceKinds.All.First(k => k.Kind == "Service");

    public ServiceAdmissionTests()
    {
        (_store, _objects) = Open("10.96.0.0/12");
    }

    private (SqliteClusterStore, ClusterObjects) Open(string cidr, string database = "cluster.db")
    {
        var store = new SqliteClusterStore(Path.Combine(_dir.Path, database));
        var objects = new ClusterObjects(store) { ServiceNetwork = ServiceNetworkOptions.Parse(cidr) };
        objects.EnsureInitialObjects();
        return (store, objects);
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private static JsonObject Service(string name, string? clusterIp = null, string type = "ClusterIP", long nodePort = 0, int port = 80)
    {
        var p = new JsonObject { ["port"] = (long)port };
        if (nodePort != 0) p["nodePort"] = nodePort;
        var spec = new JsonObject { ["selector"] = new JsonObject { ["app"] = name }, ["ports"] = new JsonArray(p), ["type"] = type };
        if (clusterIp is not null) spec["clusterIP"] = clusterIp;
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Service", ["metadata"] = new JsonObject { ["name"] = name }, ["spec"] = spec };
    }

    private JsonObject Create(JsonObject svc, string ns = "default") => _objects.Create(Services, ns, svc, FieldValidation.Strict, false, out _);

    private static string S(JsonNode? n) => n?.GetValue<string>() ?? "";

    private StatusException Refused(JsonObject svc)
    {
        var e = Assert.Throws<StatusException>(() => Create(svc));
        Assert.Equal(422, e.Code);
        return e;
    }

    private static string Cause(StatusException e) => e.ToStatus()["details"]!["causes"]!.AsArray().Select(c => $"{S(c!["field"])}: {S(c["message"])}").Single();

    [Fact]
    public void AClusterIpServiceGetsAnAddressFromTheRangeAndTheApiServersDefaults()
    {
        var created = Create(Service("web"));
        var spec = created["spec"]!;
        var ip = IPAddress.Parse(S(spec["clusterIP"]));
        Assert.True(Ipv4Subnet.Parse("10.96.0.0/12", "").Contains(ip));
        Assert.Equal([S(spec["clusterIP"])], spec["clusterIPs"]!.AsArray().Select(S));
        Assert.Equal(["IPv4"], spec["ipFamilies"]!.AsArray().Select(S));
        Assert.Equal("SingleStack", S(spec["ipFamilyPolicy"]));
        Assert.Equal("None", S(spec["sessionAffinity"]));
        Assert.Equal("Cluster", S(spec["internalTrafficPolicy"]));
        Assert.Null(spec["externalTrafficPolicy"]);
        Assert.Equal("TCP", S(spec["ports"]![0]!["protocol"]));
        Assert.Equal(80, spec["ports"]![0]!["targetPort"]!.GetValue<long>());
        Assert.Null(spec["ports"]![0]!["nodePort"]);
    }

    [Fact]
    public void TheApiServersOwnServiceHasTheFirstAddress()
    {
        var kubernetes = _objects.Get(Services, "default", "kubernetes");
        Assert.Equal("10.96.0.1", S(kubernetes["spec"]!["clusterIP"]));
        Assert.Equal(443, kubernetes["spec"]!["ports"]![0]!["port"]!.GetValue<long>());
    }

    [Fact]
    public void AChosenAddressIsHonouredOnceAndRefusedOutsideTheRange()
    {
        Assert.Equal("10.96.5.5", S(Create(Service("one", "10.96.5.5"))["spec"]!["clusterIP"]));
        var taken = Refused(Service("two", "10.96.5.5"));
        Assert.Equal("spec.clusterIPs: Invalid value: []string{\"10.96.5.5\"}: failed to allocate IP 10.96.5.5: provided IP is already allocated", Cause(taken));
        var outside = Refused(Service("three", "10.0.0.5"));
        Assert.Equal("spec.clusterIPs: Invalid value: []string{\"10.0.0.5\"}: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12", Cause(outside));
        Assert.Throws<StatusException>(() => _objects.Get(Services, "default", "two"));
        // Deleting the holder frees the address.
        _objects.Delete(Services, "default", "one", null, null, false);
        Assert.Equal("10.96.5.5", S(Create(Service("two", "10.96.5.5"))["spec"]!["clusterIP"]));
    }

    [Fact]
    public void HeadlessAndExternalNameServicesTakeNoAddress()
    {
        var before = _objects.Services.Allocated().Ips.Count;
        var headless = Create(Service("db", "None"));
        Assert.Equal("None", S(headless["spec"]!["clusterIP"]));
        var external = new JsonObject { ["metadata"] = new JsonObject { ["name"] = "ext" }, ["spec"] = new JsonObject { ["type"] = "ExternalName", ["externalName"] = "example.com" } };
        var created = Create(external);
        Assert.Null(created["spec"]!["clusterIP"]);
        Assert.Equal(before, _objects.Services.Allocated().Ips.Count);
    }

    [Fact]
    public void NodePortsAreAllocatedChosenOnesHonouredAndConflictsNamed()
    {
        var auto = Create(Service("auto", type: "NodePort"));
        var port = auto["spec"]!["ports"]![0]!["nodePort"]!.GetValue<long>();
        Assert.InRange(port, 30000, 32767);
        Assert.Equal("Cluster", S(auto["spec"]!["externalTrafficPolicy"]));
        Assert.Equal(30080, Create(Service("chosen", type: "NodePort", nodePort: 30080))["spec"]!["ports"]![0]!["nodePort"]!.GetValue<long>());
        Assert.Equal("spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated", Cause(Refused(Service("again", type: "NodePort", nodePort: 30080))));
        Assert.Equal("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
            Cause(Refused(Service("low", type: "NodePort", nodePort: 80))));
        // The refused services took no address along the way.
        Assert.DoesNotContain(_objects.Services.Allocated().Ips, ip => _objects.Store.List("services/").Items.All(i => S(ClusterObjects.Parse(i.Value)["spec"]!["clusterIP"]) != ip));
        // Back to ClusterIP: the node port is released.
        _objects.Update(Services, "default", "chosen", null, o => { o["spec"]!["type"] = "ClusterIP"; ((JsonObject)o["spec"]!["ports"]![0]!).Remove("nodePort"); return o; }, false, false);
        Assert.DoesNotContain(30080L, _objects.Services.Allocated().NodePorts);
        Assert.Equal(30080, Create(Service("again", type: "NodePort", nodePort: 30080))["spec"]!["ports"]![0]!["nodePort"]!.GetValue<long>());
    }

    [Fact]
    public void AReplaceWithoutTheAllocatedValuesKeepsThem()
    {
        var created = Create(Service("web", type: "NodePort"));
        var ip = S(created["spec"]!["clusterIP"]);
        var nodePort = created["spec"]!["ports"]![0]!["nodePort"]!.GetValue<long>();
        var replaced = _objects.Replace(Services, "default", "web", Service("web", type: "NodePort"), false, FieldValidation.Strict, false, out _);
        Assert.Equal(ip, S(replaced["spec"]!["clusterIP"]));
        Assert.Equal(nodePort, replaced["spec"]!["ports"]![0]!["nodePort"]!.GetValue<long>());
        Assert.Equal(created["metadata"]!["resourceVersion"]!.ToJsonString(), replaced["metadata"]!["resourceVersion"]!.ToJsonString());
        var changed = Assert.Throws<StatusException>(() => _objects.Replace(Services, "default", "web", Service("web", "10.96.9.9", "NodePort"), false, FieldValidation.Strict, false, out _));
        Assert.Contains("field is immutable", changed.ToStatus()["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task ConcurrentCreatesNeverShareAnAddressOrPort()
    {
        var made = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => Create(Service($"s{i}", type: "NodePort")))));
        Assert.Equal(40, made.Select(s => S(s["spec"]!["clusterIP"])).Distinct().Count());
        Assert.Equal(40, made.Select(s => s["spec"]!["ports"]![0]!["nodePort"]!.GetValue<long>()).Distinct().Count());
    }

    [Fact]
    public void AllocationsSurviveARestartAndAFullRangeIsAClearError()
    {
        _store.Dispose();
        // A /28: .1 is the API server's, .2–.14 for services (13), .0 and .15 never.
        (_store, _objects) = Open("10.99.0.0/28", "small.db");
        var first = Enumerable.Range(0, 13).Select(i => S(Create(Service($"s{i}"))["spec"]!["clusterIP"])).ToList();
        Assert.Equal(13, first.Distinct().Count());
        Assert.DoesNotContain("10.99.0.1", first);
        _store.Dispose();
        (_store, _objects) = Open("10.99.0.0/28", "small.db");
        var full = Assert.Throws<StatusException>(() => Create(Service("more")));
        Assert.Contains("range is full", full.Message);
        _objects.Delete(Services, "default", "s3", null, null, false);
        Assert.Equal(first[3], S(Create(Service("more"))["spec"]!["clusterIP"]));
    }

    [Fact]
    public void DeletingANamespaceReleasesItsServices()
    {
        _objects.Create(ResourceKinds.Namespace, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "shop" } }, FieldValidation.Strict, false, out _);
        Create(Service("web", "10.96.7.7", "NodePort", 31000), "shop");
        _objects.FinishNamespace("shop");
        Assert.DoesNotContain("10.96.7.7", _objects.Services.Allocated().Ips);
        Assert.DoesNotContain(31000L, _objects.Services.Allocated().NodePorts);
    }

    [Fact]
    public void BadPortsAreNamed()
    {
        var svc = Service("web", type: "ClusterIP", nodePort: 30001);
        Assert.Equal("spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'", Cause(Refused(svc)));
        var headlessNodePort = Service("web", "None", "NodePort");
        Assert.Equal("spec.clusterIP: Invalid value: \"None\": may not be set to 'None' for LoadBalancer or NodePort services", Cause(Refused(headlessNodePort)));
        var badTarget = Service("web");
        badTarget["spec"]!["ports"]![0]!["targetPort"] = "no_such";
        Assert.StartsWith("spec.ports[0].targetPort: Invalid value: \"no_such\"", Cause(Refused(badTarget)));
    }
}

/// <summary>The same through kubectl: what it creates and prints.</summary>
public sealed class ServiceKubectlTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string NodePortService(string name, int port) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: {{name}}}
        spec:
          type: NodePort
          selector: {app: web}
          ports: [{port: {{port}}, targetPort: 8080, nodePort: 30090}]
        """;

    [Fact]
    public void KubectlCreatesServicesAndPrintsAllocationConflicts()
    {
        // (kubectl create service sends protobuf, which the API does not take yet: apply sends JSON.)
        var (exit, _, err) = _server.KubectlWithInput(NodePortService("web", 80), "apply", "-f", "-");
        Assert.True(exit == 0, err);
        var (_, ip, _) = _server.Kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort} {.spec.ports[0].targetPort}");
        var parts = ip.Split(' ');
        Assert.StartsWith("10.", parts[0]);
        Assert.Equal(["30090", "8080"], parts[1..]);
        (exit, _, err) = _server.KubectlWithInput(NodePortService("other", 81), "apply", "-f", "-");
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.ports[0].nodePort: Invalid value: 30090: provided port is already allocated", err);
        var (_, table, _) = _server.Kubectl("get", "svc");
        Assert.Contains("kubernetes", table);
        Assert.Contains("10.96.0.1", table);
        (exit, _, err) = _server.Kubectl("delete", "svc", "web");
        Assert.True(exit == 0, err);
        (exit, _, err) = _server.KubectlWithInput(NodePortService("other", 81), "apply", "-f", "-");
        Assert.True(exit == 0, err);
    }
}
