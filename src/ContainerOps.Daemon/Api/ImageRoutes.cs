using System.Formats.Tar;
using System.Text.Json;
using System.Threading.Channels;
using ContainerOps.Core;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;
using ContainerOps.Images;
using ContainerOps.Images.Build;
using ContainerOps.Images.Credentials;
using ContainerOps.Images.References;
using ContainerOps.Images.Registry;

namespace ContainerOps.Daemon.Api;

/// <summary>Image routes beyond list/inspect/import/load/tag/remove: build, pull, push, login, save, export, commit,
/// diff, history, prune and disk usage, in Docker Engine API shapes. Long operations answer with NDJSON
/// <see cref="ProgressFrame"/> lines; the last line carries the image id or the error.</summary>
internal static class ImageRoutes
{
    private static readonly ApiJsonContext J = ApiJsonContext.Default;

    private static bool Flag(HttpRequest r, string name) => r.Query[name].ToString() is "1" or "true" or "True";
    private static string? Str(HttpRequest r, string name) => r.Query[name].ToString() is { Length: > 0 } s ? s : null;
    private static List<string> Strs(HttpRequest r, string name) => r.Query[name].Select(x => x ?? "").Where(x => x.Length > 0).ToList();

    public static void Map(WebApplication app)
    {
        app.MapPost("/build", Build);
        app.MapPost("/images/create", Pull);
        app.MapPost("/images/push", Push);
        app.MapPost("/auth", Login);
        app.MapDelete("/auth", (HttpRequest req, ContainerManager m) =>
        {
            var server = Str(req, "server") ?? throw Invalid("server", "server is required");
            var erased = Credentials(m).Erase(RegistryHosts.Normalize(server));
            return Json.Ok(new RegistryLoginResponse { ServerAddress = server, Status = erased ? "Removed login credentials" : "Not logged in" }, J.RegistryLoginResponse);
        });
        app.MapGet("/images/get", Save);
        app.MapGet("/images/history", (HttpContext ctx, ContainerManager m) =>
        {
            var items = m.ImageEngine.History(Str(ctx.Request, "name") ?? throw Invalid("name", "name is required"));
            return DockerSystemRoutes.IsDockerClient(ctx) ? Json.Ok(DockerImageHistoryItem.From(items), J.ListDockerImageHistoryItem) : Json.Ok(items, J.ListImageHistoryEntry);
        });
        app.MapPost("/images/prune", (HttpRequest req, ContainerManager m) =>
        {
            // Docker: dangling=true (default) prunes untagged images only; dangling=false (or all=1) every unused image.
            var all = Flag(req, "all") || req.Query["dangling"].ToString() is "0" or "false" or "False";
            return Json.Ok(m.ImageEngine.Prune(all, m.ImageInUse), J.PruneResponse);
        });
        app.MapPost("/build/prune", (ContainerManager m) =>
        {
            var (entries, bytes) = m.ImageEngine.PruneBuildCache();
            return Json.Ok(new PruneResponse { Deleted = [$"{entries} build cache entries"], SpaceReclaimed = bytes }, J.PruneResponse);
        });
        app.MapPost("/containers/prune", async (ContainerManager m) =>
        {
            var removed = await m.PruneContainersAsync();
            return Json.Ok(new PruneResponse { Deleted = removed }, J.PruneResponse);
        });
        app.MapGet("/system/df", (HttpRequest req, ContainerManager m) =>
        {
            var rows = m.ImageEngine.DiskUsage(m.AllContainers());
            // Docker's order: images, containers, local volumes, build cache.
            rows.Insert(Math.Min(2, rows.Count), m.Volumes.Volumes.DiskUsage());
            var verbose = req.Query["verbose"].ToString() is "1" or "true" or "True";
            return Json.Ok(new DiskUsage { Rows = rows, Volumes = verbose ? m.Volumes.Volumes.List(null, withUsage: true) : null }, J.DiskUsage);
        });
        app.MapPost("/commit", async (HttpContext ctx, ContainerManager m) =>
        {
            var req = ctx.Request;
            var c = m.Lookup(Str(req, "container") ?? throw Invalid("container", "container is required"));
            var repo = Str(req, "repo");
            if (repo != null && Str(req, "tag") is { } tag) repo += ":" + tag;
            var image = await m.ImageEngine.CommitAsync(c.Id, c.ImageId, repo, Str(req, "author"), Str(req, "comment") ?? Str(req, "message"),
                Strs(req, "changes"), ctx.RequestAborted);
            m.Emit(c.Id, "commit", ("comment", Str(req, "comment") ?? Str(req, "message") ?? ""));
            return Json.Ok(new ImageLoadResponse { Images = [image] }, J.ImageLoadResponse);
        });
        app.MapGet("/containers/{id}/changes", (string id, HttpContext ctx, ContainerManager m) =>
        {
            var c = m.Lookup(id);
            var changes = VisibleChanges(m.ImageEngine.Diff(c.Id).Select(x => new ContainerChange { Kind = x.Letter, Path = x.Path }));
            // Docker clients read Kind as a number.
            return DockerSystemRoutes.IsDockerClient(ctx)
                ? Json.Ok(changes.Select(DockerContainerChange.Of).ToList(), J.ListDockerContainerChange)
                : Json.Ok(changes, J.ListContainerChange);
        });
        app.MapGet("/containers/{id}/export", async (string id, HttpContext ctx, ContainerManager m) =>
        {
            var c = m.Lookup(id);
            ctx.Response.ContentType = "application/x-tar";
            await ctx.Response.StartAsync();
            await m.ImageEngine.ExportContainerAsync(c.Id, ctx.Response.Body, ctx.RequestAborted);
            m.Emit(c.Id, "export");
        });
    }

    /// <summary>The runtime bind-mounts /etc/hostname, /etc/hosts and /etc/resolv.conf and creates their mount points in
    /// the container layer; like Docker, diff does not show those (nor the /etc change they alone cause).</summary>
    private static readonly HashSet<string> MountPoints = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

    internal static List<ContainerChange> VisibleChanges(IEnumerable<ContainerChange> changes)
    {
        var all = changes.ToList();
        var kept = all.Where(x => !(x.Kind == "A" && MountPoints.Contains(x.Path))).ToList();
        if (kept.Count != all.Count && !kept.Any(x => x.Path.StartsWith("/etc/", StringComparison.Ordinal)))
            kept.RemoveAll(x => x.Kind == "C" && x.Path == "/etc");
        return kept;
    }

    private static ContainerOpsException Invalid(string field, string message) =>
        new(ErrorKind.InvalidArgument, "InvalidParameter", message, null, field);

    /// <summary>Loopback registries may use plain HTTP, as Docker's default insecure range 127.0.0.0/8 allows; other
    /// registries only when the daemon lists them (<c>--insecure-registry</c>) or the request asks (<c>insecure=1</c>).</summary>
    private static RegistryOptions RegistryOptionsFor(HttpRequest req, ContainerManager m, string reference)
    {
        var insecure = new List<string>(m.Options.InsecureRegistries);
        if (Flag(req, "insecure") && Images.References.ImageReference.TryParse(reference, out var r) && r != null) insecure.Add(r.Domain);
        return RegistryOptionsFor(m, insecure);
    }

    /// <summary>The daemon's registry settings (insecure registries, certificates, credentials), for pulls it makes
    /// itself; <paramref name="pullSecrets"/> (a pod's, as Docker config documents) are tried before its own logins.</summary>
    internal static RegistryOptions RegistryOptionsFor(ContainerManager m, List<string>? insecure = null, IReadOnlyList<string>? pullSecrets = null) =>
        new RegistryOptions
        {
            Insecure = insecure ?? new List<string>(m.Options.InsecureRegistries),
            AllowInsecureLoopback = true,
            CertsDirectory = m.Options.RegistryCertsDirectory,
            Credentials = pullSecrets is { Count: > 0 } ? new PullSecretCredentialStore(pullSecrets, Credentials(m)) : Credentials(m),
        };

    private static DockerConfigCredentialStore Credentials(ContainerManager m) =>
        new(m.Options.DockerConfigDirectory is { } dir ? Path.Combine(dir, "config.json") : null);

    // ---------------- NDJSON progress ----------------

    /// <summary>Starts an NDJSON answer and runs <paramref name="work"/>, writing every frame it posts as one line;
    /// a failure becomes the last line (the status is already 200 by then, as with Docker). Docker clients get each
    /// line in dockerd's shape (a build's status lines as output, with <paramref name="statusAsStream"/>), and, as from
    /// dockerd, the answer starts with the first line: a failure before it (no such image or manifest) is an error
    /// status of its own.</summary>
    private static async Task Stream(HttpContext ctx, Func<Action<ProgressFrame>, CancellationToken, Task<ProgressFrame>> work, bool statusAsStream = false)
    {
        var docker = DockerSystemRoutes.IsDockerClient(ctx);
        var channel = Channel.CreateUnbounded<ProgressFrame>(new UnboundedChannelOptions { SingleReader = true });
        var ct = ctx.RequestAborted;
        var posted = 0;
        ContainerOpsException? beforeFirstLine = null;
        var task = Task.Run(async () =>
        {
            try { channel.Writer.TryWrite(await work(f => { Interlocked.Increment(ref posted); channel.Writer.TryWrite(f); }, ct)); }
            catch (ContainerOpsException e) when (docker && Volatile.Read(ref posted) == 0) { beforeFirstLine = e; }
            catch (ContainerOpsException e) { channel.Writer.TryWrite(new ProgressFrame { Error = e.Error }); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                channel.Writer.TryWrite(new ProgressFrame { Error = new ApiError { Kind = ErrorKind.InvalidArgument, Id = "OperationFailed", Message = e.Message } });
            }
            catch (Exception e)
            {
                channel.Writer.TryWrite(new ProgressFrame { Error = new ApiError { Kind = ErrorKind.Internal, Id = "Internal", Message = e.Message } });
            }
            finally { channel.Writer.TryComplete(); }
        }, CancellationToken.None);

        if (docker && !await channel.Reader.WaitToReadAsync(CancellationToken.None))
        {
            await task;
            if (beforeFirstLine != null) throw beforeFirstLine;
        }
        ctx.Response.ContentType = "application/x-ndjson";
        await ctx.Response.StartAsync(ct);
        await foreach (var frame in channel.Reader.ReadAllAsync(CancellationToken.None))
        {
            if (ct.IsCancellationRequested) continue; // drain until the work notices
            try
            {
                if (docker) await Json.WriteLineAsync(ctx.Response.Body, DockerJsonMessage.Of(frame, statusAsStream), J.DockerJsonMessage, ct);
                else await Json.WriteLineAsync(ctx.Response.Body, frame, J.ProgressFrame, ct);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException) { }
        }
        await task;
    }

    private static ProgressFrame Transfer(TransferProgress p) => new()
    {
        Id = p.Digest,
        Current = p.Current,
        Total = p.Total,
        Status = p.State switch
        {
            TransferState.Waiting => "Waiting",
            TransferState.Downloading => "Downloading",
            TransferState.Uploading => "Pushing",
            TransferState.Exists => "Already exists",
            TransferState.Mounted => "Mounted from another repository",
            TransferState.Resuming => "Resuming",
            TransferState.Done => "Done",
            _ => p.State.ToString(),
        },
    };

    // ---------------- build ----------------

    private static async Task Build(HttpContext ctx, ContainerManager m)
    {
        var req = ctx.Request;
        Dictionary<string, string> buildArgs = new();
        if (Str(req, "buildargs") is { } ba)
        {
            try { buildArgs = JsonSerializer.Deserialize(ba, J.DictionaryStringString) ?? new(); }
            catch (JsonException e) { throw Invalid("buildargs", "buildargs must be a JSON object of strings: " + e.Message); }
        }
        Dictionary<string, string> labels = new();
        if (Str(req, "labels") is { } lb)
        {
            try { labels = JsonSerializer.Deserialize(lb, J.DictionaryStringString) ?? new(); }
            catch (JsonException e) { throw Invalid("labels", "labels must be a JSON object of strings: " + e.Message); }
        }
        Dictionary<string, byte[]> secrets = new();
        if (req.Headers[ImageBuildRequest.SecretsHeader].ToString() is { Length: > 0 } sh)
        {
            try { secrets = BuildSecretsHeader.Decode(sh); }
            catch (Exception e) when (e is FormatException or JsonException) { throw Invalid("secrets", $"the {ImageBuildRequest.SecretsHeader} header is not base64 of a JSON object of base64 values"); }
        }
        var tags = Strs(req, "t");
        var dockerfile = Str(req, "dockerfile");
        if (dockerfile != null && (Path.IsPathRooted(dockerfile) || dockerfile.Split('/').Contains("..")))
            throw Invalid("dockerfile", $"dockerfile '{dockerfile}' must be a path inside the build context");

        // The context arrives as a tar: unpack it into a private directory under the image root, then build from there.
        var docker = DockerSystemRoutes.IsDockerClient(ctx);
        var contextDir = Path.Combine(m.Options.Root, "images", "build-contexts", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(contextDir);
        try
        {
            await Task.Run(() => UnpackContext(req.Body, contextDir), ctx.RequestAborted);
            await Stream(ctx, async (post, ct) =>
            {
                var request = new BuildRequest
                {
                    ContextDir = contextDir,
                    Dockerfile = dockerfile,
                    Tags = tags,
                    Target = Str(req, "target"),
                    BuildArgs = buildArgs,
                    Labels = labels,
                    NoCache = Flag(req, "nocache"),
                    Secrets = secrets,
                    Allow = Strs(req, "allow"),
                    ShimPath = m.Options.EffectiveShimPath,
                    RuntimeStateRoot = Path.Combine(m.Options.RunRoot, "build-runtime"),
                    CgroupParent = m.Options.CgroupParent + "-build",
                };
                // `docker build -q`: a Docker client is sent the image id alone, as dockerd sends it.
                var quiet = Flag(req, "q") && docker;
                var progress = new CallbackProgress<BuildProgress>(p =>
                {
                    if (p.Kind != BuildProgressKind.Done && !quiet) post(Frame(p)); // the final frame says it
                });
                static ProgressFrame Frame(BuildProgress p) => new()
                {
                    Step = p.Step > 0 ? p.Step : null,
                    TotalSteps = p.TotalSteps > 0 ? p.TotalSteps : null,
                    Status = p.Kind == BuildProgressKind.Output ? null : p.Message,
                    Stream = p.Kind == BuildProgressKind.Output ? p.Message : null,
                };
                var image = await m.ImageEngine.BuildAsync(request, progress, ct);
                if (quiet) return new ProgressFrame { ImageId = image.Id, Tags = image.RepoTags, Digest = image.Digest, Stream = image.Id + "\n" };
                if (!docker) return new ProgressFrame { ImageId = image.Id, Tags = image.RepoTags, Digest = image.Digest, Status = "Successfully built " + image.Id };
                // dockerd's ending: the id in aux (for --iidfile), then the short id and each tag.
                post(new ProgressFrame { Aux = new DockerAux { ID = image.Id } });
                post(new ProgressFrame { Status = "Successfully built " + image.Id["sha256:".Length..][..12] });
                foreach (var t in image.RepoTags.SkipLast(1)) post(new ProgressFrame { Status = "Successfully tagged " + t });
                return new ProgressFrame
                {
                    ImageId = image.Id, Tags = image.RepoTags, Digest = image.Digest,
                    Status = image.RepoTags.Count > 0 ? "Successfully tagged " + image.RepoTags[^1] : null,
                };
            }, statusAsStream: docker);
        }
        finally
        {
            try { Directory.Delete(contextDir, true); } catch (IOException) { }
        }
    }

    /// <summary>Unpacks a build context tar (regular files, directories and symlinks; nothing outside the directory).</summary>
    private static void UnpackContext(Stream body, string dir)
    {
        using var tar = new TarReader(body);
        var root = Path.GetFullPath(dir) + "/";
        while (tar.GetNextEntry() is { } e)
        {
            var name = e.Name.TrimStart('/');
            if (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
            if (name.Length == 0 || name == ".") continue;
            var path = Path.GetFullPath(Path.Combine(dir, name));
            if (!path.StartsWith(root, StringComparison.Ordinal) && path + "/" != root)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBuildContext", $"build context entry '{e.Name}' leaves the context", e.Name);
            // Parents must be real directories inside the context (an earlier symlink must not redirect later entries),
            // and a later entry replaces an earlier one rather than writing through a link it made.
            if (BelowLink(path, root))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBuildContext", $"build context entry '{e.Name}' lies below a symbolic link", e.Name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var existing = new FileInfo(path);
            if (existing.LinkTarget != null || (existing.Exists && e.EntryType != TarEntryType.Directory)) File.Delete(path);
            var mode = (UnixFileMode)((int)e.Mode & 0xFFF);
            switch (e.EntryType)
            {
                case TarEntryType.Directory:
                    Directory.CreateDirectory(path);
                    File.SetUnixFileMode(path, mode | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    using (var f = new FileStream(path, FileMode.Create, FileAccess.Write))
                        e.DataStream?.CopyTo(f);
                    File.SetUnixFileMode(path, mode);
                    File.SetLastWriteTimeUtc(path, e.ModificationTime.UtcDateTime);
                    break;
                case TarEntryType.SymbolicLink:
                    File.CreateSymbolicLink(path, e.LinkName);
                    break;
                case TarEntryType.HardLink:
                    var target = Path.GetFullPath(Path.Combine(dir, e.LinkName.TrimStart('/')));
                    if (!target.StartsWith(root, StringComparison.Ordinal) || BelowLink(target, root) || !File.Exists(target) || new FileInfo(target).LinkTarget != null)
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidBuildContext", $"build context hard link '{e.Name}' points outside", e.Name);
                    File.Copy(target, path, overwrite: true);
                    break;
                case TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes:
                    break;
                default:
                    break; // devices and fifos have no place in a build context
            }
        }
    }

    /// <summary>Whether a directory between <paramref name="root"/> and <paramref name="path"/> is a symbolic link.</summary>
    private static bool BelowLink(string path, string root)
    {
        for (var p = Path.GetDirectoryName(path)!; p.Length >= root.Length; p = Path.GetDirectoryName(p)!)
            if (new FileInfo(p).LinkTarget != null) return true;
        return false;
    }

    // ---------------- pull / push / login ----------------

    private static async Task Pull(HttpContext ctx, ContainerManager m)
    {
        var req = ctx.Request;
        if (Str(req, "fromSrc") is { } source)
        {
            await Import(ctx, m, source);
            return;
        }
        var from = Str(req, "fromImage") ?? throw Invalid("fromImage", "fromImage (a pull) or fromSrc (an import) is required");
        if (Str(req, "tag") is { } tag && !from.Contains('@') && from.LastIndexOf(':') <= from.LastIndexOf('/')) from += (tag.StartsWith("sha256:") ? "@" : ":") + tag;
        var options = RegistryOptionsFor(req, m, from);
        if (DockerSystemRoutes.IsDockerClient(ctx))
        {
            await Stream(ctx, async (post, ct) => await DockerPull(m, from, options, post, ct));
            return;
        }
        await Stream(ctx, async (post, ct) =>
        {
            post(new ProgressFrame { Status = "Pulling from " + from });
            var image = await m.ImageEngine.PullAsync(from, options, new CallbackProgress<TransferProgress>(p => post(Transfer(p))), ct);
            return new ProgressFrame { ImageId = image.Id, Digest = image.Digest, Tags = image.RepoTags, Status = "Downloaded " + from };
        });
    }

    /// <summary>A pull told as dockerd tells it: "TAG: Pulling from PATH", the layers, "Digest: …" and what changed.</summary>
    private static async Task<ProgressFrame> DockerPull(ContainerManager m, string from, RegistryOptions options, Action<ProgressFrame> post, CancellationToken ct)
    {
        var name = ImageReference.Parse(from, "fromImage");
        // Said once the manifest is in (before the first layer line, or after a pull that had none), as dockerd says it.
        var header = new ProgressFrame { Id = name.Tag ?? name.DigestValue, Status = "Pulling from " + name.Path, ProgressDetail = new DockerProgressDetail() };
        var headed = 0;
        void Head() { if (Interlocked.Exchange(ref headed, 1) == 0) post(header); }
        var layers = new DockerTransferProgress(f => { Head(); post(f); }, push: false);
        var pulled = await m.ImageEngine.PullImageAsync(from, options, layers, ct);
        Head();
        layers.PullComplete();
        post(new ProgressFrame { Status = "Digest: " + pulled.Digest });
        var shown = ImageNames.Familiar(name.ToString());
        return new ProgressFrame
        {
            ImageId = pulled.Image.Id, Digest = pulled.Image.Digest, Tags = pulled.Image.RepoTags,
            Status = pulled.UpToDate ? "Status: Image is up to date for " + shown : "Status: Downloaded newer image for " + shown,
        };
    }

    /// <summary>`docker import`: POST /images/create?fromSrc=- with a root filesystem tarball as the body, named by
    /// repo[:tag], with `changes` (Dockerfile instructions) applied to its config. Answered as dockerd does, with one
    /// progress line whose status is the new image's id.</summary>
    private static async Task Import(HttpContext ctx, ContainerManager m, string source)
    {
        var req = ctx.Request;
        if (source != "-")
            throw Invalid("fromSrc", $"fromSrc '{source}': importing from a URL is not supported; download the tarball and send it as the body with fromSrc=-");
        if (Str(req, "platform") is { } platform && !(platform is "linux" || platform.StartsWith("linux/amd64", StringComparison.Ordinal)))
            throw Invalid("platform", $"platform '{platform}' is not supported: images are imported for linux/amd64");
        var repo = Str(req, "repo");
        if (repo != null && Str(req, "tag") is { } tag) repo += ":" + tag;
        var loaded = await m.Images.ImportRootfsAsync(req.Body, repo, Strs(req, "changes"), ctx.RequestAborted, Str(req, "message"));
        var id = loaded.Images.Single().Id;
        ctx.Response.ContentType = "application/json";
        await Json.WriteLineAsync(ctx.Response.Body, new ProgressFrame { Status = id, ImageId = id }, J.ProgressFrame);
    }

    private static async Task Push(HttpContext ctx, ContainerManager m)
    {
        var req = ctx.Request;
        var name = Str(req, "name") ?? throw Invalid("name", "name is required");
        if (Str(req, "tag") is { } tag) name += ":" + tag;
        var target = Str(req, "target");
        var options = RegistryOptionsFor(req, m, target ?? name);
        var docker = DockerSystemRoutes.IsDockerClient(ctx);
        await Stream(ctx, async (post, ct) =>
        {
            var to = ImageReference.Parse(target ?? name, target != null ? "target" : "name");
            if (!docker)
            {
                var id = m.Images.Inspect(name);
                post(new ProgressFrame { Status = "The push refers to " + (target ?? name) });
                await m.ImageEngine.PushAsync(name, target, options, new CallbackProgress<TransferProgress>(p => post(Transfer(p))), ct);
                return new ProgressFrame { ImageId = id.Id, Digest = id.Digest, Tags = [target ?? name], Status = "Pushed " + (target ?? name) };
            }
            // As dockerd tells it: the repository, each layer, then "TAG: digest: … size: …" with the same in aux.
            post(new ProgressFrame { Status = $"The push refers to repository [{to.Repository}]" });
            try { m.Images.Inspect(name); }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound)
            {
                throw new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", "An image does not exist locally with the tag: " + ImageNames.Familiar(to.Repository), name, inner: e);
            }
            var pushed = await m.ImageEngine.PushAsync(name, target, options, new DockerTransferProgress(post, push: true), ct);
            var tag = to.Tag ?? to.DigestValue;
            post(new ProgressFrame { Status = $"{tag}: digest: {pushed.Digest} size: {pushed.Size}" });
            return new ProgressFrame
            {
                Digest = pushed.Digest, Tags = [to.ToString()], ProgressDetail = new DockerProgressDetail(),
                Aux = new DockerAux { Tag = tag, Digest = pushed.Digest, Size = pushed.Size },
            };
        });
    }

    private static async Task<IResult> Login(HttpContext ctx, ContainerManager m)
    {
        var body = await Json.ReadAsync(ctx.Request, J.RegistryLoginRequest, "login request");
        if (body.ServerAddress.Length == 0) throw Invalid("ServerAddress", "a registry is required");
        if (body.Username.Length == 0) throw Invalid("Username", "a user name is required");
        var server = RegistryHosts.Normalize(body.ServerAddress.Replace("https://", "").Replace("http://", "").TrimEnd('/'));
        var trial = new InMemoryCredentialStore();
        trial.Store(server, new RegistryCredential(body.Username, body.Password));
        var insecure = new List<string>(m.Options.InsecureRegistries);
        if (body.Insecure || Flag(ctx.Request, "insecure")) insecure.Add(server);
        using (var client = new RegistryClient(server, new RegistryOptions { Insecure = insecure, AllowInsecureLoopback = true, CertsDirectory = m.Options.RegistryCertsDirectory, Credentials = trial }))
            await client.CheckLoginAsync(ctx.RequestAborted);
        Credentials(m).Store(server, new RegistryCredential(body.Username, body.Password));
        return Json.Ok(new RegistryLoginResponse { Status = "Login Succeeded", ServerAddress = server, Username = body.Username }, J.RegistryLoginResponse);
    }

    // ---------------- save ----------------

    private static async Task Save(HttpContext ctx, ContainerManager m)
    {
        var req = ctx.Request;
        var names = req.Query["names"].SelectMany(n => (n ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (names.Count == 0) throw Invalid("names", "names is required");
        var format = Str(req, "format") ?? "docker";
        if (format is not ("docker" or "oci")) throw Invalid("format", $"unknown archive format '{format}' (docker or oci)");
        foreach (var n in names) m.Images.Inspect(n); // a missing image is a 404 before the archive starts
        ctx.Response.ContentType = "application/x-tar";
        await ctx.Response.StartAsync();
        await m.ImageEngine.SaveAsync(names, format == "oci", ctx.Response.Body, ctx.RequestAborted);
    }
}
