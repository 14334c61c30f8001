using ContainerOps.Network.Nat;

namespace ContainerOps.Network.Services;

/// <summary>What the cluster side tells the proxy: the whole set of services, each time something changed.</summary>
public interface IServiceProxy
{
    void Sync(IReadOnlyCollection<ProxyService> services);
}

/// <summary>
/// The service proxy: renders <see cref="ServiceRules"/> and applies the table with one `nft -f` run (one kernel
/// transaction), only when the text changed; it remembers which chains and sets the table holds, so the next change
/// deletes the stale ones and keeps the rest (with the clients the affinity sets hold). No service with a port left: the table goes entirely. The daemon removes
/// it at shutdown-with-cleanup like the network engine's table (<see cref="Remove"/>); a restarted daemon syncs from
/// the API again, replacing what the kernel kept in the meantime (rules live in the kernel, so traffic kept flowing).
/// </summary>
public sealed class ServiceProxy(string table, string? hairpinSource = null) : IServiceProxy
{
    private readonly Nftables _nft = new(table);
    private readonly object _gate = new();
    private string? _applied;
    private IReadOnlySet<string>? _objects; // the chains and sets the table holds after the last apply

    public string Table => table;

    /// <summary>How long the last change took to render and apply (for figures and logs).</summary>
    public TimeSpan LastSyncDuration { get; private set; }

    public void Sync(IReadOnlyCollection<ProxyService> services)
    {
        lock (_gate)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            if (!services.Any(s => s.Ports.Count > 0))
            {
                if (_applied is not "") { if (_applied is not null || _nft.Exists()) _nft.Delete(); _applied = ""; _objects = new HashSet<string>(); }
                return;
            }
            // After a restart the kernel kept the table (and the clients its affinity sets hold): start from it.
            _objects ??= _nft.List() is { } listing ? ServiceRules.Objects(listing) : new HashSet<string>();
            var script = ServiceRules.Render(table, services, hairpinSource, _objects);
            if (script == _applied) return;
            _nft.Apply(script);
            _applied = script;
            _objects = ServiceRules.Objects(script);
            LastSyncDuration = started.Elapsed;
        }
    }

    /// <summary>Removes the table (nothing when there is none).</summary>
    public void Remove()
    {
        lock (_gate)
        {
            if (_nft.Exists()) _nft.Delete();
            _applied = null;
            _objects = null;
        }
    }
}
