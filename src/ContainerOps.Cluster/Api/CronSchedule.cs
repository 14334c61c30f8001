using System.Text.Json.Nodes;
using Cronos;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// A CronJob's schedule in its time zone: the five-field cron syntax and the @yearly…@hourly macros, read by
/// Cronos, in spec.timeZone (an IANA name; the daemon's local zone when absent, as kube-controller-manager uses
/// its own). Admission and the CronJob controller read schedules through this one class, so what is accepted is
/// what runs.
/// </summary>
public sealed class CronSchedule
{
    private readonly CronExpression _expression;
    public TimeZoneInfo Zone { get; }

    private CronSchedule(CronExpression expression, TimeZoneInfo zone) => (_expression, Zone) = (expression, zone);

    /// <summary>The schedule of a CronJob's spec, or the errors that make it unusable (with their field paths).</summary>
    public static CronSchedule? Read(JsonObject spec, out List<FieldError> errors)
    {
        errors = [];
        var text = Json.Str(spec["schedule"]);
        CronExpression? expression = null;
        if (string.IsNullOrWhiteSpace(text)) errors.Add(FieldError.Required("spec.schedule"));
        else if (text.TrimStart().StartsWith("TZ=", StringComparison.Ordinal) || text.TrimStart().StartsWith("CRON_TZ=", StringComparison.Ordinal))
            errors.Add(FieldError.Invalid("spec.schedule", text, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        else if (text.TrimStart().StartsWith("@every", StringComparison.Ordinal))
            errors.Add(FieldError.Invalid("spec.schedule", text, "@every intervals are not supported: use a five-field schedule (*/5 * * * *) or a macro (@hourly)"));
        else
        {
            try { expression = CronExpression.Parse(text.Trim(), CronFormat.Standard); }
            catch (CronFormatException e) { errors.Add(FieldError.Invalid("spec.schedule", text, e.Message.Replace("The given cron expression has an invalid format. ", "", StringComparison.Ordinal))); }
        }

        var zone = TimeZoneInfo.Local;
        if (spec["timeZone"] is { } zoneNode)
        {
            var name = Json.Str(zoneNode);
            if (ZoneError(name) is { } why) errors.Add(FieldError.Invalid("spec.timeZone", name, why));
            else zone = TimeZoneInfo.FindSystemTimeZoneById(name!);
        }
        return errors.Count == 0 && expression is not null ? new CronSchedule(expression, zone) : null;
    }

    /// <summary>Why a spec.timeZone is not one (Kubernetes takes IANA names only: no "Local", no offsets).</summary>
    private static string? ZoneError(string? name)
    {
        if (string.IsNullOrEmpty(name) || name == "Local" || name.Contains(' ') || name.Contains('\\') || name.StartsWith('/') || name.Contains(".."))
            return $"unknown time zone {name}";
        try { TimeZoneInfo.FindSystemTimeZoneById(name); return null; }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException) { return $"unknown time zone {name}"; }
    }

    /// <summary>The first time the schedule fires after <paramref name="after"/>.</summary>
    public DateTimeOffset? Next(DateTimeOffset after) => _expression.GetNextOccurrence(after, Zone, inclusive: false);

    /// <summary>The times it fired in (<paramref name="after"/>, <paramref name="until"/>], newest first, at most
    /// <paramref name="limit"/> of them.</summary>
    public List<DateTimeOffset> FiredBetween(DateTimeOffset after, DateTimeOffset until, int limit) =>
        after >= until ? [] : _expression.GetOccurrencesDescending(until, after, Zone, fromInclusive: true, toInclusive: false).Take(limit).ToList();
}
