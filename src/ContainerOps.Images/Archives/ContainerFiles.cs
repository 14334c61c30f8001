using System.Formats.Tar;
using ContainerOps.Core.Api;
using ContainerOps.Images.Build;
using ContainerOps.Images.Layers;

namespace ContainerOps.Images.Archives;

/// <summary>What `docker cp` asks of a path in a container (Docker's X-Docker-Container-Path-Stat): mode in Go's
/// os.FileMode bits, which the client tests for a directory.</summary>
public sealed record ContainerPathStat(string Name, long Size, uint Mode, DateTimeOffset MTime, string LinkTarget);

/// <summary>
/// Files in and out of a container's root filesystem as tar streams (`docker cp`, `/containers/{id}/archive`).
/// Container paths are resolved inside the root (symlinks in the image are followed there and never lead to the host);
/// archives coming in are extracted as untrusted layers are (no entry leaves the destination).
/// </summary>
public static class ContainerFiles
{
    private const uint GoModeDir = 1u << 31, GoModeSymlink = 1u << 27, GoModeNamedPipe = 1u << 25, GoModeSocket = 1u << 24,
        GoModeSetuid = 1u << 23, GoModeSetgid = 1u << 22, GoModeCharDevice = 1u << 21, GoModeSticky = 1u << 20, GoModeDevice = 1u << 26;

    private static ContainerOpsException NotFound(string containerPath) =>
        new(ErrorKind.NotFound, "ContainerPathNotFound", $"Could not find the file {containerPath} in container", containerPath, "path");

    private static string Resolve(string root, string containerPath)
    {
        using var rootfs = new RootfsWriter(root);
        return rootfs.HostPath(containerPath) ?? throw NotFound(containerPath);
    }

    private static string BaseName(string containerPath)
    {
        var name = Path.GetFileName(containerPath.TrimEnd('/'));
        return name.Length == 0 ? "/" : name;
    }

    /// <param name="name">The name to report (default: the path's last name); for a mount point reached through its source.</param>
    public static ContainerPathStat Stat(string root, string containerPath, string? name = null)
    {
        var hostPath = Resolve(root, containerPath);
        if (!LayerWriter.Native.LStat(hostPath, out var st)) throw NotFound(containerPath);
        var mode = st.Mode & 0x1FF;
        if ((st.Mode & 0x800) != 0) mode |= GoModeSetuid;
        if ((st.Mode & 0x400) != 0) mode |= GoModeSetgid;
        if ((st.Mode & 0x200) != 0) mode |= GoModeSticky;
        mode |= (st.Mode & 0xF000) switch
        {
            0x4000 => GoModeDir,
            0xA000 => GoModeSymlink,
            0x1000 => GoModeNamedPipe,
            0xC000 => GoModeSocket,
            0x2000 => GoModeDevice | GoModeCharDevice,
            0x6000 => GoModeDevice,
            _ => 0u,
        };
        return new ContainerPathStat(name ?? BaseName(containerPath), st.Size, mode, st.MTime, "");
    }

    /// <summary>Writes <paramref name="containerPath"/> (a file, or a directory with everything below it) as a tar whose
    /// entries start with the path's last name, as Docker's archive does.</summary>
    /// <param name="name">The name of the top entry (default: the path's last name); for a mount point reached through its source.</param>
    public static void WriteTar(string root, string containerPath, Stream output, string? name = null)
    {
        var hostPath = Resolve(root, containerPath);
        name ??= BaseName(containerPath) is "/" ? "." : BaseName(containerPath);
        using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        tar.WriteEntry(hostPath, name);
        if (Directory.Exists(hostPath)) WriteTree(tar, new DirectoryInfo(hostPath), name);
    }

    /// <summary>Everything below <paramref name="dir"/>; symlinks are written as links, never followed.</summary>
    private static void WriteTree(TarWriter tar, DirectoryInfo dir, string prefix)
    {
        foreach (var entry in dir.EnumerateFileSystemInfos())
        {
            var name = prefix + "/" + entry.Name;
            tar.WriteEntry(entry.FullName, name);
            if (entry is DirectoryInfo sub && entry.LinkTarget is null) WriteTree(tar, sub, name);
        }
    }

    /// <summary>Extracts a tar into the existing directory <paramref name="containerDir"/>. Owners are taken from the
    /// archive only with <paramref name="keepOwners"/> (docker cp -a); otherwise files belong to root, as Docker's.</summary>
    public static void Extract(string root, string containerDir, Stream tar, bool keepOwners, CancellationToken ct)
    {
        var hostDir = Resolve(root, containerDir);
        if (!Directory.Exists(hostDir))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "NotADirectory", $"extraction point {containerDir} is not a directory", containerDir, "path");
        LayerExtractor.Extract(tar, hostDir, new ExtractOptions { ApplyOwners = keepOwners }, ct);
    }
}
