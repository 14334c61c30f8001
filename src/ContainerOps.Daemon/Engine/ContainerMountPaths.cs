using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Daemon.Engine;

/// <summary>Where `docker cp` finds a container path that lies in one of its mounts: the mount's host source (a bind's
/// directory, a volume's data) becomes the root the rest of the path is resolved in, so links in it cannot lead out.</summary>
public sealed record MountedPath(string Root, string Path, string Name, bool ReadOnly);

public static class ContainerMountPaths
{
    /// <summary>The mount <paramref name="containerPath"/> lies in (the deepest one), or null for the root filesystem.</summary>
    public static MountedPath? Resolve(IEnumerable<ContainerMount> mounts, string containerPath, Func<string, string> volumeData, string container)
    {
        var path = ContainerPaths.Clean(containerPath);
        ContainerMount? best = null;
        foreach (var m in mounts)
        {
            var dest = ContainerPaths.Clean(m.Destination);
            if ((path == dest || path.StartsWith(dest == "/" ? "/" : dest + "/", StringComparison.Ordinal)) && (best is null || dest.Length > ContainerPaths.Clean(best.Destination).Length))
                best = m;
        }
        if (best is null) return null;
        if (best.Type == "tmpfs")
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "PathOnTmpfs",
                $"{containerPath} is on the tmpfs mounted at {best.Destination} in container {container}: copying from or to a tmpfs is not supported", container, "path");
        var root = best.Type == "volume" ? volumeData(best.Name!) : best.Source;
        var dest2 = ContainerPaths.Clean(best.Destination);
        var rest = path == dest2 ? "/" : path[dest2.Length..];
        if (containerPath.EndsWith('/') && rest != "/") rest += "/";
        var name = path == "/" ? "/" : path[(path.LastIndexOf('/') + 1)..];
        return new MountedPath(root, rest, name, best.ReadOnly);
    }
}
