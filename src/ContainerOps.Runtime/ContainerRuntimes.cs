using ContainerOps.Core.Api;
using ContainerOps.Runtime.Builtin;

namespace ContainerOps.Runtime;

/// <summary>Picks the runtime by name: "builtin" (default; our shim sets the container up), "crun" or "runc".</summary>
public static class ContainerRuntimes
{
    public static IContainerRuntime Create(string? name, RuntimeContext context) => name switch
    {
        null or "" or "builtin" => new BuiltinRuntime(context),
        "crun" or "runc" => new ExternalRuntime(name, ExternalRuntime.Find(name)
            ?? throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "RuntimeNotInstalled", $"runtime '{name}' is not installed on this node", name, "HostConfig.Runtime"), context),
        _ => throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnknownRuntime",
            $"runtime '{name}' is not available (builtin, crun, runc)", name, "HostConfig.Runtime"),
    };
}
