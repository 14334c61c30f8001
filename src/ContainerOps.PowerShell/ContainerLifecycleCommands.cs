using System.Management.Automation;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Cmdlets that act on containers named by id, id prefix or name, one at a time, from arguments or the pipeline
/// (container objects bind by their Id property).</summary>
public abstract class ContainerTargetCmdlet : ContainerOpsCmdlet
{
    /// <summary>Container ids, unique id prefixes or names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "ContainerId", "Container")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string[] Id { get; set; } = [];
}

/// <summary>Base of the simple lifecycle verbs: ShouldProcess, one call, optional -PassThru of the container.</summary>
public abstract class ContainerActionCmdlet : ContainerTargetCmdlet
{
    /// <summary>Whether to write the container after the action.</summary>
    protected virtual bool PassThruRequested => false;

    protected abstract string Action { get; }

    protected abstract Task Act(string container, CancellationToken ct);

    protected virtual bool Confirm(string container) => ShouldProcess(container, Action);

    protected override void ProcessRecord()
    {
        foreach (var container in Id)
        {
            if (!Confirm(container)) continue;
            if (TryStep(() => Run(ct => Act(container, ct))) && PassThruRequested)
                TryStep(() => WriteObject(GetContainerObject(container)));
        }
    }
}

/// <summary>Lifecycle verbs after which the container still exists, so -PassThru can write it.</summary>
public abstract class ContainerStateCmdlet : ContainerActionCmdlet
{
    /// <summary>Write the container object after the action.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override bool PassThruRequested => PassThru;
}

/// <summary>Starts created or stopped containers (`docker start`).</summary>
/// <example><code>Start-Container web</code>Starts the container named web, like `docker start web`.</example>
/// <example><code>Get-Container -Status exited | Start-Container -PassThru</code>Starts every exited container and writes each one as it now is.</example>
[Cmdlet(VerbsLifecycle.Start, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ContainerSummary))]
public sealed class StartContainerCommand : ContainerStateCmdlet
{
    protected override string Action => "Start";
    protected override Task Act(string c, CancellationToken ct) => Client.StartContainerAsync(c, ct);
}

/// <summary>Stops running containers: the stop signal, then SIGKILL after -Timeout seconds (`docker stop -t`).</summary>
/// <example><code>Stop-Container web -Timeout 2</code>Sends the stop signal, waits two seconds, then kills: `docker stop -t 2 web`.</example>
/// <example><code>Get-Container | Stop-Container</code>Stops every running container; container objects bind by their Id.</example>
[Cmdlet(VerbsLifecycle.Stop, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ContainerSummary))]
public sealed class StopContainerCommand : ContainerStateCmdlet
{
    /// <summary>Seconds to wait after the stop signal before SIGKILL (default: the container's, else 10).</summary>
    [Parameter]
    [Alias("Time")]
    [ValidateRange(0, int.MaxValue)]
    public int? Timeout { get; set; }

    protected override string Action => "Stop";
    protected override Task Act(string c, CancellationToken ct) => Client.StopContainerAsync(c, Timeout, ct);
}

/// <summary>Stops and starts containers again (`docker restart`).</summary>
/// <example><code>Restart-Container web</code>Like `docker restart web`.</example>
[Cmdlet(VerbsLifecycle.Restart, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ContainerSummary))]
public sealed class RestartContainerCommand : ContainerStateCmdlet
{
    /// <summary>Seconds to wait after the stop signal before SIGKILL.</summary>
    [Parameter]
    [Alias("Time")]
    [ValidateRange(0, int.MaxValue)]
    public int? Timeout { get; set; }

    protected override string Action => "Restart";
    protected override Task Act(string c, CancellationToken ct) => Client.RestartContainerAsync(c, Timeout, ct);
}

/// <summary>Freezes every process of containers (`docker pause`).</summary>
/// <example><code>Suspend-Container web</code>Freezes the processes of web, like `docker pause web`; Resume-Container thaws them.</example>
[Cmdlet(VerbsLifecycle.Suspend, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ContainerSummary))]
public sealed class SuspendContainerCommand : ContainerStateCmdlet
{
    protected override string Action => "Suspend";
    protected override Task Act(string c, CancellationToken ct) => Client.PauseContainerAsync(c, ct);
}

/// <summary>Thaws suspended containers (`docker unpause`).</summary>
/// <example><code>Resume-Container web</code>Thaws web, like `docker unpause web`.</example>
[Cmdlet(VerbsLifecycle.Resume, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ContainerSummary))]
public sealed class ResumeContainerCommand : ContainerStateCmdlet
{
    protected override string Action => "Resume";
    protected override Task Act(string c, CancellationToken ct) => Client.UnpauseContainerAsync(c, ct);
}

/// <summary>Removes containers (`docker rm`). A running container is refused unless -Force, which kills it first (`docker rm -f`).
/// ConfirmImpact is Medium, as for Remove-Item: like `docker rm` it does not ask under the default $ConfirmPreference,
/// so a runbook's pipeline runs unattended; -Confirm (or $ConfirmPreference = 'Medium') asks, -WhatIf only reports.</summary>
/// <example><code>Get-Container -Status exited | Remove-Container</code>Removes every exited container, like `docker container prune -f`; add -Confirm to be asked for each.</example>
/// <example><code>Remove-Container web -Force</code>Kills web if it runs and removes it without asking: `docker rm -f web`.</example>
/// <example><code>Get-Container -All | Remove-Container -Force -WhatIf</code>Shows what would be removed and removes nothing.</example>
/// <example><code>Remove-Container db -Volume</code>Removes db and its anonymous volumes (named volumes stay): `docker rm -v db`.</example>
[Cmdlet(VerbsCommon.Remove, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveContainerCommand : ContainerActionCmdlet
{
    /// <summary>Kill the container if it runs, and do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Remove the container's anonymous volumes too (`docker rm -v`); named volumes stay.</summary>
    [Parameter]
    [Alias("v")]
    public SwitchParameter Volume { get; set; }

    protected override string Action => "Remove";

    protected override bool Confirm(string container) =>
        Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf")
            ? true
            : ShouldProcess(container, Action);

    protected override Task Act(string c, CancellationToken ct) => Client.RemoveContainerAsync(c, Force, Volume, ct);
}

/// <summary>Renames a container (`docker rename`).</summary>
/// <example><code>Rename-Container web -NewName site</code>Like `docker rename web site`.</example>
[Cmdlet(VerbsCommon.Rename, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ContainerSummary))]
public sealed class RenameContainerCommand : ContainerOpsCmdlet
{
    /// <summary>The container: id, id prefix or name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "ContainerId", "Container")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string Id { get; set; } = "";

    /// <summary>The new name.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string NewName { get; set; } = "";

    /// <summary>Write the renamed container.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(Id, $"Rename to '{NewName}'")) return;
        if (TryStep(() => Run(ct => Client.RenameContainerAsync(Id, NewName, ct))) && PassThru)
            TryStep(() => WriteObject(GetContainerObject(NewName)));
    }
}

/// <summary>Blocks until containers stop and writes their exit status (`docker wait`); with -Condition Healthy, until their
/// health check reports them healthy (Compose's `depends_on: condition: service_healthy`).</summary>
/// <example><code>Wait-Container job1 -Timeout 60</code>Blocks until job1 stops (at most a minute) and writes its StatusCode, like `docker wait job1`.</example>
/// <example><code>New-Container db:1 -Name db -HealthCommand 'pg_isready' -Start | Wait-Container -Condition Healthy -Timeout 60</code>Starts db and waits until its health check passes; an error if it turns unhealthy or stops first.</example>
[Cmdlet(VerbsLifecycle.Wait, "Container")]
[OutputType(typeof(ContainerWaitResponse), typeof(ContainerHealth))]
public sealed class WaitContainerCommand : ContainerTargetCmdlet
{
    /// <summary>Give up after this many seconds (an OperationTimeout error).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Timeout { get; set; }

    /// <summary>NotRunning (default): until the container stops, writing its exit status. Healthy: until its health check
    /// passes, writing its State.Health.</summary>
    [Parameter]
    [ValidateSet("NotRunning", "Healthy")]
    public string Condition { get; set; } = "NotRunning";

    /// <summary>How often -Condition Healthy looks at the container.</summary>
    private static readonly TimeSpan HealthPoll = TimeSpan.FromMilliseconds(200);

    protected override void ProcessRecord()
    {
        foreach (var container in Id)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(StopToken);
            if (Timeout is int t) limit.CancelAfter(TimeSpan.FromSeconds(t));
            try
            {
                object result = Condition == "Healthy"
                    ? Run(_ => WaitHealthyAsync(container, limit.Token))
                    : Run(_ => Client.WaitContainerAsync(container, limit.Token));
                var pso = PSObject.AsPSObject(result);
                pso.Properties.Add(new PSNoteProperty("Container", container));
                WriteObject(pso);
            }
            catch (ContainerOpsException ex)
            {
                WriteApiError(ex);
            }
            catch (OperationCanceledException) when (!StopToken.IsCancellationRequested)
            {
                var what = Condition == "Healthy" ? "become healthy" : "stop";
                WriteError(new ErrorRecord(new TimeoutException($"Container '{container}' did not {what} within {Timeout} seconds."),
                    "WaitTimeout", ErrorCategory.OperationTimeout, container));
            }
        }
    }

    private async Task<ContainerHealth> WaitHealthyAsync(string container, CancellationToken ct)
    {
        while (true)
        {
            var details = await Client.InspectContainerAsync(container, ct);
            var state = details.State;
            if (details.Config.Healthcheck is not { Test.Count: > 1 } check || check.Disabled)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "NoHealthcheck", $"container {container} has no health check", container);
            if (!state.Running)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {container} is not running (status {state.Status})", container);
            if (state.Health is { Status: HealthStatus.Healthy } healthy) return healthy;
            if (state.Health is { Status: HealthStatus.Unhealthy })
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerUnhealthy",
                    $"container {container} is unhealthy: {state.Health.Log.LastOrDefault()?.Output.Trim()}", container);
            await Task.Delay(HealthPoll, ct);
        }
    }
}
