namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// The keys a controller has to look at, as client-go's rate-limited work queue keeps them: a key queued twice is
/// queued once; a key being worked on is not handed to a second worker (if it is added meanwhile, it is queued again
/// when the first is done); a failing key comes back after a per-key delay that doubles with each failure, until
/// <see cref="Forget"/>. Delayed adds use one timer per key (the earliest wins): an idle queue has no timers at all.
/// </summary>
public sealed class WorkQueue : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Queue<string> _queue = new();
    private readonly HashSet<string> _dirty = [];
    private readonly HashSet<string> _processing = [];
    private readonly Dictionary<string, int> _failures = [];
    private readonly Dictionary<string, (DateTimeOffset Due, ITimer Timer)> _waiting = [];
    private readonly SemaphoreSlim _ready = new(0);
    private readonly TimeProvider _clock;
    private bool _shutDown;

    public TimeSpan BaseDelay { get; }
    public TimeSpan MaxDelay { get; }

    /// <param name="baseDelay">The first retry delay of a failing key (client-go: 5 ms).</param>
    /// <param name="maxDelay">The longest (client-go: 1000 s).</param>
    public WorkQueue(TimeSpan? baseDelay = null, TimeSpan? maxDelay = null, TimeProvider? clock = null)
    {
        BaseDelay = baseDelay ?? TimeSpan.FromMilliseconds(5);
        MaxDelay = maxDelay ?? TimeSpan.FromSeconds(1000);
        _clock = clock ?? TimeProvider.System;
    }

    public void Add(string key)
    {
        lock (_lock)
        {
            if (_shutDown || !_dirty.Add(key)) return;
            if (_processing.Contains(key)) return;
            _queue.Enqueue(key);
        }
        _ready.Release();
    }

    /// <summary>Adds the key after <paramref name="delay"/> (now if it is not positive).</summary>
    public void AddAfter(string key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero) { Add(key); return; }
        lock (_lock)
        {
            if (_shutDown) return;
            var due = _clock.GetUtcNow() + delay;
            if (_waiting.TryGetValue(key, out var w))
            {
                if (w.Due <= due) return;
                w.Timer.Dispose();
            }
            var timer = _clock.CreateTimer(_ => Fire(key), null, delay, Timeout.InfiniteTimeSpan);
            _waiting[key] = (due, timer);
        }
    }

    private void Fire(string key)
    {
        lock (_lock)
        {
            if (_waiting.Remove(key, out var w)) w.Timer.Dispose();
        }
        Add(key);
    }

    /// <summary>Adds the key after its next backoff delay: <see cref="BaseDelay"/> doubled per failure since the last
    /// <see cref="Forget"/>, at most <see cref="MaxDelay"/>.</summary>
    public void AddRateLimited(string key)
    {
        int failures;
        lock (_lock)
        {
            failures = _failures.GetValueOrDefault(key);
            _failures[key] = failures + 1;
        }
        AddAfter(key, BackoffFor(failures));
    }

    private TimeSpan BackoffFor(int failures)
    {
        var ticks = BaseDelay.Ticks * Math.Pow(2, Math.Min(failures, 62));
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The key succeeded: its backoff starts over.</summary>
    public void Forget(string key)
    {
        lock (_lock) _failures.Remove(key);
    }

    public int Requeues(string key)
    {
        lock (_lock) return _failures.GetValueOrDefault(key);
    }

    /// <summary>The next key, which is the caller's until it calls <see cref="Done"/>; null once shut down.</summary>
    public async ValueTask<string?> GetAsync(CancellationToken ct)
    {
        while (true)
        {
            await _ready.WaitAsync(ct);
            lock (_lock)
            {
                if (_queue.Count == 0)
                {
                    if (_shutDown) { _ready.Release(); return null; }
                    continue;
                }
                var key = _queue.Dequeue();
                _processing.Add(key);
                _dirty.Remove(key);
                return key;
            }
        }
    }

    public void Done(string key)
    {
        lock (_lock)
        {
            _processing.Remove(key);
            if (!_dirty.Contains(key) || _shutDown) return;
            _queue.Enqueue(key);
        }
        _ready.Release();
    }

    /// <summary>Keys queued (not counting those being worked on or waiting for their delay).</summary>
    public int Length
    {
        get { lock (_lock) return _queue.Count; }
    }

    /// <summary>Nothing queued and nothing being worked on (keys waiting for their delay do not count).</summary>
    public bool IsIdle
    {
        get { lock (_lock) return _queue.Count == 0 && _processing.Count == 0; }
    }

    /// <summary>Stops handing out keys: waiting workers get null; delayed adds are dropped.</summary>
    public void ShutDown()
    {
        lock (_lock)
        {
            _shutDown = true;
            _queue.Clear();
            foreach (var (_, w) in _waiting) w.Timer.Dispose();
            _waiting.Clear();
        }
        _ready.Release();
    }

    public void Dispose()
    {
        ShutDown();
        _ready.Dispose();
    }
}
