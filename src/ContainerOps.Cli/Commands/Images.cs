using System.Text.Json;
using System.Text.Json.Nodes;
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
        var digests = a.Flag("digests") || (a.Value("format") ?? "").Contains(".Digest", StringComparison.Ordinal);
        var rows = new List<JsonObject>();
        foreach (var image in images)
            foreach (var (repo, tag, digest) in ImageRows.Of(image, digests))
                rows.Add(new JsonObject
                {
                    ["Repository"] = repo, ["Tag"] = tag, ["Digest"] = digest, ["ID"] = Id(image.Id), ["CreatedSince"] = Human.Ago(image.Created, now),
                    ["CreatedAt"] = image.Created.ToString("yyyy-MM-dd HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture),
                    ["Size"] = Human.Size(image.Size), ["Containers"] = image.Containers,
                });
        var format = a.Value("format") is { Length: > 0 } f && f != "table" ? f
            : digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
            : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
        c.Out.Write(GoTemplate.FormatRows(format, rows, ImageHeaders));
        return 0;
    }

    private static readonly Dictionary<string, string> ImageHeaders = new()
    {
        ["Repository"] = "REPOSITORY", ["Tag"] = "TAG", ["ID"] = "IMAGE ID", ["CreatedSince"] = "CREATED", ["CreatedAt"] = "CREATED AT",
        ["Size"] = "SIZE", ["Digest"] = "DIGEST", ["Containers"] = "CONTAINERS",
    };

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

    /// <summary>`inspect --format`: the template run on each object's JSON, one line each; a name that is not found is an
    /// error on stderr and the others are still written, as docker does.</summary>
    private static async Task<int> InspectFormatted(CliContext c, ParsedArgs a, GoTemplate template, string? type)
    {
        var status = 0;
        foreach (var name in a.Positionals)
        {
            try
            {
                JsonNode? data = null;
                if (type != "image")
                {
                    try { data = JsonSerializer.SerializeToNode(await c.Client.InspectContainerAsync(name, c.Cancel), ApiJsonContext.Default.ContainerDetails); }
                    catch (ContainerOpsException e) when (type is null && e.Error.Kind == ErrorKind.NotFound) { }
                }
                data ??= JsonSerializer.SerializeToNode(await c.Client.InspectImageAsync(name, c.Cancel), ApiJsonContext.Default.ImageDetails);
                c.Out.WriteLine(template.Execute(data));
            }
            catch (ContainerOpsException e)
            {
                c.Out.Flush();
                c.Err.WriteLine($"containerops: {(type is null && e.Error.Kind == ErrorKind.NotFound ? $"no such object: {name}" : e.Error.Message)}");
                status = 1;
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
        if (a.Value("format") is { Length: > 0 } format && format != "json")
            return await InspectFormatted(c, a, GoTemplate.Parse(format), type);
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
                    status = 1; // as docker inspect: 1 when any name was not found
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
