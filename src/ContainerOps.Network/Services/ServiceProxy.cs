using ContainerOps.Network.Nat;

namespace ContainerOps.Network.Services;

/// <summary>What the cluster side tells the proxy: the whole set of services, each time something changed.</summary>
public interface IServiceProxy
{
    void Sync(IReadOnlyCollection<ProxyService> services);
}

/// <summary>
/// The service proxy: builds the table wanted (<see cref="ServiceRules.Build"/>) and applies it with one `nft -f` run
/// (one kernel transaction). The first sync, the first after a restart or a failed change, and the first an hour or
/// more after the last whole one rewrite the whole table in place from what the kernel lists (stale chains and sets
/// deleted, the rest kept with the clients the affinity sets hold); from then on it knows what the table holds and
/// sends only what differs, so a change of one endpoint among 1 000 services is a few lines. No service with a port left: the table goes entirely. The daemon removes it at
/// shutdown-with-cleanup like the network engine's table (<see cref="Remove"/>); a restarted daemon syncs from the API
/// again, replacing what the kernel kept in the meantime (rules live in the kernel, so traffic kept flowing).
/// </summary>
public sealed class ServiceProxy(string table, string? hairpinSource = null) : IServiceProxy
{
    private readonly Nftables _nft = new(table);
    private readonly object _gate = new();
    private ProxyTable? _applied; // what the table holds after the last apply; null: not known, or no table
    private bool _removed;        // the table was deleted as no service had a port
    private long _lastWhole;      // when the whole table was last written (Environment.TickCount64)
    private const long WholeEveryMs = 3_600_000;

    public string Table => table;

    /// <summary>How long the last change took to build and apply (for figures and logs).</summary>
    public TimeSpan LastSyncDuration { get; private set; }

    /// <summary>Whether the last change was applied as the difference alone (not the whole table).</summary>
    public bool LastSyncWasPartial { get; private set; }

    public void Sync(IReadOnlyCollection<ProxyService> services)
    {
        lock (_gate)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            if (!services.Any(s => s.Ports.Count > 0))
            {
                if (!_removed) { if (_applied is not null || _nft.Exists()) _nft.Delete(); _applied = null; _removed = true; }
                return;
            }
            var wanted = ServiceRules.Build(services, hairpinSource);
            // The whole table now and then, as kube-proxy writes it: whatever changed it behind the proxy's back is put
            // right at the first change an hour or more after the last whole write.
            if (Environment.TickCount64 - _lastWhole > WholeEveryMs) _applied = null;
            if (_applied is { } current)
            {
                var changes = ServiceRules.RenderChanges(table, current, wanted);
                if (changes.Length == 0) return;
                try
                {
                    _nft.Apply(changes);
                    Applied(wanted, started, partial: true);
                    return;
                }
                catch (Exception e) when (e is InvalidOperationException or IOException)
                {
                    // Someone changed the table under us (or the kernel refused a step): rewrite it whole from its listing.
                    _applied = null;
                }
            }
            // After a restart the kernel kept the table (and the clients its affinity sets hold): start from it.
            var existing = _nft.List() is { } listing ? ServiceRules.Objects(listing) : new HashSet<string>();
            _nft.Apply(ServiceRules.Render(table, wanted, existing));
            _lastWhole = Environment.TickCount64;
            Applied(wanted, started, partial: false);
        }
    }

    private void Applied(ProxyTable wanted, System.Diagnostics.Stopwatch started, bool partial)
    {
        _applied = wanted;
        _removed = false;
        LastSyncWasPartial = partial;
        LastSyncDuration = started.Elapsed;
    }

    /// <summary>Removes the table (nothing when there is none).</summary>
    public void Remove()
    {
        lock (_gate)
        {
            if (_nft.Exists()) _nft.Delete();
            _applied = null;
            _removed = false;
        }
    }
}
