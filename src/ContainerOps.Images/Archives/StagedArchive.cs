using System.Formats.Tar;
using ContainerOps.Core.Api;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;

namespace ContainerOps.Images.Archives;

/// <summary>
/// The files of an image archive (docker save or OCI layout tar, plain or gzip) copied into the content store's
/// ingest area, each hashed on the way. Names are normalised lexically; symlinks between entries are followed
/// by name (older `docker save` links identical layers). Disposing deletes whatever was not committed.
/// </summary>
public sealed class StagedArchive : IDisposable
{
    public sealed record StagedFile(string TempPath, string Digest, long Size);

    private readonly Dictionary<string, StagedFile> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _links = new(StringComparer.Ordinal);

    public static StagedArchive Read(Stream archive, ContentStore content, CancellationToken ct, long maxBytes = long.MaxValue)
    {
        var staged = new StagedArchive();
        try
        {
            using var plain = StreamSniffer.Decompressed(archive, out _);
            using var reader = new TarReader(plain, leaveOpen: true);
            long total = 0;
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                ct.ThrowIfCancellationRequested();
                var parts = LayerExtractor.Normalize(entry.Name, ExtractOptions.Default);
                if (parts.Length == 0) continue;
                var name = string.Join('/', parts);
                switch (entry.EntryType)
                {
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        var (tmp, digest, size) = content.Stage(entry.DataStream ?? Stream.Null, ct, maxBytes - total);
                        total += size;
                        if (size != entry.Length) { ContentStore.TryDelete(tmp); throw Corrupt($"archive is truncated inside '{entry.Name}'"); }
                        if (staged._files.Remove(name, out var old)) ContentStore.TryDelete(old.TempPath);
                        staged._files[name] = new StagedFile(tmp, digest, size);
                        break;
                    case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                        var target = entry.EntryType == TarEntryType.SymbolicLink && !entry.LinkName.StartsWith('/')
                            ? string.Join('/', parts[..^1].Append(entry.LinkName)) : entry.LinkName;
                        staged._links[name] = string.Join('/', LayerExtractor.Normalize(target, ExtractOptions.Default));
                        break;
                }
            }
            return staged;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException)
        {
            staged.Dispose();
            throw Corrupt("archive is truncated or corrupt: " + e.Message, e);
        }
        catch
        {
            staged.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => Find(name) != null;

    public StagedFile? Find(string name)
    {
        name = string.Join('/', LayerExtractor.Normalize(name, ExtractOptions.Default));
        for (var hops = 0; hops < 16; hops++)
        {
            if (_files.TryGetValue(name, out var f)) return f;
            if (!_links.TryGetValue(name, out var next)) return null;
            name = next;
        }
        return null;
    }

    public StagedFile Get(string name) => Find(name) ?? throw Corrupt($"archive has no file '{name}'");

    public byte[] ReadAll(string name) => File.ReadAllBytes(Get(name).TempPath);

    /// <summary>A file named by digest in an OCI layout (<c>blobs/sha256/&lt;hex&gt;</c>), checked against the digest.</summary>
    public StagedFile Blob(string digest)
    {
        var f = Get("blobs/sha256/" + Digest.Hex(digest));
        ContentStore.Verify(f.Digest, digest);
        return f;
    }

    public void Dispose()
    {
        foreach (var f in _files.Values) if (File.Exists(f.TempPath)) ContentStore.TryDelete(f.TempPath);
        _files.Clear();
    }

    internal static ContainerOpsException Corrupt(string message, Exception? inner = null) =>
        new(ErrorKind.InvalidArgument, "InvalidArchive", message, inner: inner);
}
