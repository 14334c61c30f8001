namespace ContainerOps.Chaos.Tests;

/// <summary>Lets workers run operations while the daemon is up. The killer closes it (no new operations), kills the
/// daemon, waits for the operations in flight to end, restarts the daemon, checks, and opens it again. Each closing
/// starts a new epoch: an operation that entered in an earlier one may have been cut off by the kill.</summary>
public sealed class Gate
{
    private readonly object _lock = new();
    private bool _open;
    private int _active;
    private int _epoch;

    /// <summary>The current epoch; one more than that of every operation that entered before the last closing.</summary>
    public int Epoch { get { lock (_lock) return _epoch; } }
    private TaskCompletionSource _opened = New();
    private TaskCompletionSource? _drained;

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Waits until the gate is open; returns the epoch the operation runs in, taken with the entry itself.</summary>
    public async Task<int> EnterAsync(CancellationToken ct)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_open) { _active++; return _epoch; }
                wait = _opened.Task;
            }
            await wait.WaitAsync(ct);
        }
    }

    public void Exit()
    {
        lock (_lock)
        {
            _active--;
            if (_active == 0) _drained?.TrySetResult();
        }
    }

    /// <summary>Stops new operations at once; the task completes when those in flight have ended.</summary>
    public Task Close()
    {
        lock (_lock)
        {
            _epoch++;
            if (_open) { _open = false; _opened = New(); }
            if (_active == 0) return Task.CompletedTask;
            _drained = New();
            return _drained.Task;
        }
    }

    public void Open()
    {
        lock (_lock)
        {
            _open = true;
            _opened.TrySetResult();
        }
    }
}
