namespace ContainerOps.Core.Api;

public sealed class ImageSummary
{
    /// <summary>sha256:… of the image config (Docker's image ID).</summary>
    public string Id { get; set; } = "";
    /// <summary>sha256:… of the manifest.</summary>
    public string Digest { get; set; } = "";
    public List<string> RepoTags { get; set; } = new();
    /// <summary>repo@sha256:… for each repository the image was pulled from or pushed to.</summary>
    public List<string> RepoDigests { get; set; } = new();
    [System.Text.Json.Serialization.JsonConverter(typeof(UnixTimeConverter))]
    public DateTimeOffset Created { get; set; }
    /// <summary>Sum of uncompressed layer sizes, bytes.</summary>
    public long Size { get; set; }
    public int Containers { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
}

public sealed class ImageDetails
{
    public string Id { get; set; } = "";
    public string Digest { get; set; } = "";
    public List<string> RepoTags { get; set; } = new();
    /// <summary>repo@sha256:… for each repository the image was pulled from or pushed to.</summary>
    public List<string> RepoDigests { get; set; } = new();
    public DateTimeOffset Created { get; set; }
    public string Architecture { get; set; } = "amd64";
    public string Os { get; set; } = "linux";
    public long Size { get; set; }
    public string? Author { get; set; }
    public string? Comment { get; set; }
    public ImageRunConfig Config { get; set; } = new();
    /// <summary>Layer diff IDs (sha256 of uncompressed layer tars), base first.</summary>
    public List<string> Layers { get; set; } = new();
    /// <summary>Docker's place for the same diff IDs.</summary>
    public ImageRootFS RootFS => new() { Layers = Layers };
}

public sealed class ImageRootFS
{
    public string Type { get; set; } = "layers";
    public List<string> Layers { get; set; } = new();
}

/// <summary>The OCI image config's "config" object: what a container from this image runs by default.</summary>
public sealed class ImageRunConfig
{
    public string? User { get; set; }
    public List<string> Env { get; set; } = new();
    public List<string>? Entrypoint { get; set; }
    public List<string>? Cmd { get; set; }
    public string? WorkingDir { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
    public string? StopSignal { get; set; }
    public Dictionary<string, object>? ExposedPorts { get; set; }
    public Dictionary<string, object>? Volumes { get; set; }
    public HealthConfig? Healthcheck { get; set; }
    /// <summary>ONBUILD triggers, run by a build FROM this image.</summary>
    public List<string>? OnBuild { get; set; }
    /// <summary>SHELL: what runs the shell forms of RUN, CMD, ENTRYPOINT and CMD-SHELL health checks.</summary>
    public List<string>? Shell { get; set; }
    /// <summary>Windows images' flag, kept as the image has it.</summary>
    public bool? ArgsEscaped { get; set; }
}

/// <summary>Result of import/load: the images that arrived and the references that now point at them.</summary>
public sealed class ImageLoadResponse
{
    public List<ImageSummary> Images { get; set; } = new();
}

public sealed class ImageRemoveResponse
{
    public List<string> Untagged { get; set; } = new();
    public List<string> Deleted { get; set; } = new();
}

/// <summary>One item of `DELETE /images/{name}` as the Docker Engine API answers it: a name untagged, or an image deleted.</summary>
public sealed class DockerImageDeleteItem
{
    public string? Untagged { get; set; }
    public string? Deleted { get; set; }

    /// <summary>Docker's list: the names untagged (as Docker shows them), then the images deleted.</summary>
    public static List<DockerImageDeleteItem> From(ImageRemoveResponse removed) =>
        [.. removed.Untagged.Select(n => new DockerImageDeleteItem { Untagged = ImageNames.Familiar(n) }),
         .. removed.Deleted.Select(id => new DockerImageDeleteItem { Deleted = id })];
}
