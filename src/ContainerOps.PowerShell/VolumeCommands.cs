using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Lists volumes (`docker volume ls`), or inspects them by name.</summary>
/// <example><code>Get-ContainerVolume</code>Every volume: `docker volume ls`.</example>
/// <example><code>Get-ContainerVolume -Dangling | Remove-ContainerVolume</code>Removes the volumes no container uses, named ones included.</example>
/// <example><code>Get-ContainerVolume -Filter @{ label = 'team=web' }</code>The volumes with that label: `docker volume ls -f label=team=web`.</example>
[Cmdlet(VerbsCommon.Get, "ContainerVolume")]
[OutputType(typeof(Volume))]
public sealed class GetContainerVolumeCommand : ContainerOpsCmdlet
{
    /// <summary>Volume names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VolumeNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Only volumes no container references (`-f dangling=true`).</summary>
    [Parameter]
    public SwitchParameter Dangling { get; set; }

    /// <summary>Daemon-side filters, docker's names: @{ label = 'a=b'; driver = 'local'; name = 'data' }; a value may be an array.</summary>
    [Parameter]
    public Hashtable? Filter { get; set; }

    protected override void ProcessRecord()
    {
        var filters = VolumeFilters.From(Filter);
        if (Dangling) (filters ??= new())["dangling"] = ["true"];
        IReadOnlyList<Volume> list;
        try { list = Run(ct => Client.ListVolumesAsync(filters, ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }

        IEnumerable<Volume> selected = list;
        if (Name is not null)
        {
            var patterns = Name.Select(n => (Text: n, Pattern: new WildcardPattern(n, WildcardOptions.None))).ToList();
            var matched = selected.Where(v => patterns.Any(p => p.Pattern.IsMatch(v.Name))).ToList();
            foreach (var p in patterns.Where(p => !WildcardPattern.ContainsWildcardCharacters(p.Text)))
                if (!matched.Any(v => p.Pattern.IsMatch(v.Name))) WriteError(ErrorRecords.NotFound("volume", "VolumeNotFound", p.Text));
            selected = matched;
        }
        foreach (var v in selected) WriteObject(v);
    }
}

/// <summary>Creates a volume (`docker volume create`); a volume of that name that exists already is written as it is.</summary>
/// <example><code>New-ContainerVolume data</code>A named volume on the local driver: `docker volume create data`.</example>
/// <example><code>New-ContainerVolume scratch -Option @{ type = 'tmpfs'; device = 'tmpfs'; o = 'size=64m' }</code>A volume that is a 64 MB tmpfs while containers use it: `docker volume create -o type=tmpfs -o device=tmpfs -o o=size=64m scratch`.</example>
/// <example><code>New-ContainerVolume logs -Option @{ type = 'none'; device = '/srv/logs'; o = 'bind' } -Label @{ team = 'web' }</code>A volume that binds a host directory.</example>
[Cmdlet(VerbsCommon.New, "ContainerVolume", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(Volume))]
public sealed class NewContainerVolumeCommand : ContainerOpsCmdlet
{
    /// <summary>The name; without one the daemon picks one.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? Name { get; set; }

    /// <summary>local (the default and only driver).</summary>
    [Parameter]
    [ValidateSet("local")]
    public string? Driver { get; set; }

    [Parameter]
    public Hashtable? Label { get; set; }

    /// <summary>The local driver's options: type, device, o (`-o`).</summary>
    [Parameter]
    [Alias("Opt", "DriverOption")]
    public Hashtable? Option { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(string.IsNullOrEmpty(Name) ? "a volume with a generated name" : Name, "Create volume")) return;
        var request = new VolumeCreateRequest
        {
            Name = string.IsNullOrEmpty(Name) ? null : Name, Driver = Driver,
            Labels = ToDictionary(Label is null ? null : [Label]), DriverOpts = ToDictionary(Option is null ? null : [Option]),
        };
        TryStep(() => WriteObject(Run(ct => Client.CreateVolumeAsync(request, ct))));
    }
}

/// <summary>Removes volumes (`docker volume rm`); a volume a container uses stays (VolumeInUse). With -Unused it removes
/// the anonymous volumes no container uses, and with -Unused -All every volume no container uses (`docker volume prune
/// [-a]`): prune is a kind of removal, as with Remove-ContainerImage -Unused and Remove-ContainerNetwork -Unused.
/// ConfirmImpact is Medium; -Unused asks, as `docker volume prune` does, unless -Force or -Confirm:$false is given.</summary>
/// <example><code>Remove-ContainerVolume data</code>`docker volume rm data`.</example>
/// <example><code>Remove-ContainerVolume -Unused -All -Force</code>Every volume no container uses, without asking: `docker volume prune -a -f`.</example>
[Cmdlet(VerbsCommon.Remove, "ContainerVolume", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "ByName")]
[OutputType(typeof(void), ParameterSetName = ["ByName"])]
[OutputType(typeof(VolumePruneResponse), ParameterSetName = ["Unused"])]
public sealed class RemoveContainerVolumeCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "ByName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(VolumeNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Remove the anonymous volumes no container uses (`docker volume prune`).</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Unused")]
    public SwitchParameter Unused { get; set; }

    /// <summary>With -Unused: named volumes too (`docker volume prune -a`).</summary>
    [Parameter(ParameterSetName = "Unused")]
    public SwitchParameter All { get; set; }

    /// <summary>With -Unused: only volumes with these labels, e.g. @{ label = 'team=web' } or @{ 'label!' = 'keep' }.</summary>
    [Parameter(ParameterSetName = "Unused")]
    public Hashtable? Filter { get; set; }

    /// <summary>No error for a volume that does not exist (`docker volume rm -f`); with -Unused, do not ask.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        if (Unused)
        {
            var what = All ? "every volume no container uses" : "every anonymous volume no container uses";
            var ask = !(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf"));
            if (ask && !ShouldProcess(what, "Remove volumes")) return;
            var preference = LanguagePrimitives.ConvertTo<ConfirmImpact>(GetVariableValue("ConfirmPreference", ConfirmImpact.High));
            var asked = MyInvocation.BoundParameters.ContainsKey("Confirm") || (preference != ConfirmImpact.None && preference <= ConfirmImpact.Medium);
            if (!Force && !asked && !ShouldContinue($"Remove {what}?", "Remove volumes")) return;
            var filters = VolumeFilters.From(Filter);
            TryStep(() =>
            {
                var pruned = Run(ct => Client.PruneVolumesAsync(All, filters, ct));
                foreach (var d in pruned.VolumesDeleted) WriteVerbose($"Deleted: {d}");
                WriteObject(pruned);
            });
            return;
        }
        foreach (var n in Name)
        {
            if (!ShouldProcess(n, "Remove volume")) continue;
            TryStep(() => Run(ct => Client.RemoveVolumeAsync(n, Force, ct)));
        }
    }
}

internal static class VolumeFilters
{
    /// <summary>@{ label = 'a=b'; name = 'x', 'y' } → the API's filters (each key a list of values).</summary>
    public static Dictionary<string, List<string>>? From(Hashtable? filter)
    {
        if (filter is not { Count: > 0 }) return null;
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (DictionaryEntry de in filter)
        {
            var value = de.Value is PSObject p ? p.BaseObject : de.Value;
            result[de.Key.ToString()!] = value is IEnumerable e and not string
                ? e.Cast<object?>().Select(x => (x is PSObject px ? px.BaseObject : x)?.ToString() ?? "").ToList()
                : [value?.ToString() ?? ""];
        }
        return result;
    }
}

/// <summary>Completes volume names.</summary>
public sealed class VolumeNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Query((client, ct) => client.ListVolumesAsync(null, ct), v => [(v.Name, $"{v.Driver} {v.Mountpoint}")], wordToComplete);
}
