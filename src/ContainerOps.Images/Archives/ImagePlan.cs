namespace ContainerOps.Images.Archives;

/// <summary>An image about to be stored: its config bytes, layer files (base first) and the names to give it.</summary>
public sealed class ImagePlan
{
    public required byte[] Config { get; init; }
    /// <summary>Expected config digest when the archive names one (checked), else null.</summary>
    public string? ConfigDigest { get; init; }
    public required List<PlannedLayer> Layers { get; init; }
    public List<string> Names { get; init; } = new();
    /// <summary>The archive's own manifest (OCI layout), kept byte for byte so the manifest digest survives; null: build one.</summary>
    public byte[]? Manifest { get; init; }
    /// <summary>Config or manifest bytes already written and flushed to ingest files (digest → temp path), so that
    /// storing them is a rename.</summary>
    public Dictionary<string, string> Staged { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>A layer file in the ingest area (or already in the store), with the digest it must have.</summary>
public sealed record PlannedLayer(string Path, string Digest, long Size, string MediaType);
