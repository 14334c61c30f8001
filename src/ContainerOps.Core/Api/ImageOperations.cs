using System.Text.Json.Serialization;

namespace ContainerOps.Core.Api;

/// <summary>What <c>POST /build</c> takes besides the context tar in its body (sent as query parameters).</summary>
public sealed class ImageBuildRequest
{
    /// <summary>Dockerfile path inside the context (default: Dockerfile).</summary>
    public string? Dockerfile { get; set; }
    public List<string> Tags { get; set; } = new();
    public Dictionary<string, string> BuildArgs { get; set; } = new();
    /// <summary>Labels set on the built image (`--label`, Docker's `labels` query parameter).</summary>
    public Dictionary<string, string> Labels { get; set; } = new();
    public string? Target { get; set; }
    public bool NoCache { get; set; }
    /// <summary>Secrets for RUN --mount=type=secret, by id. They travel in the <see cref="SecretsHeader"/> header
    /// (base64 of a JSON object of base64 values), never in the query or the context.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Dictionary<string, byte[]> Secrets { get; set; } = new();
    /// <summary>Entitlements, like docker build --allow: security.insecure, network.host.</summary>
    public List<string> Allow { get; set; } = new();

    public const string SecretsHeader = "X-Build-Secrets";
}

/// <summary>The <see cref="ImageBuildRequest.SecretsHeader"/> value: base64 of a JSON object { id: base64 value }.</summary>
public static class BuildSecretsHeader
{
    /// <summary>What the header may carry; a daemon accepts 32 KiB of request headers in all.</summary>
    public const int MaxLength = 24 * 1024;

    public static string Encode(IReadOnlyDictionary<string, byte[]> secrets)
    {
        var map = secrets.ToDictionary(kv => kv.Key, kv => Convert.ToBase64String(kv.Value), StringComparer.Ordinal);
        var text = Convert.ToBase64String(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(map, ApiJsonContext.Default.DictionaryStringString));
        if (text.Length > MaxLength)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "SecretsTooLarge",
                $"the build's secrets take {text.Length} bytes encoded; at most {MaxLength} fit in a request", "secrets", "Secrets");
        return text;
    }

    /// <summary>Throws FormatException (or JsonException) for a value that is not one.</summary>
    public static Dictionary<string, byte[]> Decode(string header)
    {
        var map = System.Text.Json.JsonSerializer.Deserialize(Convert.FromBase64String(header), ApiJsonContext.Default.DictionaryStringString)
            ?? throw new FormatException("not a JSON object");
        return map.ToDictionary(kv => kv.Key, kv => Convert.FromBase64String(kv.Value), StringComparer.Ordinal);
    }
}

/// <summary>One NDJSON line of a build, pull or push. Progress lines carry a step or a layer; the last line of a
/// successful operation carries <see cref="ImageId"/>, the last line of a failed one <see cref="Error"/>.</summary>
public sealed class ProgressFrame
{
    /// <summary>Build: 1-based step number and the number of steps.</summary>
    public int? Step { get; set; }
    public int? TotalSteps { get; set; }
    /// <summary>What is happening: "Step 2/3 : RUN …", "Downloading", "Pushed", "Already exists", "Using cache"…</summary>
    public string? Status { get; set; }
    /// <summary>Pull/push: the layer's digest.</summary>
    public string? Id { get; set; }
    public long? Current { get; set; }
    public long? Total { get; set; }
    /// <summary>Build: output of a RUN step.</summary>
    public string? Stream { get; set; }
    public ApiError? Error { get; set; }
    /// <summary>The final line: the image built or pulled (config digest).</summary>
    public string? ImageId { get; set; }
    /// <summary>The final line: the references that now point at the image, or the pushed manifest digest.</summary>
    public List<string>? Tags { get; set; }
    public string? Digest { get; set; }
    /// <summary>Docker clients only: bytes done and in all, which a terminal draws as a bar and a pipe leaves out
    /// (an empty object on a line that only changes a layer's status).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public DockerProgressDetail? ProgressDetail { get; set; }
    /// <summary>Docker clients only: what a push sent, or the image a build made.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public DockerAux? Aux { get; set; }
}

/// <summary>One line of a progress stream (pull, push, build) as dockerd writes it: its keys in its case, which clients
/// that match keys exactly (the Python docker SDK, so docker-compose 1.29) need.</summary>
public sealed class DockerJsonMessage
{
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("progressDetail")] public DockerProgressDetail? ProgressDetail { get; set; }
    [JsonPropertyName("stream")] public string? Stream { get; set; }
    [JsonPropertyName("aux")] public DockerAux? Aux { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("errorDetail")] public DockerErrorDetail? ErrorDetail { get; set; }

    /// <summary>The frame in dockerd's shape; a build's status lines are part of its output stream there.</summary>
    public static DockerJsonMessage Of(ProgressFrame f, bool statusAsStream) => new()
    {
        Status = statusAsStream ? null : f.Status,
        Stream = statusAsStream && f.Status != null ? f.Status + "\n" : f.Stream,
        Id = f.Id,
        ProgressDetail = f.ProgressDetail,
        Aux = f.Aux,
        Error = f.Error?.Message,
        ErrorDetail = f.Error is { } e ? new DockerErrorDetail { Message = e.Message } : null,
    };
}

public sealed class DockerProgressDetail
{
    [JsonPropertyName("current")] public long? Current { get; set; }
    [JsonPropertyName("total")] public long? Total { get; set; }
}

public sealed class DockerErrorDetail
{
    [JsonPropertyName("message")] public string Message { get; set; } = "";
}

/// <summary>A push's result (Tag, Digest, Size) or a build's image (ID), as dockerd sends them.</summary>
public sealed class DockerAux
{
    public string? Tag { get; set; }
    public string? Digest { get; set; }
    public long? Size { get; set; }
    public string? ID { get; set; }
}

/// <summary>`docker commit`: sent as query parameters of <c>POST /commit</c>.</summary>
public sealed class CommitRequest
{
    public string Container { get; set; } = "";
    /// <summary>repository[:tag] of the new image; null for an untagged image.</summary>
    public string? Reference { get; set; }
    public string? Author { get; set; }
    public string? Comment { get; set; }
    /// <summary>Dockerfile lines applied to the config (CMD, ENV, …).</summary>
    public List<string> Changes { get; set; } = new();
}

/// <summary>One line of `docker diff`: Kind A (added), C (changed) or D (deleted), and the absolute path.</summary>
public sealed class ContainerChange
{
    /// <summary>"A", "C" or "D".</summary>
    public string Kind { get; set; } = "C";
    public string Path { get; set; } = "";
}

/// <summary>One change as the Docker Engine API has it: Kind 0 (changed), 1 (added) or 2 (deleted).</summary>
public sealed class DockerContainerChange
{
    public string Path { get; set; } = "";
    public int Kind { get; set; }

    public static DockerContainerChange Of(ContainerChange c) =>
        new() { Path = c.Path, Kind = c.Kind switch { "A" => 1, "D" => 2, _ => 0 } };
}

/// <summary>One line of `docker history`, newest first; the image engine produces it as is.
/// Id is the image id on the newest line, "&lt;missing&gt;" below it (as Docker shows for layers of pulled images).</summary>
public sealed class ImageHistoryEntry
{
    public string Id { get; set; } = "<missing>";
    public DateTimeOffset? Created { get; set; }
    public string CreatedBy { get; set; } = "";
    public long Size { get; set; }
    public string Comment { get; set; } = "";
    public bool EmptyLayer { get; set; }
    public List<string> Tags { get; set; } = new();
}

/// <summary>One item of `GET /images/{name}/history` as the Docker Engine API gives it: Created in Unix seconds.</summary>
public sealed class DockerImageHistoryItem
{
    public string Id { get; set; } = "";
    public long Created { get; set; }
    public string CreatedBy { get; set; } = "";
    public List<string> Tags { get; set; } = new();
    public long Size { get; set; }
    public string Comment { get; set; } = "";

    public static List<DockerImageHistoryItem> From(IEnumerable<ImageHistoryEntry> items) =>
        [.. items.Select(i => new DockerImageHistoryItem
        {
            Id = i.Id, Created = i.Created?.ToUnixTimeSeconds() ?? 0, CreatedBy = i.CreatedBy, Tags = i.Tags, Size = i.Size, Comment = i.Comment,
        })];
}

/// <summary>What a prune removed.</summary>
public sealed class PruneResponse
{
    /// <summary>Image ids, container ids, or layer chain ids removed.</summary>
    public List<string> Deleted { get; set; } = new();
    public List<string> Untagged { get; set; } = new();
    public long SpaceReclaimed { get; set; }
}

/// <summary>One row of `docker system df`.</summary>
public sealed class DiskUsageRow
{
    /// <summary>Images, Containers, Local Volumes, Build Cache.</summary>
    public string Type { get; set; } = "";
    public int Total { get; set; }
    public int Active { get; set; }
    public long Size { get; set; }
    public long Reclaimable { get; set; }
}

public sealed class DiskUsage
{
    public List<DiskUsageRow> Rows { get; set; } = new();
    /// <summary>With `verbose` (`system df -v`): every volume with its UsageData.</summary>
    public List<Volume>? Volumes { get; set; }
}

/// <summary><c>POST /auth</c>: the password is only ever sent, never returned.</summary>
public sealed class RegistryLoginRequest
{
    public string ServerAddress { get; set; } = "";
    public string Username { get; set; } = "";
    public string Password { get; set; } = "";
    /// <summary>Reach the registry over plain HTTP or unverified TLS.</summary>
    public bool Insecure { get; set; }
}

public sealed class RegistryLoginResponse
{
    public string Status { get; set; } = "";
    public string ServerAddress { get; set; } = "";
    public string Username { get; set; } = "";
}
