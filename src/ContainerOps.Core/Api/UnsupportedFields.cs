using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

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

    /// <summary>Throws for the first member of <paramref name="body"/> (a create body) or of its HostConfig that the wire
    /// types have no field for and that carries a value. Read from the body itself rather than kept aside while it is
    /// deserialized: the types stay free of extension data, which keeps the serializer's generated fast path for them
    /// (a client's create is the first request of a run, and building the serializer's metadata for it instead is its
    /// longest step).</summary>
    public static void Refuse(JsonElement body, string? target)
    {
        if (body.ValueKind != JsonValueKind.Object) return;
        Check(body, RequestMembers, "", target);
        if (body.TryGetProperty("HostConfig", out var host) && host.ValueKind == JsonValueKind.Object)
            Check(host, HostConfigMembers, "HostConfig.", target);
    }

    /// <summary>The members the wire types have, by their names in JSON.</summary>
    private static readonly HashSet<string> RequestMembers = Members(ApiJsonContext.Default.ContainerCreateRequest),
        HostConfigMembers = Members(ApiJsonContext.Default.HostConfig);

    private static HashSet<string> Members(JsonTypeInfo type) => type.Properties.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

    private static void Check(JsonElement members, HashSet<string> known, string prefix, string? target)
    {
        foreach (var member in members.EnumerateObject())
        {
            var path = prefix + member.Name;
            var value = member.Value;
            if (known.Contains(member.Name) || ClientSide.Contains(path) || !IsSet(value)) continue;
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
