using System.Text.Json;
using System.Text.Json.Serialization;
namespace ContainerOps.Core.Api;

/// <summary>Docker's Healthcheck (image config, container config and the create request's body): how a container is
/// checked. Durations are nanoseconds; 0 takes the default (or the image's value, when the request gives 0).</summary>
public sealed class HealthConfig
{
    /// <summary>[] inherit the image's; ["NONE"] disabled; ["CMD", arg...] exec'd directly; ["CMD-SHELL", command] run by the container's shell.</summary>
    public List<string>? Test { get; set; }
    // Nanoseconds; 0 takes the default. The Python docker SDK sends null for what is not set: read as 0.
    [JsonConverter(typeof(NullAsZeroInt64))] public long Interval { get; set; }
    [JsonConverter(typeof(NullAsZeroInt64))] public long Timeout { get; set; }
    [JsonConverter(typeof(NullAsZeroInt64))] public long StartPeriod { get; set; }
    [JsonConverter(typeof(NullAsZeroInt64))] public long StartInterval { get; set; }
    /// <summary>Consecutive failures that make the container unhealthy; 0 takes the default (3).</summary>
    [JsonConverter(typeof(NullAsZeroInt32))] public int Retries { get; set; }

    public bool Disabled => Test is ["NONE", ..];

    /// <summary>The request's values over the image's, field by field, as Docker merges them at create.</summary>
    public static HealthConfig? Merge(HealthConfig? image, HealthConfig? request)
    {
        if (request is null) return image;
        if (image is null) return request;
        return new HealthConfig
        {
            Test = request.Test is { Count: > 0 } ? request.Test : image.Test,
            Interval = request.Interval != 0 ? request.Interval : image.Interval,
            Timeout = request.Timeout != 0 ? request.Timeout : image.Timeout,
            StartPeriod = request.StartPeriod != 0 ? request.StartPeriod : image.StartPeriod,
            StartInterval = request.StartInterval != 0 ? request.StartInterval : image.StartInterval,
            Retries = request.Retries != 0 ? request.Retries : image.Retries,
        };
    }

    /// <summary>Docker's checks of a create request: a known test form, durations of 0 or at least 1 ms, retries not negative.
    /// <paramref name="target"/> names the container in the error.</summary>
    public void Validate(string? target)
    {
        if (Test is { Count: > 0 } t && t[0] is not ("NONE" or "CMD" or "CMD-SHELL"))
            throw Invalid(target, "Healthcheck.Test", $"Test must start with NONE, CMD or CMD-SHELL, not '{t[0]}'");
        if (Test is ["CMD" or "CMD-SHELL"])
            throw Invalid(target, "Healthcheck.Test", $"Test {Test[0]} needs a command");
        foreach (var (name, value) in new[] { ("Interval", Interval), ("Timeout", Timeout), ("StartPeriod", StartPeriod), ("StartInterval", StartInterval) })
            if (value != 0 && value < 1_000_000)
                throw Invalid(target, "Healthcheck." + name, $"{name} in Healthcheck cannot be less than 1ms");
        if (Retries < 0) throw Invalid(target, "Healthcheck.Retries", "Retries in Healthcheck cannot be negative");
    }

    private static ContainerOpsException Invalid(string? target, string field, string message) =>
        new(ErrorKind.InvalidArgument, "InvalidHealthcheck", message, target, field);
}

/// <summary>State.Health in inspect. Replaced as a whole on every change, so a reader holding one sees a consistent one.</summary>
public sealed class ContainerHealth
{
    /// <summary>starting | healthy | unhealthy</summary>
    public string Status { get; set; } = HealthStatus.Starting;
    public int FailingStreak { get; set; }
    /// <summary>The last results, oldest first (at most 5).</summary>
    public List<HealthcheckResult> Log { get; set; } = new();
}

public static class HealthStatus
{
    public const string Starting = "starting";
    public const string Healthy = "healthy";
    public const string Unhealthy = "unhealthy";
}

public sealed class HealthcheckResult
{
    public DateTimeOffset Start { get; set; }
    public DateTimeOffset End { get; set; }
    /// <summary>0 healthy, 1 unhealthy, -1 when the check could not run or timed out.</summary>
    public int ExitCode { get; set; }
    public string Output { get; set; } = "";
}

/// <summary>A number that a client may send as null, meaning not set (0).</summary>
public sealed class NullAsZeroInt64 : JsonConverter<long>
{
    public override bool HandleNull => true;
    public override long Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? 0 : reader.GetInt64();
    public override void Write(Utf8JsonWriter writer, long value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}

/// <inheritdoc cref="NullAsZeroInt64"/>
public sealed class NullAsZeroInt32 : JsonConverter<int>
{
    public override bool HandleNull => true;
    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? 0 : reader.GetInt32();
    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}
