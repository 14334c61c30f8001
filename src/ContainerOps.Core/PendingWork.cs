namespace ContainerOps.Core;

/// <summary>
/// Counts work handed to the background and lets a caller wait until all of it has ended (a daemon that stops, a test
/// that checks what is left).
/// </summary>
public sealed class PendingWork
{
    private readonly object _gate = new();
    private int _pending;

    public void Begin()
    {
        lock (_gate) _pending++;
    }

    public void End()
    {
        lock (_gate)
        {
            _pending--;
            if (_pending == 0) Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits until every piece begun so far has ended; false when <paramref name="timeout"/> passed first.</summary>
    public bool WaitIdle(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_gate)
        {
            while (_pending > 0)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_gate, left)) return _pending == 0;
            }
            return true;
        }
    }
}
