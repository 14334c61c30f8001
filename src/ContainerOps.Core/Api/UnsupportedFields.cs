using System.Text.Json;

namespace ContainerOps.Core.Api;

/// <summary>
/// Members of Docker's create body that ContainerOps does not apply. A Go client sends every member of its structs,
/// most with zero values; a member that carries a value (not null, false, 0, "" or empty) is refused by its Docker
/// name, so nothing asked for is silently ignored.
/// </summary>
public static class UnsupportedFields
{
    /// <summary>Meaningful to the client alone (which streams it attaches, its terminal's first size, where it writes the
    /// id), or informational: accepted whatever their value.</summary>
    private static readonly HashSet<string> ClientSide = new(StringComparer.Ordinal)
    {
        "AttachStdin", "AttachStdout", "AttachStderr", "ArgsEscaped", "OnBuild",
        "HostConfig.ConsoleSize", "HostConfig.ContainerIDFile",
    };

    /// <summary>Members whose Docker "not set" value is not zero.</summary>
    private static readonly Dictionary<string, long> UnsetNumbers = new(StringComparer.Ordinal)
    {
        ["HostConfig.MemorySwappiness"] = -1,
    };

    /// <summary>Throws for the first member of <paramref name="request"/> (or its HostConfig) that is not applied but
    /// carries a value, then forgets the rest (they were empty).</summary>
    public static void Refuse(ContainerCreateRequest request, string? target)
    {
        Check(request.Extra, "", target);
        Check(request.HostConfig.Extra, "HostConfig.", target);
        request.Extra = null;
        request.HostConfig.Extra = null;
    }

    private static void Check(Dictionary<string, JsonElement>? members, string prefix, string? target)
    {
        foreach (var (name, value) in members ?? new())
        {
            var path = prefix + name;
            if (ClientSide.Contains(path) || !IsSet(value)) continue;
            if (UnsetNumbers.TryGetValue(path, out var unset) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n == unset) continue;
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnsupportedOption",
                $"{path} is not supported by ContainerOps: the container would not get what it asks for", target, path);
        }
    }

    public static bool IsSet(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.False => false,
        JsonValueKind.Number => !(value.TryGetDouble(out var d) && d == 0),
        JsonValueKind.String => value.GetString() is { Length: > 0 },
        JsonValueKind.Array => value.EnumerateArray().Any(IsSet),
        JsonValueKind.Object => value.EnumerateObject().Any(p => IsSet(p.Value)),
        _ => true,
    };
}
