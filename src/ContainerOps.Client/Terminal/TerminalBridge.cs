using System.Runtime.InteropServices;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Core.Terminal;

namespace ContainerOps.Client.Terminal;

/// <summary>
/// Connects this process's terminal (or plain stdin/stdout) to an interactive session: raw mode when stdin is a terminal,
/// input and output copied both ways, the window size sent at the start and on every SIGWINCH. Returns the process's exit code.
/// Used by `containerops run -it` / `exec -it` and by Enter-Container.
/// </summary>
public static class TerminalBridge
{
    public static bool StdinIsTerminal => RawTerminal.IsTerminal(0);

    public static async Task<int> RunAsync(InteractiveSession session, bool tty, CancellationToken ct) =>
        (await RunAsync(session, tty, null, ct).ConfigureAwait(false)).ExitCode;

    /// <summary>As <see cref="RunAsync(InteractiveSession, bool, CancellationToken)"/>; on a terminal, typing
    /// <paramref name="detachKeys"/> leaves the container running and returns with Detached set (exit code 0).</summary>
    public static async Task<(int ExitCode, bool Detached)> RunAsync(InteractiveSession session, bool tty, byte[]? detachKeys, CancellationToken ct)
    {
        var matcher = tty && detachKeys is { Length: > 0 } ? new DetachKeyMatcher(detachKeys) : null;
        var detached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stdout = StandardStreams.Open(1);
        using var raw = tty ? RawTerminal.Enter(0) : null;
        using var winch = tty ? PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ => Resize(session)) : null;
        if (tty) Resize(session);
        var output = Task.Run(async () =>
        {
            var buffer = new byte[16384];
            int n;
            while ((n = await session.Stream.ReadAsync(buffer, done.Token).ConfigureAwait(false)) > 0)
            {
                await stdout.WriteAsync(buffer.AsMemory(0, n), done.Token).ConfigureAwait(false);
                await stdout.FlushAsync(done.Token).ConfigureAwait(false);
            }
        });
        var input = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            if (raw is not null)
            {
                while (!done.IsCancellationRequested)
                {
                    var n = RawTerminal.Read(0, buffer);
                    if (n < 0) break;
                    if (n == 0) continue;
                    if (matcher is null) { await session.Stream.WriteAsync(buffer.AsMemory(0, n), done.Token).ConfigureAwait(false); continue; }
                    var (forward, detach) = matcher.Feed(buffer.AsSpan(0, n));
                    if (forward.Length > 0) await session.Stream.WriteAsync(forward, done.Token).ConfigureAwait(false);
                    if (detach) { detached.TrySetResult(); break; }
                }
            }
            else
            {
                await using var stdin = StandardStreams.Open(0, FileAccess.Read);
                int n;
                while ((n = await stdin.ReadAsync(buffer, done.Token).ConfigureAwait(false)) > 0)
                    await session.Stream.WriteAsync(buffer.AsMemory(0, n), done.Token).ConfigureAwait(false);
                session.Stream.Close();
            }
        });
        try
        {
            await Task.WhenAny(output, session.ExitCode, detached.Task).WaitAsync(ct).ConfigureAwait(false);
            if (detached.Task.IsCompleted) return (0, true);
            // An exit can overtake the last output: let it drain briefly.
            await Task.WhenAny(output, Task.Delay(500, CancellationToken.None)).ConfigureAwait(false);
        }
        finally
        {
            done.Cancel();
            await Task.WhenAny(Task.WhenAll(input, output).ContinueWith(_ => { }, TaskScheduler.Default), Task.Delay(1000, CancellationToken.None)).ConfigureAwait(false);
        }
        return (await session.ExitCode.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false), false);
    }

    /// <summary>[height, width] of this process's terminal, for a request's ConsoleSize; null without one.</summary>
    public static List<int>? ConsoleSize() => CurrentSize() is var (rows, cols) ? [rows, cols] : null;

    private static (int Rows, int Columns)? CurrentSize() => RawTerminal.Size(1) ?? RawTerminal.Size(0);

    private static void Resize(InteractiveSession session)
    {
        if (CurrentSize() is var (rows, cols))
            _ = session.ResizeAsync(rows, cols).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
    }
}
