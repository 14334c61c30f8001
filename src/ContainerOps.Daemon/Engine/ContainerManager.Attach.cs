using System.Runtime.CompilerServices;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Docker's attach for output and its wait conditions. A Docker client attaches before it starts the container and
/// waits for the next exit (or the removal, with --rm) before the start too: the output of that run is followed from
/// the container's log from the moment of the attach, and an automatic removal waits (a little) for attached readers
/// to have read the end.
/// </summary>
public sealed partial class ContainerManager
{
    /// <summary>The output of the container's current run from now on, or of its next run when none runs.</summary>
    public IAsyncEnumerable<LogEntry> AttachOutput(string idOrName, bool stdout, bool stderr, CancellationToken ct) =>
        FollowRunAsync(Find(idOrName), DateTimeOffset.UtcNow, stdout, stderr, ct);

    private async IAsyncEnumerable<LogEntry> FollowRunAsync(Entry entry, DateTimeOffset since, bool stdout, bool stderr, [EnumeratorCancellation] CancellationToken ct)
    {
        var r = entry.Record;
        Interlocked.Increment(ref entry.Readers);
        try
        {
            // Not started yet: its output begins with the start that follows.
            while (true)
            {
                var changed = entry.NextChange;
                if (r.State.Running || r.State.FinishedAt >= since || entry.StartFailedAt >= since || !_containers.ContainsKey(r.Id)) break;
                await changed.WaitAsync(ct);
            }
            if (!r.State.Running && entry.StartFailedAt >= since) yield break; // that start failed: no run, no output
            await foreach (var e in LogReader.ReadAsync(r.LogPath, follow: true, tail: null, since, stdout, stderr,
                               () => _containers.ContainsKey(r.Id) && r.State.Running, ct, () => entry.Exit.Task))
                yield return e;
        }
        finally
        {
            Interlocked.Decrement(ref entry.Readers);
            entry.Changed();
        }
    }

    /// <summary>Before an automatic removal: readers attached to the run get its last output (at most 5 s).</summary>
    private static async Task WaitForAttachedReadersAsync(Entry entry)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var changed = entry.NextChange;
            var left = deadline - DateTime.UtcNow;
            if (Volatile.Read(ref entry.Readers) == 0 || left <= TimeSpan.Zero) return;
            try { await changed.WaitAsync(left); }
            catch (TimeoutException) { return; }
        }
    }

    /// <summary>`POST /containers/{id}/wait?condition=`: not-running (default) answers at once for a container that is not
    /// running; next-exit waits for the exit of the next run when none runs; removed waits until the container is gone.</summary>
    public async Task<ContainerWaitResponse> WaitAsync(string idOrName, string? condition, CancellationToken ct)
    {
        if (condition is not (null or "" or "not-running" or "next-exit" or "removed"))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCondition",
                $"wait condition '{condition}' is not one of not-running, next-exit, removed", idOrName, "condition");
        if (condition is null or "" or "not-running") return await WaitAsync(idOrName, ct);
        var entry = Find(idOrName);
        var r = entry.Record;
        Task<ContainerWaitResponse> exit;
        await entry.Lock.WaitAsync(ct);
        try
        {
            if (!r.State.Running && !r.State.Restarting && entry.Exit.Task.IsCompleted && (condition == "next-exit" || _containers.ContainsKey(r.Id)))
                entry.Exit = Entry.NewExit();
            exit = entry.Exit.Task;
        }
        finally { entry.Lock.Release(); }
        var status = await exit.WaitAsync(ct);
        if (condition == "removed") await entry.Removed.Task.WaitAsync(ct);
        return status;
    }
}
