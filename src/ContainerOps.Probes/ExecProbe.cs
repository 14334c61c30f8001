using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
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
            var pumps = new OutputPumps();
            foreach (var stream in new[] { process.Stdout, process.Stderr, process.Terminal }.OfType<Stream>())
                pumps.Add(stream, (data, _) => { output.Write(data.Span); return ValueTask.CompletedTask; });
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
            await OutputDrain.AfterExitAsync(pumps, () => process.OutputPending);
            return new ProbeResult(begun, DateTimeOffset.UtcNow, exitCode, output.ToString());
        }
    }
}
