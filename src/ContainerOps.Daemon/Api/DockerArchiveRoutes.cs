using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
using ContainerOps.Images.Archives;

namespace ContainerOps.Daemon.Api;

/// <summary>`/containers/{id}/archive` (HEAD stat, GET a tar, PUT a tar): what `docker cp` speaks, on the container's
/// root filesystem or, for paths in its bind and volume mounts, on the mount's source; running (frozen meanwhile) or
/// not. A copy of a directory that has mounts below it holds the root filesystem's files only.</summary>
internal static class DockerArchiveRoutes
{
    private const string StatHeader = "X-Docker-Container-Path-Stat";

    public static void Map(WebApplication app)
    {
        app.MapMethods("/containers/{id}/archive", ["HEAD"], async (string id, HttpContext ctx, ContainerManager m) =>
        {
            var (containerId, path) = Target(id, ctx.Request, m);
            ctx.Response.Headers[StatHeader] = StatValue(await WithFilesAsync(m, containerId, path, writing: false,
                (root, at, name) => ContainerFiles.Stat(root, at, name), ctx.RequestAborted));
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
                var stat = await WithFilesAsync(m, containerId, path, writing: false, (root, at, name) =>
                {
                    using var file = File.Create(temp);
                    ContainerFiles.WriteTar(root, at, file, name);
                    return ContainerFiles.Stat(root, at, name);
                }, ctx.RequestAborted);
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
            var keepOwners = ctx.Request.Query["copyUIDGID"].ToString() is "1" or "true";
            // The body is read to the end while the container is frozen: a slow client keeps it frozen, as with Docker.
            await WithFilesAsync(m, containerId, path, writing: true, (root, at, _) =>
            {
                ContainerFiles.Extract(root, at, ctx.Request.Body, keepOwners, ctx.RequestAborted);
                return true;
            }, ctx.RequestAborted);
            return Results.Ok();
        });
    }

    /// <summary>Runs <paramref name="work"/> with the root the path resolves in, the path within it and the name of its
    /// last part: a mount's source when the path lies in a bind or volume mount, else the container's root filesystem.
    /// Writing is refused into a read-only mount, and into a read-only root filesystem outside the writable mounts.</summary>
    private static Task<T> WithFilesAsync<T>(ContainerManager m, string containerId, string path, bool writing,
        Func<string, string, string?, T> work, CancellationToken ct)
    {
        var mounted = ContainerMountPaths.Resolve(m.MountsOf(containerId), path, m.Volumes.Volumes.DataPath, containerId[..12]);
        if (mounted is null)
        {
            if (writing && m.Inspect(containerId).HostConfig.ReadonlyRootfs)
                throw new ContainerOpsException(ErrorKind.Conflict, "ReadOnlyRootfs", $"container {containerId[..12]}'s root filesystem is read-only: nothing can be copied into it", containerId, "path");
            return m.WithFilesStillAsync(containerId, () => m.ImageEngine.WithContainerRootfsAsync(containerId, root => work(root, path, null), ct));
        }
        if (writing && mounted.ReadOnly)
            throw new ContainerOpsException(ErrorKind.Conflict, "ReadOnlyMount", $"{path} is on a read-only mount in container {containerId[..12]}: nothing can be copied into it", containerId, "path");
        return m.WithFilesStillAsync(containerId, () => Task.Run(() => work(mounted.Root, mounted.Path, mounted.Path == "/" ? mounted.Name : null), ct));
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
