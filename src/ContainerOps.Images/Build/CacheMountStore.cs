using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Runtime.Native;

namespace ContainerOps.Images.Build;

/// <summary>
/// The directories of <c>RUN --mount=type=cache</c>, kept between builds under the image root
/// (<c>build-cache-mounts/&lt;sha256 of the id&gt;/&lt;n&gt;</c>). Each instance has a lock file taken with flock(2):
/// shared mounts hold it shared, locked mounts exclusively (a second build waits), and a private mount takes the first
/// instance nobody holds, making a new one when all are in use. The locks are the kernel's, so they end with the
/// process that held them.
/// </summary>
internal sealed partial class CacheMountStore(string root)
{
    private const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    public string Root { get; } = root;

    /// <summary>A cache instance in use: its directory, held until disposed.</summary>
    public sealed class Lease(string dir, int fd, bool created) : IDisposable
    {
        public string Dir { get; } = dir;
        /// <summary>Whether the directory was made for this lease (empty; to be seeded).</summary>
        public bool Created { get; } = created;
        private int _fd = fd;

        public void Dispose()
        {
            var fd = Interlocked.Exchange(ref _fd, -1);
            if (fd >= 0) Libc.close(fd);
        }
    }

    public static string KeyOf(string id) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..32];

    /// <summary>Takes an instance of the cache <paramref name="id"/>; a new one is made with the given mode and owner.</summary>
    public async Task<Lease> AcquireAsync(string id, CacheSharing sharing, int mode, int uid, int gid, CancellationToken ct)
    {
        var dir = Path.Combine(Root, KeyOf(id));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "id"), id);
        for (var n = 0; ; n++)
        {
            var fd = OpenLock(Path.Combine(dir, n + ".lock"));
            var op = sharing == CacheSharing.Shared ? LOCK_SH : LOCK_EX;
            if (flock(fd, op | LOCK_NB) != 0)
            {
                if (sharing == CacheSharing.Private) { Libc.close(fd); continue; }
                try
                {
                    // Shared or locked: wait for the holder (a locked mount, or the shared ones before a locked one).
                    while (flock(fd, op | LOCK_NB) != 0) await Task.Delay(100, ct);
                }
                catch { Libc.close(fd); throw; }
            }
            var data = Path.Combine(dir, n.ToString());
            var created = false;
            if (!Directory.Exists(data))
            {
                var tmp = data + ".new";
                if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
                Directory.CreateDirectory(tmp);
                Libc.fchownat(Libc.Fs.AT_FDCWD, tmp, (uint)uid, (uint)gid, Libc.Fs.AT_SYMLINK_NOFOLLOW);
                File.SetUnixFileMode(tmp, (UnixFileMode)(mode & 0xFFF));
                Directory.Move(tmp, data);
                created = true;
            }
            return new Lease(data, fd, created);
        }
    }

    /// <summary>Deletes every cache instance nobody holds. Returns how many went.</summary>
    public int Prune()
    {
        if (!Directory.Exists(Root)) return 0;
        var gone = 0;
        foreach (var dir in Directory.EnumerateDirectories(Root).ToList())
        {
            foreach (var lockFile in Directory.EnumerateFiles(dir, "*.lock").ToList())
            {
                var fd = OpenLock(lockFile);
                try
                {
                    if (flock(fd, LOCK_EX | LOCK_NB) != 0) continue;
                    var data = lockFile[..^".lock".Length];
                    if (Directory.Exists(data)) { Directory.Delete(data, recursive: true); gone++; }
                    File.Delete(lockFile);
                }
                finally { Libc.close(fd); }
            }
            if (!Directory.EnumerateFiles(dir, "*.lock").Any())
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        return gone;
    }

    private static int OpenLock(string path)
    {
        // Opened with open(2), not a FileStream: .NET takes a flock of its own on the files it opens.
        var fd = Libc.open(path, Libc.O_RDWR | Libc.Fs.O_CREAT | Libc.O_CLOEXEC, FileModes.Mode0600);
        if (fd < 0)
        {
            var e = Marshal.GetLastPInvokeError();
            throw new ContainerOpsException(ErrorKind.Internal, "CacheMountFailed", $"cache mount lock {path}: {Libc.StrError(e)}", path);
        }
        return fd;
    }
}
