using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Text;
using ContainerOps.Client;
using ContainerOps.Client.Terminal;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>How a command run in a container ended.</summary>
public sealed class ContainerCommandResult
{
    public string Container { get; set; } = "";
    public string[] Command { get; set; } = [];
    public int ExitCode { get; set; }
}

/// <summary>Shared parameters of exec-style cmdlets.</summary>
/// <summary>What runs a command without a terminal and writes its output as native commands' is written: standard
/// output as lines on the pipeline, standard error as non-terminating errors (ErrorId ContainerStandardError).</summary>
public abstract class CommandOutputCmdlet : ContainerOpsCmdlet
{
    /// <summary>Runs <paramref name="request"/> in a container; <paramref name="input"/> lines are its standard input.
    /// The exit code, or null when the command could not run (the error is written).</summary>
    protected int? RunCommand(string containerId, string target, ExecCreateRequest request, string[]? input)
    {
        Stream? stdin = input is null ? null : new MemoryStream(new UTF8Encoding(false).GetBytes(string.Join("\n", input) + "\n"));
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        int? exitCode = null;
        try
        {
            foreach (var frame in Enumerate(Client.ExecAsync(containerId, request, stdin, StopToken)))
            {
                switch (frame.Stream)
                {
                    case "stdout":
                        stdout.Append(frame.Data);
                        FlushLines(stdout, WriteObject);
                        break;
                    case "stderr":
                        stderr.Append(frame.Data);
                        FlushLines(stderr, line => WriteStandardError(line, target));
                        break;
                    case "exit":
                        exitCode = frame.ExitCode ?? 0;
                        break;
                    case "error":
                        WriteError(new ErrorRecord(new InvalidOperationException(frame.Data ?? "exec failed"), "ExecFailed",
                            ErrorCategory.InvalidResult, target));
                        break;
                }
            }
        }
        catch (ContainerOpsException ex)
        {
            WriteApiError(ex);
            return null;
        }
        finally
        {
            stdin?.Dispose();
        }
        if (stdout.Length > 0) WriteObject(stdout.ToString());
        if (stderr.Length > 0) WriteStandardError(stderr.ToString(), target);
        return exitCode;
    }

    private static void FlushLines(StringBuilder buffer, Action<string> write)
    {
        var text = buffer.ToString();
        var last = text.LastIndexOf('\n');
        if (last < 0) return;
        foreach (var line in text[..last].Split('\n')) write(line.TrimEnd('\r'));
        buffer.Remove(0, last + 1);
    }

    private void WriteStandardError(string line, string target) =>
        WriteError(new ErrorRecord(new RemoteException(line), "ContainerStandardError", ErrorCategory.NotSpecified, target));
}

public abstract class ContainerExecCmdlet : CommandOutputCmdlet
{
    /// <summary>Container id, id prefix or name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "Name", "ContainerId")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string Container { get; set; } = "";

    /// <summary>Environment for the command: a hashtable or KEY=VALUE strings.</summary>
    [Parameter]
    [Alias("Env")]
    public object[]? Environment { get; set; }

    /// <summary>The user to run as: user[:group] or uid[:gid] (`docker exec -u`).</summary>
    [Parameter]
    public string? User { get; set; }

    /// <summary>The directory to run in (`docker exec -w`).</summary>
    [Parameter]
    [Alias("WorkDir")]
    public string? WorkingDirectory { get; set; }

    /// <summary>Run with extended privileges (all capabilities).</summary>
    [Parameter]
    public SwitchParameter Privileged { get; set; }

    /// <summary>Write a ContainerCommandResult with the exit code at the end.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected ExecCreateRequest BuildRequest(string[] command, bool tty) => new()
    {
        Cmd = command.ToList(),
        Env = ToKeyValueList(Environment, inheritBareKeys: true),
        User = User,
        WorkingDir = WorkingDirectory,
        Privileged = Privileged,
        Tty = tty,
        AttachStdin = tty,
        ConsoleSize = tty ? TerminalBridge.ConsoleSize() : null,
    };

    protected void Finish(string[] command, int exitCode)
    {
        SetLastExitCode(exitCode);
        if (PassThru) WriteObject(new ContainerCommandResult { Container = Container, Command = command, ExitCode = exitCode });
    }
}

/// <summary>
/// Runs a command in a running container without a terminal (`docker exec`). Standard output arrives on the pipeline as
/// lines of text, standard error as non-terminating errors (ErrorId ContainerStandardError), so `2>$null`, `2>&amp;1` and
/// -ErrorAction work as with native commands. $LASTEXITCODE gets the exit code; -PassThru also writes it as an object.
/// -InputObject strings become the command's standard input, one per line.
/// </summary>
/// <example><code>Invoke-ContainerCommand web ps</code>Runs ps in web: `docker exec web ps`.</example>
/// <example><code>Get-Container web | Invoke-ContainerCommand -Command sh, -c, 'ls /tmp' -User app -PassThru</code>Runs a shell command as user app and writes a result object with its ExitCode after the output.</example>
/// <example><code>'a', 'b' | Set-Variable lines; Invoke-ContainerCommand web sort -InputObject $lines</code>Sends text to the command's standard input.</example>
[Cmdlet(VerbsLifecycle.Invoke, "ContainerCommand")]
[OutputType(typeof(string), typeof(ContainerCommandResult))]
public sealed class InvokeContainerCommandCommand : ContainerExecCmdlet
{
    /// <summary>The command and its arguments.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromRemainingArguments = true)]
    [Alias("Cmd", "ArgumentList")]
    public string[] Command { get; set; } = [];

    /// <summary>Text sent to the command's standard input.</summary>
    [Parameter]
    public string[]? InputObject { get; set; }

    protected override void ProcessRecord()
    {
        if (RunCommand(Container, Container, BuildRequest(Command, tty: false), InputObject) is int code) Finish(Command, code);
    }
}

/// <summary>
/// An interactive shell (or any command) in a running container with a terminal (`docker exec -it`); -Attach connects to
/// the container's main process instead (`docker attach`). The console is in raw mode while connected, so keys such as
/// Ctrl+C go to the container; it is restored when the process ends. $LASTEXITCODE gets the exit code.
/// </summary>
/// <example><code>Enter-Container web</code>An interactive shell in web: `docker exec -it web sh`. Exit the shell to come back.</example>
/// <example><code>Enter-Container web -Attach</code>Connects the terminal to web's own process: `docker attach web`.</example>
[Cmdlet(VerbsCommon.Enter, "Container")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[OutputType(typeof(ContainerCommandResult))]
public sealed class EnterContainerCommand : ContainerExecCmdlet
{
    /// <summary>The command to run (default: sh).</summary>
    [Parameter(Position = 1, ValueFromRemainingArguments = true)]
    [Alias("Cmd", "ArgumentList")]
    public string[]? Command { get; set; }

    /// <summary>Attach to the container's own process instead of starting a new one.</summary>
    [Parameter]
    public SwitchParameter Attach { get; set; }

    protected override void ProcessRecord()
    {
        if (!InteractiveTerminal.Available)
            ThrowTerminatingError(InteractiveTerminal.NotATerminal("Enter-Container needs an interactive terminal; use Invoke-ContainerCommand to run commands from scripts.", Container));
        var command = Command is { Length: > 0 } ? Command : ["sh"];
        InteractiveSession session;
        try
        {
            session = Attach
                ? Run(ct => Client.AttachAsync(Container, ct))
                : Run(ct => Client.ExecInteractiveAsync(Container, BuildRequest(command, tty: true), ct));
        }
        catch (ContainerOpsException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex));
            return;
        }

        int? exitCode = null;
        try
        {
            exitCode = InteractiveTerminal.Run(session, StopToken, WriteApiError);
        }
        finally
        {
            try { session.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5)); } catch { }
        }
        if (exitCode is int code) Finish(Attach ? [] : command, code);
    }
}
