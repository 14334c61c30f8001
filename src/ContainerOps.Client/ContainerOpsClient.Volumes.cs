using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

public sealed partial class ContainerOpsClient
{
    private static string FilterQuery(IDictionary<string, List<string>>? filters) =>
        filters is { Count: > 0 } ? "filters=" + Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, List<string>>(filters), Json.DictionaryStringListString)) : "";

    public async Task<IReadOnlyList<Volume>> ListVolumesAsync(IDictionary<string, List<string>>? filters = null, CancellationToken ct = default)
    {
        var q = FilterQuery(filters);
        return (await GetJsonAsync("volumes" + (q.Length > 0 ? "?" + q : ""), Json.VolumeListResponse, ct)).Volumes;
    }

    public Task<Volume> InspectVolumeAsync(string name, CancellationToken ct = default) =>
        GetJsonAsync("volumes/" + Uri.EscapeDataString(name), Json.Volume, ct);

    public Task<Volume> CreateVolumeAsync(VolumeCreateRequest request, CancellationToken ct = default) =>
        PostJsonAsync("volumes/create", request, Json.VolumeCreateRequest, Json.Volume, ct);

    public async Task RemoveVolumeAsync(string name, bool force = false, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"volumes/{Uri.EscapeDataString(name)}?force={(force ? "1" : "0")}", null, ct);
    }

    public async Task<VolumePruneResponse> PruneVolumesAsync(bool all = false, IDictionary<string, List<string>>? filters = null, CancellationToken ct = default)
    {
        var f = new Dictionary<string, List<string>>(filters ?? new Dictionary<string, List<string>>());
        if (all) f["all"] = ["true"];
        var q = FilterQuery(f);
        using var response = await SendAsync(HttpMethod.Post, "volumes/prune" + (q.Length > 0 ? "?" + q : ""), null, ct);
        return await ReadJson(response, Json.VolumePruneResponse, ct);
    }
}
