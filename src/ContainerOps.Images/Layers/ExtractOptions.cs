namespace ContainerOps.Images.Layers;

/// <summary>Limits and policy for unpacking an untrusted layer.</summary>
public sealed class ExtractOptions
{
    /// <summary>Create block and character device nodes (other than overlay whiteouts). Off: a device entry fails the layer.</summary>
    public bool AllowDevices { get; init; }
    /// <summary>Upper bound for the sum of file sizes written.</summary>
    public long MaxTotalBytes { get; init; } = 64L << 30;
    public int MaxEntries { get; init; } = 2_000_000;
    public int MaxPathLength { get; init; } = 4096;
    public int MaxNameLength { get; init; } = 255;
    /// <summary>Apply owners from the archive (needs root); off: everything belongs to the caller.</summary>
    public bool ApplyOwners { get; init; } = true;

    public static ExtractOptions Default { get; } = new();
}

/// <summary>What an extraction produced: the digest of the uncompressed tar (the layer's diff ID) and sizes.</summary>
public sealed record ExtractResult(string DiffId, long TarSize, long ContentSize, int Entries);
