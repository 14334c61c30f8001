using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

/// <summary>The create body as a client writes it: the generated writer alone, with no serializer metadata. Building the
/// metadata of the body's thirty-odd types (which <see cref="ApiJsonContext"/> has, for reading it) took a command-line
/// client about 3 ms, the longest step before its first request.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.Unspecified,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true, WriteIndented = false, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(ContainerCreateRequest))]
public sealed partial class CreateBodyJsonContext : JsonSerializerContext
{
}
