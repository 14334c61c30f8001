using System.Text.Json.Nodes;
using ContainerOps.Cluster.Node;

namespace ContainerOps.Cluster.Tests;

/// <summary>Where a pod's cgroup goes by its QoS class, the pod-level limits the kubelet gives that directory, and the
/// weights of the QoS tiers.</summary>
public sealed class PodCgroupTests
{
    private static JsonObject Spec(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Fact]
    public void AGuaranteedPodSumsItsLimitsIncludingASidecarAndSitsAtTheTop()
    {
        var spec = Spec("""
            {"initContainers":[
               {"name":"setup","resources":{"limits":{"cpu":"1","memory":"256Mi"}}},
               {"name":"proxy","restartPolicy":"Always","resources":{"limits":{"cpu":"100m","memory":"16Mi"}}}],
             "containers":[
               {"name":"a","resources":{"limits":{"cpu":"300m","memory":"48Mi"}}},
               {"name":"b","resources":{"limits":{"cpu":"200m","memory":"16Mi"}}}]}
            """);
        var cgroup = PodCgroup.For(spec, "u1");
        // 48Mi + 16Mi + the sidecar's 16Mi, less than the init container's 256Mi with the sidecar not yet started: 256Mi.
        Assert.Equal(new PodCgroup("kubepods/podu1", "Guaranteed", 256L << 20, 1_000_000_000, 1024) { CpuRequestMilli = 1000 }, cgroup);
    }

    [Fact]
    public void ABurstablePodHasNoQuotaWhenAContainerHasNoCpuLimitAndTheWeightOfItsRequests()
    {
        var spec = Spec("""
            {"containers":[
               {"name":"a","resources":{"requests":{"cpu":"250m"},"limits":{"memory":"32Mi"}}},
               {"name":"b","resources":{"requests":{"cpu":"250m","memory":"8Mi"}}}]}
            """);
        Assert.Equal(new PodCgroup("kubepods/burstable/podu2", "Burstable", 0, 0, 512) { CpuRequestMilli = 500 }, PodCgroup.For(spec, "u2"));
    }

    [Fact]
    public void ABestEffortPodHasTheLeastWeightAndNoLimits()
    {
        Assert.Equal(new PodCgroup("kubepods/besteffort/podu3", "BestEffort", 0, 0, 2), PodCgroup.For(Spec("""{"containers":[{"name":"a"}]}"""), "u3"));
        Assert.Equal(["kubepods/podu3", "kubepods/burstable/podu3", "kubepods/besteffort/podu3"], PodCgroup.Candidates("u3"));
    }

    private static PodCgroup Burstable(string cpu, string uid) =>
        PodCgroup.For(Spec($$$$"""{"containers":[{"name":"a","resources":{"requests":{"cpu":"{{{{cpu}}}}"}}}]}"""), uid);

    [Fact]
    public void TheBurstableTierWeighsItsPodsRequestsSummedInMillicoresAsTheKubeletDoes()
    {
        var small = Burstable("100m", "s");
        var large = Burstable("250m", "l");
        Assert.Equal(("Burstable", 100L, 102L), (small.QosClass, small.CpuRequestMilli, small.CpuShares));
        // 350m together: 350 * 1024 / 1000 = 358 (each pod's shares summed would be 102 + 256 = 358 here, but not always).
        Assert.Equal(358, PodCgroup.BurstableTierShares([small, large]));
        // The tier follows a pod's going: 250m alone.
        Assert.Equal(256, PodCgroup.BurstableTierShares([large]));
        // Three pods of 1m: 3 shares together, where each pod's 2 (the least) would add up to 6.
        Assert.Equal(3, PodCgroup.BurstableTierShares([Burstable("1m", "a"), Burstable("1m", "b"), Burstable("1m", "c")]));
        // Other classes do not count, nor does a Burstable pod that asks only for memory; no request at all: the least.
        var guaranteed = PodCgroup.For(Spec("""{"containers":[{"name":"a","resources":{"limits":{"cpu":"2","memory":"8Mi"}}}]}"""), "g");
        var memoryOnly = PodCgroup.For(Spec("""{"containers":[{"name":"a","resources":{"requests":{"memory":"8Mi"}}}]}"""), "m");
        var bestEffort = PodCgroup.For(Spec("""{"containers":[{"name":"a"}]}"""), "b");
        Assert.Equal(("Burstable", 0L, 2L), (memoryOnly.QosClass, memoryOnly.CpuRequestMilli, memoryOnly.CpuShares));
        Assert.Equal(102, PodCgroup.BurstableTierShares([small, guaranteed, memoryOnly, bestEffort]));
        Assert.Equal(PodCgroup.MinShares, PodCgroup.BurstableTierShares([guaranteed, bestEffort]));
        Assert.Equal(PodCgroup.MinShares, PodCgroup.BurstableTierShares([]));
    }

    [Fact]
    public void MilliCpuBecomesSharesWithTheKubeletsBounds()
    {
        Assert.Equal(2, PodCgroup.MilliCpuToShares(0));
        Assert.Equal(2, PodCgroup.MilliCpuToShares(1));
        Assert.Equal(1024, PodCgroup.MilliCpuToShares(1000));
        Assert.Equal(262144, PodCgroup.MilliCpuToShares(1_000_000));
        // A fraction of a millicore rounds up, as Kubernetes' MilliValue: 0.1005 CPU is 101m.
        Assert.Equal(101, Burstable("0.1005", "f").CpuRequestMilli);
    }

    [Fact]
    public void ThePodPidsLimitGoesOnEveryPodAndIsUnlimitedByDefault()
    {
        var spec = Spec("""{"containers":[{"name":"a"}]}""");
        Assert.Equal(0, PodCgroup.For(spec, "p").PidsLimit);
        Assert.Equal(0, PodCgroup.For(spec, "p", -1).PidsLimit);
        Assert.Equal(64, PodCgroup.For(spec, "p", 64).PidsLimit);
        Assert.Equal(64, PodCgroup.For(Spec("""{"containers":[{"name":"a","resources":{"limits":{"cpu":"1","memory":"8Mi"}}}]}"""), "p", 64).PidsLimit);
    }
}
