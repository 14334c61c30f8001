using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

public sealed partial class ContainerOpsClient
{
    public async Task<IReadOnlyList<NetworkResource>> ListNetworksAsync(IDictionary<string, string>? filters = null, CancellationToken ct = default)
    {
        var query = "networks";
        if (filters is { Count: > 0 })
            query += "?filters=" + Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, string>(filters), Json.DictionaryStringString));
        return await GetJsonAsync(query, Json.ListNetworkResource, ct);
    }

    public Task<NetworkResource> InspectNetworkAsync(string idOrName, CancellationToken ct = default) =>
        GetJsonAsync("networks/" + Uri.EscapeDataString(idOrName), Json.NetworkResource, ct);

    public Task<NetworkCreateResponse> CreateNetworkAsync(NetworkCreateRequest request, CancellationToken ct = default) =>
        PostJsonAsync("networks/create", request, Json.NetworkCreateRequest, Json.NetworkCreateResponse, ct);

    public async Task RemoveNetworkAsync(string idOrName, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Delete, "networks/" + Uri.EscapeDataString(idOrName), null, ct);
    }

    public async Task ConnectNetworkAsync(string network, string container, EndpointSettings? settings = null, CancellationToken ct = default)
    {
        var body = new NetworkConnectRequest { Container = container, EndpointConfig = settings };
        using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, Json.NetworkConnectRequest));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(HttpMethod.Post, $"networks/{Uri.EscapeDataString(network)}/connect", content, ct);
    }

    public async Task DisconnectNetworkAsync(string network, string container, bool force = false, CancellationToken ct = default)
    {
        var body = new NetworkDisconnectRequest { Container = container, Force = force };
        using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, Json.NetworkDisconnectRequest));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(HttpMethod.Post, $"networks/{Uri.EscapeDataString(network)}/disconnect", content, ct);
    }

    public async Task<NetworkPruneResponse> PruneNetworksAsync(CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Post, "networks/prune", null, ct);
        return await ReadJson(response, Json.NetworkPruneResponse, ct);
    }
}
