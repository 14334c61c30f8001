using ContainerOps.Core.Api;
using ContainerOps.Core.IO;

namespace ContainerOps.Images.Content;

/// <summary>
/// Blobs by digest in an OCI image layout (<c>oci-layout</c>, <c>blobs/sha256/&lt;hex&gt;</c>). A blob is written to a
/// temporary file, its sha256 checked, then renamed into place: a blob present under a name always has that digest.
/// </summary>
public sealed class ContentStore
{
    private readonly string _root;
    private readonly string _blobs;
    private readonly string _ingest;

    public ContentStore(string root)
    {
        _root = root;
        _blobs = Path.Combine(root, "blobs", "sha256");
        _ingest = Path.Combine(root, "ingest");
        Directory.CreateDirectory(_blobs);
        Directory.CreateDirectory(_ingest);
        var layout = Path.Combine(root, "oci-layout");
        if (!File.Exists(layout)) AtomicFile.WriteAllText(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    public string Root => _root;

    public string PathOf(string digest) => Path.Combine(_blobs, Digest.Hex(digest));

    public bool Exists(string digest) => File.Exists(PathOf(digest));

    public long SizeOf(string digest) => new FileInfo(PathOf(digest)).Length;

    public Stream Open(string digest)
    {
        try { return new FileStream(PathOf(digest), FileMode.Open, FileAccess.Read, FileShare.Read, 81920); }
        catch (FileNotFoundException e)
        {
            throw new ContainerOpsException(ErrorKind.NotFound, "BlobNotFound", $"blob {digest} is not in the content store", digest, inner: e);
        }
    }

    public byte[] ReadAll(string digest)
    {
        using var s = Open(digest);
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    public bool Delete(string digest)
    {
        var p = PathOf(digest);
        if (!File.Exists(p)) return false;
        File.Delete(p);
        return true;
    }

    public IEnumerable<string> List() =>
        Directory.EnumerateFiles(_blobs).Select(Path.GetFileName).Where(n => Digest.IsHex(n!)).Select(n => Digest.Prefix + n);

    /// <summary>A temporary file inside the store (same file system, so a later rename is atomic).</summary>
    public string NewTempPath() => Path.Combine(_ingest, Guid.NewGuid().ToString("N"));

    /// <summary>Writes a blob from memory; returns its digest. With <paramref name="syncDirectory"/> false the caller
    /// makes the new name durable with one <see cref="SyncBlobs"/> after a batch of writes and commits (the bytes
    /// themselves are always on disk before the name appears).</summary>
    public string Write(ReadOnlySpan<byte> data, string? expected = null, bool syncDirectory = true)
    {
        var digest = Digest.Of(data);
        Verify(digest, expected);
        var path = PathOf(digest);
        if (File.Exists(path)) return digest;
        var tmp = StageBytes(data);
        try { File.Move(tmp, path, overwrite: true); }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        if (syncDirectory) SyncBlobs();
        return digest;
    }

    /// <summary>Writes bytes to a new temporary file in the ingest area and flushes them to disk; returns its path
    /// (for <see cref="Commit"/> under the bytes' digest, or to delete).</summary>
    public string StageBytes(ReadOnlySpan<byte> data)
    {
        var tmp = NewTempPath();
        try
        {
            using var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
            fs.Write(data);
            fs.Flush(flushToDisk: true);
            return tmp;
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Makes renames into the blob directory durable (one fsync of the directory).</summary>
    public void SyncBlobs() => AtomicFile.SyncDirectory(_blobs);

    /// <summary>Copies <paramref name="source"/> into a temporary file, hashing it; returns the temp path, digest and size.
    /// The caller commits it with <see cref="Commit"/> or deletes it.</summary>
    public (string TempPath, string Digest, long Size) Stage(Stream source, CancellationToken ct = default, long maxBytes = long.MaxValue)
    {
        var tmp = NewTempPath();
        try
        {
            using var hs = new HashingStream(source, leaveOpen: true);
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920))
            {
                var buf = new byte[81920];
                int n;
                while ((n = hs.Read(buf, 0, buf.Length)) > 0)
                {
                    if (hs.BytesRead > maxBytes)
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, "ArchiveTooLarge", $"input exceeds {maxBytes} bytes");
                    fs.Write(buf, 0, n);
                    ct.ThrowIfCancellationRequested();
                }
                fs.Flush(flushToDisk: true);
            }
            ct.ThrowIfCancellationRequested();
            return (tmp, hs.Digest, hs.BytesRead);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Moves a staged file (its bytes already flushed to disk) into place under <paramref name="digest"/> (which
    /// the caller computed while staging). Returns false when the blob was already present (the staged file is then
    /// discarded). With <paramref name="syncDirectory"/> false the caller calls <see cref="SyncBlobs"/> after the batch.</summary>
    public bool Commit(string tempPath, string digest, bool syncDirectory = true)
    {
        var path = PathOf(digest);
        if (File.Exists(path)) { TryDelete(tempPath); return false; }
        File.Move(tempPath, path);
        if (syncDirectory) SyncBlobs();
        return true;
    }

    public static void Verify(string actual, string? expected)
    {
        if (expected != null && !string.Equals(actual, expected, StringComparison.Ordinal))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "DigestMismatch",
                $"content digest {actual} does not match the expected {expected}", expected);
    }

    public static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Removes temporary files a crash left behind.</summary>
    public void CleanIngest()
    {
        foreach (var f in Directory.EnumerateFiles(_ingest)) TryDelete(f);
    }
}
