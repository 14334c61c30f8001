using System.Collections.Concurrent;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// Measures this node's pods and the node itself for metrics.k8s.io and the autoscaler, as metrics-server does from
/// kubelets: CPU as the rate of the cgroup's cumulative CPU time between two samples, memory as bytes in use now.
/// Sampled when asked, never on a timer: the last sample of each container is kept, and a rate needs the next look
/// at least <see cref="MinimumWindow"/> later — a container seen for the first time is sampled twice, that far apart.
/// </summary>
public sealed class NodeMetrics(INodeRuntime runtime, string nodeName, TimeProvider? clock = null) : IResourceMetrics
{
    public static readonly TimeSpan MinimumWindow = TimeSpan.FromSeconds(1);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Sample> _last = new();
    private readonly ConcurrentDictionary<string, (long NanoCores, TimeSpan Window)> _rates = new();

    private sealed record Sample(DateTimeOffset At, long CpuNanos);

    public async Task<IReadOnlyList<PodUsage>> PodsAsync(CancellationToken ct)
    {
        var running = runtime.ListPodContainers().Where(c => c.Running && c.Labels.ContainsKey(PodLabels.PodName)).ToList();
        var memory = new Dictionary<string, long>();
        var fresh = new List<RuntimeContainer>();
        foreach (var c in running)
            if (Measure(c.Id, () => runtime.ReadUsage(c.Id), memory) == false) fresh.Add(c);
        if (fresh.Count > 0)
        {
            await Task.Delay(MinimumWindow, _clock, ct);
            foreach (var c in fresh) Measure(c.Id, () => runtime.ReadUsage(c.Id), memory);
        }
        var now = _clock.GetUtcNow();
        var usage = new List<PodUsage>();
        foreach (var pod in running.Where(c => _rates.ContainsKey(c.Id)).GroupBy(c => (Ns: c.Labels.GetValueOrDefault(PodLabels.PodNamespace, ""), Name: c.Labels[PodLabels.PodName])))
        {
            var containers = pod.Select(c => new ContainerUsage(c.ContainerName, _rates[c.Id].NanoCores, memory.GetValueOrDefault(c.Id))).ToList();
            usage.Add(new PodUsage(pod.Key.Ns, pod.Key.Name, now, pod.Max(c => _rates[c.Id].Window), containers));
        }
        foreach (var gone in _last.Keys.Except(running.Select(c => c.Id)).Where(k => k != NodeKey).ToList())
        {
            _last.TryRemove(gone, out _);
            _rates.TryRemove(gone, out _);
        }
        return usage;
    }

    private const string NodeKey = "\0node";

    public async Task<NodeUsage> NodeAsync(CancellationToken ct)
    {
        var memory = new Dictionary<string, long>();
        if (Measure(NodeKey, ReadHost, memory) == false)
        {
            await Task.Delay(MinimumWindow, _clock, ct);
            Measure(NodeKey, ReadHost, memory);
        }
        var (cores, window) = _rates.GetValueOrDefault(NodeKey);
        return new NodeUsage(nodeName, _clock.GetUtcNow(), window, cores, memory.GetValueOrDefault(NodeKey));
    }

    /// <summary>Takes a sample; true when a rate is known (new or recent), false when this was the first look (a
    /// second is needed), null when there is nothing to measure.</summary>
    private bool? Measure(string key, Func<ContainerUsageSample?> read, Dictionary<string, long> memory)
    {
        if (read() is not { } sample) return null;
        memory[key] = sample.MemoryBytes;
        var now = _clock.GetUtcNow();
        if (!_last.TryGetValue(key, out var previous)) { _last[key] = new Sample(now, sample.CpuUsageNanos); return false; }
        var window = now - previous.At;
        if (window < MinimumWindow) return _rates.ContainsKey(key) ? true : false;
        _rates[key] = ((long)(Math.Max(0, sample.CpuUsageNanos - previous.CpuNanos) / window.TotalSeconds), window);
        _last[key] = new Sample(now, sample.CpuUsageNanos);
        return true;
    }

    /// <summary>The host's CPU time (all cores, from /proc/stat, in ns) and memory in use (MemTotal - MemAvailable).</summary>
    private static ContainerUsageSample? ReadHost()
    {
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // user nice system idle iowait irq softirq steal: busy is all but idle and iowait; USER_HZ is 100 on Linux.
            var busyTicks = new[] { 1, 2, 3, 6, 7, 8 }.Sum(i => i < cpu.Length && long.TryParse(cpu[i], out var v) ? v : 0);
            var meminfo = File.ReadAllLines("/proc/meminfo");
            long Kb(string field) => meminfo.Where(l => l.StartsWith(field + ":", StringComparison.Ordinal))
                .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])).FirstOrDefault();
            return new ContainerUsageSample(busyTicks * 10_000_000, (Kb("MemTotal") - Kb("MemAvailable")) * 1024);
        }
        catch (IOException) { return null; }
    }
}
