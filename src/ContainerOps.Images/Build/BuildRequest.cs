namespace ContainerOps.Images.Build;

/// <summary>What <c>docker build</c> takes: context, -f, -t (several), --target, --build-arg, --no-cache, --label.</summary>
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
    /// <summary>Only linux/amd64 is built.</summary>
    public string? Platform { get; init; }

    // Where RUN steps run.
    /// <summary>State directory of the runtime for build containers (default: build-runtime under the image root).</summary>
    public string? RuntimeStateRoot { get; init; }
    /// <summary>containerops-shim path (default: the runtime's lookup).</summary>
    public string? ShimPath { get; init; }
    public string CgroupParent { get; init; } = "containerops-build";
    /// <summary>Network of RUN steps: host (default, so package managers can download) or none.</summary>
    public string NetworkMode { get; init; } = "host";
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromHours(1);
}

public enum BuildProgressKind { Step, Output, CacheHit, Warning, Done }

public sealed record BuildProgress(BuildProgressKind Kind, int Step, int TotalSteps, string Message, string? Stream = null);
