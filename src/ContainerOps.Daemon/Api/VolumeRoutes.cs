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
