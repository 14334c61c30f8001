using System.Globalization;
using ContainerOps.Core.Api;

namespace ContainerOps.Core.Events;

/// <summary>
/// `/events?filters=…` as dockerd reads it: values of one key are alternatives, different keys must all hold.
/// container, volume and network match the start of an actor's id or name; image matches the id or the
/// image name with or without its tag; event matches the action (health_status, exec_create, exec_start and exec_die
/// also without their detail); label is KEY or KEY=VALUE of the attributes.
/// </summary>
public sealed class EventFilter
{
    public static readonly string[] Keys = ["type", "event", "container", "image", "label", "volume", "network", "scope"];

    private readonly IReadOnlyDictionary<string, List<string>> _filters;

    private EventFilter(IReadOnlyDictionary<string, List<string>> filters) => _filters = filters;

    public static EventFilter All { get; } = new(new Dictionary<string, List<string>>());

    public static EventFilter Parse(IReadOnlyDictionary<string, List<string>>? filters)
    {
        if (filters is null || filters.Count == 0) return All;
        foreach (var (key, values) in filters)
        {
            if (!Keys.Contains(key))
                throw Invalid($"invalid filter '{key}': events take {string.Join(", ", Keys)}", key);
            if (key == "type")
                foreach (var v in values.Where(v => !EventTypes.All.Contains(v)))
                    throw Invalid($"invalid filter 'type={v}': the event types are {string.Join(", ", EventTypes.All)}", key);
            if (key == "scope")
                foreach (var v in values.Where(v => v is not ("local" or "swarm")))
                    throw Invalid($"invalid filter 'scope={v}': the scopes are local and swarm", key);
        }
        return new EventFilter(filters);
    }

    private static ContainerOpsException Invalid(string message, string key) =>
        new(ErrorKind.InvalidArgument, "InvalidFilter", message, key, "filters");

    public bool Includes(EventMessage e)
    {
        var name = e.Actor.Attributes.GetValueOrDefault("name") ?? "";
        return Holds("type", v => v == e.Type)
            && Holds("event", v => v == e.Action || (!v.Contains(':') && e.Action.StartsWith(v + ":", StringComparison.Ordinal)))
            && Holds("scope", v => v == e.Scope)
            && Holds("container", v => e.Type == EventTypes.Container && NameOrId(v, e.Actor.ID, name))
            && Holds("volume", v => e.Type == EventTypes.Volume && NameOrId(v, e.Actor.ID, name))
            && Holds("network", v => e.Type == EventTypes.Network && NameOrId(v, e.Actor.ID, name))
            && Holds("image", v => ImageMatches(v, e))
            && Holds("label", v => v.Split('=', 2) is var kv && e.Actor.Attributes.TryGetValue(kv[0], out var value) && (kv.Length == 1 || value == kv[1]));
    }

    private bool Holds(string key, Func<string, bool> match) =>
        !_filters.TryGetValue(key, out var values) || values.Count == 0 || values.Any(match);

    private static bool NameOrId(string wanted, string id, string name) =>
        id.StartsWith(wanted, StringComparison.Ordinal) || (name.Length > 0 && name.StartsWith(wanted, StringComparison.Ordinal));

    private static bool ImageMatches(string wanted, EventMessage e)
    {
        var name = e.Actor.Attributes.GetValueOrDefault(e.Type == EventTypes.Image ? "name" : "image") ?? "";
        string[] candidates = [e.Actor.ID, name, StripTag(e.Actor.ID), StripTag(name)];
        return candidates.Any(c => c.Length > 0 && c == wanted);
    }

    private static string StripTag(string reference)
    {
        var at = reference.IndexOf('@');
        if (at >= 0) return reference[..at];
        var colon = reference.LastIndexOf(':');
        return colon > reference.LastIndexOf('/') ? reference[..colon] : reference;
    }
}

/// <summary>The times of `/events?since=…&amp;until=…`: Unix seconds with an optional fraction (what the docker CLI
/// sends), or an RFC 3339 time.</summary>
public static class EventTimes
{
    public static DateTimeOffset? Parse(string? text, string field)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var dot = text.IndexOf('.');
        var secondsPart = dot < 0 ? text : text[..dot];
        var fraction = dot < 0 ? "" : text[(dot + 1)..];
        if (long.TryParse(secondsPart, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds)
            && fraction.Length <= 9 && fraction.All(char.IsAsciiDigit))
        {
            var nanos = fraction.Length == 0 ? 0 : long.Parse(fraction.PadRight(9, '0'), CultureInfo.InvariantCulture);
            return DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos / 100);
        }
        if (text.Contains('T') && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            return time;
        throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidParameter",
            $"{field} '{text}' is not a time: give Unix seconds (1733390000.5) or an RFC 3339 time (2026-12-05T10:00:00Z)", text, field);
    }

    /// <summary>What the API is sent: Unix seconds and nanoseconds, as the docker CLI sends them.</summary>
    public static string Format(DateTimeOffset time)
    {
        var ticks = (time - DateTimeOffset.UnixEpoch).Ticks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        if (rest < 0) { seconds--; rest += TimeSpan.TicksPerSecond; }
        return $"{seconds}.{rest * 100:D9}";
    }
}
