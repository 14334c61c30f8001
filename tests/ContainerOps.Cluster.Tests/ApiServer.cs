using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;
using ContainerOps.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Tests;

/// <summary>The Kubernetes API over a private store, served in process on a loopback port of its own (plain HTTP:
/// the API's behaviour, not its transport, is under test here).</summary>
public sealed class ApiServer : IAsyncDisposable
{
    private readonly TempDir _dir = new("capi");
    private readonly WebApplication _app;
    public SqliteClusterStore Store { get; }
    public HttpClient Http { get; }

    public ApiServer(KubernetesApiOptions? options = null)
    {
        Store = new SqliteClusterStore(Path.Combine(_dir.Path, "cluster.db"));
        var objects = new ClusterObjects(Store);
        objects.EnsureInitialObjects();
        var api = new KubernetesApi(objects, options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(api.HandleAsync);
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Http = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task<(int Code, JsonObject Body)> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json", string? accept = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, contentType);
        if (body is not null) request.Content!.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text) as JsonObject ?? throw new InvalidOperationException($"not an object: {text}"));
    }

    public Task<(int Code, JsonObject Body)> GetAsync(string path, string? accept = null) => SendAsync(HttpMethod.Get, path, accept: accept);
    public Task<(int Code, JsonObject Body)> PostAsync(string path, string body) => SendAsync(HttpMethod.Post, path, body);
    public Task<(int Code, JsonObject Body)> PutAsync(string path, string body) => SendAsync(HttpMethod.Put, path, body);
    public Task<(int Code, JsonObject Body)> PatchAsync(string path, string body, string type) => SendAsync(HttpMethod.Patch, path, body, type);
    public Task<(int Code, JsonObject Body)> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Store.Dispose();
        _dir.Dispose();
    }
}
