namespace ContainerOps.Runtime;

/// <summary>Picks the runtime by name: "builtin" (default; our shim sets the container up), "crun" or "runc".</summary>
public static class ContainerRuntimes
{
    public static IContainerRuntime Create(string? name, RuntimeContext context) => throw new NotImplementedException();
}
