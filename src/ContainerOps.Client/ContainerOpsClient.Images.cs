using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

/// <summary>Builds, registries, archives, commit/diff/history and prune.</summary>
public sealed partial class ContainerOpsClient
{
    public async Task<ProgressFrame> BuildImageAsync(Stream contextTar, ImageBuildRequest request, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default)
    {
        var q = new StringBuilder("build?");
        foreach (var t in request.Tags) q.Append("&t=").Append(E(t));
        if (request.Dockerfile is { Length: > 0 } f) q.Append("&dockerfile=").Append(E(f));
        if (request.Target is { Length: > 0 } target) q.Append("&target=").Append(E(target));
        if (request.NoCache) q.Append("&nocache=1");
        if (request.BuildArgs.Count > 0) q.Append("&buildargs=").Append(E(JsonSerializer.Serialize(request.BuildArgs, Json.DictionaryStringString)));
        if (request.Labels.Count > 0) q.Append("&labels=").Append(E(JsonSerializer.Serialize(request.Labels, Json.DictionaryStringString)));
        foreach (var a in request.Allow) q.Append("&allow=").Append(E(a));
        using var content = new ProgressStreamContent(contextTar, null);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        if (request.Secrets.Count > 0) content.Headers.TryAddWithoutValidation(ImageBuildRequest.SecretsHeader, BuildSecretsHeader.Encode(request.Secrets));
        return await ProgressAsync(HttpMethod.Post, q.ToString(), content, progress, ct);
    }

    public Task<ProgressFrame> PullImageAsync(string reference, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default) =>
        ProgressAsync(HttpMethod.Post, $"images/create?fromImage={E(reference)}" + (insecure ? "&insecure=1" : ""), null, progress, ct);

    public Task<ProgressFrame> PushImageAsync(string reference, string? target = null, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default) =>
        ProgressAsync(HttpMethod.Post, $"images/push?name={E(reference)}" + (target is { Length: > 0 } t ? "&target=" + E(t) : "") + (insecure ? "&insecure=1" : ""), null, progress, ct);

    /// <summary>Sends a request answered with NDJSON progress frames; returns the last frame, throws the error a frame carries.</summary>
    private async Task<ProgressFrame> ProgressAsync(HttpMethod method, string path, HttpContent? content, IProgress<ProgressFrame>? progress, CancellationToken ct)
    {
        using var response = await SendAsync(method, path, content, ct, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        ProgressFrame? last = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0) continue;
            var frame = JsonSerializer.Deserialize(line, Json.ProgressFrame);
            if (frame is null) continue;
            if (frame.Error is { } error) throw new ContainerOpsException(error);
            progress?.Report(frame);
            last = frame;
        }
        if (last?.ImageId is null && last?.Digest is null)
            throw new ContainerOpsException(ErrorKind.Internal, "IncompleteResponse", "the daemon ended the operation without a result");
        return last;
    }

    public Task<RegistryLoginResponse> LoginAsync(RegistryLoginRequest request, CancellationToken ct = default) =>
        PostJsonAsync("auth", request, Json.RegistryLoginRequest, Json.RegistryLoginResponse, ct);

    public async Task<RegistryLoginResponse> LogoutAsync(string server, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Delete, "auth?server=" + E(server), null, ct);
        return await ReadJson(response, Json.RegistryLoginResponse, ct);
    }

    public async Task SaveImagesAsync(IEnumerable<string> names, Stream output, string format = "docker", IProgress<long>? bytesReceived = null, CancellationToken ct = default)
    {
        var q = new StringBuilder("images/get?format=").Append(E(format));
        foreach (var n in names) q.Append("&names=").Append(E(n));
        await DownloadAsync(q.ToString(), output, bytesReceived, ct);
    }

    public Task ExportContainerAsync(string idOrName, Stream output, IProgress<long>? bytesReceived = null, CancellationToken ct = default) =>
        DownloadAsync($"containers/{E(idOrName)}/export", output, bytesReceived, ct);

    private async Task DownloadAsync(string path, Stream output, IProgress<long>? bytesReceived, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, ct, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[81920];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            await output.WriteAsync(buffer.AsMemory(0, n), ct);
            total += n;
            bytesReceived?.Report(total);
        }
        await output.FlushAsync(ct);
    }

    public async Task<ImageSummary> CommitContainerAsync(CommitRequest request, CancellationToken ct = default)
    {
        var q = new StringBuilder("commit?container=").Append(E(request.Container));
        if (request.Reference is { Length: > 0 } r) q.Append("&repo=").Append(E(r));
        if (request.Author is { Length: > 0 } a) q.Append("&author=").Append(E(a));
        if (request.Comment is { Length: > 0 } c) q.Append("&comment=").Append(E(c));
        foreach (var change in request.Changes) q.Append("&changes=").Append(E(change));
        using var response = await SendAsync(HttpMethod.Post, q.ToString(), null, ct);
        var result = await ReadJson(response, Json.ImageLoadResponse, ct);
        return result.Images.Count > 0 ? result.Images[0] : throw new ContainerOpsException(ErrorKind.Internal, "EmptyResponse", "the daemon sent no image");
    }

    public async Task<IReadOnlyList<ContainerChange>> GetContainerChangesAsync(string idOrName, CancellationToken ct = default) =>
        await GetJsonAsync($"containers/{E(idOrName)}/changes", Json.ListContainerChange, ct);

    public async Task<IReadOnlyList<ImageHistoryEntry>> GetImageHistoryAsync(string nameOrId, CancellationToken ct = default) =>
        await GetJsonAsync("images/history?name=" + E(nameOrId), Json.ListImageHistoryEntry, ct);

    public async Task<PruneResponse> PruneImagesAsync(bool all = false, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Post, "images/prune?dangling=" + (all ? "false" : "true"), null, ct);
        return await ReadJson(response, Json.PruneResponse, ct);
    }

    public async Task<PruneResponse> PruneContainersAsync(CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Post, "containers/prune", null, ct);
        return await ReadJson(response, Json.PruneResponse, ct);
    }

    public async Task<PruneResponse> PruneBuildCacheAsync(CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Post, "build/prune", null, ct);
        return await ReadJson(response, Json.PruneResponse, ct);
    }

    public Task<DiskUsage> GetDiskUsageAsync(CancellationToken ct = default) => GetDiskUsageAsync(verbose: false, ct);

    public Task<DiskUsage> GetDiskUsageAsync(bool verbose, CancellationToken ct = default) =>
        GetJsonAsync("system/df" + (verbose ? "?verbose=1" : ""), Json.DiskUsage, ct);
}
