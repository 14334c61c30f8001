namespace ContainerOps.Images.Registry;

/// <summary>
/// HTTP connection pools per registry endpoint, shared by the <see cref="RegistryClient"/>s one owner (the image
/// service) creates: consecutive pulls and pushes reuse open keep-alive connections and the scheme already found for
/// a plain-HTTP registry, instead of connecting and probing afresh each time. A pool is keyed by everything its
/// handler was built from (endpoint, insecure or not, the certs.d files and their times), so a changed CA or client
/// certificate gives a new pool. Credentials and tokens are not pooled: each client has its own.
/// Clients whose options wrap the handler (tests) are never pooled.
/// </summary>
public sealed class RegistryConnections : IDisposable
{
    private const int MaxPools = 32;
    private readonly Dictionary<string, Pool> _pools = new(StringComparer.Ordinal);
    private long _clock;

    internal sealed class Pool(HttpMessageHandler handler)
    {
        public HttpMessageHandler Handler { get; } = handler;
        /// <summary>The base URL found for this endpoint (https, or http for an insecure registry that speaks only HTTP).</summary>
        public volatile Uri? Base;
        public long LastUsed;
    }

    internal Pool Get(string apiHost, RegistryOptions options, bool insecure)
    {
        var key = string.Join('\n', apiHost, insecure, options.MaxConcurrentTransfers, CertsFingerprint(apiHost, options));
        lock (_pools)
        {
            if (!_pools.TryGetValue(key, out var pool))
            {
                if (_pools.Count >= MaxPools)
                {
                    // Forget the least recently used endpoint; its idle connections close on their own timeout
                    // (a client still using its handler keeps working: the handler is not disposed here).
                    var oldest = _pools.MinBy(p => p.Value.LastUsed).Key;
                    _pools.Remove(oldest);
                }
                _pools[key] = pool = new Pool(RegistryTransport.CreateHandler(apiHost, options, insecure));
            }
            pool.LastUsed = ++_clock;
            return pool;
        }
    }

    /// <summary>Names, sizes and times of the endpoint's certs.d files: the handler's TLS setup depends on them.</summary>
    private static string CertsFingerprint(string apiHost, RegistryOptions options)
    {
        if (options.CertsDirFor(apiHost) is not { } dir) return "";
        try
        {
            return string.Join(';', new DirectoryInfo(dir).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal)
                .Select(f => $"{f.Name}:{f.Length}:{f.LastWriteTimeUtc.Ticks}"));
        }
        catch (IOException) { return "?" + Guid.NewGuid(); }
        catch (UnauthorizedAccessException) { return "?" + Guid.NewGuid(); }
    }

    public void Dispose()
    {
        lock (_pools)
        {
            foreach (var p in _pools.Values) p.Handler.Dispose();
            _pools.Clear();
        }
    }
}
