using ContainerOps.Cluster.Node;
using ContainerOps.Runtime.Native;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// A pod's fsGroup on its volumes, as the kubelet sets volume ownership: every entry (symlinks not followed) is given
/// to the group; files get g+rw (g+r for read-only volumes), directories also g+x and set-gid, so what the containers
/// make later belongs to the group too. Symlinks keep their mode (chmod would change their target's).
/// </summary>
public static class PodVolumeOwnership
{
    private const UnixFileMode ReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
    private const UnixFileMode ReadOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead;
    private const UnixFileMode DirectoryBits = UnixFileMode.SetGroup | UnixFileMode.UserExecute | UnixFileMode.GroupExecute;

    public static void SetGroup(string root, long gid, bool readOnly, bool onRootMismatch)
    {
        if (gid is < 0 or > uint.MaxValue - 1) throw new ContainerConfigException($"fsGroup {gid} is not a group id");
        var mask = readOnly ? ReadOnly : ReadWrite;
        if (onRootMismatch && Libc.lstat(root, out var top) == 0 && top.Gid == gid && ((UnixFileMode)(top.Mode & 0xFFF) & (mask | DirectoryBits)) == (mask | DirectoryBits))
            return;
        Walk(root, (uint)gid, mask);
    }

    private static void Walk(string path, uint gid, UnixFileMode mask)
    {
        if (Libc.fchownat(Libc.Fs.AT_FDCWD, path, uint.MaxValue /* owner unchanged */, gid, Libc.Fs.AT_SYMLINK_NOFOLLOW) != 0)
            throw new ContainerConfigException($"fsGroup: changing the group of {path}: {Libc.StrError(Libc.LastErrno)}");
        var info = new DirectoryInfo(path);
        if (info.LinkTarget is not null) return;
        if (!info.Exists)
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | mask);
            return;
        }
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | mask | DirectoryBits);
        foreach (var entry in Directory.EnumerateFileSystemEntries(path)) Walk(entry, gid, mask);
    }
}
