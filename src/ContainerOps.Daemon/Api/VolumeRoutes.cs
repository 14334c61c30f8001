using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;

namespace ContainerOps.Daemon.Api;

/// <summary>`/volumes`, as Docker's Engine API has them: list, create, inspect, remove, prune.</summary>
internal static class VolumeRoutes
{
    private static readonly ApiJsonContext J = ApiJsonContext.Default;

    public static void Map(WebApplication app)
    {
        var v = app.MapGroup("/volumes");
        v.MapGet("", (HttpRequest req, ContainerVolumes vols) =>
            Json.Ok(new VolumeListResponse { Volumes = vols.Volumes.List(Filters.Parse(req)) }, J.VolumeListResponse));
        v.MapPost("/create", async (HttpContext ctx, ContainerVolumes vols) =>
        {
            var body = await Json.ReadAsync(ctx.Request, J.VolumeCreateRequest, "volume create request");
            var volume = vols.Volumes.Create(body);
            ctx.Response.StatusCode = StatusCodes.Status201Created;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(volume, J.Volume));
        });
        v.MapGet("/{name}", (string name, ContainerVolumes vols) => Json.Ok(vols.Volumes.Inspect(name), J.Volume));
        v.MapDelete("/{name}", (string name, HttpRequest req, ContainerVolumes vols) =>
        {
            vols.Volumes.Remove(name, req.Query["force"].ToString() is "1" or "true" or "True");
            return Results.NoContent();
        });
        v.MapPost("/prune", (HttpRequest req, ContainerVolumes vols) => Json.Ok(vols.Volumes.Prune(Filters.Parse(req)), J.VolumePruneResponse));
    }
}

/// <summary>The `filters` query parameter in each of the shapes Docker's clients send: {"k":"v"}, {"k":["v1","v2"]},
/// and {"k":{"v1":true}} (the docker CLI's).</summary>
internal static class Filters
{
    /// <summary>One value per key, for the lists that filter by one (containers, networks).</summary>
    public static Dictionary<string, string>? FirstValues(HttpRequest req) =>
        Parse(req)?.Where(kv => kv.Value.Count > 0).ToDictionary(kv => kv.Key, kv => kv.Value[0], StringComparer.Ordinal);

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
