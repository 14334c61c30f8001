using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;

namespace ContainerOps.Daemon.Api;

/// <summary>The HTTP API, shaped like Docker's Engine API where Docker has the concept.</summary>
internal static class Routes
{
    private static readonly ApiJsonContext J = ApiJsonContext.Default;

    private static bool Flag(HttpRequest r, string name) => r.Query[name].ToString() is "1" or "true" or "True";

    /// <summary>Attach for our own client (`run` without a terminal): the output of the container's current or next run
    /// as NDJSON log entries, until the run ends. The headers are sent once the daemon follows the run, so the client
    /// starts the container after that and misses nothing; an automatic removal waits until the end has been read.</summary>
    private static async Task AttachOutputAsync(HttpContext ctx, ContainerManager m, string id)
    {
        var req = ctx.Request;
        var output = m.AttachOutput(id, !req.Query.ContainsKey("stdout") || Flag(req, "stdout"), !req.Query.ContainsKey("stderr") || Flag(req, "stderr"), ctx.RequestAborted);
        try
        {
            await DockerStreams.FollowAttachedAsync(output,
                answer: async () =>
                {
                    ctx.Response.ContentType = "application/x-ndjson";
                    await ctx.Response.StartAsync();
                    await ctx.Response.Body.FlushAsync();
                },
                write: e => Json.WriteLineAsync(ctx.Response.Body, e, J.LogEntry),
                ctx.RequestAborted);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException) { } // the client went away
    }

    private static int? Int(HttpRequest r, string name, string field) =>
        r.Query.ContainsKey(name) ? (int.TryParse(r.Query[name], out var v) ? v
            : throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidParameter", $"{name} must be a number", null, field)) : null;

    public static void Map(WebApplication app)
    {
        DockerSystemRoutes.Map(app);
        ImageRoutes.Map(app);
        NetworkRoutes.Map(app);
        VolumeRoutes.Map(app);
        DockerExecRoutes.Map(app);
        DockerArchiveRoutes.Map(app);
        EventRoutes.Map(app);

        var c = app.MapGroup("/containers");
        c.MapPost("/create", async (HttpRequest req, ContainerManager m) =>
        {
            using var document = await Json.ReadDocumentAsync(req, "container create request");
            var body = Json.Read(document.RootElement, J.ContainerCreateRequest, "container create request").WithoutNulls();
            UnsupportedFields.Refuse(document.RootElement, req.Query["name"].ToString() is { Length: > 0 } n ? n : body.Name);
            return Json.Ok(await m.CreateAsync(body, req.Query["name"].ToString()), J.ContainerCreateResponse);
        });
        c.MapGet("/json", (HttpRequest req, ContainerManager m) =>
        {
            return Json.Ok(m.List(Flag(req, "all"), Filters.Parse(req)), J.ListContainerSummary);
        });
        c.MapGet("/{id}/json", (string id, ContainerManager m) => Json.Ok(m.Inspect(id), J.ContainerDetails));
        c.MapPost("/{id}/start", async (string id, ContainerManager m) => { await m.StartAsync(id); return Results.NoContent(); });
        c.MapPost("/{id}/stop", async (string id, HttpRequest req, ContainerManager m) => { await m.StopAsync(id, Int(req, "t", "t")); return Results.NoContent(); });
        c.MapPost("/{id}/restart", async (string id, HttpRequest req, ContainerManager m) => { await m.RestartAsync(id, Int(req, "t", "t")); return Results.NoContent(); });
        c.MapPost("/{id}/kill", async (string id, HttpRequest req, ContainerManager m) =>
        {
            await m.KillAsync(id, req.Query["signal"].ToString() is { Length: > 0 } s ? s : "KILL");
            return Results.NoContent();
        });
        c.MapPost("/{id}/pause", async (string id, ContainerManager m) => { await m.PauseAsync(id, true); return Results.NoContent(); });
        c.MapPost("/{id}/unpause", async (string id, ContainerManager m) => { await m.PauseAsync(id, false); return Results.NoContent(); });
        c.MapPost("/{id}/wait", async (string id, HttpContext ctx, ContainerManager m) =>
        {
            // Docker clients read the headers before they start the container, and the body when it exits.
            var wait = m.WaitAsync(id, ctx.Request.Query["condition"].ToString(), ctx.RequestAborted);
            if (wait.IsCompleted) return Json.Ok(await wait, J.ContainerWaitResponse);
            ctx.Response.ContentType = "application/json";
            await ctx.Response.StartAsync();
            await ctx.Response.Body.FlushAsync();
            await ctx.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(await wait, J.ContainerWaitResponse));
            return Results.Empty;
        });
        c.MapPost("/{id}/attach", async (string id, HttpContext ctx, ContainerManager m, ContainerInputs inputs) =>
        {
            if (DockerSystemRoutes.IsDockerClient(ctx)) await DockerStreams.AttachAsync(ctx, m, inputs, id);
            else await AttachOutputAsync(ctx, m, id);
            return Results.Empty;
        });
        c.MapPost("/{id}/resize", async (string id, HttpRequest req, ContainerManager m) =>
        {
            var (height, width) = DockerExecRoutes.TerminalSize(req, id);
            var (_, control, record, _) = m.AttachPoints(id);
            if (!record.State.Running || !record.Config.Tty) return Results.Ok(); // nothing to size, as dockerd answers
            await Sessions.ControlAsync(control, $"resize {height} {width}\n", req.HttpContext.RequestAborted);
            return Results.Ok();
        });
        c.MapPost("/{id}/rename", async (string id, HttpRequest req, ContainerManager m) =>
        {
            await m.RenameAsync(id, req.Query["name"].ToString());
            return Results.NoContent();
        });
        c.MapDelete("/{id}", async (string id, HttpRequest req, ContainerManager m) => { await m.RemoveAsync(id, Flag(req, "force"), Flag(req, "v")); return Results.NoContent(); });
        c.MapGet("/{id}/logs", async (string id, HttpContext ctx, ContainerManager m) =>
        {
            var req = ctx.Request;
            DateTimeOffset? since = null;
            if (req.Query["since"].ToString() is { Length: > 0 } s)
                since = DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t
                    : long.TryParse(s, out var unix) ? DateTimeOffset.FromUnixTimeSeconds(unix)
                    : throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidParameter", $"since '{s}' is not a time", id, "since");
            var tail = req.Query["tail"].ToString() is "all" or "" ? null : Int(req, "tail", "tail");
            var entries = m.Logs(id, Flag(req, "follow"), tail, since,
                !req.Query.ContainsKey("stdout") || Flag(req, "stdout"), !req.Query.ContainsKey("stderr") || Flag(req, "stderr"), ctx.RequestAborted);
            if (DockerSystemRoutes.IsDockerClient(ctx))
            {
                await DockerStreams.WriteLogsAsync(ctx, m.Inspect(id).Config.Tty, entries);
                return;
            }
            ctx.Response.ContentType = "application/x-ndjson";
            await ctx.Response.StartAsync();
            await foreach (var e in entries)
            {
                await Json.WriteLineAsync(ctx.Response.Body, e, J.LogEntry);
            }
        });
        c.MapGet("/{id}/top", (string id, ContainerManager m) => Json.Ok(m.Top(id), J.ContainerProcessList));
        c.MapGet("/{id}/stats", async (string id, HttpContext ctx, ContainerManager m) => Json.Ok(await m.StatsAsync(id, ctx.RequestAborted), J.ContainerStats));
        c.Map("/{id}/exec/ws", async (string id, HttpContext ctx, Sessions s) =>
        {
            if (!ctx.WebSockets.IsWebSocketRequest) return Results.BadRequest();
            await s.ExecAsync(ctx, id);
            return Results.Empty;
        });
        c.Map("/{id}/attach/ws", async (string id, HttpContext ctx, Sessions s) =>
        {
            if (!ctx.WebSockets.IsWebSocketRequest) return Results.BadRequest();
            await s.AttachAsync(ctx, id, Flag(ctx.Request, "start"));
            return Results.Empty;
        });

        var i = app.MapGroup("/images");
        i.MapGet("/json", (HttpRequest req, ContainerManager m) =>
        {
            var list = m.Images.List(Flag(req, "all")).ToList();
            foreach (var image in list) image.Containers = m.ContainersUsing(image.Id);
            return Json.Ok(list, J.ListImageSummary);
        });
        i.MapGet("/inspect", (HttpRequest req, ContainerManager m) => Json.Ok(m.Images.Inspect(req.Query["name"].ToString()), J.ImageDetails));
        i.MapPost("/import", async (HttpContext ctx, ContainerManager m) =>
        {
            var req = ctx.Request;
            var repo = req.Query["repo"].ToString();
            var changes = req.Query["changes"].Select(x => x ?? "").Where(x => x.Length > 0).ToList();
            return Json.Ok(await m.Images.ImportRootfsAsync(req.Body, repo.Length > 0 ? repo : null, changes, ctx.RequestAborted), J.ImageLoadResponse);
        });
        i.MapPost("/load", async (HttpContext ctx, ContainerManager m) =>
        {
            var loaded = await m.Images.LoadArchiveAsync(ctx.Request.Body, ctx.RequestAborted);
            if (!DockerSystemRoutes.IsDockerClient(ctx)) return Json.Ok(loaded, J.ImageLoadResponse);
            // Docker clients print the lines of a JSON message stream, as dockerd sends them.
            var lines = loaded.Images.SelectMany(image => image.RepoTags.Count == 0 ? [$"Loaded image ID: {image.Id}\n"]
                : image.RepoTags.Select(tag => $"Loaded image: {ImageNames.Familiar(tag)}\n"));
            var body = string.Concat(lines.Select(line => JsonSerializer.Serialize(new ProgressFrame { Stream = line }, J.ProgressFrame) + "\n"));
            return Results.Text(body, "application/json");
        });
        i.MapPost("/tag", (HttpRequest req, ContainerManager m) =>
        {
            m.Images.Tag(req.Query["source"].ToString(), req.Query["target"].ToString());
            return Results.NoContent();
        });
        i.MapDelete("", (HttpContext ctx, ContainerManager m) =>
        {
            var removed = m.Images.Remove(ctx.Request.Query["name"].ToString(), Flag(ctx.Request, "force"), m.ImageInUse);
            return DockerSystemRoutes.IsDockerClient(ctx) ? Json.Ok(DockerImageDeleteItem.From(removed), J.ListDockerImageDeleteItem) : Json.Ok(removed, J.ImageRemoveResponse);
        });
    }
}
