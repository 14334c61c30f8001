using System.Text.Json;
using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>`events`: the daemon's events as `docker events` prints them (a line per event, a Go template, or JSON).</summary>
internal static class SystemEvents
{
    public static async Task<int> Run(CliContext c, ParsedArgs a)
    {
        var now = DateTimeOffset.UtcNow;
        DateTimeOffset? since = a.Value("since") is { } s ? Units.ParseSince(s, now) : null;
        DateTimeOffset? until = a.Value("until") is { } u ? Units.ParseSince(u, now, "--until") : null;
        var filters = new Dictionary<string, List<string>>();
        foreach (var f in a.Values("filter"))
        {
            var eq = f.IndexOf('=');
            if (eq <= 0) throw new UsageException($"bad format of filter \"{f}\" (expected name=value)");
            (filters.TryGetValue(f[..eq], out var values) ? values : filters[f[..eq]] = new()).Add(f[(eq + 1)..]);
        }
        var format = a.Value("format");
        var template = format is { Length: > 0 } and not "json" ? GoTemplate.Parse(format) : null;
        c.CancelOnSignals();
        try
        {
            await foreach (var e in c.Client.GetEventsAsync(since, until, filters, c.Cancel))
            {
                if (format == "json") c.Out.WriteLine(JsonSerializer.Serialize(e, ApiJsonContext.Default.EventMessage));
                else if (template is not null) c.Out.WriteLine(template.Execute(EventLines.Fields(e)));
                else c.Out.WriteLine(EventLines.Line(e));
                c.Flush();
            }
        }
        catch (OperationCanceledException) when (c.Cancel.IsCancellationRequested) { }
        return 0;
    }
}
