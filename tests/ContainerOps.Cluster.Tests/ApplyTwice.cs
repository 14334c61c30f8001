using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Tests;

/// <summary>Two versions of one Deployment for `kubectl apply`: the second drops a container, an env var, a port, a
/// label and the strategy's rolling update, changes an image and adds a volume, so the patch kubectl computes has to
/// merge some lists by key and delete from them.</summary>
internal static class ApplyTwice
{
    private const string First = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: lists, labels: {app: lists, tier: web}}
        spec:
          selector: {matchLabels: {app: lists}}
          strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}
          template:
            metadata: {labels: {app: lists}}
            spec:
              containers:
              - name: web
                image: nginx:1.27
                env: [{name: A, value: "1"}, {name: B, value: "2"}]
                ports: [{containerPort: 80}, {containerPort: 443}]
                resources: {limits: {cpu: 1, memory: 64Mi}}
              - name: sidecar
                image: busybox
        """;

    private const string Second = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: lists, labels: {app: lists}}
        spec:
          selector: {matchLabels: {app: lists}}
          strategy: {type: Recreate}
          template:
            metadata: {labels: {app: lists}}
            spec:
              containers:
              - name: web
                image: nginx:1.28
                env: [{name: A, value: "1"}]
                ports: [{containerPort: 80}]
                resources: {limits: {cpu: 1, memory: 64Mi}}
                volumeMounts: [{name: data, mountPath: /data}]
              volumes: [{name: data, emptyDir: {}}]
        """;

    public static (string First, string Second) Files(string directory)
    {
        var first = Path.Combine(directory, "lists-1.yaml");
        var second = Path.Combine(directory, "lists-2.yaml");
        File.WriteAllText(first, First);
        File.WriteAllText(second, Second);
        return (first, second);
    }

    public static void AssertSecondApplied(JsonNode deployment)
    {
        Assert.Null(deployment["metadata"]!["labels"]!["tier"]);
        Assert.Equal("Recreate", deployment["spec"]!["strategy"]!["type"]!.GetValue<string>());
        Assert.Null(deployment["spec"]!["strategy"]!["rollingUpdate"]);
        var pod = deployment["spec"]!["template"]!["spec"]!;
        var container = Assert.Single(pod["containers"]!.AsArray())!;
        Assert.Equal("nginx:1.28", container["image"]!.GetValue<string>());
        Assert.Equal(["A"], container["env"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()));
        Assert.Equal([80], container["ports"]!.AsArray().Select(p => p!["containerPort"]!.GetValue<int>()));
        Assert.Equal("/data", Assert.Single(container["volumeMounts"]!.AsArray())!["mountPath"]!.GetValue<string>());
        Assert.Equal("data", Assert.Single(pod["volumes"]!.AsArray())!["name"]!.GetValue<string>());
    }
}
