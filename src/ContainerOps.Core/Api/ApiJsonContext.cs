using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

/// <summary>Source-generated JSON for every wire type (the NativeAOT CLI cannot use reflection-based JSON).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.Unspecified,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true, WriteIndented = false)]
[JsonSerializable(typeof(ContainerCreateRequest))]
[JsonSerializable(typeof(ContainerCreateResponse))]
[JsonSerializable(typeof(List<ContainerSummary>))]
[JsonSerializable(typeof(ContainerDetails))]
[JsonSerializable(typeof(List<ContainerDetails>))]
[JsonSerializable(typeof(ContainerWaitResponse))]
[JsonSerializable(typeof(LogEntry))]
[JsonSerializable(typeof(ContainerProcessList))]
[JsonSerializable(typeof(ContainerStats))]
[JsonSerializable(typeof(ExecCreateRequest))]
[JsonSerializable(typeof(ExecStartRequest))]
[JsonSerializable(typeof(ExecInspectResponse))]
[JsonSerializable(typeof(StreamFrame))]
[JsonSerializable(typeof(List<ImageSummary>))]
[JsonSerializable(typeof(ImageDetails))]
[JsonSerializable(typeof(ImageLoadResponse))]
[JsonSerializable(typeof(ImageRemoveResponse))]
[JsonSerializable(typeof(List<DockerImageDeleteItem>))]
[JsonSerializable(typeof(ImageBuildRequest))]
[JsonSerializable(typeof(ProgressFrame))]
[JsonSerializable(typeof(CommitRequest))]
[JsonSerializable(typeof(List<ContainerChange>))]
[JsonSerializable(typeof(List<ImageHistoryEntry>))]
[JsonSerializable(typeof(List<DockerImageHistoryItem>))]
[JsonSerializable(typeof(PruneResponse))]
[JsonSerializable(typeof(DiskUsage))]
[JsonSerializable(typeof(RegistryLoginRequest))]
[JsonSerializable(typeof(RegistryLoginResponse))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(SessionControl))]
[JsonSerializable(typeof(VolumeCreateRequest))]
[JsonSerializable(typeof(Volume))]
[JsonSerializable(typeof(VolumeListResponse))]
[JsonSerializable(typeof(VolumePruneResponse))]
[JsonSerializable(typeof(NetworkCreateRequest))]
[JsonSerializable(typeof(NetworkCreateResponse))]
[JsonSerializable(typeof(NetworkResource))]
[JsonSerializable(typeof(List<NetworkResource>))]
[JsonSerializable(typeof(NetworkConnectRequest))]
[JsonSerializable(typeof(NetworkDisconnectRequest))]
[JsonSerializable(typeof(NetworkPruneResponse))]
[JsonSerializable(typeof(SystemVersion))]
[JsonSerializable(typeof(SystemInfo))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class ApiJsonContext : JsonSerializerContext
{
}
