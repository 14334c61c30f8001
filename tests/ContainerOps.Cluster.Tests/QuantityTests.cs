using System.Text.Json.Nodes;
using ContainerOps.Cluster.Node;

namespace ContainerOps.Cluster.Tests;

/// <summary>Quantities as numbers, and a pod's total as LimitRanges and ResourceQuotas count it.</summary>
public sealed class QuantityTests
{
    [Theory]
    [InlineData("250m", "0.25")]
    [InlineData("64Mi", "67108864")]
    [InlineData("1G", "1000000000")]
    [InlineData("1e3", "1000")]
    [InlineData(" 2 ", "2")]
    [InlineData("100n", "0.0000001")]
    public void AQuantityReadsAsItsNumber(string text, string expected)
    {
        Assert.True(Quantity.TryValue(text, out var value));
        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ten")]
    [InlineData("5Xi")]
    public void WhatIsNoQuantityIsSaidSo(string text)
    {
        Assert.False(Quantity.TryValue(text, out _));
        var e = Assert.Throws<ContainerConfigException>(() => Quantity.Value(text));
        Assert.Contains("is not a quantity", e.Message);
    }

    [Fact]
    public void AQuantityMayBeWrittenAsAJsonNumber()
    {
        Assert.True(Quantity.TryValue(JsonNode.Parse("2"), out var two));
        Assert.Equal(2m, two);
        Assert.False(Quantity.TryValue((JsonNode?)null, out _));
    }

    private static JsonObject Spec(string json) => JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void APodsTotalIsItsContainersSumOrItsLargestInitContainer()
    {
        var spec = Spec("""
            {"initContainers":[{"name":"migrate","resources":{"requests":{"cpu":"2","memory":"64Mi"}}}],
             "containers":[{"name":"a","resources":{"requests":{"cpu":"500m","memory":"128Mi"}}},
                           {"name":"b","resources":{"requests":{"cpu":"250m"},"limits":{"memory":"1Gi"}}}]}
            """);
        var requests = PodResources.Total(spec, "requests");
        Assert.Equal(2m, requests["cpu"]);
        Assert.Equal(128m * 1024 * 1024, requests["memory"]);
        Assert.Equal(new Dictionary<string, decimal> { ["memory"] = 1024m * 1024 * 1024 }, PodResources.Total(spec, "limits"));
        Assert.Empty(PodResources.Total(Spec("""{"containers":[{"name":"a"}]}"""), "requests"));
    }

    [Fact]
    public void ASidecarCountsWithTheContainersAndWithTheInitContainersAfterIt()
    {
        // The sidecar runs beside everything after it: the app's 1 + the proxy's 0.5, and while "late" runs,
        // its 1.25 + the proxy's 0.5.
        var spec = Spec("""
            {"initContainers":[{"name":"early","resources":{"requests":{"cpu":"1.4"}}},
                               {"name":"proxy","restartPolicy":"Always","resources":{"requests":{"cpu":"500m"}}},
                               {"name":"late","resources":{"requests":{"cpu":"1.25"}}}],
             "containers":[{"name":"app","resources":{"requests":{"cpu":"1"}}}]}
            """);
        Assert.Equal(1.75m, PodResources.Total(spec, "requests")["cpu"]);
        spec["initContainers"]![2]!["resources"]!["requests"]!["cpu"] = "500m";
        Assert.Equal(1.5m, PodResources.Total(spec, "requests")["cpu"]);
    }
}
