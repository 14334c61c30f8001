using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation;
using ContainerOps.Compose.Execution;
using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>What the compose cmdlets share: the files (-Path, else compose.yaml found from the current location up),
/// the project name and profiles; load errors as ErrorRecords naming the file, line and key path; and the engine,
/// whose steps show as Write-Progress.</summary>
public abstract class ComposeCmdlet : ContainerOpsCmdlet
{
    /// <summary>Compose files, merged in order (`docker compose -f`); default: compose.yaml (and compose.override.yaml)
    /// in the current location or a folder above it.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("File", "ConfigFiles")]
    public string[]? Path { get; set; }

    /// <summary>The project name (`-p`); default: COMPOSE_PROJECT_NAME, the file's name: or the folder's name.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Project")]
    public string? ProjectName { get; set; }

    /// <summary>Profiles to enable (`--profile`).</summary>
    [Parameter]
    public string[]? Profile { get; set; }

    private readonly ConcurrentQueue<ComposeEvent> _events = new();

    protected string CurrentDirectory => SessionState.Path.CurrentFileSystemLocation.ProviderPath;

    /// <summary>With <paramref name="byNameIfNoFile"/>, a -ProjectName without a compose file at hand names the
    /// project alone (`docker compose -p NAME down`).</summary>
    protected ComposeProject LoadProject(IEnumerable<string>? services = null, bool byNameIfNoFile = false)
    {
        if (byNameIfNoFile && Path is null && ProjectName is not null && !HasComposeFile())
            return ComposeLoader.ByName(ProjectName);
        var options = new ComposeLoadOptions
        {
            WorkingDirectory = CurrentDirectory,
            Files = (Path ?? Array.Empty<string>()).Select(p => GetUnresolvedProviderPathFromPSPath(p)).ToList(),
            ProjectName = ProjectName,
            Profiles = Profile?.ToList() ?? new(),
            Services = services?.ToList() ?? new(),
        };
        try
        {
            var project = ComposeLoader.Load(options);
            foreach (var w in project.Warnings) WriteWarning(w);
            return project;
        }
        catch (ComposeFileException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "ComposeFileInvalid", ErrorCategory.InvalidData, e.File ?? e.KeyPath));
            throw;
        }
    }

    private bool HasComposeFile()
    {
        for (var dir = CurrentDirectory; dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
            if (ComposeLoader.DefaultFileNames.Any(n => File.Exists(System.IO.Path.Join(dir, n)))) return true;
        return false;
    }

    protected ComposeEngine Engine(ComposeProject project) =>
        new(Client, project, new Progress<ComposeEvent>(_events.Enqueue)) { };

    /// <summary>Runs a project operation, showing its steps as progress, and turns its failures into ErrorRecords.</summary>
    protected T RunCompose<T>(ComposeEngine engine, string activity, Func<CancellationToken, Task<T>> call)
    {
        var record = new ProgressRecord(1, activity, "Starting");
        try
        {
            return RunWithTicks(call, TimeSpan.FromMilliseconds(100), () => Drain(record));
        }
        catch (ComposeOperationException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "ComposeOperationFailed", ErrorCategory.InvalidOperation, e.Service ?? engine.Project.Name));
            throw;
        }
        catch (ContainerOpsException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e));
            throw;
        }
        finally
        {
            Drain(record);
            record.RecordType = ProgressRecordType.Completed;
            WriteProgress(record);
            foreach (var w in engine.Warnings) WriteWarning(w);
        }
    }

    private void Drain(ProgressRecord record)
    {
        var any = false;
        while (_events.TryDequeue(out var e))
        {
            record.StatusDescription = e.ToString();
            any = true;
            WriteVerbose(e.ToString());
        }
        if (any) WriteProgress(record);
    }
}

/// <summary>Creates and starts a compose project's services (`docker compose up -d`): networks, volumes and
/// containers, each service once its dependencies meet their depends_on conditions, independent services in parallel.
/// Only services whose configuration changed are recreated. Writes the containers of the services brought up, which
/// pipe into Get-, Stop- and Remove-Container.</summary>
/// <example><code>Start-ComposeProject</code>Like `docker compose up -d` in the current folder.</example>
/// <example><code>Start-ComposeProject -Path ./shop/compose.yaml -ProjectName shop -Service web -Build -Wait</code>Builds web's image, starts web and what it depends on, and returns when they are running and healthy: `docker compose -p shop -f shop/compose.yaml up -d --build --wait web`.</example>
/// <example><code>Start-ComposeProject | Where-Object State -ne running</code>Starts the project and shows the containers that are not running.</example>
[Cmdlet(VerbsLifecycle.Start, "ComposeProject", SupportsShouldProcess = true)]
[OutputType(typeof(ContainerSummary))]
public sealed class StartComposeProjectCommand : ComposeCmdlet
{
    /// <summary>Only these services (and, unless -NoDependencies, what they depend on).</summary>
    [Parameter(Position = 1)]
    [ArgumentCompleter(typeof(ComposeServiceCompleter))]
    public string[]? Service { get; set; }

    /// <summary>Build images before starting containers (`--build`).</summary>
    [Parameter]
    public SwitchParameter Build { get; set; }

    /// <summary>Return once every service is running, and healthy where it has a health check (`--wait`).</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>Seconds -Wait waits at most.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? WaitTimeout { get; set; }

    /// <summary>Recreate containers even when their configuration did not change (`--force-recreate`).</summary>
    [Parameter]
    public SwitchParameter ForceRecreate { get; set; }

    /// <summary>Do not start the services the named ones depend on (`--no-deps`).</summary>
    [Parameter]
    [Alias("NoDeps")]
    public SwitchParameter NoDependencies { get; set; }

    /// <summary>Containers per service, overriding the files: @{ worker = 3 } (`--scale worker=3`).</summary>
    [Parameter]
    public Hashtable? Scale { get; set; }

    /// <summary>Remove containers of services no longer in the files (`--remove-orphans`).</summary>
    [Parameter]
    public SwitchParameter RemoveOrphans { get; set; }

    protected override void ProcessRecord()
    {
        var project = LoadProject(Service);
        if (!ShouldProcess($"compose project {project.Name} ({string.Join(", ", Service ?? project.Services.Keys.ToArray())})", "Start")) return;
        var options = new UpOptions
        {
            Services = Service?.ToList() ?? new(),
            Build = Build,
            Wait = Wait,
            WaitTimeout = WaitTimeout is int t ? TimeSpan.FromSeconds(t) : null,
            ForceRecreate = ForceRecreate,
            NoDeps = NoDependencies,
            RemoveOrphans = RemoveOrphans,
        };
        if (Scale is not null)
            foreach (DictionaryEntry de in Scale)
                options.Scale[de.Key.ToString()!] = Convert.ToInt32(de.Value is PSObject p ? p.BaseObject : de.Value, System.Globalization.CultureInfo.InvariantCulture);
        var engine = Engine(project);
        foreach (var c in RunCompose(engine, $"Starting compose project {project.Name}", ct => engine.UpAsync(options, ct))) WriteObject(c);
    }
}

/// <summary>Stops and removes a compose project's containers and networks (`docker compose down`); with
/// -RemoveVolumes also its volumes, which asks first unless -Force. Takes projects from Get-ComposeProject.</summary>
/// <example><code>Stop-ComposeProject</code>Like `docker compose down` in the current folder.</example>
/// <example><code>Get-ComposeProject shop | Stop-ComposeProject -RemoveVolumes -Force</code>Removes the shop project with its volumes, without asking: `docker compose -p shop down -v`.</example>
[Cmdlet(VerbsLifecycle.Stop, "ComposeProject", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class StopComposeProjectCommand : ComposeCmdlet
{
    /// <summary>Remove the project's named and anonymous volumes too (`-v`).</summary>
    [Parameter]
    public SwitchParameter RemoveVolumes { get; set; }

    /// <summary>Remove containers of services no longer in the files (`--remove-orphans`).</summary>
    [Parameter]
    public SwitchParameter RemoveOrphans { get; set; }

    /// <summary>Seconds to wait for each container to stop before it is killed.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Timeout { get; set; }

    /// <summary>Do not ask before removing volumes.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var project = LoadProject(byNameIfNoFile: true);
        if (!ShouldProcess($"compose project {project.Name}", RemoveVolumes ? "Remove containers, networks and volumes" : "Remove containers and networks")) return;
        if (RemoveVolumes && !Force && !ShouldContinue($"Remove the volumes of project {project.Name}? Their data is lost.", "Remove volumes")) return;
        var engine = Engine(project);
        RunCompose(engine, $"Removing compose project {project.Name}", async ct =>
        {
            await engine.DownAsync(new DownOptions { RemoveVolumes = RemoveVolumes, RemoveOrphans = RemoveOrphans, Timeout = Timeout }, ct);
            return true;
        });
    }
}

/// <summary>Lists the compose projects the daemon has containers of (`docker compose ls`), found from their labels;
/// without -All only projects with a running container.</summary>
/// <example><code>Get-ComposeProject</code>Like `docker compose ls`.</example>
/// <example><code>Get-ComposeProject -All | Where-Object Running -eq 0 | Stop-ComposeProject</code>Removes every project whose containers have all stopped.</example>
[Cmdlet(VerbsCommon.Get, "ComposeProject")]
[OutputType(typeof(ComposeProjectSummary))]
public sealed class GetComposeProjectCommand : ContainerOpsCmdlet
{
    /// <summary>Project names; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    /// <summary>Include projects whose containers are all stopped.</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    protected override void ProcessRecord()
    {
        List<ComposeProjectSummary> projects;
        try { projects = Run(ct => ProjectStatus.ListProjectsAsync(Client, All || Name is not null, ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }
        foreach (var p in FilterByName(projects, Name, x => x.Name, "compose project", "ComposeProjectNotFound"))
        {
            // Stop-ComposeProject binds these by property name: the files it was started from, and its name.
            var o = PSObject.AsPSObject(p);
            o.Properties.Add(new PSNoteProperty("ProjectName", p.Name));
            o.Properties.Add(new PSNoteProperty("Path", p.ConfigFiles.ToArray()));
            WriteObject(o);
        }
    }
}

/// <summary>The services of a compose project with their containers on the daemon: wanted and running replicas,
/// state, ports, dependencies (`docker compose ps --services` with the counts).</summary>
/// <example><code>Get-ComposeService</code>The services of the project in the current folder.</example>
/// <example><code>Get-ComposeService web | Select-Object -ExpandProperty Containers | Get-ContainerLog -Tail 5</code>The last lines of every web container.</example>
[Cmdlet(VerbsCommon.Get, "ComposeService")]
[OutputType(typeof(ComposeServiceStatus))]
public sealed class GetComposeServiceCommand : ComposeCmdlet
{
    /// <summary>Service names; wildcards allowed.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ComposeServiceCompleter))]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        var project = LoadProject();
        var engine = Engine(project);
        List<ComposeServiceStatus> services;
        try { services = Run(ct => ProjectStatus.ServicesAsync(engine, ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }
        foreach (var s in FilterByName(services, Name, x => x.Name, "service", "ComposeServiceNotFound")) WriteObject(s);
    }
}

/// <summary>Reads compose files into the normalised project model (`docker compose config`) without touching the
/// daemon: every short syntax expanded, interpolation done, files merged, profiles applied, references checked.
/// A mistake is an error naming the file, line, column and key path.</summary>
/// <example><code>ConvertFrom-ComposeFile ./compose.yaml | Select-Object -ExpandProperty Services</code>The services as objects.</example>
/// <example><code>(ConvertFrom-ComposeFile -Path compose.yaml, compose.prod.yaml).Services['web'].Ports</code>web's published ports after the production override is merged.</example>
[Cmdlet(VerbsData.ConvertFrom, "ComposeFile")]
[OutputType(typeof(ComposeProject))]
public sealed class ConvertFromComposeFileCommand : ComposeCmdlet
{
    protected override void ProcessRecord() => WriteObject(LoadProject());
}

/// <summary>Completes service names from the compose file in the current location.</summary>
public sealed class ComposeServiceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        System.Management.Automation.Language.CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        ComposeProject project;
        try
        {
            var files = fakeBoundParameters["Path"] switch
            {
                string s => new List<string> { s },
                object[] a => a.Select(x => x.ToString()!).ToList(),
                _ => new List<string>(),
            };
            project = ComposeLoader.Load(new ComposeLoadOptions { Files = files, Profiles = new() { "*" } });
        }
        catch (Exception) { yield break; }
        foreach (var name in project.Services.Keys)
            if (name.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
                yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, name);
    }
}
