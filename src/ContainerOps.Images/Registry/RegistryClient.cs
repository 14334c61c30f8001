using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Images.Content;
using ContainerOps.Images.Credentials;

namespace ContainerOps.Images.Registry;

/// <summary>
/// A client for one registry speaking the OCI distribution API (<c>/v2/</c>): manifests and indexes, blobs with
/// digest verification while streaming and resumed downloads (Range), monolithic and chunked uploads, cross-repository
/// mounts, anonymous, Basic and Bearer auth. Thread-safe: layers may be transferred concurrently.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    public static readonly string[] ManifestMediaTypes =
    [
        MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList,
    ];

    private const long MaxManifestBytes = 4 << 20;
    private readonly RegistryOptions _options;
    private readonly HttpClient _http;
    private readonly RegistryAuthenticator _auth;
    private readonly string _apiHost;
    private readonly bool _insecure;
    private readonly SemaphoreSlim _pingLock = new(1, 1);
    private readonly RegistryConnections.Pool? _pool;
    private Uri? _base;

    /// <param name="registry">The registry as a reference names it ("docker.io", "127.0.0.1:5000").</param>
    /// <param name="connections">Connection pools to share with other clients (null: this client has its own).</param>
    public RegistryClient(string registry, RegistryOptions options, RegistryConnections? connections = null)
    {
        _options = options;
        Registry = RegistryHosts.Normalize(registry);
        _apiHost = RegistryHosts.ApiHost(Registry);
        _insecure = options.IsInsecure(_apiHost) || options.IsInsecure(Registry);
        if (connections != null && options.WrapHandler == null) _pool = connections.Get(_apiHost, options, _insecure);
        _http = new HttpClient(_pool?.Handler ?? RegistryTransport.CreateHandler(_apiHost, options, _insecure), disposeHandler: _pool == null)
        {
            Timeout = Timeout.InfiniteTimeSpan, // blobs stream for as long as they take; callers cancel
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
        _auth = new RegistryAuthenticator(_http, Registry, options.Credentials?.Get(Registry));
    }

    /// <summary>The registry's normalised name (credentials key).</summary>
    public string Registry { get; }

    /// <summary>The scheme and authority requests go to, known after the first request.</summary>
    public Uri? BaseUri => _base;

    public void Dispose() => _http.Dispose();

    private static string PullScope(string repo) => $"repository:{repo}:pull";
    private static string PushScope(string repo) => $"repository:{repo}:pull,push";
    private string Target(string repo, string reference) =>
        $"{Registry}/{repo}" + (Content.Digest.IsValid(reference) ? "@" : ":") + reference;

    // ---------------- connection ----------------

    /// <summary>Finds the base URL: HTTPS, or for an insecure registry HTTPS without checks falling back to plain HTTP.
    /// Only an insecure registry is probed (GET /v2/), once per connection pool: a secure one is HTTPS, and the first
    /// real request reports it when it cannot be reached.</summary>
    private async Task<Uri> Base(CancellationToken ct)
    {
        if (_base != null) return _base;
        if (!_insecure) return _base = new Uri($"https://{_apiHost}/");
        if (_pool?.Base is { } known) return _base = known;
        await _pingLock.WaitAsync(ct);
        try
        {
            if (_base != null) return _base;
            _base = await Probe(ct);
            if (_pool != null) _pool.Base = _base;
            return _base;
        }
        finally { _pingLock.Release(); }
    }

    private async Task<Uri> Probe(CancellationToken ct)
    {
        var https = new Uri($"https://{_apiHost}/");
        try
        {
            using var resp = await _http.GetAsync(new Uri(https, "v2/"), HttpCompletionOption.ResponseHeadersRead, ct);
            return https;
        }
        catch (HttpRequestException)
        {
            // A plain-HTTP registry answers a TLS hello with garbage: use HTTP.
            var http = new Uri($"http://{_apiHost}/");
            try
            {
                using var resp = await _http.GetAsync(new Uri(http, "v2/"), HttpCompletionOption.ResponseHeadersRead, ct);
                return http;
            }
            catch (HttpRequestException e2) { throw RegistryErrors.Unreachable(Registry, e2); }
        }
    }

    private async Task<Uri> Url(string repo, string kind, string reference, CancellationToken ct) =>
        new(await Base(ct), $"v2/{repo}/{kind}/{reference}");

    /// <summary>Sends a request made by <paramref name="make"/> (called again for the retry after a 401 challenge).
    /// Throws Unauthorized when the registry still refuses after authenticating.</summary>
    private async Task<HttpResponseMessage> Send(Func<Uri, HttpRequestMessage> make, string scope, string target, CancellationToken ct)
    {
        var baseUri = await Base(ct);
        var cached = _auth.Cached(scope);
        var resp = await SendOnce(make(baseUri), cached, ct);
        if (resp.StatusCode != HttpStatusCode.Unauthorized) return resp;
        AuthenticationHeaderValue? header;
        try { header = await _auth.Answer(resp, scope, target, ct); }
        catch { resp.Dispose(); throw; }
        if (header != null && header.ToString() != cached?.ToString())
        {
            resp.Dispose();
            resp = await SendOnce(make(baseUri), header, ct);
            if (resp.StatusCode != HttpStatusCode.Unauthorized) return resp;
        }
        resp.Dispose();
        throw RegistryErrors.Unauthorized(target, _auth.HasCredential
            ? $" (registry {Registry} rejected the credentials of user '{_options.Credentials!.Get(Registry)!.Username}')"
            : $" (registry {Registry} requires credentials; none are stored for it)");
    }

    private async Task<HttpResponseMessage> SendOnce(HttpRequestMessage req, AuthenticationHeaderValue? auth, CancellationToken ct)
    {
        using (req)
        {
            if (auth != null) req.Headers.Authorization = auth;
            try { return await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct); }
            catch (HttpRequestException e)
            {
                // The registry may have changed (restarted with or without TLS): probe again next time.
                if (_pool != null) _pool.Base = null;
                throw RegistryErrors.Unreachable(Registry, e);
            }
        }
    }

    /// <summary>Checks the credentials against the registry's API root (<c>GET /v2/</c>), as `docker login` does:
    /// returns when the registry accepts them (or needs none), throws Unauthorized when it refuses them.</summary>
    public async Task CheckLoginAsync(CancellationToken ct = default)
    {
        using var resp = await Send(b => new HttpRequestMessage(HttpMethod.Get, new Uri(b, "v2/")), "", Registry, ct);
        if (!resp.IsSuccessStatusCode) throw await RegistryErrors.FromResponse(resp, "login", Registry, ct);
    }

    // ---------------- manifests ----------------

    private static void AcceptManifests(HttpRequestMessage req)
    {
        foreach (var mt in ManifestMediaTypes) req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mt));
    }

    /// <summary>HEAD of a manifest: its descriptor, or null when the registry does not have it.</summary>
    public async Task<Descriptor?> HeadManifestAsync(string repo, string reference, CancellationToken ct = default)
    {
        var url = await Url(repo, "manifests", reference, ct);
        using var resp = await Send(_ => { var r = new HttpRequestMessage(HttpMethod.Head, url); AcceptManifests(r); return r; }, PullScope(repo), Target(repo, reference), ct);
        if (resp.StatusCode == HttpStatusCode.NotFound) return null;
        if (!resp.IsSuccessStatusCode) throw await RegistryErrors.FromResponse(resp, "manifest", Target(repo, reference), ct);
        var digest = resp.Headers.TryGetValues("Docker-Content-Digest", out var v) ? v.FirstOrDefault() : null;
        return new Descriptor(resp.Content.Headers.ContentType?.MediaType ?? "", digest ?? "", resp.Content.Headers.ContentLength ?? -1);
    }

    /// <summary>GETs a manifest or index. The bytes are checked against the digest when the reference is one, and
    /// against the registry's Docker-Content-Digest header otherwise.</summary>
    public async Task<FetchedManifest> GetManifestAsync(string repo, string reference, CancellationToken ct = default)
    {
        var target = Target(repo, reference);
        var url = await Url(repo, "manifests", reference, ct);
        using var resp = await Send(_ => { var r = new HttpRequestMessage(HttpMethod.Get, url); AcceptManifests(r); return r; }, PullScope(repo), target, ct);
        if (!resp.IsSuccessStatusCode) throw await RegistryErrors.FromResponse(resp, "manifest", target, ct);
        if (resp.Content.Headers.ContentLength > MaxManifestBytes)
            throw Descriptor.Bad($"manifest of {target} is larger than {MaxManifestBytes} bytes");
        var bytes = await ReadLimited(await resp.Content.ReadAsStreamAsync(ct), MaxManifestBytes, ct);
        var digest = Content.Digest.Of(bytes);
        if (Content.Digest.IsValid(reference)) ContentStore.Verify(digest, reference);
        else if (resp.Headers.TryGetValues("Docker-Content-Digest", out var v) && v.FirstOrDefault() is { } told
                 && told.StartsWith(Content.Digest.Prefix, StringComparison.Ordinal))
            ContentStore.Verify(digest, told);
        var mediaType = resp.Content.Headers.ContentType?.MediaType;
        JsonObject? json = null;
        try { json = JsonNode.Parse(bytes) as JsonObject; } catch (System.Text.Json.JsonException) { }
        if (json == null) throw Descriptor.Bad($"manifest of {target} is not a JSON object");
        if (json["mediaType"] is JsonValue mv && mv.TryGetValue<string>(out var inner) && inner.Length > 0) mediaType = inner;
        if (string.IsNullOrEmpty(mediaType) || mediaType is "application/json" or "text/plain")
            mediaType = json["manifests"] != null ? MediaTypes.OciIndex : MediaTypes.OciManifest;
        if (json["schemaVersion"] is JsonValue sv && sv.TryGetValue<int>(out var ver) && ver == 1)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnsupportedManifest",
                $"{target} is a Docker schema 1 manifest, which is not supported", target);
        if (!ManifestMediaTypes.Contains(mediaType))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnsupportedManifest",
                $"{target} has media type {mediaType}, which is not an image manifest or index", target);
        return new FetchedManifest(bytes, mediaType, digest);
    }

    /// <summary>Picks the platform's manifest from an index (exact variant first, then any variant of the architecture
    /// when none was asked or the entry names none).</summary>
    public static Descriptor SelectPlatform(FetchedManifest index, string os, string arch, string? variant, string target)
    {
        var entries = (index.Json["manifests"] as JsonArray ?? [])
            .Select((n, i) => Descriptor.FromJson(n, $"index entry {i}"))
            .Where(d => d.MediaType is "" || d.MediaType is MediaTypes.OciManifest or MediaTypes.DockerManifest)
            .ToList();
        bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
        var candidates = entries.Where(d => Same(d.Os, os) && Same(d.Architecture, arch)).ToList();
        var pick = candidates.FirstOrDefault(d => Same(d.Variant, variant))
                   ?? candidates.FirstOrDefault(d => d.Variant == null || variant == null);
        if (pick != null) return pick;
        var available = string.Join(", ", entries.Where(e => e.Os != null && e.Os != "unknown").Select(e => e.PlatformText).Distinct());
        var wanted = $"{os}/{arch}" + (variant != null ? "/" + variant : "");
        throw new ContainerOpsException(ErrorKind.NotFound, "PlatformNotFound",
            $"no manifest for {wanted} in {target} (it has: {(available.Length > 0 ? available : "none")})", target);
    }

    /// <summary>PUTs a manifest under a tag or digest; returns the digest the registry stored it as.</summary>
    public async Task<string> PutManifestAsync(string repo, string reference, byte[] manifest, string mediaType, CancellationToken ct = default)
    {
        var target = Target(repo, reference);
        var url = await Url(repo, "manifests", reference, ct);
        using var resp = await Send(_ =>
        {
            var content = new ByteArrayContent(manifest);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return new HttpRequestMessage(HttpMethod.Put, url) { Content = content };
        }, PushScope(repo), target, ct);
        if (resp.StatusCode != HttpStatusCode.Created && !resp.IsSuccessStatusCode)
            throw await RegistryErrors.FromResponse(resp, "manifest upload", target, ct);
        var digest = Content.Digest.Of(manifest);
        if (resp.Headers.TryGetValues("Docker-Content-Digest", out var v) && v.FirstOrDefault() is { } told && told != digest
            && told.StartsWith(Content.Digest.Prefix, StringComparison.Ordinal))
            throw new ContainerOpsException(ErrorKind.Internal, "DigestMismatch", $"registry stored the manifest of {target} as {told}, expected {digest}", target);
        return digest;
    }

    // ---------------- blobs: download ----------------

    public async Task<bool> BlobExistsAsync(string repo, string digest, CancellationToken ct = default, bool forPush = false)
    {
        var url = await Url(repo, "blobs", digest, ct);
        using var resp = await Send(_ => new HttpRequestMessage(HttpMethod.Head, url), forPush ? PushScope(repo) : PullScope(repo), Target(repo, digest), ct);
        if (resp.StatusCode == HttpStatusCode.NotFound) return false;
        if (resp.IsSuccessStatusCode) return true;
        throw await RegistryErrors.FromResponse(resp, "blob", Target(repo, digest), ct);
    }

    /// <summary>A small blob (an image config) into memory, verified.</summary>
    public async Task<byte[]> GetBlobBytesAsync(string repo, Descriptor d, long limit = 16 << 20, CancellationToken ct = default)
    {
        if (d.Size > limit) throw Descriptor.Bad($"blob {d.Digest} is larger than {limit} bytes");
        var target = Target(repo, d.Digest);
        var url = await Url(repo, "blobs", d.Digest, ct);
        using var resp = await Send(_ => new HttpRequestMessage(HttpMethod.Get, url), PullScope(repo), target, ct);
        if (!resp.IsSuccessStatusCode) throw await RegistryErrors.FromResponse(resp, "blob", target, ct);
        var bytes = await ReadLimited(await resp.Content.ReadAsStreamAsync(ct), limit, ct);
        ContentStore.Verify(Content.Digest.Of(bytes), d.Digest);
        if (d.Size >= 0 && bytes.Length != d.Size)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "SizeMismatch", $"blob {d.Digest} has {bytes.Length} bytes, expected {d.Size}", d.Digest);
        return bytes;
    }

    /// <summary>
    /// Streams a blob into <paramref name="path"/>, hashing as it goes. When the connection breaks the download
    /// resumes where it stopped (Range: bytes=N-); a registry that ignores Range makes it start over. The file is
    /// left only when its size and sha256 match the descriptor.
    /// </summary>
    /// <param name="tee">Also sees every byte as it is written (e.g. to unpack a layer while it arrives); it is told
    /// when the download starts over. Its bytes are unverified until this method returns.</param>
    public async Task DownloadBlobAsync(string repo, Descriptor d, string path, IProgress<TransferProgress>? progress = null, CancellationToken ct = default,
        IDownloadTee? tee = null)
    {
        var target = Target(repo, d.Digest);
        var url = await Url(repo, "blobs", d.Digest, ct);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long done = 0;
        var resumes = 0;
        var buffer = new byte[128 * 1024];
        var lastReport = 0L;
        try
        {
            await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            progress?.Report(new TransferProgress(d.Digest, 0, d.Size, TransferState.Downloading));
            while (true)
            {
                try
                {
                    var from = done;
                    using var resp = await Send(_ =>
                    {
                        var r = new HttpRequestMessage(HttpMethod.Get, url);
                        if (from > 0) r.Headers.Range = new RangeHeaderValue(from, null);
                        return r;
                    }, PullScope(repo), target, ct);
                    if (from > 0 && resp.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && from == d.Size) break;
                    if (!resp.IsSuccessStatusCode) throw await RegistryErrors.FromResponse(resp, "blob", target, ct);
                    if (from > 0 && resp.StatusCode != HttpStatusCode.PartialContent)
                    {
                        // Range ignored: start over.
                        hash.GetHashAndReset();
                        file.SetLength(0);
                        done = 0;
                        tee?.Restart();
                    }
                    file.Position = done; // after a failed write, continue right after the last byte counted
                    await using var body = await resp.Content.ReadAsStreamAsync(ct);
                    int n;
                    while ((n = await body.ReadAsync(buffer, ct)) > 0)
                    {
                        if (d.Size >= 0 && done + n > d.Size)
                            throw new ContainerOpsException(ErrorKind.InvalidArgument, "SizeMismatch", $"blob {d.Digest} is larger than the {d.Size} bytes its descriptor gives", target);
                        await file.WriteAsync(buffer.AsMemory(0, n), ct);
                        hash.AppendData(buffer, 0, n);
                        if (tee != null) await tee.WriteAsync(buffer.AsMemory(0, n), ct);
                        done += n;
                        if (progress != null && done - lastReport >= 256 * 1024)
                        {
                            lastReport = done;
                            progress.Report(new TransferProgress(d.Digest, done, d.Size, TransferState.Downloading));
                        }
                    }
                    if (d.Size >= 0 && done < d.Size) throw new IOException($"connection closed after {done} of {d.Size} bytes");
                    break;
                }
                catch (Exception e) when (Resumable(e) && !ct.IsCancellationRequested && resumes < _options.MaxResumes)
                {
                    resumes++;
                    progress?.Report(new TransferProgress(d.Digest, done, d.Size, TransferState.Resuming));
                    await Task.Delay(TimeSpan.FromMilliseconds(100 * resumes), ct);
                }
            }
            await file.FlushAsync(ct);
            file.Flush(flushToDisk: true);
        }
        catch
        {
            ContentStore.TryDelete(path);
            throw;
        }
        var digest = Content.Digest.FromHash(hash.GetHashAndReset());
        if (digest != d.Digest || (d.Size >= 0 && done != d.Size))
        {
            ContentStore.TryDelete(path);
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "DigestMismatch",
                $"blob from {target} has digest {digest} and {done} bytes, expected {d.Digest} and {d.Size} bytes", target);
        }
        progress?.Report(new TransferProgress(d.Digest, done, d.Size, TransferState.Done));
        Resumes += resumes;
    }

    /// <summary>Downloads resumed after a broken transfer, over this client's life.</summary>
    public int Resumes { get; private set; }

    private static bool Resumable(Exception e) => e switch
    {
        IOException => true,
        HttpRequestException => true,
        ContainerOpsException c => c.Error.Id is "RegistryUnreachable" or "RegistryUnavailable",
        _ => false,
    };

    private static async Task<byte[]> ReadLimited(Stream s, long limit, CancellationToken ct)
    {
        await using (s)
        {
            using var ms = new MemoryStream();
            var buf = new byte[81920];
            int n;
            while ((n = await s.ReadAsync(buf, ct)) > 0)
            {
                ms.Write(buf, 0, n);
                if (ms.Length > limit) throw Descriptor.Bad($"response larger than {limit} bytes");
            }
            return ms.ToArray();
        }
    }

    // ---------------- blobs: upload ----------------

    /// <summary>
    /// Makes the blob present in <paramref name="repo"/>: nothing when it already is (HEAD), a cross-repository mount
    /// when it is known in another repository of this registry, else an upload (one PUT, or PATCH chunks with
    /// Content-Range for blobs above the threshold). <paramref name="open"/> gives the blob's bytes from the start.
    /// </summary>
    public async Task<TransferState> PushBlobAsync(string repo, Descriptor d, Func<Stream> open, IEnumerable<string>? mountFrom = null,
        IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
    {
        var target = Target(repo, d.Digest);
        if (await BlobExistsAsync(repo, d.Digest, ct, forPush: true))
        {
            progress?.Report(new TransferProgress(d.Digest, d.Size, d.Size, TransferState.Exists));
            return TransferState.Exists;
        }
        var baseUri = await Base(ct);
        Uri? location = null;
        foreach (var from in (mountFrom ?? []).Where(f => f != repo).Distinct())
        {
            var mountUrl = new Uri(baseUri, $"v2/{repo}/blobs/uploads/?mount={Uri.EscapeDataString(d.Digest)}&from={Uri.EscapeDataString(from)}");
            HttpResponseMessage resp;
            try { resp = await Send(_ => new HttpRequestMessage(HttpMethod.Post, mountUrl) { Content = new ByteArrayContent([]) }, $"{PushScope(repo)} {PullScope(from)}", target, ct); }
            catch (ContainerOpsException e) when (e.Error.Id is "Unauthorized") { continue; }
            using (resp)
            {
                if (resp.StatusCode == HttpStatusCode.Created)
                {
                    progress?.Report(new TransferProgress(d.Digest, d.Size, d.Size, TransferState.Mounted) { Source = from });
                    return TransferState.Mounted;
                }
                if (resp.StatusCode == HttpStatusCode.Accepted && resp.Headers.Location != null)
                {
                    location = new Uri(baseUri, resp.Headers.Location); // the registry opened an upload instead
                    break;
                }
            }
        }
        location ??= await StartUpload(repo, target, ct);
        progress?.Report(new TransferProgress(d.Digest, 0, d.Size, TransferState.Uploading));
        if (d.Size > _options.ChunkedUploadThreshold)
            location = await UploadChunks(repo, d, open, location, progress, target, ct);
        else
        {
            var putUrl = WithDigest(location, d.Digest);
            using var resp = await Send(_ =>
            {
                var content = new StreamContent(new CountingStream(open(), n => progress?.Report(new TransferProgress(d.Digest, n, d.Size, TransferState.Uploading))), 128 * 1024);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                content.Headers.ContentLength = d.Size;
                return new HttpRequestMessage(HttpMethod.Put, putUrl) { Content = content };
            }, PushScope(repo), target, ct);
            if (resp.StatusCode != HttpStatusCode.Created && !resp.IsSuccessStatusCode)
                throw await RegistryErrors.FromResponse(resp, "blob upload", target, ct);
        }
        progress?.Report(new TransferProgress(d.Digest, d.Size, d.Size, TransferState.Done));
        return TransferState.Uploading;
    }

    private async Task<Uri> StartUpload(string repo, string target, CancellationToken ct)
    {
        var url = new Uri(await Base(ct), $"v2/{repo}/blobs/uploads/");
        using var resp = await Send(_ => new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent([]) }, PushScope(repo), target, ct);
        if (resp.StatusCode != HttpStatusCode.Accepted || resp.Headers.Location == null)
            throw await RegistryErrors.FromResponse(resp, "upload start", target, ct);
        return new Uri(await Base(ct), resp.Headers.Location);
    }

    private async Task<Uri> UploadChunks(string repo, Descriptor d, Func<Stream> open, Uri location, IProgress<TransferProgress>? progress, string target, CancellationToken ct)
    {
        var chunk = new byte[Math.Max(64 * 1024, _options.ChunkSize)];
        await using var src = open();
        long offset = 0;
        while (offset < d.Size)
        {
            var len = 0;
            int n;
            while (len < chunk.Length && (n = await src.ReadAsync(chunk.AsMemory(len), ct)) > 0) len += n;
            if (len == 0) throw new IOException($"blob {d.Digest} ended after {offset} of {d.Size} bytes");
            var start = offset;
            var url = location;
            var count = len;
            using var resp = await Send(_ =>
            {
                var content = new ByteArrayContent(chunk, 0, count);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                content.Headers.ContentLength = count;
                // The distribution spec's form: "<first>-<last>" (inclusive), no unit.
                content.Headers.TryAddWithoutValidation("Content-Range", $"{start}-{start + count - 1}");
                return new HttpRequestMessage(HttpMethod.Patch, url) { Content = content };
            }, PushScope(repo), target, ct);
            if (resp.StatusCode != HttpStatusCode.Accepted)
                throw await RegistryErrors.FromResponse(resp, "chunk upload", target, ct);
            offset += count;
            if (resp.Headers.Location != null) location = new Uri(await Base(ct), resp.Headers.Location);
            progress?.Report(new TransferProgress(d.Digest, offset, d.Size, TransferState.Uploading));
            ChunksSent++;
        }
        var done = WithDigest(location, d.Digest);
        using (var resp = await Send(_ => new HttpRequestMessage(HttpMethod.Put, done) { Content = new ByteArrayContent([]) }, PushScope(repo), target, ct))
            if (resp.StatusCode != HttpStatusCode.Created && !resp.IsSuccessStatusCode)
                throw await RegistryErrors.FromResponse(resp, "upload completion", target, ct);
        return location;
    }

    /// <summary>PATCH requests sent over this client's life (chunked uploads).</summary>
    public int ChunksSent { get; private set; }

    private static Uri WithDigest(Uri location, string digest)
    {
        var b = new UriBuilder(location);
        var q = b.Query.TrimStart('?');
        b.Query = (q.Length > 0 ? q + "&" : "") + "digest=" + Uri.EscapeDataString(digest);
        return b.Uri;
    }

    /// <summary>Reports how many bytes were read through it (upload progress).</summary>
    private sealed class CountingStream(Stream inner, Action<long> report) : ForwardReadStream
    {
        private long _count;
        private long _last;
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => Count(await inner.ReadAsync(buffer, ct));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
        private int Count(int n)
        {
            _count += n;
            if (_count - _last >= 256 * 1024) { _last = _count; report(_count); }
            return n;
        }
        public override long Length => inner.Length;
        public override long Position { get => _count; }
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
    }
}

/// <summary>Sees a blob's bytes while <see cref="RegistryClient.DownloadBlobAsync"/> writes them: in order, each byte once,
/// unless the download starts over from the first byte (<see cref="Restart"/>: forget what came so far). Nothing it
/// sees is verified until the download returns; it must not throw for its own failures.</summary>
public interface IDownloadTee
{
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct);
    void Restart();
}
