using ContainerOps.Cluster.Node;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Cgroups;
using ContainerOps.Runtime.Spec;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// The pods' cgroups under the daemon's own cgroup parent (<see cref="PodCgroup"/> has the layout): a pod's directory
/// is made with its sandbox, carrying the pod's limits, and its containers are made below it; it goes with the
/// sandbox. The BestEffort tier has the least CPU weight (2 shares), as the kubelet sets it.
/// </summary>
public sealed class PodCgroupTree(DaemonOptions options, ILogger log)
{
    private readonly Lazy<CgroupManager> _cgroups = new(() => CgroupManager.ForHost());
    /// <summary>A tier emptied by one pod's removal is removed while another pod may be made in it: one at a time.</summary>
    private readonly Lock _gate = new();

    /// <summary>The container parent for a pod's <see cref="PodCgroup.Parent"/>, relative to the cgroup root.</summary>
    public string ContainerParentOf(string podParent) => options.CgroupParent.Trim('/') + "/" + podParent;

    private string PathOf(string relative) => "/" + ContainerParentOf(relative);

    /// <summary>Makes the pod's directory with its limits the first time (a pod's resources do not change).</summary>
    public void Ensure(PodCgroup pod)
    {
        lock (_gate) EnsureLocked(pod);
    }

    private void EnsureLocked(PodCgroup pod)
    {
        var cgroups = _cgroups.Value;
        var path = PathOf(pod.Parent);
        if (cgroups.Exists(path)) return;
        if (pod.QosClass == "BestEffort" && PathOf(PodCgroup.Root + "/besteffort") is var tier && !cgroups.Exists(tier))
            cgroups.Create(tier, new OciResources { Cpu = new OciCpu { Shares = 2 } }, "besteffort");
        var resources = new OciResources { Cpu = new OciCpu { Shares = (ulong)pod.CpuShares } };
        if (pod.MemoryLimit > 0) resources.Memory = new OciMemory { Limit = pod.MemoryLimit };
        if (pod.NanoCpus > 0)
        {
            resources.Cpu.Period = SpecBuilder.CpuPeriod;
            resources.Cpu.Quota = pod.NanoCpus * (long)SpecBuilder.CpuPeriod / 1_000_000_000;
        }
        cgroups.Create(path, resources, pod.Parent);
    }

    /// <summary>Removes the pod's directory wherever its class put it, killing what is left inside (its containers are
    /// gone by now), then the tiers and kubepods itself once no pod is left in them: no pod, no directory. A directory
    /// still busy is reported, not thrown: the next removal of the sandbox tries again.</summary>
    public void Remove(string podUid)
    {
        var cgroups = _cgroups.Value;
        lock (_gate)
        {
            foreach (var candidate in PodCgroup.Candidates(podUid))
            {
                var path = PathOf(candidate);
                try { cgroups.Remove(path); }
                catch (ContainerOpsException e) { log.LogWarning("pod cgroup {Path}: {Message}", path, e.Message); }
            }
            foreach (var tier in new[] { PodCgroup.Root + "/burstable", PodCgroup.Root + "/besteffort", PodCgroup.Root })
                cgroups.TryRemoveEmpty(PathOf(tier));
        }
    }
}
