using ContainerOps.Cluster.Node;

namespace ContainerOps.Daemon.Engine;

/// <summary>The node agent's daemon options: `--node-name NAME`, `--pod-subnet CIDR` (10.42.0.0/24 by default),
/// `--pod-backoff SECONDS` (the first crash-loop delay, and a Job's before it replaces a failed pod, 10 s by default: tests shorten it), `--cluster-domain NAME` (cluster.local),
/// `--seccomp-default true|false` (pods without a seccompProfile get the engine's default profile, true by default;
/// false: Unconfined, as Kubernetes' default is),
/// `--seccomp-profile-root DIR` (Localhost seccomp profiles; ROOT/seccomp by default),
/// `--pod-max-pids N` (every pod cgroup's pids.max, the kubelet's podPidsLimit; -1, unlimited, by default),
/// `--pod-token-renewal SECONDS` (when the service account tokens in pods' volumes are renewed; at 80 % of their
/// lifetime by default: tests shorten it), or
/// CONTAINEROPS_NODE_NAME, CONTAINEROPS_POD_SUBNET, CONTAINEROPS_POD_BACKOFF, CONTAINEROPS_POD_MAX_PIDS.</summary>
public sealed class NodeSettings
{
    public NodeAgentOptions Agent { get; } = new();
    /// <summary>The controllers' settings: `--hpa-sync-period SECONDS` (15 by default: tests shorten it).</summary>
    public ContainerOps.Cluster.Controllers.ControllerOptions Controllers { get; } = new();
    public string PodSubnet { get; set; } = "10.42.0.0/24";
    /// <summary>The pod network's name among the daemon's networks.</summary>
    public string PodNetworkName { get; set; } = "pods";

    public NodeSettings()
    {
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_NODE_NAME") is { Length: > 0 } name) Agent.NodeName = name;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_POD_SUBNET") is { Length: > 0 } subnet) PodSubnet = subnet;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_POD_BACKOFF") is { Length: > 0 } backoff) SetBackoff(backoff);
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_POD_MAX_PIDS") is { Length: > 0 } pids) SetPodMaxPids(pids);
    }

    /// <summary>Takes one of the options above (its value from <paramref name="value"/>); false when it is none of them.</summary>
    public bool TryParse(string option, Func<string> value)
    {
        switch (option)
        {
            case "--node-name": Agent.NodeName = value(); return true;
            case "--pod-subnet": PodSubnet = value(); return true;
            case "--pod-backoff": SetBackoff(value()); return true;
            case "--hpa-sync-period": Controllers.HorizontalSyncPeriod = Seconds(option, value()); return true;
            case "--cluster-domain": Agent.ClusterDomain = value().Trim('.').ToLowerInvariant(); return true;
            case "--seccomp-default":
                var choice = value();
                Agent.SeccompDefault = bool.TryParse(choice, out var on) ? on : throw new ArgumentException($"--seccomp-default takes true or false, not \"{choice}\"");
                return true;
            case "--seccomp-profile-root": Agent.SeccompProfileRoot = Path.GetFullPath(value()); return true;
            case "--pod-max-pids": SetPodMaxPids(value()); return true;
            case "--pod-token-renewal": Agent.TokenRenewal = Seconds(option, value()); return true;
            default: return false;
        }
    }

    /// <summary>The pods' pids limit: a positive count, or -1 for none (the kubelet takes any value below 1 as none).</summary>
    private void SetPodMaxPids(string text)
    {
        Agent.PodPidsLimit = long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n) && (n > 0 || n == -1)
            ? n : throw new ArgumentException($"--pod-max-pids needs a number of processes or -1 (unlimited), not \"{text}\"");
    }

    /// <summary>The first delay of a crash loop and of a Job's replacement for a failed pod (both 10 s in Kubernetes).</summary>
    private void SetBackoff(string text)
    {
        Agent.BaseBackoff = Seconds("--pod-backoff", text);
        Controllers.JobBackoff = Agent.BaseBackoff;
    }

    /// <summary>A positive number of seconds given to <paramref name="option"/>, else a refusal naming it.</summary>
    private static TimeSpan Seconds(string option, string text) =>
        double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s) : throw new ArgumentException($"{option} needs a number of seconds, not \"{text}\"");
}
