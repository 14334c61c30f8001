using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ContainerOps.Cluster.Tests;

/// <summary>RBAC, Ingress and PriorityClass objects as charts and kubectl send them (JSON and protobuf), their columns,
/// and the Priority admission of pods.</summary>
public sealed class MoreKindsTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string[] Row(string table, int line) => Regex.Split(table.Split('\n', StringSplitOptions.RemoveEmptyEntries)[line].Trim(), @"\s{2,}");

    [Fact]
    public void ChartsApplyRolesBindingsIngressesAndPriorityClasses()
    {
        var applied = _server.KubectlWithInput("""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata: {name: "system:aggregate-to-shop"}
            rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: shop-readers}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:aggregate-to-shop"}
            subjects: [{kind: ServiceAccount, name: default, namespace: default}]
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: shop}
            spec:
              rules:
              - host: shop.example
                http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
            ---
            apiVersion: scheduling.k8s.io/v1
            kind: PriorityClass
            metadata: {name: batch-low}
            value: 100
            """, "apply", "-f", "-");
        Assert.True(applied.Exit == 0, applied.Err);
        Assert.Equal(["NAME", "ROLE", "AGE"], Row(_server.Ok("get", "rolebinding"), 0));
        Assert.Equal(["shop-readers", "ClusterRole/system:aggregate-to-shop"], Row(_server.Ok("get", "rolebinding"), 1)[..2]);
        var ingress = Row(_server.Ok("get", "ingress"), 1);
        Assert.Equal(["shop", "<none>", "shop.example", "80"], ingress[..4]); // ADDRESS is empty: no controller has taken it
        // The system classes are there from the start, with Kubernetes' values.
        var classes = _server.Ok("get", "priorityclass", "-o", "custom-columns=NAME:.metadata.name,VALUE:.value,POLICY:.preemptionPolicy", "--no-headers");
        Assert.Contains("system-cluster-critical   2000000000   PreemptLowerPriority", Regex.Replace(classes, " +", "   "));
        Assert.Contains("batch-low   100   PreemptLowerPriority", Regex.Replace(classes, " +", "   "));

        // kubectl's generators send these as protobuf.
        Assert.Equal("role.rbac.authorization.k8s.io/reader created", _server.Ok("create", "role", "reader", "--verb=get", "--resource=pods").Trim());
        Assert.Equal("clusterrolebinding.rbac.authorization.k8s.io/ops created", _server.Ok("create", "clusterrolebinding", "ops", "--clusterrole=view", "--user=ops").Trim());
        Assert.Equal("priorityclass.scheduling.k8s.io/high created", _server.Ok("create", "priorityclass", "high", "--value=1000").Trim());
        Assert.Equal("ingress.networking.k8s.io/simple created", _server.Ok("create", "ingress", "simple", "--rule=foo.example/bar=svc1:8080").Trim());
        var rule = JsonNode.Parse(_server.Ok("get", "ingress", "simple", "-o", "json"))!["spec"]!["rules"]![0]!;
        Assert.Equal("foo.example", rule["host"]!.GetValue<string>());
        Assert.Equal(8080, rule["http"]!["paths"]![0]!["backend"]!["service"]!["port"]!["number"]!.GetValue<int>());
    }

    [Fact]
    public void APodGetsItsPriorityClassesValueAndAnUnknownClassIsRefused()
    {
        _server.KubectlWithInput("""
            apiVersion: v1
            kind: Pod
            metadata: {name: critical}
            spec:
              priorityClassName: system-cluster-critical
              containers: [{name: c, image: busybox}]
            """, "apply", "-f", "-");
        var spec = JsonNode.Parse(_server.Ok("get", "pod", "critical", "-o", "json"))!["spec"]!;
        Assert.Equal(2000000000, spec["priority"]!.GetValue<long>());
        Assert.Equal("PreemptLowerPriority", spec["preemptionPolicy"]!.GetValue<string>());
        var refused = _server.KubectlWithInput("""
            apiVersion: v1
            kind: Pod
            metadata: {name: lost}
            spec:
              priorityClassName: nope
              containers: [{name: c, image: busybox}]
            """, "apply", "-f", "-");
        Assert.NotEqual(0, refused.Exit);
        Assert.Contains("pods \"lost\" is forbidden: no PriorityClass with name nope was found", refused.Err);
        // A pod without a class: 0, or the global default's value once there is one.
        _server.Ok("run", "plain", "--image=busybox");
        Assert.Equal(0, JsonNode.Parse(_server.Ok("get", "pod", "plain", "-o", "json"))!["spec"]!["priority"]!.GetValue<long>());

        var tooHigh = _server.KubectlWithInput("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: greedy}\nvalue: 1000000001\n", "apply", "-f", "-");
        Assert.Contains("maximum allowed value of a user defined priority is 1000000000", tooHigh.Err);
        var reserved = _server.KubectlWithInput("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: system-mine}\nvalue: 5\n", "apply", "-f", "-");
        Assert.Contains("priority class names with 'system-' prefix are reserved", reserved.Err);
    }

    [Fact]
    public void KubectlMeetsALimitRangesDefaultsAndAQuotasRefusal()
    {
        _server.Ok("create", "quota", "two-pods", "--hard=pods=2,count/configmaps=5");
        var (code, _, _) = _server.KubectlWithInput("""
            apiVersion: v1
            kind: LimitRange
            metadata: {name: sizes}
            spec:
              limits: [{type: Container, default: {memory: 128Mi}, max: {memory: 256Mi}}]
            """, "apply", "-f", "-");
        Assert.Equal(0, code);
        _server.Ok("run", "first", "--image=busybox");
        var resources = JsonNode.Parse(_server.Ok("get", "pod", "first", "-o", "jsonpath={.spec.containers[0].resources}"))!;
        Assert.Equal("128Mi", (string?)resources["limits"]!["memory"]);
        Assert.Equal("128Mi", (string?)resources["requests"]!["memory"]);
        var tooBig = _server.Kubectl("run", "big", "--image=busybox", "--overrides={\"spec\":{\"containers\":[{\"name\":\"big\",\"image\":\"busybox\",\"resources\":{\"limits\":{\"memory\":\"1Gi\"}}}]}}");
        Assert.NotEqual(0, tooBig.Exit);
        Assert.Contains("pods \"big\" is forbidden: maximum memory usage per Container is 256Mi, but limit is 1Gi", tooBig.Err);
        _server.Ok("run", "second", "--image=busybox");
        var third = _server.Kubectl("run", "third", "--image=busybox");
        Assert.NotEqual(0, third.Exit);
        Assert.Contains("Error from server (Forbidden): pods \"third\" is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2", third.Err);
        var table = _server.Ok("get", "quota", "two-pods");
        Assert.Equal(["NAME", "AGE", "REQUEST", "LIMIT"], Row(table, 0));
    }
}
