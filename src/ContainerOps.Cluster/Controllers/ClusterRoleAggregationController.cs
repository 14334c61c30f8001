using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-controller-manager's ClusterRole aggregation: a ClusterRole with an aggregationRule holds the rules of every
/// ClusterRole its selectors match (admin, edit and view gather the system:aggregate-to-* roles and any a user labels
/// to join them), written again whenever one of those changes. <see cref="Rbac.AggregatedRules"/> is the one
/// definition of what they are; the authorizer reads it too, so a decision never waits for this controller.
/// </summary>
public sealed class ClusterRoleAggregationController : IController
{
    private ControllerContext _context = null!;
    private Informer _roles = null!;

    public string Name => "clusterrole-aggregation-controller";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _roles = context.Informers.For(ResourceKinds.ClusterRole);
        // Any role may join or leave an aggregation (by its labels): every aggregating role looks again.
        _roles.AddHandler(e =>
        {
            foreach (var role in _roles.List().Append(e.Object))
                if (role["aggregationRule"] is JsonObject) queue.Add(Informer.KeyOf(role));
        });
    }

    public Task<Reconciled> ReconcileAsync(string key, CancellationToken ct)
    {
        if (_roles.Get(key) is not { } role || role["aggregationRule"] is not JsonObject) return Task.FromResult(Reconciled.Done);
        var rules = new JsonArray(Rbac.AggregatedRules(_context.Objects, role).Select(r => r.DeepClone()).ToArray());
        if (JsonNode.DeepEquals(role["rules"] ?? new JsonArray(), rules)) return Task.FromResult(Reconciled.Done);
        try
        {
            _context.Objects.Update(ResourceKinds.ClusterRole, null, key, null, o =>
            {
                if (o["aggregationRule"] is JsonObject) o["rules"] = new JsonArray(Rbac.AggregatedRules(_context.Objects, o).Select(r => r.DeepClone()).ToArray());
                return o;
            }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
        return Task.FromResult(Reconciled.Done);
    }
}
