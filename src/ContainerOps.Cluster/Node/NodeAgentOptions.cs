namespace ContainerOps.Cluster.Node;

/// <summary>The node agent's settings. The timing defaults are Kubernetes'; tests shorten them here, never by
/// changing the defaults.</summary>
public sealed class NodeAgentOptions
{
    /// <summary>The Node's name (`--node-name`): the host name by default, lower-cased as Kubernetes requires.</summary>
    public string NodeName { get; set; } = Environment.MachineName.ToLowerInvariant();
    /// <summary>Where the daemon keeps its state: the Node's ephemeral-storage is that file system's size.</summary>
    public string StateRoot { get; set; } = "/var/lib/containerops";
    public int MaxPods { get; set; } = 110;
    /// <summary>The most processes and threads a pod's cgroup may hold (the kubelet's podPidsLimit, `--pod-max-pids`),
    /// written to every pod's pids.max; -1: unlimited, Kubernetes' default.</summary>
    public long PodPidsLimit { get; set; } = -1;
    public string KubeletVersion { get; set; } = "v1.32.0";
    public TimeSpan LeaseRenewInterval { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>The first restart delay of a crashing container (then doubled up to <see cref="MaxBackoff"/>).</summary>
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(300);
    /// <summary>A container that ran this long before it exited starts its backoff from the beginning again.</summary>
    public TimeSpan BackoffReset { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>How long after they are written the service account tokens in a pod's volumes are renewed; null (the
    /// default): at 80 % of the shortest token's lifetime, as the kubelet does.</summary>
    public TimeSpan? TokenRenewal { get; set; }
    /// <summary>The cluster DNS service's address that ClusterFirst pods get as their name server (null: the host's resolvers).</summary>
    public string? ClusterDns { get; set; }
    /// <summary>The cluster domain (`--cluster-domain`, cluster.local).</summary>
    public string ClusterDomain { get; set; } = "cluster.local";
    /// <summary>Containers without a seccompProfile get the engine's default profile, as every container of the
    /// engine does (the kubelet's `--seccomp-default`, which this node turns on: safe unless asked otherwise);
    /// `--seccomp-default false` runs them Unconfined, as Kubernetes does by default.</summary>
    public bool SeccompDefault { get; set; } = true;
    /// <summary>Where Localhost seccomp profiles are read from (the kubelet's /var/lib/kubelet/seccomp):
    /// STATE_ROOT/seccomp unless set (`--seccomp-profile-root`).</summary>
    public string SeccompProfileRoot { get => _seccompRoot ?? Path.Combine(StateRoot, "seccomp"); set => _seccompRoot = value; }
    private string? _seccompRoot;
}
