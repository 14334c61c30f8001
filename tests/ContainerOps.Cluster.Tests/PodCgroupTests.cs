using System.Text.Json.Nodes;
using ContainerOps.Cluster.Node;

namespace ContainerOps.Cluster.Tests;

/// <summary>Where a pod's cgroup goes by its QoS class, and the pod-level limits the kubelet gives that directory.</summary>
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
        Assert.Equal(new PodCgroup("kubepods/podu1", "Guaranteed", 256L << 20, 1_000_000_000, 1024), cgroup);
    }

    [Fact]
    public void ABurstablePodHasNoQuotaWhenAContainerHasNoCpuLimitAndTheWeightOfItsRequests()
    {
        var spec = Spec("""
            {"containers":[
               {"name":"a","resources":{"requests":{"cpu":"250m"},"limits":{"memory":"32Mi"}}},
               {"name":"b","resources":{"requests":{"cpu":"250m","memory":"8Mi"}}}]}
            """);
        Assert.Equal(new PodCgroup("kubepods/burstable/podu2", "Burstable", 0, 0, 512), PodCgroup.For(spec, "u2"));
    }

    [Fact]
    public void ABestEffortPodHasTheLeastWeightAndNoLimits()
    {
        Assert.Equal(new PodCgroup("kubepods/besteffort/podu3", "BestEffort", 0, 0, 2), PodCgroup.For(Spec("""{"containers":[{"name":"a"}]}"""), "u3"));
        Assert.Equal(["kubepods/podu3", "kubepods/burstable/podu3", "kubepods/besteffort/podu3"], PodCgroup.Candidates("u3"));
    }
}
