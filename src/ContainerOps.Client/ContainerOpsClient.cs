namespace ContainerOps.Client;

/// <summary>The HTTP/JSON client of a node daemon over its Unix socket.</summary>
public sealed partial class ContainerOpsClient
{
    /// <summary>Connects to the daemon of <paramref name="options"/> (default: from the environment),
    /// starting one when none answers and <see cref="ClientOptions.AutoStart"/> is set.</summary>
    public static IContainerOpsClient Connect(ClientOptions? options = null) => throw new NotImplementedException("client pending");
}
