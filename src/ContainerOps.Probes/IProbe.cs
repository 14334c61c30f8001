namespace ContainerOps.Probes;

/// <summary>One check of a running container: a command run in it (exec), later an HTTP GET or a TCP connect.
/// A probe never throws for the container's sake: whatever goes wrong is a failed result with the reason as output.</summary>
public interface IProbe
{
    Task<ProbeResult> RunAsync(TimeSpan timeout, CancellationToken ct);
}

/// <summary>What one probe found. Exit code 0 is success; -1 means the probe could not run or timed out.</summary>
public sealed record ProbeResult(DateTimeOffset Start, DateTimeOffset End, int ExitCode, string Output)
{
    public bool Succeeded => ExitCode == 0;
}
