using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

/// <summary>One line of `GET /events`: Docker's events.Message. <see cref="Status"/>, <see cref="Id"/> and
/// <see cref="From"/> are the fields of API versions before 1.22, still filled for container and image events as
/// dockerd fills them.</summary>
public sealed class EventMessage
{
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("from")] public string? From { get; set; }
    /// <summary>container, image, volume, network (and daemon).</summary>
    public string Type { get; set; } = "";
    /// <summary>create, start, die, … ; exec and health events carry their detail after a colon ("health_status: healthy").</summary>
    public string Action { get; set; } = "";
    public EventActor Actor { get; set; } = new();
    [JsonPropertyName("scope")] public string Scope { get; set; } = "local";
    /// <summary>Unix seconds.</summary>
    [JsonPropertyName("time")] public long Time { get; set; }
    /// <summary>Unix nanoseconds.</summary>
    [JsonPropertyName("timeNano")] public long TimeNano { get; set; }

    [JsonIgnore] public DateTimeOffset When => DateTimeOffset.FromUnixTimeMilliseconds(TimeNano / 1_000_000);
}

/// <summary>What an event is about: its id (container id, image id or reference, volume name, network id) and attributes
/// (name, image, labels, exitCode…).</summary>
public sealed class EventActor
{
    public string ID { get; set; } = "";
    public Dictionary<string, string> Attributes { get; set; } = new();
}
