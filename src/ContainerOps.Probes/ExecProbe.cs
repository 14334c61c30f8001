using ContainerOps.Core.Api;
using ContainerOps.Runtime;

namespace ContainerOps.Probes;

/// <summary>Runs a command in the container (through <paramref name="start"/>, which execs it there) and takes its exit
/// code and its output. On timeout the process is killed and the result is -1, "Health check exceeded timeout (…)", as
/// Docker reports it.</summary>
public sealed class ExecProbe(IReadOnlyList<string> command, Func<IReadOnlyList<string>, ExecProcess> start) : IProbe
{
    public IReadOnlyList<string> Command => command;

    public async Task<ProbeResult> RunAsync(TimeSpan timeout, CancellationToken ct)
    {
        var begun = DateTimeOffset.UtcNow;
        ExecProcess process;
        try { process = start(command); }
        catch (ContainerOpsException e) { return new ProbeResult(begun, DateTimeOffset.UtcNow, -1, e.Message); }
        using (process)
        {
            var output = new LimitedOutput();
            var pumps = new[] { process.Stdout, process.Stderr, process.Terminal }
                .Where(s => s is not null).Select(s => PumpAsync(s!, output)).ToArray();
            process.Stdin?.Dispose();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(timeout);
            int exitCode;
            try { exitCode = await process.WaitForExitAsync(limit.Token); }
            catch (OperationCanceledException)
            {
                try { process.Signal(9); } catch (ContainerOpsException) { }
                ct.ThrowIfCancellationRequested();
                return new ProbeResult(begun, DateTimeOffset.UtcNow, -1, $"Health check exceeded timeout ({GoDuration.Format(timeout.Ticks * 100)})");
            }
            // Output still in the pipes is kept; a child that holds them open does not hold the probe.
            await Task.WhenAny(Task.WhenAll(pumps), Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None));
            return new ProbeResult(begun, DateTimeOffset.UtcNow, exitCode, output.ToString());
        }
    }

    private static async Task PumpAsync(Stream source, LimitedOutput output)
    {
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer)) > 0) output.Write(buffer.AsSpan(0, n));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException) { }
    }
}
