using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A pod's cgroup: where its containers go in the tree and the limits of the pod's own directory, as the kubelet's
/// cgroupfs driver lays them out under the node's parent — Guaranteed pods at <c>kubepods/pod&lt;uid&gt;</c>,
/// Burstable at <c>kubepods/burstable/pod&lt;uid&gt;</c>, BestEffort at <c>kubepods/besteffort/pod&lt;uid&gt;</c>. The
/// pod's memory limit and CPU quota are its containers' together (<see cref="PodResources.Total"/>) when every one
/// of them has such a limit; its CPU weight is its CPU requests' (2 shares with none), so a pod's containers share
/// what the pod asked for and compete as one with other pods.
/// </summary>
/// <param name="Parent">Relative to the node's cgroup parent.</param>
/// <param name="MemoryLimit">Bytes; 0: none.</param>
/// <param name="NanoCpus">The CPU quota in billionths of a CPU; 0: none.</param>
public sealed record PodCgroup(string Parent, string QosClass, long MemoryLimit, long NanoCpus, long CpuShares)
{
    public const string Root = "kubepods";

    public static PodCgroup For(JsonObject spec, string podUid)
    {
        var qos = PodStatusBuilder.QosClass(spec);
        var all = PodStatusBuilder.Specs(spec, "containers").Concat(PodStatusBuilder.Specs(spec, "initContainers")).ToList();
        bool EveryoneLimits(string resource) => all.Count > 0 && all.All(c => c["resources"]?["limits"]?[resource] is not null);
        var limits = PodResources.Total(spec, "limits");
        var requests = PodResources.Total(spec, "requests");
        var memory = EveryoneLimits("memory") ? (long)limits.GetValueOrDefault("memory") : 0;
        var nanoCpus = EveryoneLimits("cpu") ? (long)(limits.GetValueOrDefault("cpu") * 1_000_000_000m) : 0;
        var cpuRequest = requests.TryGetValue("cpu", out var r) ? r : limits.GetValueOrDefault("cpu");
        var shares = cpuRequest > 0 ? Math.Max(2, (long)(cpuRequest * 1024m)) : 2;
        return new PodCgroup(ParentOf(qos, podUid), qos, memory, nanoCpus, shares);
    }

    public static string ParentOf(string qosClass, string podUid) => qosClass switch
    {
        "Guaranteed" => $"{Root}/pod{podUid}",
        _ => $"{Root}/{qosClass.ToLowerInvariant()}/pod{podUid}",
    };

    /// <summary>Where a pod's cgroup may be when its spec is no longer known (a pod deleted while the daemon was down).</summary>
    public static IReadOnlyList<string> Candidates(string podUid) =>
        new[] { "Guaranteed", "Burstable", "BestEffort" }.Select(q => ParentOf(q, podUid)).ToList();
}
