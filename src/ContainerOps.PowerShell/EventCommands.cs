using System.Collections;
using System.Management.Automation;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>One event of the daemon (a line of `docker events`), for the pipeline.</summary>
public sealed class ContainerEvent
{
    public DateTimeOffset Time { get; set; }
    /// <summary>container, image, volume or network.</summary>
    public string Type { get; set; } = "";
    /// <summary>create, start, die, tag, mount, connect… ("health_status: healthy", "exec_start: sh").</summary>
    public string Action { get; set; } = "";
    /// <summary>The container id, image id or reference, volume name or network id.</summary>
    public string Id { get; set; } = "";
    /// <summary>The name attribute: container, image, volume or network name.</summary>
    public string? Name { get; set; }
    public Dictionary<string, string> Attributes { get; set; } = new();
    public string Scope { get; set; } = "local";

    internal static ContainerEvent From(EventMessage e) => new()
    {
        Time = DateTimeOffset.FromUnixTimeSeconds(e.TimeNano / 1_000_000_000).AddTicks(e.TimeNano % 1_000_000_000 / 100).ToLocalTime(),
        Type = e.Type, Action = e.Action, Id = e.Actor.ID, Name = e.Actor.Attributes.GetValueOrDefault("name"),
        Attributes = e.Actor.Attributes, Scope = e.Scope,
    };
}

/// <summary>
/// The daemon's events (`docker events`): what containers, images, volumes and networks went through. Without -Wait
/// the events the daemon keeps (its last 256) are written and the command ends; with -Wait it goes on writing new
/// events as they happen until -Until or Ctrl+C. Filters are docker's (type, event, container, image, label, volume,
/// network); several values of one filter are alternatives.
/// </summary>
/// <example><code>Get-ContainerEvent -Since (Get-Date).AddMinutes(-10) -Filter @{ event = 'die' }</code>The containers that ended in the last ten minutes with their exit codes (Attributes.exitCode): `docker events --since 10m --until 0s --filter event=die`.</example>
/// <example><code>Get-ContainerEvent -Wait -Type container | Where-Object Action -like 'health_status*'</code>Follows health changes as they happen (Ctrl+C to stop): `docker events --filter type=container --filter event=health_status`.</example>
/// <example><code>Get-Container web | Get-ContainerEvent</code>What the daemon still remembers of web.</example>
[Cmdlet(VerbsCommon.Get, "ContainerEvent")]
[OutputType(typeof(ContainerEvent))]
public sealed class GetContainerEventCommand : ContainerOpsCmdlet
{
    /// <summary>Only events at or after this time (default: the oldest the daemon keeps; with -Wait: from now).</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Only events up to this time; with -Wait the stream ends then.</summary>
    [Parameter]
    public DateTime? Until { get; set; }

    /// <summary>Keep writing new events as they happen (`docker events` without --until), until -Until or Ctrl+C.</summary>
    [Parameter]
    [Alias("Follow")]
    public SwitchParameter Wait { get; set; }

    /// <summary>Only events of these types.</summary>
    [Parameter]
    [ValidateSet("container", "image", "volume", "network", IgnoreCase = true)]
    public string[]? Type { get; set; }

    /// <summary>Only events of these containers (ids, id prefixes or names); bound from piped containers.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "ContainerId")]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string[]? Container { get; set; }

    /// <summary>Daemon-side filters, docker's names: @{ event = 'die', 'oom'; label = 'app=web' }.</summary>
    [Parameter]
    public Hashtable? Filter { get; set; }

    private readonly List<string> _containers = new();

    protected override void ProcessRecord()
    {
        if (Container is not null) _containers.AddRange(Container);
    }

    protected override void EndProcessing()
    {
        var filters = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (DictionaryEntry de in Filter ?? new Hashtable())
        {
            var value = de.Value is PSObject p ? p.BaseObject : de.Value;
            filters[de.Key.ToString()!.ToLowerInvariant()] = value is IEnumerable list and not string
                ? list.Cast<object?>().Select(v => (v is PSObject po ? po.BaseObject : v)?.ToString() ?? "").ToList()
                : [value?.ToString() ?? ""];
        }
        if (Type is not null) filters["type"] = Type.Select(t => t.ToLowerInvariant()).ToList();
        if (_containers.Count > 0) filters["container"] = _containers.Distinct().ToList();

        var now = DateTimeOffset.Now;
        DateTimeOffset? since = Since is { } s ? Local(s) : Wait ? null : DateTimeOffset.UnixEpoch;
        DateTimeOffset? until = Until is { } u ? Local(u) : Wait ? null : now;
        try
        {
            foreach (var e in Enumerate(Client.GetEventsAsync(since, until, filters, StopToken)))
                WriteObject(ContainerEvent.From(e));
        }
        catch (ContainerOpsException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex));
        }
    }

    private static DateTimeOffset Local(DateTime t) => new(t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Local) : t);
}
