namespace ContainerOps.Compose.Execution;

/// <summary>One step of a project operation as docker compose reports it: "Container shop-web-1  Started".</summary>
/// <param name="Kind">Container, Network, Volume, Image or Service.</param>
/// <param name="Name">The object's name.</param>
/// <param name="Status">Creating, Created, Starting, Started, Waiting, Healthy, Exited, Stopping, Stopped, Removing,
/// Removed, Pulling, Pulled, Building, Built, Recreate, Running, Warning, Error.</param>
/// <param name="Done">The step finished (as opposed to began).</param>
public sealed record ComposeEvent(string Kind, string Name, string Status, bool Done, string? Detail = null)
{
    public override string ToString() => $"{Kind} {Name}  {Status}{(Detail is null ? "" : "  " + Detail)}";
}
