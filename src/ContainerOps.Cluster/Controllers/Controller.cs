using ContainerOps.Cluster.Api;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// A controller: it tells its informers which keys to queue (<see cref="Register"/>), and <see cref="ReconcileAsync"/>
/// reads the key's desired and observed state fresh (from the informers' caches) and takes one idempotent step
/// toward the desired. A crash, a duplicate event or a retry does no harm. Status goes through the status
/// subresource; a controller never changes the spec of what it reconciles.
/// </summary>
public interface IController
{
    /// <summary>The name events carry as their source ("replicaset-controller").</summary>
    string Name { get; }

    /// <summary>Asks <paramref name="context"/> for the informers the controller reads and adds handlers that queue keys.</summary>
    void Register(ControllerContext context, WorkQueue queue);

    /// <summary>One step for one key. An exception retries the key with backoff; a result may ask to look again later
    /// (a deadline, minReadySeconds) without counting as a failure.</summary>
    Task<Reconciled> ReconcileAsync(string key, CancellationToken ct);
}

/// <summary>What a reconcile asks of the queue: nothing more (<see cref="Done"/>), or to see the key again after a while.</summary>
public readonly record struct Reconciled(TimeSpan? RequeueAfter)
{
    public static Reconciled Done => default;
    public static Reconciled After(TimeSpan delay) => new(delay);

    /// <summary>The sooner of two requests to look again.</summary>
    public static Reconciled Sooner(Reconciled a, Reconciled b) =>
        a.RequeueAfter is not { } x ? b : b.RequeueAfter is not { } y ? a : new(x < y ? x : y);
}

/// <summary>What every controller shares: the API objects (for writes), the informers (for reads), the event
/// recorder, the clock and the settings.</summary>
public sealed class ControllerContext(ClusterObjects objects, SharedInformers informers, ControllerOptions options, ILogger log, TimeProvider? clock = null)
{
    public ClusterObjects Objects { get; } = objects;
    public SharedInformers Informers { get; } = informers;
    public ControllerOptions Options { get; } = options;
    public ILogger Log { get; } = log;
    public TimeProvider Clock { get; } = clock ?? TimeProvider.System;

    /// <summary>What the node measures (pods' CPU and memory), once a node agent runs: the autoscaler's input.</summary>
    public Func<IResourceMetrics?> Metrics { get; set; } = () => null;

    /// <summary>The PEM of the authority the API's serving certificate chains to, once the host knows it.</summary>
    public Func<string?> RootCertificate { get; set; } = () => null;

    /// <summary>An event recorder that names <paramref name="component"/> as the source.</summary>
    public EventRecorder Events(string component) => new(Objects, component, Clock);
}

/// <summary>The controllers' settings; defaults are Kubernetes' (tests shorten them here, never by changing the defaults).</summary>
public sealed class ControllerOptions
{
    /// <summary>Workers per controller (kube-controller-manager: 5 for ReplicaSets and Deployments).</summary>
    public int Workers { get; set; } = 5;
    /// <summary>The first retry delay of a failing key, doubled per failure up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan BaseRetryDelay { get; set; } = TimeSpan.FromMilliseconds(5);
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(1000);
    /// <summary>How long a controller waits for its own creations and deletions to arrive through the watch before it
    /// stops trusting its expectations (kube-controller-manager: 5 minutes).</summary>
    public TimeSpan ExpectationsTimeout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How often each HorizontalPodAutoscaler looks at its metrics (kube-controller-manager's
    /// --horizontal-pod-autoscaler-sync-period: 15 s).</summary>
    public TimeSpan HorizontalSyncPeriod { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>How long a Job waits before it replaces a failed pod, doubled per failure since its last success up to
    /// <see cref="MaxJobBackoff"/> (kube-controller-manager: 10 s and 10 minutes).</summary>
    public TimeSpan JobBackoff { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan MaxJobBackoff { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Runs one controller: its queue and N workers, each taking a key, reconciling it, and forgetting it on
/// success or queueing it again with backoff on error. Stops cleanly: workers finish the key they hold.</summary>
public sealed class ControllerRunner : IAsyncDisposable
{
    private readonly IController _controller;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _workers = [];

    public WorkQueue Queue { get; }

    public ControllerRunner(IController controller, ControllerContext context)
    {
        _controller = controller;
        _log = context.Log;
        Queue = new WorkQueue(context.Options.BaseRetryDelay, context.Options.MaxRetryDelay, context.Clock);
        controller.Register(context, Queue);
    }

    public void Start(int workers)
    {
        for (var i = 0; i < workers; i++) _workers.Add(Task.Run(WorkAsync));
    }

    private async Task WorkAsync()
    {
        while (true)
        {
            string? key;
            try { key = await Queue.GetAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            if (key is null) return;
            try
            {
                var result = await _controller.ReconcileAsync(key, _stop.Token);
                Queue.Forget(key);
                if (result.RequeueAfter is { } after) Queue.AddAfter(key, after);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
            catch (Exception e)
            {
                // A conflict is routine (someone wrote in between): retried quietly.
                if (e is not StatusException { Code: 409 })
                    _log.LogWarning("{Controller} {Key}: {Message} (retry {Count})", _controller.Name, key, e.Message, Queue.Requeues(key) + 1);
                Queue.AddRateLimited(key);
            }
            finally { Queue.Done(key); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Queue.ShutDown();
        await Task.WhenAll(_workers).ContinueWith(_ => { });
        Queue.Dispose();
        _stop.Dispose();
    }
}
