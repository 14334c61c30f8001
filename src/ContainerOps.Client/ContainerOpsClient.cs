using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

/// <summary>The HTTP/JSON client of a node daemon over its Unix socket (interactive sessions over a WebSocket on the same socket).</summary>
public sealed partial class ContainerOpsClient : IContainerOpsClient
{
    private static readonly ApiJsonContext Json = ApiJsonContext.Default;
    private readonly SocketsHttpHandler _handler;
    private readonly HttpClient _http;
    private readonly string _socketPath;
    /// <summary>The connection <see cref="TryConnect"/> made, handed to the first request.</summary>
    private Socket? _firstConnection;

    public ContainerOpsClient(string socketPath)
    {
        _socketPath = socketPath;
        _handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                if (Interlocked.Exchange(ref _firstConnection, null) is { } ready) return new NetworkStream(ready, ownsSocket: true);
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(_socketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(_handler, disposeHandler: false) { BaseAddress = new Uri("http://containerops/"), Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", DockerApiVersions.OwnClientUserAgent);
    }

    public string Endpoint => "unix://" + _socketPath;

    /// <summary>Connects to the daemon of <paramref name="options"/> (default: from the environment),
    /// starting one when none answers and <see cref="ClientOptions.AutoStart"/> is set.</summary>
    public static IContainerOpsClient Connect(ClientOptions? options = null)
    {
        options ??= ClientOptions.FromEnvironment();
        var client = new ContainerOpsClient(options.EffectiveSocketPath);
        try
        {
            DaemonLauncher.EnsureRunning(client, options);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Whether a daemon accepts connections on the socket. The connection is kept for the first request: a
    /// command learns that the daemon is there without a request of its own (a ping and its answer).</summary>
    internal bool TryConnect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(_socketPath));
            Interlocked.Exchange(ref _firstConnection, socket)?.Dispose();
            return true;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return false;
        }
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _firstConnection, null)?.Dispose();
        _http.Dispose();
        _handler.Dispose();
    }

    // ---- plumbing ----

    private static string E(string s) => Uri.EscapeDataString(s);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, ct);
        }
        catch (HttpRequestException e)
        {
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DaemonUnreachable",
                $"cannot reach the ContainerOps daemon at {Endpoint}: {e.InnerException?.Message ?? e.Message}", Endpoint, inner: e);
        }
        if (!response.IsSuccessStatusCode)
        {
            using (response) throw await ErrorFrom(response, ct);
        }
        return response;
    }

    private static async Task<ContainerOpsException> ErrorFrom(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        try
        {
            var error = JsonSerializer.Deserialize(body, Json.ApiError);
            if (error is not null && error.Message.Length > 0) return new ContainerOpsException(error);
        }
        catch (JsonException) { }
        // No ApiError body (a path the daemon does not serve, say): the status still tells what kind of failure it is.
        var kind = response.StatusCode switch
        {
            HttpStatusCode.NotFound => ErrorKind.NotFound,
            HttpStatusCode.BadRequest => ErrorKind.InvalidArgument,
            HttpStatusCode.Conflict => ErrorKind.Conflict,
            HttpStatusCode.ServiceUnavailable => ErrorKind.ResourceUnavailable,
            _ => ErrorKind.Internal,
        };
        return new ContainerOpsException(kind, "DaemonError", $"daemon answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
    }

    private async Task<T> GetJsonAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, ct);
        return await ReadJson(response, type, ct);
    }

    private async Task<T> PostJsonAsync<TBody, T>(string path, TBody body, JsonTypeInfo<TBody> bodyType, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, bodyType));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(HttpMethod.Post, path, content, ct);
        return await ReadJson(response, type, ct);
    }

    private async Task PostAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, path, null, ct);
    }

    private static async Task<T> ReadJson<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken ct)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        return JsonSerializer.Deserialize(bytes, type)
            ?? throw new ContainerOpsException(ErrorKind.Internal, "EmptyResponse", "the daemon sent an empty answer");
    }

    private async IAsyncEnumerable<T> GetNdjsonAsync<T>(string path, JsonTypeInfo<T> type, [EnumeratorCancellation] CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Get, path, null, ct, HttpCompletionOption.ResponseHeadersRead);
        await foreach (var item in ReadNdjsonAsync(response, type, ct)) yield return item;
    }

    public async IAsyncEnumerable<string> ReadLinesAsync(string path, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var response = await SendAsync(HttpMethod.Get, path, null, ct, HttpCompletionOption.ResponseHeadersRead);
        await foreach (var line in ReadLinesAsync(response, ct)) yield return line;
    }

    private static async IAsyncEnumerable<T> ReadNdjsonAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var line in ReadLinesAsync(response, ct))
        {
            if (line.Length == 0) continue;
            var item = JsonSerializer.Deserialize(line, type);
            if (item is not null) yield return item;
        }
    }

    /// <summary>The lines of <paramref name="response"/>'s body, which it disposes at the end.</summary>
    private static async IAsyncEnumerable<string> ReadLinesAsync(HttpResponseMessage response, [EnumeratorCancellation] CancellationToken ct)
    {
        using var _ = response;
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (true)
        {
            string? line;
            try { line = await reader.ReadLineAsync(ct); }
            catch (IOException) when (ct.IsCancellationRequested) { yield break; }
            if (line is null) yield break;
            yield return line;
        }
    }

    // ---- API ----

    public async Task PingAsync(CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Get, "_ping", null, ct);
    }

    public Task<ContainerCreateResponse> CreateContainerAsync(ContainerCreateRequest request, CancellationToken ct = default) =>
        PostJsonAsync("containers/create" + (request.Name is { Length: > 0 } n ? "?name=" + E(n) : ""), request, CreateBodyType(request), Json.ContainerCreateResponse, ct);

    /// <summary>The generated writer alone (<see cref="CreateBodyJsonContext"/>) unless the body has a health check, whose
    /// fields have converters of their own that only the serializer's metadata applies.</summary>
    internal static JsonTypeInfo<ContainerCreateRequest> CreateBodyType(ContainerCreateRequest request) =>
        request.Healthcheck is null ? CreateBodyJsonContext.Default.ContainerCreateRequest : Json.ContainerCreateRequest;

    public async Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(bool all = false, IDictionary<string, string>? filters = null, CancellationToken ct = default)
    {
        var query = "containers/json?all=" + (all ? "1" : "0");
        if (filters is { Count: > 0 })
            query += "&filters=" + E(JsonSerializer.Serialize(new Dictionary<string, string>(filters), Json.DictionaryStringString));
        return await GetJsonAsync(query, Json.ListContainerSummary, ct);
    }

    public Task<ContainerDetails> InspectContainerAsync(string idOrName, CancellationToken ct = default) =>
        GetJsonAsync($"containers/{E(idOrName)}/json", Json.ContainerDetails, ct);

    public Task StartContainerAsync(string idOrName, CancellationToken ct = default) => PostAsync($"containers/{E(idOrName)}/start", ct);

    public Task StopContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default) =>
        PostAsync($"containers/{E(idOrName)}/stop" + (timeoutSeconds is int t ? "?t=" + t : ""), ct);

    public Task RestartContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default) =>
        PostAsync($"containers/{E(idOrName)}/restart" + (timeoutSeconds is int t ? "?t=" + t : ""), ct);

    public Task KillContainerAsync(string idOrName, string signal = "KILL", CancellationToken ct = default) =>
        PostAsync($"containers/{E(idOrName)}/kill?signal={E(signal)}", ct);

    public Task PauseContainerAsync(string idOrName, CancellationToken ct = default) => PostAsync($"containers/{E(idOrName)}/pause", ct);
    public Task UnpauseContainerAsync(string idOrName, CancellationToken ct = default) => PostAsync($"containers/{E(idOrName)}/unpause", ct);

    public async Task<ContainerWaitResponse> WaitContainerAsync(string idOrName, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Post, $"containers/{E(idOrName)}/wait", null, ct);
        return await ReadJson(response, Json.ContainerWaitResponse, ct);
    }

    public async Task<Task<ContainerWaitResponse>> RegisterWaitAsync(string idOrName, string condition, CancellationToken ct = default)
    {
        // The daemon sends the headers of a wait it holds at once, and the body when the condition is met.
        var response = await SendAsync(HttpMethod.Post, $"containers/{E(idOrName)}/wait?condition={E(condition)}", null, ct, HttpCompletionOption.ResponseHeadersRead);
        return ReadAndDispose(response, Json.ContainerWaitResponse, ct);
    }

    private static async Task<T> ReadAndDispose<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using (response) return await ReadJson(response, type, ct);
    }

    public async Task<IAsyncEnumerable<LogEntry>> AttachOutputAsync(string idOrName, bool stdout = true, bool stderr = true, CancellationToken ct = default)
    {
        var response = await SendAsync(HttpMethod.Post, $"containers/{E(idOrName)}/attach?stream=1&stdout={(stdout ? 1 : 0)}&stderr={(stderr ? 1 : 0)}",
            null, ct, HttpCompletionOption.ResponseHeadersRead);
        return ReadNdjsonAsync(response, Json.LogEntry, ct);
    }

    public Task RemoveContainerAsync(string idOrName, bool force = false, CancellationToken ct = default) =>
        RemoveContainerAsync(idOrName, force, removeVolumes: false, ct);

    public async Task RemoveContainerAsync(string idOrName, bool force, bool removeVolumes, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"containers/{E(idOrName)}?force={(force ? "1" : "0")}&v={(removeVolumes ? "1" : "0")}", null, ct);
    }

    public Task RenameContainerAsync(string idOrName, string newName, CancellationToken ct = default) =>
        PostAsync($"containers/{E(idOrName)}/rename?name={E(newName)}", ct);

    public IAsyncEnumerable<LogEntry> GetLogsAsync(string idOrName, bool follow = false, int? tail = null, DateTimeOffset? since = null,
        bool stdout = true, bool stderr = true, CancellationToken ct = default)
    {
        var q = new StringBuilder($"containers/{E(idOrName)}/logs?follow={(follow ? 1 : 0)}&stdout={(stdout ? 1 : 0)}&stderr={(stderr ? 1 : 0)}");
        if (tail is int t) q.Append("&tail=").Append(t);
        if (since is DateTimeOffset s) q.Append("&since=").Append(E(s.ToString("O")));
        return GetNdjsonAsync(q.ToString(), Json.LogEntry, ct);
    }

    public IAsyncEnumerable<EventMessage> GetEventsAsync(DateTimeOffset? since = null, DateTimeOffset? until = null,
        IReadOnlyDictionary<string, List<string>>? filters = null, CancellationToken ct = default)
    {
        var q = new List<string>();
        if (since is { } s) q.Add("since=" + Core.Events.EventTimes.Format(s));
        if (until is { } u) q.Add("until=" + Core.Events.EventTimes.Format(u));
        if (filters is { Count: > 0 })
            q.Add("filters=" + E(JsonSerializer.Serialize(filters.ToDictionary(kv => kv.Key, kv => kv.Value), Json.DictionaryStringListString)));
        return GetNdjsonAsync("events" + (q.Count > 0 ? "?" + string.Join('&', q) : ""), Json.EventMessage, ct);
    }

    public Task<ContainerProcessList> TopContainerAsync(string idOrName, CancellationToken ct = default) =>
        GetJsonAsync($"containers/{E(idOrName)}/top", Json.ContainerProcessList, ct);

    public Task<ContainerStats> StatsContainerAsync(string idOrName, CancellationToken ct = default) =>
        GetJsonAsync($"containers/{E(idOrName)}/stats?stream=0", Json.ContainerStats, ct);

    public async IAsyncEnumerable<StreamFrame> ExecAsync(string idOrName, ExecCreateRequest request, Stream? stdin = null,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        request.AttachStdin = stdin is not null;
        request.Tty = false;
        await using var session = await OpenSessionAsync($"containers/{E(idOrName)}/exec/ws", JsonSerializer.Serialize(request, Json.ExecCreateRequest), ct);
        var pump = stdin is null ? Task.CompletedTask : session.PumpInputAsync(stdin, ct);
        await foreach (var frame in session.ReadFramesAsync(ct))
            yield return frame;
        await pump;
    }

    public async Task<InteractiveSession> ExecInteractiveAsync(string idOrName, ExecCreateRequest request, CancellationToken ct = default)
    {
        request.AttachStdin = true;
        return (await OpenSessionAsync($"containers/{E(idOrName)}/exec/ws", JsonSerializer.Serialize(request, Json.ExecCreateRequest), ct)).AsInteractive();
    }

    public async Task<InteractiveSession> AttachAsync(string idOrName, CancellationToken ct = default) =>
        (await OpenSessionAsync($"containers/{E(idOrName)}/attach/ws", "{}", ct)).AsInteractive();

    /// <summary>Attach to a created container and start it once attached, so no early output is missed (`run -it`).</summary>
    public async Task<InteractiveSession> AttachAndStartAsync(string idOrName, CancellationToken ct = default) =>
        (await OpenSessionAsync($"containers/{E(idOrName)}/attach/ws?start=1", "{}", ct)).AsInteractive();

    private async Task<WebSocketSession> OpenSessionAsync(string path, string firstMessage, CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        try
        {
            using var invoker = new HttpMessageInvoker(_handler, disposeHandler: false);
            await ws.ConnectAsync(new Uri("ws://containerops/" + path), invoker, ct);
        }
        catch (WebSocketException e)
        {
            ws.Dispose();
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "SessionFailed", $"cannot open a session with the daemon at {Endpoint}: {e.Message}", inner: e);
        }
        var session = new WebSocketSession(ws);
        await session.SendTextAsync(firstMessage, ct);
        return session;
    }

    // ---- images ----

    public Task<IReadOnlyList<ImageSummary>> ListImagesAsync(bool all = false, CancellationToken ct = default) =>
        GetJsonAsync("images/json?all=" + (all ? 1 : 0), Json.ListImageSummary, ct).ContinueWith(t => (IReadOnlyList<ImageSummary>)t.Result, ct,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    public Task<ImageDetails> InspectImageAsync(string nameOrId, CancellationToken ct = default) =>
        GetJsonAsync("images/inspect?name=" + E(nameOrId), Json.ImageDetails, ct);

    public async Task<ImageLoadResponse> ImportImageAsync(Stream rootfsTar, string? reference, IEnumerable<string>? changes = null,
        IProgress<long>? bytesSent = null, CancellationToken ct = default)
    {
        var q = new StringBuilder("images/import?");
        if (reference is not null) q.Append("repo=").Append(E(reference));
        foreach (var c in changes ?? Array.Empty<string>()) q.Append("&changes=").Append(E(c));
        using var content = new ProgressStreamContent(rootfsTar, bytesSent);
        using var response = await SendAsync(HttpMethod.Post, q.ToString(), content, ct);
        return await ReadJson(response, Json.ImageLoadResponse, ct);
    }

    public async Task<ImageLoadResponse> LoadImageAsync(Stream archive, IProgress<long>? bytesSent = null, CancellationToken ct = default)
    {
        using var content = new ProgressStreamContent(archive, bytesSent);
        using var response = await SendAsync(HttpMethod.Post, "images/load", content, ct);
        return await ReadJson(response, Json.ImageLoadResponse, ct);
    }

    public Task TagImageAsync(string source, string target, CancellationToken ct = default) =>
        PostAsync($"images/tag?source={E(source)}&target={E(target)}", ct);

    public async Task<ImageRemoveResponse> RemoveImageAsync(string nameOrId, bool force = false, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"images?name={E(nameOrId)}&force={(force ? 1 : 0)}", null, ct);
        return await ReadJson(response, Json.ImageRemoveResponse, ct);
    }

    /// <summary>Streams a request body and reports bytes sent.</summary>
    private sealed class ProgressStreamContent : HttpContent
    {
        private readonly Stream _source;
        private readonly IProgress<long>? _progress;
        public ProgressStreamContent(Stream source, IProgress<long>? progress) { _source = source; _progress = progress; }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var buffer = new byte[81920];
            long total = 0;
            int n;
            while ((n = await _source.ReadAsync(buffer)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n));
                total += n;
                _progress?.Report(total);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
