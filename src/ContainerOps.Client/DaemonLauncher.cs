using System.Diagnostics;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

/// <summary>
/// Starts a local daemon when none answers: under an exclusive lock on RUN_ROOT/start.lock, so concurrent first
/// calls start exactly one; then waits until it says it is ready.
/// </summary>
public static class DaemonLauncher
{
    internal static void EnsureRunning(ContainerOpsClient client, ClientOptions options)
    {
        if (Ping(client, options)) return;
        if (!options.AutoStart)
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DaemonUnreachable", $"no ContainerOps daemon answers at {client.Endpoint}", client.Endpoint);

        Directory.CreateDirectory(options.RunRoot);
        using var lockFile = AcquireLock(Path.Combine(options.RunRoot, "start.lock"), options.StartTimeout);
        if (Ping(client, options)) return;

        var daemon = FindDaemon(options);
        var log = Path.Combine(options.RunRoot, "daemon.log");
        var psi = new ProcessStartInfo(daemon)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "--root", options.Root, "--run-root", options.RunRoot, "--socket", options.EffectiveSocketPath, "--detach" })
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)
            ?? throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DaemonStartFailed", $"could not start {daemon}");
        process.StandardInput.Close();
        // The daemon writes "ready" to its stdout once its socket accepts connections (its own output goes to the log):
        // one blocking read instead of polling the socket. End of file without it: the daemon exited first.
        var stderr = process.StandardError.ReadToEndAsync();
        var ready = process.StandardOutput.ReadLineAsync();
        if (!ready.Wait(options.StartTimeout))
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DaemonStartTimeout",
                $"the daemon did not answer at {client.Endpoint} within {options.StartTimeout.TotalSeconds:0} s; see {log}");
        if (ready.Result == "ready") return;
        if (process.WaitForExit(500) && !Ping(client, options))
        {
            var why = (stderr.Wait(500) ? stderr.Result : "").Trim();
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DaemonStartFailed",
                $"the daemon {daemon} exited with {process.ExitCode} before answering" + (why.Length > 0 ? $": {why}" : $"; see {log}"));
        }
        // Still running without having said so (a daemon of an older build): wait until it answers.
        var deadline = DateTime.UtcNow + options.StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Ping(client, options)) return;
            Thread.Sleep(10);
        }
        throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DaemonStartTimeout",
            $"the daemon did not answer at {client.Endpoint} within {options.StartTimeout.TotalSeconds:0} s; see {log}");
    }

    /// <summary>Whether a daemon listens: a socket that accepts a connection (kept for the command's first request).
    /// A socket file left by a daemon that is gone refuses it.</summary>
    private static bool Ping(ContainerOpsClient client, ClientOptions options) =>
        // No socket, no daemon: not worth a connection attempt and the exception it ends in.
        File.Exists(options.EffectiveSocketPath) && client.TryConnect();

    private static FileStream AcquireLock(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(20); }
        }
    }

    public static string FindDaemon(ClientOptions options)
    {
        if (options.DaemonPath is { Length: > 0 } configured) return configured;
        var baseDir = AppContext.BaseDirectory;
        foreach (var candidate in new[]
                 {
                     Path.Combine(baseDir, "containerops-daemon"),
                     Path.Combine(baseDir, "daemon", "containerops-daemon"),
                     Path.Combine(baseDir, "..", "daemon", "containerops-daemon"),
                 })
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "containerops-daemon"))) return Path.Combine(dir, "containerops-daemon");
        throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DaemonNotFound",
            "containerops-daemon was not found (set CONTAINEROPS_DAEMON or build with ./build.sh build)");
    }
}
