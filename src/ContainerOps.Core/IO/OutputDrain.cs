namespace ContainerOps.Core.IO;

/// <summary>
/// What a stream of a process's output waits for once the process has exited: the output still in its pipes is
/// delivered, while what children that outlive it keep open does not hold the stream. The pumps get a second; past
/// it they are waited for as long as the pipes still hold unread bytes — on a busy machine the pump may not have run
/// yet, and a fixed second lost that output — up to 30 s.
/// </summary>
public static class OutputDrain
{
    /// <summary>Waits for <paramref name="pumps"/> as long as the pipes hold output or a pump holds output it read.</summary>
    public static Task AfterExitAsync(OutputPumps pumps, Func<bool> outputPending, CancellationToken ct = default) =>
        AfterExitAsync(pumps.All, () => pumps.Busy || outputPending(), ct);

    public static async Task AfterExitAsync(Task pumps, Func<bool> outputPending, CancellationToken ct = default)
    {
        if (await Task.WhenAny(pumps, Task.Delay(1000, ct)) == pumps) return;
        var limit = Environment.TickCount64 + 30_000;
        while (!ct.IsCancellationRequested && outputPending() && Environment.TickCount64 < limit)
            if (await Task.WhenAny(pumps, Task.Delay(50, ct)) == pumps) return;
    }
}
