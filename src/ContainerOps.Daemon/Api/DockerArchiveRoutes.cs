using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
using ContainerOps.Images.Archives;

namespace ContainerOps.Daemon.Api;

/// <summary>`/containers/{id}/archive` (HEAD stat, GET a tar, PUT a tar): what `docker cp` speaks, on the container's
/// root filesystem, running (frozen meanwhile) or not. Paths under the container's volume mounts are not reached this
/// way yet.</summary>
internal static class DockerArchiveRoutes
{
    private const string StatHeader = "X-Docker-Container-Path-Stat";

    public static void Map(WebApplication app)
    {
        app.MapMethods("/containers/{id}/archive", ["HEAD"], async (string id, HttpContext ctx, ContainerManager m) =>
        {
            var (containerId, path) = Target(id, ctx.Request, m);
            ctx.Response.Headers[StatHeader] = StatValue(await m.WithFilesStillAsync(containerId,
                () => m.ImageEngine.WithContainerRootfsAsync(containerId, root => ContainerFiles.Stat(root, path))));
            return Results.Ok();
        });
        app.MapGet("/containers/{id}/archive", async (string id, HttpContext ctx, ContainerManager m) =>
        {
            var (containerId, path) = Target(id, ctx.Request, m);
            // The tar is made in a temporary file first: a path that cannot be read fails with an error, not half an archive.
            var temp = Path.Combine(m.Options.Root, "tmp", "archive-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path.GetDirectoryName(temp)!);
            try
            {
                var stat = await m.WithFilesStillAsync(containerId, () => m.ImageEngine.WithContainerRootfsAsync(containerId, root =>
                {
                    using var file = File.Create(temp);
                    ContainerFiles.WriteTar(root, path, file);
                    return ContainerFiles.Stat(root, path);
                }, ctx.RequestAborted));
                ctx.Response.Headers[StatHeader] = StatValue(stat);
                ctx.Response.ContentType = "application/x-tar";
                await using var tar = File.OpenRead(temp);
                ctx.Response.ContentLength = tar.Length;
                await tar.CopyToAsync(ctx.Response.Body, ctx.RequestAborted);
            }
            finally { File.Delete(temp); }
        });
        app.MapPut("/containers/{id}/archive", async (string id, HttpContext ctx, ContainerManager m) =>
        {
            var (containerId, path) = Target(id, ctx.Request, m);
            if (m.Inspect(containerId).HostConfig.ReadonlyRootfs)
                throw new ContainerOpsException(ErrorKind.Conflict, "ReadOnlyRootfs", $"container {id}'s root filesystem is read-only: nothing can be copied into it", id, "path");
            var keepOwners = ctx.Request.Query["copyUIDGID"].ToString() is "1" or "true";
            // The body is read to the end while the container is frozen: a slow client keeps it frozen, as with Docker.
            await m.WithFilesStillAsync(containerId, () => m.ImageEngine.WithContainerRootfsAsync(containerId, root =>
            {
                ContainerFiles.Extract(root, path, ctx.Request.Body, keepOwners, ctx.RequestAborted);
                return true;
            }, ctx.RequestAborted));
            return Results.Ok();
        });
    }

    private static (string ContainerId, string Path) Target(string id, HttpRequest request, ContainerManager m)
    {
        var path = request.Query["path"].ToString();
        if (path.Length == 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "PathRequired", $"copying files of {id} needs a path in the container", id, "path");
        return (m.Lookup(id).Id, path);
    }

    /// <summary>The stat as Docker's header carries it: base64 of {"name","size","mode","mtime","linkTarget"}.</summary>
    private static string StatValue(ContainerPathStat stat)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("name", stat.Name);
            w.WriteNumber("size", stat.Size);
            w.WriteNumber("mode", stat.Mode);
            w.WriteString("mtime", stat.MTime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("linkTarget", stat.LinkTarget);
            w.WriteEndObject();
        }
        return Convert.ToBase64String(buffer.ToArray());
    }
}
