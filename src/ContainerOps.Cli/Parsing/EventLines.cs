using System.Globalization;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Parsing;

/// <summary>How `events` shows an event: docker's default line, and the fields its --format templates see.</summary>
internal static class EventLines
{
    /// <summary>docker's line: local time with nanoseconds, type, action, actor id, then the attributes sorted by key.</summary>
    public static string Line(EventMessage e)
    {
        var time = DateTimeOffset.FromUnixTimeSeconds(e.TimeNano / 1_000_000_000).AddTicks(e.TimeNano % 1_000_000_000 / 100).ToLocalTime();
        var text = $"{time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)}.{e.TimeNano % 1_000_000_000:D9}{Zone(time)} {e.Type} {e.Action} {e.Actor.ID}";
        if (e.Actor.Attributes.Count > 0)
            text += " (" + string.Join(", ", e.Actor.Attributes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)) + ")";
        return text;
    }

    private static string Zone(DateTimeOffset t) => t.Offset == TimeSpan.Zero ? "Z" : t.ToString("zzz", CultureInfo.InvariantCulture);

    /// <summary>What a template sees: the fields of Docker's events.Message under their Go names.</summary>
    public static JsonObject Fields(EventMessage e) => new()
    {
        ["Status"] = e.Status, ["ID"] = e.Id, ["From"] = e.From, ["Type"] = e.Type, ["Action"] = e.Action,
        ["Actor"] = new JsonObject
        {
            ["ID"] = e.Actor.ID,
            ["Attributes"] = new JsonObject(e.Actor.Attributes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        },
        ["Scope"] = e.Scope, ["Time"] = e.Time, ["TimeNano"] = e.TimeNano,
    };
}
