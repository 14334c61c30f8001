using System.Text.Json.Nodes;
using ContainerOps.TestSupport;

namespace ContainerOps.Cluster.Tests;

/// <summary>Debian 12's kubectl 1.20 against the API: it reads /openapi/v2 as protobuf before apply, speaks JSON
/// otherwise, and must apply, get, watch and delete as 1.32 does.</summary>
public sealed class OldKubectlTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    private string _kubectl = null!;
    public Task InitializeAsync()
    {
        _kubectl = Kubectl.Debian120Path;
        _server = new TlsClusterServer();
        return Task.CompletedTask;
    }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Ok(params string[] args)
    {
        var (exit, output, err) = _server.KubectlAt(_kubectl, args);
        Assert.True(exit == 0, $"kubectl 1.20 {string.Join(' ', args)} exited {exit}: {err}{output}");
        return output;
    }

    [Fact]
    public void Kubectl_1_20_apply_removes_list_items_and_fields_the_file_no_longer_has()
    {
        var (first, second) = ApplyTwice.Files(_server.Directory);
        Ok("apply", "-f", first);
        Assert.Contains("deployment.apps/lists configured", Ok("apply", "-f", second));
        ApplyTwice.AssertSecondApplied(JsonNode.Parse(Ok("get", "deployment", "lists", "-o", "json"))!);
    }

    [Fact]
    public void Kubectl_1_20_explains_kinds_and_fields_from_the_v2_document()
    {
        var spec = Ok("explain", "deployment.spec");
        Assert.Contains("KIND:     Deployment", spec);
        Assert.Matches(@"replicas\s+<integer>\s+Number of desired pods", spec);
        Assert.Matches(@"template\s+<Object>", spec);
        Assert.Matches(@"containers\s+<\[\]Object>", Ok("explain", "pods.spec"));
        Assert.Matches(@"nodeSelector\s+<map\[string\]string>", Ok("explain", "pods.spec"));
        Assert.Matches(@"maxSurge\s+<string>", Ok("explain", "deploy.spec.strategy.rollingUpdate"));
        Assert.Matches(@"DESCRIPTION:\s+Event is a report of an event somewhere in the cluster.\s+Events have", Ok("explain", "events", "--api-version=v1"));
        var (exit, _, err) = _server.KubectlAt(_kubectl, ["explain", "deployment.spec.nosuchfield"]);
        Assert.NotEqual(0, exit);
        Assert.Contains("nosuchfield", err);
    }

    [Fact]
    public void Kubectl_1_20_refuses_an_unknown_field_before_sending_it()
    {
        // Its validation reads the v2 schema, as against any API server.
        var file = Path.Combine(_server.Directory, "typo.yaml");
        File.WriteAllText(file, """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: typo}
            spec:
              replicas: 1
              selector: {matchLabels: {app: typo}}
              template:
                metadata: {labels: {app: typo}}
                spec:
                  containers: [{name: web, image: busybox, imagePullPolice: Always, resources: {limits: {cpu: 1}}, ports: [{containerPort: 80}]}]
            """);
        var (exit, _, err) = _server.KubectlAt(_kubectl, ["apply", "-f", file]);
        Assert.NotEqual(0, exit);
        Assert.Contains("unknown field \"imagePullPolice\"", err);
        Assert.Contains("io.k8s.api.core.v1.Container", err);
        Assert.Contains("deployment.apps/typo created", Ok("apply", "-f", file, "--validate=false"));
    }

    [Fact]
    public void Kubectl_1_20_applies_gets_and_deletes()
    {
        Assert.Contains("v1.20", Ok("version", "--client", "--short"));
        var file = Path.Combine(_server.Directory, "app.yaml");
        File.WriteAllText(file, """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
            data: {level: "1"}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers: [{name: web, image: busybox}]
            """);
        var applied = Ok("apply", "-f", file);
        Assert.Contains("configmap/settings created", applied);
        Assert.Contains("deployment.apps/web created", applied);
        Assert.Contains("configmap/settings unchanged", Ok("apply", "-f", file));

        File.WriteAllText(file, File.ReadAllText(file).Replace("level: \"1\"", "level: \"2\""));
        Assert.Contains("configmap/settings configured", Ok("apply", "-f", file));
        var settings = JsonNode.Parse(Ok("get", "configmap", "settings", "-o", "json"))!;
        Assert.Equal("2", settings["data"]!["level"]!.GetValue<string>());
        Assert.Contains("web", Ok("get", "deployments", "-l", "app!=none"));

        Assert.Contains("deleted", Ok("delete", "-f", file));
        var (exit, _, err) = _server.KubectlAt(_kubectl, "get", "configmap", "settings");
        Assert.NotEqual(0, exit);
        Assert.Contains("NotFound", err);
    }
}
