using System.Text.Json;
using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>Image verbs (images, import, load, tag, rmi) and inspect, which covers containers and images.</summary>
internal static class Images
{
    public static async Task<int> List(CliContext c, ParsedArgs a)
    {
        var images = await c.Client.ListImagesAsync(a.Flag("all"), c.Cancel);
        var noTrunc = a.Flag("no-trunc");
        string Id(string id) => noTrunc ? id : Human.ShortId(id);
        if (a.Flag("quiet"))
        {
            foreach (var id in images.Select(i => Id(i.Id)).Distinct()) c.Out.WriteLine(id);
            return 0;
        }
        var now = DateTimeOffset.UtcNow;
        var rows = new List<IReadOnlyList<string>>();
        foreach (var image in images)
        {
            var tags = image.RepoTags.Count > 0 ? image.RepoTags : new List<string> { "<none>:<none>" };
            foreach (var tag in tags)
            {
                var (repo, t) = SplitTag(Output.FamiliarName(tag));
                rows.Add(new[] { repo, t, Id(image.Id), Human.Ago(image.Created, now), Human.Size(image.Size) });
            }
        }
        c.Out.Write(Table.Render(new[] { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" }, rows));
        return 0;
    }

    /// <summary>"registry:5000/app:1.0" → ("registry:5000/app", "1.0"): the tag follows the last colon after the last slash.</summary>
    internal static (string Repository, string Tag) SplitTag(string reference)
    {
        var at = reference.IndexOf('@');
        if (at >= 0) return (reference[..at], "<none>");
        var slash = reference.LastIndexOf('/');
        var colon = reference.LastIndexOf(':');
        return colon > slash ? (reference[..colon], reference[(colon + 1)..]) : (reference, "latest");
    }

    public static async Task<int> Import(CliContext c, ParsedArgs a)
    {
        var source = a.Positionals[0];
        var reference = a.Positionals.Count > 1 ? a.Positionals[1] : null;
        await using var input = OpenInput(source);
        var result = await c.Client.ImportImageAsync(input, reference, a.Values("change"), null, c.Cancel);
        foreach (var image in result.Images) c.Out.WriteLine(image.Id);
        return 0;
    }

    public static async Task<int> Load(CliContext c, ParsedArgs a)
    {
        var source = a.Value("input") ?? "-";
        if (source == "-" && !Console.IsInputRedirected)
            throw new UsageException("requested load from stdin, but stdin is empty (use -i FILE or a redirect)");
        await using var input = OpenInput(source);
        var result = await c.Client.LoadImageAsync(input, null, c.Cancel);
        foreach (var image in result.Images)
        {
            if (image.RepoTags.Count == 0) c.Out.WriteLine($"Loaded image ID: {image.Id}");
            foreach (var tag in image.RepoTags) c.Out.WriteLine($"Loaded image: {Output.FamiliarName(tag)}");
        }
        return 0;
    }

    private static Stream OpenInput(string source)
    {
        if (source == "-") return ContainerOps.Core.IO.StandardStreams.Open(0, FileAccess.Read);
        try { return new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot open {source}: {e.Message}");
        }
    }

    public static async Task<int> Tag(CliContext c, ParsedArgs a)
    {
        await c.Client.TagImageAsync(a.Positionals[0], a.Positionals[1], c.Cancel);
        return 0;
    }

    public static async Task<int> Remove(CliContext c, ParsedArgs a)
    {
        var status = 0;
        foreach (var name in a.Positionals)
        {
            try
            {
                var result = await c.Client.RemoveImageAsync(name, a.Flag("force"), c.Cancel);
                foreach (var u in result.Untagged) c.Out.WriteLine($"Untagged: {Output.FamiliarName(u)}");
                foreach (var d in result.Deleted) c.Out.WriteLine($"Deleted: {d}");
            }
            catch (ContainerOpsException e)
            {
                c.Out.Flush();
                c.Err.WriteLine($"containerops: {e.Error.Message}");
                status = e.CliExitCode;
            }
        }
        return status;
    }

    /// <summary>A JSON array of what each name denotes: a container, else an image (or as <c>--type</c> says), like docker inspect.</summary>
    public static async Task<int> Inspect(CliContext c, ParsedArgs a)
    {
        var type = a.Value("type");
        if (type is not (null or "container" or "image")) throw new UsageException($"\"{type}\" is not a valid value for --type (container or image)");
        var client = c.Client;
        var status = 0;
        var errors = new List<string>();
        c.Out.Flush();
        using (var w = Output.JsonWriter(c.Out.BaseStream, indented: true))
        {
            w.WriteStartArray();
            foreach (var name in a.Positionals)
            {
                try
                {
                    if (type != "image")
                    {
                        try
                        {
                            var details = await client.InspectContainerAsync(name, c.Cancel);
                            JsonSerializer.Serialize(w, details, ApiJsonContext.Default.ContainerDetails);
                            continue;
                        }
                        catch (ContainerOpsException e) when (type is null && e.Error.Kind == ErrorKind.NotFound) { }
                    }
                    var image = await client.InspectImageAsync(name, c.Cancel);
                    JsonSerializer.Serialize(w, image, ApiJsonContext.Default.ImageDetails);
                }
                catch (ContainerOpsException e)
                {
                    errors.Add(type is null && e.Error.Kind == ErrorKind.NotFound ? $"no such object: {name}" : e.Error.Message);
                    status = e.CliExitCode;
                }
            }
            w.WriteEndArray();
        }
        c.Out.BaseStream.WriteByte((byte)'\n');
        c.Out.BaseStream.Flush();
        foreach (var e in errors) c.Err.WriteLine($"containerops: {e}");
        return status;
    }
}
