using ContainerOps.Cluster.Node;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Cgroups;
using ContainerOps.Runtime.Spec;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// The pods' cgroups under the daemon's own cgroup parent (<see cref="PodCgroup"/> has the layout): a pod's directory
/// is made with its sandbox, carrying the pod's limits (and the node's pods pids limit), and its containers are made
/// below it; it goes with the sandbox. The tiers' CPU weights are the kubelet's QoS manager's: BestEffort the least
/// (2 shares), Burstable the requests of the Burstable pods this tree holds (<see cref="PodCgroup.BurstableTierShares"/>),
/// set before a pod's directory is made and again after one is removed (the kubelet's UpdateCgroups). A restarted
/// daemon learns its pods again as their sandboxes are ensured, the tier following each.
/// </summary>
public sealed class PodCgroupTree(DaemonOptions options, ILogger log)
{
    private const string BurstableTier = PodCgroup.Root + "/burstable", BestEffortTier = PodCgroup.Root + "/besteffort";
    private readonly Lazy<CgroupManager> _cgroups = new(() => CgroupManager.ForHost());
    /// <summary>A tier emptied by one pod's removal is removed while another pod may be made in it: one at a time.</summary>
    private readonly Lock _gate = new();
    /// <summary>The pods ensured and not yet removed, by uid: what the Burstable tier's weight sums.</summary>
    private readonly Dictionary<string, PodCgroup> _pods = new();
    /// <summary>The Burstable tier's weight as last written; null: not written to the tier there is now.</summary>
    private ulong? _burstableShares;

    /// <summary>The container parent for a pod's <see cref="PodCgroup.Parent"/>, relative to the cgroup root.</summary>
    public string ContainerParentOf(string podParent) => options.CgroupParent.Trim('/') + "/" + podParent;

    private string PathOf(string relative) => "/" + ContainerParentOf(relative);

    /// <summary>Counts the pod in its tier's weight, then makes the pod's directory with its limits the first time (a
    /// pod's resources do not change).</summary>
    public void Ensure(string podUid, PodCgroup pod)
    {
        lock (_gate) EnsureLocked(podUid, pod);
    }

    private void EnsureLocked(string podUid, PodCgroup pod)
    {
        var cgroups = _cgroups.Value;
        _pods[podUid] = pod;
        if (pod.QosClass == "BestEffort" && PathOf(BestEffortTier) is var tier && !cgroups.Exists(tier))
            cgroups.Create(tier, new OciResources { Cpu = new OciCpu { Shares = (ulong)PodCgroup.MinShares } }, "besteffort");
        if (pod.QosClass == "Burstable") UpdateBurstableTier(cgroups, create: true);
        var path = PathOf(pod.Parent);
        if (cgroups.Exists(path)) return;
        var resources = new OciResources { Cpu = new OciCpu { Shares = (ulong)pod.CpuShares } };
        if (pod.MemoryLimit > 0) resources.Memory = new OciMemory { Limit = pod.MemoryLimit };
        if (pod.NanoCpus > 0)
        {
            resources.Cpu.Period = SpecBuilder.CpuPeriod;
            resources.Cpu.Quota = pod.NanoCpus * (long)SpecBuilder.CpuPeriod / 1_000_000_000;
        }
        if (pod.PidsLimit > 0) resources.Pids = new OciPids { Limit = pod.PidsLimit };
        cgroups.Create(path, resources, pod.Parent);
    }

    /// <summary>Sets the Burstable tier's weight to its pods' requests when that changed (cpu.shares on v1, the
    /// matching cpu.weight on v2). <paramref name="create"/>: makes the tier first when it is missing.</summary>
    private void UpdateBurstableTier(CgroupManager cgroups, bool create)
    {
        var tier = PathOf(BurstableTier);
        if (!cgroups.Exists(tier))
        {
            _burstableShares = null;
            if (!create) return;
            cgroups.Create(tier, null, "burstable");
        }
        var shares = (ulong)PodCgroup.BurstableTierShares(_pods.Values);
        if (shares == _burstableShares) return;
        cgroups.Update(tier, new OciResources { Cpu = new OciCpu { Shares = shares } }, "burstable");
        _burstableShares = shares;
    }

    /// <summary>Removes the pod's directory wherever its class put it, killing what is left inside (its containers are
    /// gone by now), then the tiers and kubepods itself once no pod is left in them: no pod, no directory; a Burstable
    /// tier that stays has its weight without the pod. A directory still busy is reported, not thrown: the next removal
    /// of the sandbox tries again.</summary>
    public void Remove(string podUid)
    {
        var cgroups = _cgroups.Value;
        lock (_gate)
        {
            _pods.Remove(podUid);
            foreach (var candidate in PodCgroup.Candidates(podUid))
            {
                var path = PathOf(candidate);
                try { cgroups.Remove(path); }
                catch (ContainerOpsException e) { log.LogWarning("pod cgroup {Path}: {Message}", path, e.Message); }
            }
            foreach (var tier in new[] { BurstableTier, BestEffortTier, PodCgroup.Root })
                cgroups.TryRemoveEmpty(PathOf(tier));
            try { UpdateBurstableTier(cgroups, create: false); }
            catch (ContainerOpsException e) { log.LogWarning("burstable tier: {Message}", e.Message); }
        }
    }
}
