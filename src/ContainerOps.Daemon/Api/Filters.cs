using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Api;

/// <summary>The `filters` query parameter in each of the shapes Docker's clients send: {"k":"v"}, {"k":["v1","v2"]},
/// and {"k":{"v1":true}} (the docker CLI's).</summary>
internal static class Filters
{
    public static Dictionary<string, List<string>>? Parse(HttpRequest req)
    {
        if (req.Query["filters"].ToString() is not { Length: > 0 } text) return null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("not an object");
            var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                result[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.String => [p.Value.GetString()!],
                    JsonValueKind.Array => p.Value.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw new JsonException($"{p.Name}: values must be strings")).ToList(),
                    JsonValueKind.Object => p.Value.EnumerateObject().Where(x => x.Value.ValueKind == JsonValueKind.True).Select(x => x.Name).ToList(),
                    _ => throw new JsonException($"{p.Name}: a string, a list of strings or an object of booleans is expected"),
                };
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidFilter", "filters must be a JSON object (\"key\": \"value\" or [\"value\", …]): " + e.Message, null, "filters");
        }
    }
}
