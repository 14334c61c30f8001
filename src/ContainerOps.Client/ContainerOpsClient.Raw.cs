using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace ContainerOps.Client;

public sealed partial class ContainerOpsClient
{
    public async Task<JsonNode?> SendJsonAsync(HttpMethod method, string path, JsonNode? body = null, CancellationToken ct = default, string mediaType = "application/json")
    {
        using var content = body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue(mediaType));
        using var response = await SendAsync(method, path, content, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }
}
