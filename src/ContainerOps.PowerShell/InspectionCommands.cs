using System.Globalization;
using System.Management.Automation;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>
/// A container's log (`docker logs`). Writes each line as a string by default, like a native command's output, so
/// Select-String, -match, Out-File and Set-Content work on it directly; -Timestamps prefixes each line with its
/// RFC 3339 time as docker does. -AsObject writes LogEntry objects (Stream, Time, Log) for filtering by stream or time.
/// -Follow keeps writing until the container stops or Ctrl+C.
/// </summary>
/// <example><code>Get-ContainerLog web -Tail 20</code>The last 20 lines, like `docker logs --tail 20 web`.</example>
/// <example><code>Get-ContainerLog web -Follow | Select-String error</code>Follows the log (Ctrl+C to stop) and keeps the lines that mention error: `docker logs -f web | grep error`.</example>
/// <example><code>Get-ContainerLog web -AsObject | Where-Object Stream -eq stderr</code>LogEntry objects, filtered to standard error.</example>
[Cmdlet(VerbsCommon.Get, "ContainerLog")]
[OutputType(typeof(string), typeof(LogEntry))]
public sealed class GetContainerLogCommand : ContainerTargetCmdlet
{
    /// <summary>Keep writing new lines until the container stops (`docker logs -f`).</summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    /// <summary>Only the last N lines.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    /// <summary>Only lines written at or after this time.</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Prefix each line with its time.</summary>
    [Parameter]
    public SwitchParameter Timestamps { get; set; }

    /// <summary>Which output: All (default), Stdout or Stderr.</summary>
    [Parameter]
    [ValidateSet("All", "Stdout", "Stderr")]
    public string Stream { get; set; } = "All";

    /// <summary>Write LogEntry objects instead of text lines.</summary>
    [Parameter]
    public SwitchParameter AsObject { get; set; }

    protected override void ProcessRecord()
    {
        var stdout = Stream is "All" or "Stdout";
        var stderr = Stream is "All" or "Stderr";
        DateTimeOffset? since = Since is DateTime s ? new DateTimeOffset(s.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(s, DateTimeKind.Local) : s) : null;
        foreach (var container in Id)
        {
            TryStep(() =>
            {
                foreach (var entry in Enumerate(Client.GetLogsAsync(container, Follow, Tail, since, stdout, stderr, StopToken)))
                {
                    if (AsObject)
                    {
                        WriteObject(entry);
                        continue;
                    }
                    var text = entry.Log.TrimEnd('\n').TrimEnd('\r');
                    WriteObject(Timestamps ? entry.Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture) + " " + text : text);
                }
            });
        }
    }
}

/// <summary>One process of a container (a row of `docker top`).</summary>
public sealed class ContainerProcess
{
    public string Container { get; set; } = "";
    public int Pid { get; set; }
    public int ParentPid { get; set; }
    public string User { get; set; } = "";
    public string Time { get; set; } = "";
    public string Command { get; set; } = "";
    /// <summary>Every column the daemon reported, by its title.</summary>
    public Dictionary<string, string> Fields { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>The processes running in containers (`docker top`).</summary>
/// <example><code>Get-ContainerProcess web</code>The processes in web, like `docker top web`.</example>
[Cmdlet(VerbsCommon.Get, "ContainerProcess")]
[OutputType(typeof(ContainerProcess))]
public sealed class GetContainerProcessCommand : ContainerTargetCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var container in Id)
        {
            TryStep(() =>
            {
                var list = Run(ct => Client.TopContainerAsync(container, ct));
                foreach (var row in list.Processes)
                    WriteObject(ToProcess(container, list.Titles, row));
            });
        }
    }

    internal static ContainerProcess ToProcess(string container, IReadOnlyList<string> titles, IReadOnlyList<string> row)
    {
        var p = new ContainerProcess { Container = container };
        for (var i = 0; i < titles.Count && i < row.Count; i++) p.Fields[titles[i]] = row[i];
        string? Pick(params string[] names) => names.Select(n => p.Fields.GetValueOrDefault(n)).FirstOrDefault(v => v is not null);
        p.Pid = int.TryParse(Pick("PID"), out var pid) ? pid : 0;
        p.ParentPid = int.TryParse(Pick("PPID"), out var ppid) ? ppid : 0;
        p.User = Pick("UID", "USER") ?? "";
        p.Time = Pick("TIME") ?? "";
        p.Command = Pick("CMD", "COMMAND", "ARGS") ?? "";
        return p;
    }
}

/// <summary>Resource use of containers, one sample each (`docker stats --no-stream`); without -Id, every running container.</summary>
/// <example><code>Get-ContainerStatistic</code>CPU, memory and pids of every running container, like `docker stats --no-stream`.</example>
/// <example><code>Get-Container web | Get-ContainerStatistic | Select-Object MemoryUsage, MemoryLimit</code>Memory use of one container.</example>
[Cmdlet(VerbsCommon.Get, "ContainerStatistic")]
[OutputType(typeof(ContainerStats))]
public sealed class GetContainerStatisticCommand : ContainerOpsCmdlet
{
    /// <summary>Container ids, id prefixes or names; none means every running container.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "ContainerId", "Container")]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string[]? Id { get; set; }

    protected override void ProcessRecord()
    {
        IEnumerable<string> targets;
        if (Id is { Length: > 0 })
            targets = Id;
        else
        {
            try
            {
                targets = Run(ct => Client.ListContainersAsync(false, null, ct)).Select(c => c.Id).ToList();
            }
            catch (ContainerOpsException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(ex));
                return;
            }
        }
        foreach (var container in targets)
            TryStep(() => WriteObject(Run(ct => Client.StatsContainerAsync(container, ct))));
    }
}
