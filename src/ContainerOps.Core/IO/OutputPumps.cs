namespace ContainerOps.Core.IO;

/// <summary>
/// The pumps that copy a process's output to a client, each knowing whether it waits for more (its read is
/// outstanding) or holds output it has read and not yet passed on. <see cref="OutputDrain"/> stops waiting for pumps
/// that children keep going only when each of them waits on an empty pipe: on a busy machine the continuation that
/// writes what a read returned can run well after the process exited, and closing the client's stream then lost that
/// output although the pipe was already empty.
/// </summary>
public sealed class OutputPumps
{
    private readonly List<Pump> _pumps = [];

    /// <summary>Copies <paramref name="source"/> to <paramref name="write"/> (null: the output is read and dropped)
    /// until its end, then runs <paramref name="atEnd"/>. A client that goes away ends the pump quietly.</summary>
    public void Add(Stream source, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask>? write, CancellationToken ct = default, Func<Task>? atEnd = null)
    {
        var pump = new Pump();
        lock (_pumps) _pumps.Add(pump);
        pump.Task = RunAsync(pump, source, write, atEnd, ct);
    }

    /// <summary>All pumps, ended.</summary>
    public Task All { get { lock (_pumps) return Task.WhenAll(_pumps.Select(p => p.Task)); } }

    /// <summary>Some pump that has not ended is not waiting on its read: it has output to pass on.</summary>
    public bool Busy { get { lock (_pumps) return _pumps.Any(p => !p.Task.IsCompleted && p.Read is not { IsCompleted: false }); } }

    private static async Task RunAsync(Pump pump, Stream source, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask>? write, Func<Task>? atEnd, CancellationToken ct)
    {
        await Task.Yield(); // the caller registers every pump before the first one can end
        var buffer = new byte[32768];
        try
        {
            while (true)
            {
                var read = source.ReadAsync(buffer, ct).AsTask();
                pump.Read = read;
                var n = await read;
                if (n == 0) break;
                if (write is not null) await write(buffer.AsMemory(0, n), ct);
            }
            if (atEnd is not null) await atEnd();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or System.Net.WebSockets.WebSocketException) { }
    }

    private sealed class Pump
    {
        public volatile Task<int>? Read;
        public Task Task = Task.CompletedTask;
    }
}
