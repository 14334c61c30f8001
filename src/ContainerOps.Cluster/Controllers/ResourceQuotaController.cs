using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-controller-manager's resourcequota controller: each quota's status says its hard limits and what the
/// namespace uses of them (the sum of <see cref="ResourceQuotas.Usage"/> over the stored objects), recounted when a
/// quota changes, when a pod, service, configmap, secret or claim of its namespace changes, and — only for a quota
/// that counts other kinds (count/deployments.apps…), which no informer here watches — every 30 s. The admission (<see cref="ResourceQuotas.Admit"/>) counts afresh; this is what
/// `kubectl describe quota` shows.
/// </summary>
public sealed class ResourceQuotaController : IController
{
    private static readonly TimeSpan Resync = TimeSpan.FromSeconds(30);
    private static readonly ResourceKind[] Watched =
        [ResourceKinds.ResourceQuota, ResourceKinds.Pod, ResourceKinds.Service, ResourceKinds.ConfigMap, ResourceKinds.Secret, ResourceKinds.PersistentVolumeClaim];
    private ControllerContext _context = null!;
    private Informer _quotas = null!;

    public string Name => "resourcequota-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _quotas = context.Informers.For(ResourceKinds.ResourceQuota);
        _quotas.AddHandler(e => queue.Add(Informer.KeyOf(e.Object)));
        foreach (var kind in Watched.Where(k => k != ResourceKinds.ResourceQuota))
            context.Informers.For(kind).AddHandler(e =>
            {
                foreach (var quota in _quotas.List(Json.Str(e.Object["metadata"]?["namespace"]))) queue.Add(Informer.KeyOf(quota));
            });
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (_quotas.Get(key) is not { } quota) return Task.FromResult(Reconciled.Done);
        var (ns, name) = Informer.SplitKey(key);
        var hard = ResourceQuotas.Hard(quota);
        var kinds = ResourceQuotas.KindsCounted(hard.Keys);
        var used = ResourceQuotas.Used(_context.Objects.Store, quota, ns!, hard.Keys);
        var status = new JsonObject
        {
            ["hard"] = new JsonObject(hard.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value.Text))),
            ["used"] = new JsonObject(used.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Node.Quantity.Format(kv.Key, kv.Value)))),
        };
        if (!JsonNode.DeepEquals(quota["status"], status))
        {
            try
            {
                _context.Objects.Update(ResourceKinds.ResourceQuota, ns, name, null, o =>
                {
                    o["status"] = status.DeepClone();
                    return o;
                }, statusOnly: true, dryRun: false, ClusterObjects.DaemonManager);
            }
            catch (StatusException e) when (e.Code == 404) { }
        }
        return Task.FromResult(kinds.All(Watched.Contains) ? Reconciled.Done : Reconciled.After(Resync));
    }
}
