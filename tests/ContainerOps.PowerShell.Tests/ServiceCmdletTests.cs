using System.Text.Json.Nodes;

namespace ContainerOps.PowerShell.Tests;

/// <summary>The service cmdlets against the fake client's cluster objects: what they write to the API from their
/// parameters, how they read services and endpoint slices back, and how a pod's resolver expands names.</summary>
public class ServiceCmdletTests : IDisposable
{
    private const string Services = "api/v1/namespaces/default/services";
    private const string Slices = "apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
    private readonly Shell _sh = new();
    public void Dispose() => _sh.Dispose();

    /// <summary>The objects as the module's default views show them (80 columns), without the headers' colour.</summary>
    private static string Table(params object[] objects) => System.Text.RegularExpressions.Regex.Replace(FormatTests.Render(objects), "\x1b\\[[0-9;]*m", "");

    private JsonObject Stored(string name) => _sh.Client.ClusterObjects[$"{Services}/{name}"];

    private void AddDeployment(string name, string portsJson) =>
        _sh.Client.ClusterObjects[$"apis/apps/v1/namespaces/default/deployments/{name}"] = JsonNode.Parse("""
            {"metadata": {"name": "NAME", "namespace": "default", "creationTimestamp": "2026-12-05T00:00:00Z"},
             "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "NAME", "tier": "front"}},
                      "template": {"spec": {"containers": [{"name": "c", "image": "x", "ports": PORTS}]}}}}
            """.Replace("NAME", name).Replace("PORTS", portsJson))!.AsObject();

    private void AddSlice(string service, string name, params (string Ip, bool Ready, string Pod)[] endpoints) =>
        _sh.Client.ClusterObjects[$"{Slices}/{name}"] = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default", ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = service } },
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 8080, ["protocol"] = "TCP" }),
            ["endpoints"] = new JsonArray(endpoints.Select(e => (JsonNode)new JsonObject
            {
                ["addresses"] = new JsonArray(e.Ip), ["conditions"] = new JsonObject { ["ready"] = e.Ready },
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["name"] = e.Pod }, ["nodeName"] = "node1",
            }).ToArray()),
        };

    [Fact]
    public void SetFromParametersWritesSelectorPortsAndType()
    {
        var result = _sh.Run("Set-ClusterService -Name web -Selector @{app='web'} -Port '80:http','53/udp','dns=5353:53/udp' -Type NodePort -NodePort 30080 -SessionAffinity ClientIP");
        Assert.Empty(_sh.Errors);
        var spec = Stored("web")["spec"]!;
        Assert.Equal("NodePort", spec["type"]!.GetValue<string>());
        Assert.Equal("ClientIP", spec["sessionAffinity"]!.GetValue<string>());
        Assert.Equal("web", spec["selector"]!["app"]!.GetValue<string>());
        Assert.Equal("""{"name":"http","port":80,"protocol":"TCP","targetPort":"http","nodePort":30080}""", spec["ports"]![0]!.ToJsonString());
        // Several ports are all named: the unnamed one gets kubectl expose's port-N.
        Assert.Equal("""{"port":53,"protocol":"UDP","targetPort":53,"name":"port-2"}""", spec["ports"]![1]!.ToJsonString());
        Assert.Equal("""{"name":"dns","port":5353,"protocol":"UDP","targetPort":53}""", spec["ports"]![2]!.ToJsonString());
        var info = Assert.IsType<ServiceInfo>(Assert.Single(result).BaseObject);
        Assert.Equal("80:30080/TCP,53/UDP,5353/UDP", info.Ports);
    }

    [Fact]
    public void ABadPortIsAnErrorThatNamesItAndCreatesNothing()
    {
        _sh.Run("Set-ClusterService -Name web -Selector @{app='web'} -Port '80:8080/icmp'");
        var error = Assert.Single(_sh.Errors);
        Assert.StartsWith("ServicePortInvalid", error.FullyQualifiedErrorId);
        Assert.Contains("80:8080/icmp", error.Exception.Message);
        Assert.Empty(_sh.Client.ClusterObjects);
        _sh.Errors.Clear();
        _sh.Run("Set-ClusterService -Name web -Selector @{app='web'}");
        Assert.StartsWith("ServicePortRequired", Assert.Single(_sh.Errors).FullyQualifiedErrorId);
        Assert.Empty(_sh.Client.ClusterObjects);
    }

    [Fact]
    public void ExposingADeploymentTakesItsSelectorNameAndPortsAlsoFromThePipeline()
    {
        AddDeployment("web", """[{"name": "http", "containerPort": 8080}]""");
        AddDeployment("api", "[]");
        _sh.Run("Set-ClusterService -Deployment web");
        Assert.Empty(_sh.Errors);
        var spec = Stored("web")["spec"]!;
        Assert.Equal("""{"app":"web","tier":"front"}""", spec["selector"]!.ToJsonString());
        Assert.Equal("""{"port":8080,"protocol":"TCP","targetPort":8080,"name":"http"}""", spec["ports"]![0]!.ToJsonString());

        var piped = _sh.Run("Get-Deployment api | Set-ClusterService -Port 80:9000 -Name api-svc");
        Assert.Empty(_sh.Errors);
        Assert.Equal("api-svc", Assert.IsType<ServiceInfo>(Assert.Single(piped).BaseObject).Name);
        Assert.Equal("api", Stored("api-svc")["spec"]!["selector"]!["app"]!.GetValue<string>());
        Assert.Equal(9000, Stored("api-svc")["spec"]!["ports"]![0]!["targetPort"]!.GetValue<int>());

        // A deployment without container ports needs -Port.
        _sh.Run("Set-ClusterService -Deployment api");
        Assert.StartsWith("ServicePortRequired", Assert.Single(_sh.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void ChangingAServiceKeepsWhatIsNotGivenAndATypeChangeDropsNodePorts()
    {
        _sh.Run("Set-ClusterService -Name web -Selector @{app='web'} -Port 80:8080 -Type NodePort -NodePort 30080 -Label @{team='a'}");
        Stored("web")["spec"]!["clusterIP"] = "10.96.0.20";
        _sh.Run("Set-ClusterService web -Port 80:9090");
        Assert.Empty(_sh.Errors);
        var spec = Stored("web")["spec"]!;
        Assert.Equal("10.96.0.20", spec["clusterIP"]!.GetValue<string>());
        Assert.Equal("web", spec["selector"]!["app"]!.GetValue<string>());
        Assert.Equal(30080, spec["ports"]![0]!["nodePort"]!.GetValue<int>()); // the allocated node port stays with its port
        Assert.Equal(9090, spec["ports"]![0]!["targetPort"]!.GetValue<int>());

        _sh.Run("Get-ClusterService web | Set-ClusterService -Type ClusterIP");
        Assert.Empty(_sh.Errors);
        spec = Stored("web")["spec"]!;
        Assert.Equal("ClusterIP", spec["type"]!.GetValue<string>());
        Assert.Null(spec["ports"]![0]!["nodePort"]);
        Assert.Equal("a", Stored("web")["metadata"]!["labels"]!["team"]!.GetValue<string>());

        _sh.Run("Set-ClusterService web -ExternalName db.example.com");
        spec = Stored("web")["spec"]!;
        Assert.Equal("ExternalName", spec["type"]!.GetValue<string>());
        Assert.Null(spec["clusterIP"]);
    }

    [Fact]
    public void GetCountsReadyEndpointsAndShowsTheKubectlColumns()
    {
        _sh.Run("Set-ClusterService -Name web -Selector @{app='web'} -Port 80:http -Type NodePort -NodePort 30080");
        Stored("web")["spec"]!["clusterIP"] = "10.96.0.20";
        AddSlice("web", "web-abc", ("10.42.0.5", true, "web-1"), ("10.42.0.6", true, "web-2"), ("10.42.0.7", false, "web-3"));
        var service = Assert.IsType<ServiceInfo>(Assert.Single(_sh.Run("Get-ClusterService")).BaseObject);
        Assert.Equal(2, service.Endpoints);
        var table = Table(service);
        Assert.Matches(@"NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+ENDPOINTS\s+AGE", table);
        Assert.Matches(@"web\s+NodePort\s+10\.96\.0\.20\s+<none>\s+80:30080/TCP\s+2", table);

        _sh.Run("Get-ClusterService nothing");
        Assert.StartsWith("ServiceNotFound", Assert.Single(_sh.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void EndpointsComeWithTheirPodsReadyOnesFirst()
    {
        _sh.Run("Set-ClusterService -Name web -Selector @{app='web'} -Port 80:http");
        AddSlice("web", "web-abc", ("10.42.0.7", false, "web-3"), ("10.42.0.5", true, "web-1"));
        var endpoints = _sh.Run("Get-ClusterService web | Get-ClusterEndpoint").Select(o => (EndpointInfo)o.BaseObject).ToList();
        Assert.Empty(_sh.Errors);
        Assert.Equal(["web-1", "web-3"], endpoints.Select(e => e.Pod));
        Assert.Equal([true, false], endpoints.Select(e => e.Ready));
        Assert.Equal(["http:8080/TCP"], endpoints[0].Ports);
        var table = Table(endpoints[0]);
        Assert.Matches(@"web\s+10\.42\.0\.5\s+http:8080/TCP\s+True\s+web-1", table);

        _sh.Run("Get-ClusterEndpoint nothing");
        Assert.Equal(System.Management.Automation.ErrorCategory.ObjectNotFound, Assert.Single(_sh.Errors).CategoryInfo.Category);
    }

    [Fact]
    public void RemoveHonoursWhatIfAndTakesServicesFromThePipeline()
    {
        _sh.Run("Set-ClusterService -Name web -Selector @{app='web'} -Port 80; Set-ClusterService -Name db -Selector @{app='db'} -Port 5432");
        _sh.Run("Remove-ClusterService web -WhatIf");
        Assert.True(_sh.Client.ClusterObjects.ContainsKey($"{Services}/web"));
        _sh.Run("Get-ClusterService | Remove-ClusterService -Force");
        Assert.Empty(_sh.Errors);
        Assert.Empty(_sh.Client.ClusterObjects);
    }

    [Fact]
    public void AManifestCreatesThenReplacesKeepingTheAllocatedClusterIp()
    {
        var path = Path.Combine(Path.GetTempPath(), $"svc-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: other}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, labels: {tier: front}}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 80, targetPort: 8080}]
            """);
        try
        {
            Assert.Equal("web", Assert.IsType<ServiceInfo>(Assert.Single(_sh.Run($"Set-ClusterService -Path '{path}'")).BaseObject).Name);
            Assert.Empty(_sh.Errors);
            Stored("web")["spec"]!["clusterIP"] = "10.96.0.30";
            File.WriteAllText(path, File.ReadAllText(path).Replace("targetPort: 8080", "targetPort: 9090"));
            _sh.Run($"[pscustomobject]@{{ FullName = '{path}' }} | Set-ClusterService"); // a file from the pipeline, by property name
            Assert.Empty(_sh.Errors);
            Assert.Equal("10.96.0.30", Stored("web")["spec"]!["clusterIP"]!.GetValue<string>());
            Assert.Equal(9090, Stored("web")["spec"]!["ports"]![0]!["targetPort"]!.GetValue<long>()); // YAML numbers are read as int64
            Assert.Equal("front", Stored("web")["metadata"]!["labels"]!["tier"]!.GetValue<string>());
            File.WriteAllText(path, "kind: ConfigMap\nmetadata: {name: x}\n");
            _sh.Run($"Set-ClusterService -Path '{path}'");
            Assert.StartsWith("ServiceManifestEmpty", Assert.Single(_sh.Errors).FullyQualifiedErrorId);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("web", "web.ns1.svc.cluster.local,web.svc.cluster.local,web.cluster.local,web")]
    [InlineData("web.shop", "web.shop.ns1.svc.cluster.local,web.shop.svc.cluster.local,web.shop.cluster.local,web.shop")]
    [InlineData("_http._tcp.web", "_http._tcp.web.ns1.svc.cluster.local,_http._tcp.web.svc.cluster.local,_http._tcp.web.cluster.local,_http._tcp.web")]
    [InlineData("a.b.c.d.e.f", "a.b.c.d.e.f,a.b.c.d.e.f.ns1.svc.cluster.local,a.b.c.d.e.f.svc.cluster.local,a.b.c.d.e.f.cluster.local")]
    [InlineData("web.ns1.svc.cluster.local.", "web.ns1.svc.cluster.local")]
    public void NamesExpandThroughTheSearchListAsAPodsResolverDoes(string name, string expected) =>
        Assert.Equal(expected, string.Join(",", ClusterNameSearch.Candidates(name, "ns1", "cluster.local")));
}
