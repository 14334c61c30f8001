namespace ContainerOps.Client;

/// <summary>Where the client finds (or starts) its daemon. Defaults come from the environment:
/// CONTAINEROPS_HOST (unix:///path or a socket path), CONTAINEROPS_ROOT, CONTAINEROPS_RUN_ROOT.</summary>
public sealed class ClientOptions
{
    public const string DefaultRoot = "/var/lib/containerops";
    public const string DefaultRunRoot = "/run/containerops";

    /// <summary>The daemon's state root (passed to an auto-started daemon).</summary>
    public string Root { get; set; } = DefaultRoot;
    /// <summary>The daemon's run root; the socket is <c>RunRoot/containerops.sock</c> unless <see cref="SocketPath"/> is set.</summary>
    public string RunRoot { get; set; } = DefaultRunRoot;
    public string? SocketPath { get; set; }
    /// <summary>Start a daemon when none answers (single node, embedded store).</summary>
    public bool AutoStart { get; set; } = true;
    /// <summary>The daemon executable to auto-start (default: CONTAINEROPS_DAEMON, else `containerops-daemon` beside this assembly or under ../daemon).</summary>
    public string? DaemonPath { get; set; }
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public string EffectiveSocketPath => SocketPath ?? Path.Combine(RunRoot, "containerops.sock");

    public static ClientOptions FromEnvironment()
    {
        var o = new ClientOptions();
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_ROOT") is { Length: > 0 } root) o.Root = root;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_RUN_ROOT") is { Length: > 0 } run) o.RunRoot = run;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_HOST") is { Length: > 0 } host)
            o.SocketPath = host.StartsWith("unix://", StringComparison.Ordinal) ? host["unix://".Length..] : host;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_DAEMON") is { Length: > 0 } daemon) o.DaemonPath = daemon;
        return o;
    }
}
