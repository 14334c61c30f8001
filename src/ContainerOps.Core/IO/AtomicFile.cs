using System.Text;

namespace ContainerOps.Core.IO;

/// <summary>
/// Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it over the
/// target, then fsync the directory. A reader sees the old content or the new one, never a torn file.
/// Every piece of state the daemon and the stores keep on disk goes through here.
/// </summary>
public static class AtomicFile
{
    /// <param name="durable">false for state that does not outlive a reboot (the runtime's run root): the rename is
    /// still atomic against any process crash, only the fsyncs that guard against power loss are skipped.</param>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> content, bool durable = true)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Environment.ProcessId + "." + Environment.CurrentManagedThreadId + ".tmp");
        try
        {
            // A plain handle, no FileStream: its 4 KB buffer is one more allocation for a write that is done in one call.
            using (var handle = File.OpenHandle(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(handle, content, 0);
                if (durable) RandomAccess.FlushToDisk(handle);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        if (durable) SyncDirectory(dir);
    }

    public static void WriteAllText(string path, string content) => WriteAllBytes(path, Encoding.UTF8.GetBytes(content));

    /// <summary>Makes a rename or create in <paramref name="dir"/> durable.</summary>
    public static void SyncDirectory(string dir)
    {
        try
        {
            using var handle = File.OpenHandle(dir, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.None);
            RandomAccess.FlushToDisk(handle);
        }
        catch (UnauthorizedAccessException) { }
        catch (IOException) { }
    }
}
