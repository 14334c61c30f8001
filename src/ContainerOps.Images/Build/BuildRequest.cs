namespace ContainerOps.Images.Build;

/// <summary>What <c>docker build</c> takes: context, -f, -t (several), --target, --build-arg, --no-cache, --label,
/// --secret, --allow.</summary>
public sealed class BuildRequest
{
    public required string ContextDir { get; init; }
    /// <summary>Dockerfile path, relative to the context unless absolute (default: Dockerfile).</summary>
    public string? Dockerfile { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public string? Target { get; init; }
    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public bool NoCache { get; init; }
    /// <summary>Secrets RUN --mount=type=secret can read, by id (docker build --secret). They reach the step's mount or
    /// environment only: never a layer, the history or a cache key.</summary>
    public IReadOnlyDictionary<string, byte[]> Secrets { get; init; } = new Dictionary<string, byte[]>();
    /// <summary>Entitlements (docker build --allow): security.insecure lets RUN --security=insecure run privileged;
    /// network.host is granted anyway.</summary>
    public IReadOnlyList<string> Allow { get; init; } = [];
    /// <summary>Only linux/amd64 is built.</summary>
    public string? Platform { get; init; }

    // Where RUN steps run.
    /// <summary>State directory of the runtime for build containers (default: build-runtime under the image root).</summary>
    public string? RuntimeStateRoot { get; init; }
    /// <summary>containerops-shim path (default: the runtime's lookup).</summary>
    public string? ShimPath { get; init; }
    public string CgroupParent { get; init; } = "containerops-build";
    /// <summary>Network of RUN steps: host (default, so package managers can download) or none. A step's own
    /// <c>RUN --network=none|host</c> wins; <c>--network=default</c> is this.</summary>
    public string NetworkMode { get; init; } = "host";
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromHours(1);
}

public enum BuildProgressKind { Step, Output, CacheHit, Warning, Done }

public sealed record BuildProgress(BuildProgressKind Kind, int Step, int TotalSteps, string Message, string? Stream = null);
