namespace ContainerOps.Runtime;

/// <summary>Where a runtime keeps its per-container state and which shim it runs.</summary>
public sealed class RuntimeContext
{
    /// <summary>Per-container state directories live under here (pid, exit, sockets). Usually RUN_ROOT/runtime.</summary>
    public required string StateRoot { get; init; }
    /// <summary>The containerops-shim executable (default: CONTAINEROPS_SHIM, else beside the running program or ../containerops-shim).</summary>
    public string ShimPath { get; init; } = ShimLocator.Find();
}
