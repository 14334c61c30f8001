using ContainerOps.Cluster.Api;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-controller-manager's job inside the daemon: the shared informers and one <see cref="ControllerRunner"/> per
/// controller. It starts with the control plane (<see cref="StartWhenActive"/>). Idle, it costs one blocked watch per
/// kind read and nothing else: no polling; timers only where a controller asked to look again at a given time.
/// </summary>
public sealed class ControllerManager : IAsyncDisposable
{
    /// <summary>The controllers the daemon runs; a new controller is one line here.</summary>
    public static readonly IReadOnlyList<Func<ControllerContext, IController>> BuiltIn =
    [
        _ => new GarbageCollector(),
        _ => new ReplicaSetController(),
        _ => new ReplicaSetController(ResourceKinds.ReplicationController),
        _ => new EndpointsController(),
        _ => new EndpointSliceMirroringController(),
        _ => new DeploymentController(),
        _ => new JobController(),
        _ => new CronJobController(),
        _ => new HorizontalPodAutoscalerController(),
        _ => new StatefulSetController(),
        _ => new DaemonSetController(),
        _ => new PersistentVolumeBinder(),
        _ => new StorageProtectionController(),
        _ => new DisruptionController(),
        _ => new RootCaPublisher(),
        _ => new ResourceQuotaController(),
        _ => new ClusterRoleAggregationController(),
    ];

    private readonly List<ControllerRunner> _runners = [];
    public ControllerContext Context { get; }

    public ControllerManager(ClusterObjects objects, ControllerOptions options, ILogger log, IEnumerable<Func<ControllerContext, IController>>? controllers = null, TimeProvider? clock = null)
    {
        Context = new ControllerContext(objects, new SharedInformers(objects, log), options, log, clock);
        foreach (var make in controllers ?? BuiltIn) _runners.Add(new ControllerRunner(make(Context), Context));
    }

    /// <summary>Fills the informers' caches (their first lists queue every existing object), then starts the workers.</summary>
    public void Start()
    {
        Context.Informers.Start();
        foreach (var runner in _runners) runner.Start(Context.Options.Workers);
    }

    /// <summary>Every controller's queue is empty and no key is in hand (looks planned for later do not count).</summary>
    public bool IsIdle => _runners.All(r => r.Queue.IsIdle);

    /// <summary>The manager over <paramref name="host"/>'s control plane, started when the control plane starts (at once
    /// if it has); <paramref name="nodeControllers"/> are what the node adds (the service proxy) on the same informers.</summary>
    public static Starter StartWhenActive(ClusterHost host, ControllerOptions options, ILogger log, IEnumerable<Func<ControllerContext, IController>>? nodeControllers = null)
    {
        var starter = new Starter();
        host.WhenActive(active =>
        {
            var manager = new ControllerManager(active.Objects, options, log, nodeControllers is null ? null : BuiltIn.Concat(nodeControllers));
            manager.Context.Metrics = () => active.Api.Metrics;
            manager.Context.RootCertificate = () => Security.ClusterCertificates.Pem(active.Certificates.Authority);
            manager.Start();
            starter.Manager = manager;
        });
        return starter;
    }

    /// <summary>The manager once it has started; disposing stops it.</summary>
    public sealed class Starter : IAsyncDisposable
    {
        private ControllerManager? _manager;
        public ControllerManager? Manager { get => Volatile.Read(ref _manager); internal set => Volatile.Write(ref _manager, value); }
        public async ValueTask DisposeAsync() { if (Manager is { } m) await m.DisposeAsync(); }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var runner in _runners) await runner.DisposeAsync();
        Context.Informers.Dispose();
    }
}
