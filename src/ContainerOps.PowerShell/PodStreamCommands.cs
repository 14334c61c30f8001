using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Which container of a pod a command means when it names none: the one the
/// kubectl.kubernetes.io/default-container annotation names, else the first, as kubectl chooses.</summary>
internal static class PodContainers
{
    public const string DefaultAnnotation = "kubectl.kubernetes.io/default-container";

    public static string Choose(ContainerOpsCmdlet cmdlet, JsonObject pod, string? requested)
    {
        if (requested is { Length: > 0 }) return requested;
        var names = (pod["spec"]?["containers"] as JsonArray)?.Select(c => c?["name"]?.GetValue<string>() ?? "").ToList() ?? [];
        var chosen = pod["metadata"]?["annotations"]?[DefaultAnnotation]?.GetValue<string>() is { } annotated && names.Contains(annotated) ? annotated
            : names.FirstOrDefault() ?? "";
        if (names.Count > 1) cmdlet.WriteVerbose($"Defaulted container \"{chosen}\" out of: {string.Join(", ", names)}");
        return chosen;
    }
}

/// <summary>
/// A pod container's log as lines of text (`kubectl logs`): the whole log, the last lines, or those since a time; with
/// -Follow the lines to come until the container stops (Ctrl+C ends it sooner); with -Previous the run before a restart.
/// Pods come by name or from Get-Pod on the pipeline.
/// </summary>
/// <example><code>Get-PodLog web -Tail 20</code>The last 20 lines of pod web's (first) container.</example>
/// <example><code>Get-Pod -Selector app=web | Get-PodLog -Container nginx -Since (Get-Date).AddMinutes(-5)</code>The last five minutes of every web pod's nginx container.</example>
/// <example><code>Get-PodLog crasher -Previous</code>What the container wrote in its run before the last restart.</example>
[Cmdlet(VerbsCommon.Get, "PodLog")]
[OutputType(typeof(string))]
public sealed class GetPodLogCommand : PodTargetCmdlet
{
    /// <summary>The container (default: the pod's default container, else its first).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Container { get; set; }

    /// <summary>Keep writing new lines until the container stops (`kubectl logs -f`).</summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    /// <summary>Only the last N lines.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    /// <summary>Only lines written at or after this time.</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>The container's previous run (before its last restart).</summary>
    [Parameter]
    public SwitchParameter Previous { get; set; }

    /// <summary>Prefix each line with its time (RFC 3339).</summary>
    [Parameter]
    public SwitchParameter Timestamps { get; set; }

    protected override void ProcessRecord()
    {
        DateTimeOffset? since = Since is DateTime s ? new DateTimeOffset(s.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(s, DateTimeKind.Local) : s) : null;
        foreach (var name in Name)
        {
            TryStep(() =>
            {
                var container = Container ?? PodContainers.Choose(this, Run(ct => Client.GetPodAsync(Namespace, name, ct)), null);
                foreach (var line in Enumerate(Client.ReadPodLogAsync(Namespace, name, container, Follow, Tail, since, Previous, Timestamps, StopToken)))
                    WriteObject(line);
            });
        }
    }
}

/// <summary>
/// Runs a command in a pod's container without a terminal (`kubectl exec`), as Invoke-ContainerCommand does for a
/// container: standard output as lines on the pipeline, standard error as non-terminating errors (ErrorId
/// ContainerStandardError), $LASTEXITCODE set; -PassThru also writes the exit code as an object; -InputObject lines
/// become the command's standard input.
/// </summary>
/// <example><code>Invoke-PodCommand web hostname</code>Runs hostname in pod web's (first) container.</example>
/// <example><code>Get-Pod -Selector app=web | Invoke-PodCommand -Container nginx -Command nginx, -t</code>Checks the nginx configuration in every web pod.</example>
[Cmdlet(VerbsLifecycle.Invoke, "PodCommand")]
[OutputType(typeof(string), typeof(ContainerCommandResult))]
public sealed class InvokePodCommandCommand : CommandOutputCmdlet
{
    /// <summary>The pod's name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PodNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>The container (default: the pod's default container, else its first).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Container { get; set; }

    /// <summary>The command and its arguments.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromRemainingArguments = true)]
    [Alias("Cmd", "ArgumentList")]
    public string[] Command { get; set; } = [];

    /// <summary>Text sent to the command's standard input.</summary>
    [Parameter]
    public string[]? InputObject { get; set; }

    /// <summary>Write a ContainerCommandResult with the exit code at the end.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        JsonObject pod;
        try { pod = Run(ct => Client.GetPodAsync(Namespace, Name, ct)); }
        catch (ContainerOpsException ex) { WriteApiError(ex); return; }
        var container = PodContainers.Choose(this, pod, Container);
        var target = $"{Namespace}/{Name}/{container}";
        var status = (pod["status"]?["containerStatuses"] as JsonArray)?.FirstOrDefault(c => c?["name"]?.GetValue<string>() == container);
        if (status?["state"]?["running"] is null || status["containerID"]?.GetValue<string>() is not { } id)
        {
            var known = (pod["spec"]?["containers"] as JsonArray)?.Any(c => c?["name"]?.GetValue<string>() == container) == true;
            WriteError(new ErrorRecord(new InvalidOperationException(known
                    ? $"container \"{container}\" in pod \"{Name}\" is not running"
                    : $"pod \"{Name}\" has no container \"{container}\""),
                known ? "PodContainerNotRunning" : "PodContainerNotFound", known ? ErrorCategory.ResourceUnavailable : ErrorCategory.ObjectNotFound, target));
            return;
        }
        // The pod runs on this daemon's node: its container is one of the engine's, reached by id.
        var request = new ExecCreateRequest { Cmd = Command.ToList() };
        if (RunCommand(id[(id.IndexOf("://", StringComparison.Ordinal) + 3)..], target, request, InputObject) is not int code) return;
        SetLastExitCode(code);
        if (PassThru) WriteObject(new ContainerCommandResult { Container = target, Command = Command, ExitCode = code });
    }
}
