using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A pod's cgroup: where its containers go in the tree and the limits of the pod's own directory, as the kubelet's
/// cgroupfs driver lays them out under the node's parent — Guaranteed pods at <c>kubepods/pod&lt;uid&gt;</c>,
/// Burstable at <c>kubepods/burstable/pod&lt;uid&gt;</c>, BestEffort at <c>kubepods/besteffort/pod&lt;uid&gt;</c>. The
/// pod's memory limit and CPU quota are its containers' together (<see cref="PodResources.Total"/>) when every one
/// of them has such a limit; its CPU weight is its CPU requests' (2 shares with none), so a pod's containers share
/// what the pod asked for and compete as one with other pods. The tiers' own weights are the kubelet's QoS
/// manager's: BestEffort the least (<see cref="MinShares"/>), Burstable its pods' requests together
/// (<see cref="BurstableTierShares"/>).
/// </summary>
/// <param name="Parent">Relative to the node's cgroup parent.</param>
/// <param name="MemoryLimit">Bytes; 0: none.</param>
/// <param name="NanoCpus">The CPU quota in billionths of a CPU; 0: none.</param>
public sealed record PodCgroup(string Parent, string QosClass, long MemoryLimit, long NanoCpus, long CpuShares)
{
    public const string Root = "kubepods";
    /// <summary>The least CPU weight the kubelet gives (its MinShares), and the most (MaxShares).</summary>
    public const long MinShares = 2, MaxShares = 262144;

    /// <summary>The pod's CPU request in millicores (rounded up, as Kubernetes' MilliValue): what its Burstable tier
    /// sums.</summary>
    public long CpuRequestMilli { get; init; }

    /// <summary>pids.max of the pod's directory: the node's pod pids limit (the kubelet's podPidsLimit); 0: none.</summary>
    public long PidsLimit { get; init; }

    /// <param name="podPidsLimit">The node's pod pids limit; -1 (or any value below 1): unlimited, Kubernetes' default.</param>
    public static PodCgroup For(JsonObject spec, string podUid, long podPidsLimit = -1)
    {
        var qos = PodStatusBuilder.QosClass(spec);
        var all = PodStatusBuilder.Specs(spec, "containers").Concat(PodStatusBuilder.Specs(spec, "initContainers")).ToList();
        bool EveryoneLimits(string resource) => all.Count > 0 && all.All(c => c["resources"]?["limits"]?[resource] is not null);
        var limits = PodResources.Total(spec, "limits");
        var requests = PodResources.Total(spec, "requests");
        var memory = EveryoneLimits("memory") ? (long)limits.GetValueOrDefault("memory") : 0;
        var nanoCpus = EveryoneLimits("cpu") ? (long)(limits.GetValueOrDefault("cpu") * 1_000_000_000m) : 0;
        var cpuRequest = requests.TryGetValue("cpu", out var r) ? r : limits.GetValueOrDefault("cpu");
        var milli = (long)Math.Ceiling(cpuRequest * 1000m);
        return new PodCgroup(ParentOf(qos, podUid), qos, memory, nanoCpus, MilliCpuToShares(milli))
        {
            CpuRequestMilli = milli,
            PidsLimit = podPidsLimit > 0 ? podPidsLimit : 0,
        };
    }

    /// <summary>The kubelet's MilliCPUToShares: 1024 shares a CPU, no fewer than <see cref="MinShares"/> (also for no
    /// request at all), no more than <see cref="MaxShares"/>.</summary>
    public static long MilliCpuToShares(long milliCpu) => Math.Clamp(milliCpu * 1024 / 1000, MinShares, MaxShares);

    /// <summary>The Burstable tier's weight, as the kubelet's QoS manager sets it whenever a pod comes or goes: the CPU
    /// requests of the node's Burstable pods summed in millicores, then made shares (<see cref="MinShares"/> with
    /// none). Other classes' pods do not count.</summary>
    public static long BurstableTierShares(IEnumerable<PodCgroup> pods) =>
        MilliCpuToShares(pods.Where(p => p.QosClass == "Burstable").Sum(p => p.CpuRequestMilli));

    public static string ParentOf(string qosClass, string podUid) => qosClass switch
    {
        "Guaranteed" => $"{Root}/pod{podUid}",
        _ => $"{Root}/{qosClass.ToLowerInvariant()}/pod{podUid}",
    };

    /// <summary>Where a pod's cgroup may be when its spec is no longer known (a pod deleted while the daemon was down).</summary>
    public static IReadOnlyList<string> Candidates(string podUid) =>
        new[] { "Guaranteed", "Burstable", "BestEffort" }.Select(q => ParentOf(q, podUid)).ToList();
}
