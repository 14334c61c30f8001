using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>build, pull, push, login, logout, save, export, commit, diff, history, and the prune / df verbs.</summary>
internal static class ImageOps
{
    // ---------------- build ----------------

    public static async Task<int> Build(CliContext c, ParsedArgs a)
    {
        c.CancelOnSignals();
        var context = Path.GetFullPath(a.Positionals[0]);
        if (!Directory.Exists(context)) throw new UsageException($"unable to prepare context: path \"{a.Positionals[0]}\" not found");
        var request = new ImageBuildRequest { Tags = a.Values("tag").ToList(), Target = a.Value("target"), NoCache = a.Flag("no-cache") };
        foreach (var arg in a.Values("build-arg"))
        {
            var eq = arg.IndexOf('=');
            if (eq > 0) request.BuildArgs[arg[..eq]] = arg[(eq + 1)..];
            else if (Environment.GetEnvironmentVariable(arg) is { } v) request.BuildArgs[arg] = v; // docker: a bare name takes the value from the environment
        }
        foreach (var spec in a.Values("secret"))
        {
            try { var (id, value) = ContainerOps.Client.BuildSecrets.Read(spec); request.Secrets[id] = value; }
            catch (ArgumentException e) { throw new UsageException("invalid --secret: " + e.Message); }
        }
        foreach (var allow in a.Values("allow"))
            request.Allow.AddRange(allow.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var quiet = a.Flag("quiet");
        string tarPath;
        try { (tarPath, request.Dockerfile) = await ContainerOps.Client.BuildContext.PackAsync(context, a.Value("file"), c.Cancel); }
        catch (FileNotFoundException e) { throw new UsageException("unable to prepare context: " + e.Message); }
        try
        {
            await using var input = File.OpenRead(tarPath);
            var progress = new Reporter<ProgressFrame>(f =>
            {
                if (quiet) return;
                if (f.Stream is { } text) { c.Out.Write(text.EndsWith('\n') ? text : text + "\n"); }
                else if (f.Status is { } s && f.ImageId is null) c.Out.WriteLine(s);
                c.Out.Flush();
            });
            ProgressFrame result;
            try { result = await c.Client.BuildImageAsync(input, request, progress, c.Cancel); }
            catch (ContainerOpsException e)
            {
                // As docker build: a build that fails exits 1 (125 is for the command line itself).
                c.Out.Flush();
                c.Err.WriteLine($"containerops: {e.Error.Message}");
                return 1;
            }
            if (quiet) c.Out.WriteLine(result.ImageId);
            else
            {
                c.Out.WriteLine($"Successfully built {Human.ShortId(result.ImageId!)}");
                foreach (var t in result.Tags ?? []) c.Out.WriteLine($"Successfully tagged {Output.FamiliarName(t)}");
            }
            return 0;
        }
        finally { try { File.Delete(tarPath); } catch (IOException) { } }
    }

    /// <summary>Reports on the calling thread (no synchronization context).</summary>
    private sealed class Reporter<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) { lock (this) report(value); }
    }

    // ---------------- pull / push ----------------

    /// <summary>One line per layer each time its state changes ("a3ed95caeb02: Downloading", "a3ed95caeb02: Pull complete").</summary>
    private static Reporter<ProgressFrame> LayerLines(CliContext c, bool quiet)
    {
        var last = new Dictionary<string, string>();
        return new Reporter<ProgressFrame>(f =>
        {
            if (quiet || f.ImageId != null) return;
            if (f.Id is null) { if (f.Status != null) c.Out.WriteLine(f.Status); c.Out.Flush(); return; }
            var status = f.Status ?? "";
            if (last.TryGetValue(f.Id, out var was) && was == status) return;
            last[f.Id] = status;
            var size = f.Total is > 0 ? $" {Human.Size(f.Total.Value)}" : "";
            c.Out.WriteLine($"{Human.ShortId(f.Id)}: {status}{(status is "Done" ? size : "")}");
            c.Out.Flush();
        });
    }

    public static async Task<int> Pull(CliContext c, ParsedArgs a)
    {
        c.CancelOnSignals();
        var reference = a.Positionals[0];
        var quiet = a.Flag("quiet");
        var result = await c.Client.PullImageAsync(reference, a.Flag("insecure"), LayerLines(c, quiet), c.Cancel);
        if (!quiet)
        {
            c.Out.WriteLine($"Digest: {result.Digest}");
            c.Out.WriteLine($"Status: Downloaded image for {Output.FamiliarName(reference)}");
        }
        c.Out.WriteLine(reference);
        return 0;
    }

    public static async Task<int> Push(CliContext c, ParsedArgs a)
    {
        c.CancelOnSignals();
        var reference = a.Positionals[0];
        var quiet = a.Flag("quiet");
        var result = await c.Client.PushImageAsync(reference, null, a.Flag("insecure"), LayerLines(c, quiet), c.Cancel);
        c.Out.WriteLine($"{Output.FamiliarName(reference)}: digest: {result.Digest}");
        return 0;
    }

    // ---------------- login / logout ----------------

    public static async Task<int> Login(CliContext c, ParsedArgs a)
    {
        var server = a.Positionals.Count > 0 ? a.Positionals[0] : "docker.io";
        var user = a.Value("username");
        string? password = a.Value("password");
        if (a.Flag("password-stdin"))
        {
            if (password != null) throw new UsageException("--password and --password-stdin are mutually exclusive");
            if (user is null) throw new UsageException("must provide --username with --password-stdin");
            password = (await c.In.ReadToEndAsync(c.Cancel)).TrimEnd('\n', '\r');
        }
        else if (password != null) c.Err.WriteLine("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        if (user is null)
        {
            c.Out.Write("Username: "); c.Out.Flush();
            user = c.In.ReadLine()?.Trim() ?? "";
        }
        if (password is null)
        {
            c.Out.Write("Password: "); c.Out.Flush();
            password = ReadSecret(c);
        }
        var result = await c.Client.LoginAsync(new RegistryLoginRequest { ServerAddress = server, Username = user, Password = password, Insecure = a.Flag("insecure") }, c.Cancel);
        c.Out.WriteLine(result.Status);
        return 0;
    }

    /// <summary>A line typed without echo (the terminal in raw mode for the while); a plain line when stdin is not a terminal.</summary>
    private static string ReadSecret(CliContext c)
    {
        var bytes = new List<byte>();
        using (var raw = ContainerOps.Client.Terminal.RawTerminal.Enter(0))
        {
            if (raw is null) return c.In.ReadLine() ?? "";
            Span<byte> one = stackalloc byte[1];
            while (!c.Cancel.IsCancellationRequested)
            {
                var n = ContainerOps.Client.Terminal.RawTerminal.Read(0, one);
                if (n < 0 || (n == 1 && one[0] is (byte)'\r' or (byte)'\n' or 4 /* Ctrl+D */)) break;
                if (n == 0) continue; // the read timed out: look at the cancellation, read again
                if (one[0] == 3) throw new OperationCanceledException(); // Ctrl+C: raw mode turns it into a byte
                if (one[0] is 0x7f or 0x08) { if (bytes.Count > 0) bytes.RemoveAt(bytes.Count - 1); continue; }
                bytes.Add(one[0]);
            }
        }
        c.Out.WriteLine();
        c.Out.Flush();
        return System.Text.Encoding.UTF8.GetString(bytes.ToArray());
    }

    public static async Task<int> Logout(CliContext c, ParsedArgs a)
    {
        var server = a.Positionals.Count > 0 ? a.Positionals[0] : "docker.io";
        var result = await c.Client.LogoutAsync(server, c.Cancel);
        c.Out.WriteLine(result.Status == "Not logged in" ? $"Not logged in to {result.ServerAddress}" : $"Removing login credentials for {result.ServerAddress}");
        return 0;
    }

    // ---------------- save / export ----------------

    private static Stream OpenOutput(CliContext c, string? path, string what)
    {
        if (path is null or "-")
        {
            if (!Console.IsOutputRedirected) throw new UsageException($"cowardly refusing to write {what} to a terminal (use -o FILE or a redirect)");
            c.Out.Flush();
            return ContainerOps.Core.IO.StandardStreams.Open(1);
        }
        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
    }

    /// <summary>Writes to a temporary file beside the target and renames it on success, so a failure leaves no half archive.</summary>
    private static async Task WriteTo(CliContext c, string? path, string what, Func<Stream, Task> write)
    {
        if (path is null or "-")
        {
            await using var s = OpenOutput(c, path, what);
            await write(s);
            return;
        }
        var tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            await using (var s = OpenOutput(c, tmp, what)) await write(s);
            File.Move(tmp, path, overwrite: true);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }

    public static async Task<int> Save(CliContext c, ParsedArgs a)
    {
        var format = a.Value("format") ?? "docker";
        if (format is not ("docker" or "oci")) throw new UsageException($"invalid --format \"{format}\": docker or oci");
        await WriteTo(c, a.Value("output"), "an archive", s => c.Client.SaveImagesAsync(a.Positionals, s, format, null, c.Cancel));
        return 0;
    }

    public static async Task<int> Export(CliContext c, ParsedArgs a)
    {
        await WriteTo(c, a.Value("output"), "a tar", s => c.Client.ExportContainerAsync(a.Positionals[0], s, null, c.Cancel));
        return 0;
    }

    // ---------------- commit / diff / history ----------------

    public static async Task<int> Commit(CliContext c, ParsedArgs a)
    {
        var image = await c.Client.CommitContainerAsync(new CommitRequest
        {
            Container = a.Positionals[0],
            Reference = a.Positionals.Count > 1 ? a.Positionals[1] : null,
            Author = a.Value("author"),
            Comment = a.Value("message"),
            Changes = a.Values("change").ToList(),
        }, c.Cancel);
        c.Out.WriteLine(image.Id);
        return 0;
    }

    public static async Task<int> Diff(CliContext c, ParsedArgs a)
    {
        foreach (var change in await c.Client.GetContainerChangesAsync(a.Positionals[0], c.Cancel))
            c.Out.WriteLine($"{change.Kind} {change.Path}");
        return 0;
    }

    public static async Task<int> History(CliContext c, ParsedArgs a)
    {
        var items = await c.Client.GetImageHistoryAsync(a.Positionals[0], c.Cancel);
        var noTrunc = a.Flag("no-trunc");
        string Id(string id) => id == "<missing>" || noTrunc ? id : Human.ShortId(id);
        if (a.Flag("quiet"))
        {
            foreach (var h in items) c.Out.WriteLine(Id(h.Id));
            return 0;
        }
        var now = DateTimeOffset.UtcNow;
        var rows = items.Select(h => (IReadOnlyList<string>)new[]
        {
            Id(h.Id),
            h.Created is { } t ? Human.Ago(t, now) : "N/A",
            noTrunc ? h.CreatedBy : Human.Truncate(h.CreatedBy.Replace('\n', ' '), 45),
            Human.Size(h.Size),
            h.Comment,
        });
        c.Out.Write(Table.Render(new[] { "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT" }, rows));
        return 0;
    }

    // ---------------- prune / df ----------------

    private static bool Confirm(CliContext c, ParsedArgs a, string warning)
    {
        if (a.Flag("force")) return true;
        c.Out.Write($"WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
        c.Out.Flush();
        var answer = c.In.ReadLine()?.Trim();
        return answer is "y" or "Y" or "yes";
    }

    private static void PrintPrune(CliContext c, PruneResponse r, string what)
    {
        if (r.Untagged.Count + r.Deleted.Count > 0) c.Out.WriteLine($"Deleted {what}:");
        foreach (var u in r.Untagged) c.Out.WriteLine($"untagged: {Output.FamiliarName(u)}");
        foreach (var d in r.Deleted) c.Out.WriteLine(what == "Containers" ? d : $"deleted: {d}");
        if (r.Untagged.Count + r.Deleted.Count > 0) c.Out.WriteLine();
    }

    public static async Task<int> ImagePrune(CliContext c, ParsedArgs a)
    {
        var all = a.Flag("all");
        if (!Confirm(c, a, all ? "This will remove all images without at least one container associated to them." : "This will remove all dangling images.")) return 0;
        var r = await c.Client.PruneImagesAsync(all, c.Cancel);
        PrintPrune(c, r, "Images");
        c.Out.WriteLine($"Total reclaimed space: {Human.Size(r.SpaceReclaimed)}");
        return 0;
    }

    public static async Task<int> ContainerPrune(CliContext c, ParsedArgs a)
    {
        if (!Confirm(c, a, "This will remove all stopped containers.")) return 0;
        var r = await c.Client.PruneContainersAsync(c.Cancel);
        PrintPrune(c, r, "Containers");
        c.Out.WriteLine($"Total reclaimed space: {Human.Size(r.SpaceReclaimed)}");
        return 0;
    }

    public static async Task<int> SystemPrune(CliContext c, ParsedArgs a)
    {
        var all = a.Flag("all");
        var volumes = a.Flag("volumes");
        if (!Confirm(c, a, "This will remove:\n  - all stopped containers\n" + (volumes ? "  - all anonymous volumes not used by at least one container\n" : "")
            + "  - " + (all ? "all images without at least one container associated to them" : "all dangling images") + "\n  - the build cache")) return 0;
        var containers = await c.Client.PruneContainersAsync(c.Cancel);
        PrintPrune(c, containers, "Containers");
        long volumeSpace = 0;
        if (volumes)
        {
            var v = await c.Client.PruneVolumesAsync(ct: c.Cancel);
            Volumes.PrintPrune(c, v);
            volumeSpace = v.SpaceReclaimed;
        }
        var images = await c.Client.PruneImagesAsync(all, c.Cancel);
        PrintPrune(c, images, "Images");
        var cache = await c.Client.PruneBuildCacheAsync(c.Cancel);
        c.Out.WriteLine($"Total reclaimed space: {Human.Size(containers.SpaceReclaimed + volumeSpace + images.SpaceReclaimed + cache.SpaceReclaimed)}");
        return 0;
    }

    public static async Task<int> SystemDf(CliContext c, ParsedArgs a)
    {
        var df = await c.Client.GetDiskUsageAsync(a.Flag("verbose"), c.Cancel);
        var rows = df.Rows.Select(r => (IReadOnlyList<string>)new[]
        {
            r.Type, r.Total.ToString(), r.Active.ToString(), Human.Size(r.Size),
            Human.Size(r.Reclaimable) + (r.Size > 0 ? $" ({r.Reclaimable * 100 / r.Size}%)" : ""),
        });
        c.Out.Write(Table.Render(new[] { "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE" }, rows));
        if (df.Volumes is { } volumes)
        {
            c.Out.WriteLine();
            c.Out.WriteLine("Local Volumes space usage:");
            c.Out.WriteLine();
            c.Out.Write(Table.Render(["VOLUME NAME", "LINKS", "SIZE"], volumes.Select(v => (IReadOnlyList<string>)
                [v.Name, (v.UsageData?.RefCount ?? 0).ToString(), Human.Size(Math.Max(0, v.UsageData?.Size ?? 0))]).ToList()));
        }
        return 0;
    }
}
