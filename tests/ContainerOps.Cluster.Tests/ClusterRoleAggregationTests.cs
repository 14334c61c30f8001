using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using static ContainerOps.Cluster.Tests.ControllerHarness;

namespace ContainerOps.Cluster.Tests;

/// <summary>The aggregation controller writes into an aggregating ClusterRole the rules of the roles that join it
/// (through another aggregating role too) and takes them out when a role leaves.</summary>
public sealed class ClusterRoleAggregationTests : IAsyncLifetime
{
    private readonly ControllerHarness _cluster = new();
    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private const string Roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles";

    private async Task<bool> NamesWidgetsAsync(string role) =>
        (await _cluster.GetAsync($"{Roles}/{role}"))["rules"]!.AsArray().Any(r => r!["resources"]?.AsArray().Any(x => Json.Str(x) == "widgets") == true);

    [Fact]
    public async Task ARoleThatJoinsViewReachesViewEditAndAdminAndLeavesThemWhenItLeaves()
    {
        var (code, _) = await _cluster.Api.PostAsync(Roles, """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
             "metadata":{"name":"widget-reader","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},
             "rules":[{"apiGroups":["example.com"],"resources":["widgets"],"verbs":["get","list"]}]}
            """);
        Assert.Equal(201, code);
        foreach (var role in new[] { "view", "edit", "admin" })
            await EventuallyAsync(() => NamesWidgetsAsync(role), named => named, $"{role} gathers widget-reader's rule");

        (code, _) = await _cluster.Api.PatchAsync($"{Roles}/widget-reader", """{"metadata":{"labels":{"rbac.authorization.k8s.io/aggregate-to-view":null}}}""",
            "application/merge-patch+json");
        Assert.Equal(200, code);
        foreach (var role in new[] { "view", "edit", "admin" })
            await EventuallyAsync(() => NamesWidgetsAsync(role), named => !named, $"{role} drops widget-reader's rule");
        Assert.Contains((await _cluster.GetAsync($"{Roles}/view"))["rules"]!.AsArray(), r => r!["resources"]!.AsArray().Any(x => Json.Str(x) == "pods"));
    }
}
