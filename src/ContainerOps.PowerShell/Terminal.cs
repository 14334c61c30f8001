using System.Management.Automation;
using System.Runtime.InteropServices;
using ContainerOps.Client;
using ContainerOps.Client.Terminal;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Connects this console to an interactive session through the client's terminal bridge (shared with the CLI).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class InteractiveTerminal
{
    /// <summary>Whether stdin is a terminal this process may put in raw mode.</summary>
    public static bool Available => RawTerminal.IsTerminal(0) && !System.Console.IsInputRedirected;

    public static ErrorRecord NotATerminal(string message, object? target) =>
        new(new InvalidOperationException(message), "NotATerminal", ErrorCategory.InvalidOperation, target);

    public static int? Run(InteractiveSession session, CancellationToken stopToken, Action<ContainerOpsException> writeError)
    {
        try
        {
            return TerminalBridge.RunAsync(session, tty: true, stopToken).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (stopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (ContainerOpsException ex)
        {
            writeError(ex);
            return null;
        }
        catch (TimeoutException)
        {
            return null;
        }
    }
}
