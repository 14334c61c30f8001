using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell.Tests;

/// <summary>Kinds named as kubectl names them, and the change an apply would make, as -WhatIf words it.</summary>
public sealed class ClusterResourceTests
{
    private static readonly List<ClusterResourceType> Types =
    [
        new("", "v1", "configmaps", "ConfigMap", true, "configmap", ["cm"]),
        new("", "v1", "events", "Event", true, "event", ["ev"]),
        new("", "v1", "namespaces", "Namespace", false, "namespace", ["ns"]),
        new("apps", "v1", "deployments", "Deployment", true, "deployment", ["deploy"]),
        new("events.k8s.io", "v1", "events", "Event", true, "event", ["ev"]),
    ];

    [Theory]
    [InlineData("Deployment", "deployments")]
    [InlineData("deployments", "deployments")]
    [InlineData("deploy", "deployments")]
    [InlineData("deployments.apps", "deployments")]
    [InlineData("CM", "configmaps")]
    [InlineData("ns", "namespaces")]
    public void AKindIsNamedByKindPluralSingularOrShortName(string word, string resource) =>
        Assert.Equal(resource, ClusterResources.Resolve(Types, word).Resource);

    [Fact]
    public void TwoGroupsServingOneNameGiveTheCoreOneUnlessTheGroupIsNamed()
    {
        Assert.Equal("", ClusterResources.Resolve(Types, "events").Group);
        Assert.Equal("events.k8s.io", ClusterResources.Resolve(Types, "events.events.k8s.io").Group);
        Assert.Equal("events.k8s.io", ClusterResources.Resolve(Types, "Event", "events.k8s.io/v1").Group);
        var unknown = Assert.Throws<ContainerOpsException>(() => ClusterResources.Resolve(Types, "Gadget"));
        Assert.Equal("the cluster serves no kind named Gadget", unknown.Message);
        Assert.Throws<ContainerOpsException>(() => ClusterResources.Resolve(Types, "Deployment", "apps/v1beta1"));
        Assert.Equal("apis/apps/v1/namespaces/web/deployments/a", ClusterResources.Resolve(Types, "deploy").ItemPath("web", "a"));
        Assert.Equal("api/v1/namespaces/x", ClusterResources.Resolve(Types, "ns").ItemPath(null, "x"));
    }

    [Fact]
    public void WhatAnApplyWouldChangeIsItsFieldsThatDiffer()
    {
        var before = (JsonObject)JsonNode.Parse("""{"metadata":{"name":"a","resourceVersion":"5"},"data":{"mode":"fast","keep":"1"},"status":{"x":1}}""")!;
        var after = (JsonObject)JsonNode.Parse("""{"metadata":{"name":"a","resourceVersion":"6"},"data":{"mode":"safe","keep":"1","new":"2"}}""")!;
        Assert.Equal("data.mode: \"fast\" → \"safe\", data.new: (none) → \"2\"", SetClusterResourceCommand.Changes(before, after));
        Assert.Equal("no change", SetClusterResourceCommand.Changes(before, before));
        Assert.Equal("create", SetClusterResourceCommand.Changes(null, after));
    }
}
