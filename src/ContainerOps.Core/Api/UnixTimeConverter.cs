using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

/// <summary>Docker's list shapes give `Created` as Unix seconds (an integer Go clients insist on); read back either that
/// or an ISO 8601 string.</summary>
public sealed class UnixTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Number ? DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64()) : reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(value.ToUnixTimeSeconds());
}
