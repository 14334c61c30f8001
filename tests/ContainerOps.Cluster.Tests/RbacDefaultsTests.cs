using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Store;
using ContainerOps.TestSupport;

namespace ContainerOps.Cluster.Tests;

/// <summary>The bootstrap roles and bindings are reconciled at each start as the API server does: what a default
/// lacks comes back, what its user added stays, and autoupdate "false" leaves it alone.</summary>
public sealed class RbacDefaultsTests : IDisposable
{
    private readonly TempDir _dir = new("rbacdef");
    private readonly SqliteClusterStore _store;
    private readonly ClusterObjects _objects;

    public RbacDefaultsTests()
    {
        _store = new SqliteClusterStore(Path.Combine(_dir.Path, "cluster.db"));
        _objects = new ClusterObjects(_store);
        _objects.EnsureInitialObjects();
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    /// <summary>What a daemon start does: the initial objects ensured by a new object layer over the same store.</summary>
    private void Restart() => new ClusterObjects(_store).EnsureInitialObjects();

    private JsonObject Role(string name) => _objects.Get(ResourceKinds.ClusterRole, null, name);

    private void Change(ResourceKind kind, string name, Action<JsonObject> change) =>
        _objects.Update(kind, null, name, null, o => { change(o); return o; }, statusOnly: false, dryRun: false);

    [Fact]
    public void ADefaultGetsBackWhatItLacksKeepsWhatWasAddedAndIsLeftAloneWhenAskedTo()
    {
        var defaults = Role("system:basic-user")["rules"]!.AsArray().Count;
        Change(ResourceKinds.ClusterRole, "system:basic-user", o => o["rules"] = new JsonArray(Rbac.Rule(["get"], [""], ["configmaps"])));
        Restart();
        var rules = Role("system:basic-user")["rules"]!.AsArray();
        Assert.Equal(defaults + 1, rules.Count);
        Assert.Contains(rules, r => r!["resources"]![0]!.GetValue<string>() == "configmaps");

        // Nothing lacks: another start writes nothing.
        var revision = Role("system:basic-user")["metadata"]!["resourceVersion"]!.GetValue<string>();
        Restart();
        Assert.Equal(revision, Role("system:basic-user")["metadata"]!["resourceVersion"]!.GetValue<string>());

        // A binding's subjects come back the same way.
        Change(ResourceKinds.ClusterRoleBinding, "system:discovery", o => o["subjects"] = new JsonArray());
        Restart();
        Assert.Equal("system:authenticated", _objects.Get(ResourceKinds.ClusterRoleBinding, null, "system:discovery")["subjects"]![0]!["name"]!.GetValue<string>());

        // autoupdate "false": the user's version stays.
        Change(ResourceKinds.ClusterRole, "system:basic-user", o =>
        {
            o["metadata"]!["annotations"]!["rbac.authorization.kubernetes.io/autoupdate"] = "false";
            o["rules"] = new JsonArray();
        });
        Restart();
        Assert.Empty(Role("system:basic-user")["rules"]!.AsArray());
    }
}
