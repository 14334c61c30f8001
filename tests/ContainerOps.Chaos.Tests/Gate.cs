namespace ContainerOps.Chaos.Tests;

/// <summary>Lets workers run operations while the daemon is up. The killer closes it (no new operations), kills the
/// daemon, waits for the operations in flight to end, restarts the daemon, checks, and opens it again.</summary>
public sealed class Gate
{
    private readonly object _lock = new();
    private bool _open;
    private int _active;
    private TaskCompletionSource _opened = New();
    private TaskCompletionSource? _drained;

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task EnterAsync(CancellationToken ct)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_open) { _active++; return; }
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
