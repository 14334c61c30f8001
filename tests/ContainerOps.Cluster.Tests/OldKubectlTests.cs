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
