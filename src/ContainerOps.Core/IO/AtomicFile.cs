using System.Runtime.InteropServices;
using System.Text;

namespace ContainerOps.Core.IO;

/// <summary>
/// Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it over the
/// target, then fsync the directory when the name is new. A reader sees the old content or the new one, never a torn
/// file. Every piece of state the daemon and the stores keep on disk goes through here.
/// </summary>
public static partial class AtomicFile
{
    /// <param name="durable">false for state that does not outlive a reboot (the runtime's run root): the rename is
    /// still atomic against any process crash, only the fsyncs that guard against power loss are skipped.</param>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> content, bool durable = true)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Environment.ProcessId + "." + Environment.CurrentManagedThreadId + ".tmp");
        var replacing = durable && File.Exists(path);
        try
        {
            // A plain handle, no FileStream: its 4 KB buffer is one more allocation for a write that is done in one call.
            // CreateNew, not Create: Create truncates, and on ext4 a truncated file is written back when it is closed
            // (the auto_da_alloc heuristic), a second trip to the disk beside the fsync, or the only one where none is
            // asked for. The name is this process's and thread's, so one that exists is a crashed writer's leftover.
            File.Delete(tmp);
            using (var handle = File.OpenHandle(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
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
        // A rename over an existing name needs no sync of the directory: after a crash it holds the old file or the new
        // one, both whole. A new name is made durable.
        if (durable && !replacing) SyncDirectory(dir);
    }

    public static void WriteAllText(string path, string content, bool durable = true) => WriteAllBytes(path, Encoding.UTF8.GetBytes(content), durable);

    /// <summary>Makes a rename or create in <paramref name="dir"/> durable: fsync(2) of the directory itself. Through
    /// libc because .NET will not open a directory as a file (it throws UnauthorizedAccessException).</summary>
    public static void SyncDirectory(string dir) => SyncDescriptor(dir, "fsync", static fd => fsync(fd));

    /// <summary>syncfs(2): writes back everything not yet on disk in the file system that holds <paramref name="path"/>
    /// (a directory) and waits for it. One call for a whole tree of new files, where an fsync per file would commit
    /// the journal once per file; it also waits for other writers' data on that file system.</summary>
    public static void SyncFileSystem(string path) => SyncDescriptor(path, "syncfs", static fd => syncfs(fd));

    private static void SyncDescriptor(string dir, string what, Func<int, int> sync)
    {
        var fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw Error("open", dir);
        try
        {
            // EINVAL: a file system that has nothing to sync for directories (some virtual ones).
            if (sync(fd) != 0 && Marshal.GetLastPInvokeError() != EINVAL) throw Error(what, dir);
        }
        finally { close(fd); }
    }

    private static IOException Error(string call, string path)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000, EINVAL = 22;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial int fsync(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int syncfs(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int close(int fd);
}
