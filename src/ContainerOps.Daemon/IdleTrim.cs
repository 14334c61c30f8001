namespace ContainerOps.Daemon;

/// <summary>
/// Gives memory back once the daemon is quiet again. A burst of work (a hundred containers started and removed, a
/// build, a pull) grows the heap, and a collector left alone shrinks it only when it next collects, which an idle
/// daemon never needs to. So after activity, once no request has started for <see cref="Quiet"/>, one aggressive
/// collection compacts the heap and returns its free regions to the system. An idle daemon has no timer running.
/// </summary>
internal sealed class IdleTrim : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);
    private readonly Timer _timer;
    private long _requests;
    private long _seen;
    private int _armed;

    public IdleTrim() => _timer = new Timer(_ => Tick(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>A request started.</summary>
    public void Touch()
    {
        Interlocked.Increment(ref _requests);
        if (Interlocked.Exchange(ref _armed, 1) == 0) _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
    }

    private void Tick()
    {
        var now = Interlocked.Read(ref _requests);
        if (now != _seen)
        {
            _seen = now;
            _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
            return;
        }
        Volatile.Write(ref _armed, 0);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        // A request that started while this one looked quiet arms the timer again.
        if (Interlocked.Read(ref _requests) != now && Interlocked.Exchange(ref _armed, 1) == 0) _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
    }

    public void Dispose() => _timer.Dispose();
}
