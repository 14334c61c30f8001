using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Core.Text;

namespace ContainerOps.Cluster.Tests;

/// <summary>YAML on the wire, as the API server takes and gives it: application/yaml request bodies (and real YAML
/// in server-side apply patches), and YAML answers to a client that asks for them first.</summary>
public sealed class YamlBodiesTests : IAsyncLifetime
{
    private readonly ApiServer _api = new();
    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _api.DisposeAsync();

    private const string ConfigMap = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          labels: {tier: web}
        data:
          port: "8080"      # a string, quoted
          greeting: hello
          empty: ""
        """;

    private async Task<(int Code, string Type, string Text)> SendAsync(HttpMethod method, string path, string? body, string contentType, string? accept = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8);
        if (body is not null) request.Content!.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await _api.Http.SendAsync(request);
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType ?? "", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AYamlBodyIsCreatedAndReplacedAndAnswersComeAsYamlWhenAskedFor()
    {
        var (code, _, text) = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", ConfigMap, "application/yaml");
        Assert.True(code == 201, text);
        var (_, stored) = await _api.GetAsync("/api/v1/namespaces/default/configmaps/settings");
        Assert.Equal("8080", Json.Str(stored["data"]!["port"]));
        Assert.Equal("", Json.Str(stored["data"]!["empty"]));
        Assert.Equal("web", Json.Str(stored["metadata"]!["labels"]!["tier"]));

        string type;
        (code, type, text) = await SendAsync(HttpMethod.Get, "/api/v1/namespaces/default/configmaps/settings", null, "", "application/yaml, application/json");
        Assert.Equal(200, code);
        Assert.Equal("application/yaml", type);
        Assert.StartsWith("apiVersion: v1", text);
        var reread = Assert.IsType<JsonObject>(Assert.Single(YamlJson.Read(text, "answer")));
        Assert.True(JsonNode.DeepEquals(stored, reread), text);

        (code, _, text) = await SendAsync(HttpMethod.Put, "/api/v1/namespaces/default/configmaps/settings", ConfigMap.Replace("greeting: hello", "greeting: bye"), "application/yaml");
        Assert.True(code == 200, text);
        Assert.Equal("bye", Json.Str((await _api.GetAsync("/api/v1/namespaces/default/configmaps/settings")).Body["data"]!["greeting"]));
    }

    [Fact]
    public async Task AServerSideApplyPatchMayBeRealYaml()
    {
        var (code, _, text) = await SendAsync(HttpMethod.Patch, "/api/v1/namespaces/default/configmaps/applied?fieldManager=curl", ConfigMap.Replace("name: settings", "name: applied"),
            "application/apply-patch+yaml");
        Assert.True(code == 201, text);
        var (_, stored) = await _api.GetAsync("/api/v1/namespaces/default/configmaps/applied");
        Assert.Equal("hello", Json.Str(stored["data"]!["greeting"]));
        Assert.Contains(stored["metadata"]!["managedFields"]!.AsArray(), f => Json.Str(f!["manager"]) == "curl");
    }

    [Theory]
    [InlineData("kind: ConfigMap\nmetadata: [unclosed", "the request body is not valid YAML: the request body:")]
    [InlineData("kind: ConfigMap\n---\nkind: Secret\n", "the request body holds 2 YAML documents")]
    public async Task ABrokenYamlBodyIsA400SayingWhere(string body, string message)
    {
        var (code, _, text) = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", body, "application/yaml");
        Assert.Equal(400, code);
        Assert.Contains(message, Json.Str(JsonNode.Parse(text)!["message"]));
    }
}
