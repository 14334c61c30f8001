using ContainerOps.Core.Api;
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
        var path = Normalize(containerPath);
        ContainerMount? best = null;
        foreach (var m in mounts)
        {
            var dest = Normalize(m.Destination);
            if ((path == dest || path.StartsWith(dest == "/" ? "/" : dest + "/", StringComparison.Ordinal)) && (best is null || dest.Length > Normalize(best.Destination).Length))
                best = m;
        }
        if (best is null) return null;
        if (best.Type == "tmpfs")
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "PathOnTmpfs",
                $"{containerPath} is on the tmpfs mounted at {best.Destination} in container {container}: copying from or to a tmpfs is not supported", container, "path");
        var root = best.Type == "volume" ? volumeData(best.Name!) : best.Source;
        var dest2 = Normalize(best.Destination);
        var rest = path == dest2 ? "/" : path[dest2.Length..];
        if (containerPath.EndsWith('/') && rest != "/") rest += "/";
        var name = path == "/" ? "/" : path[(path.LastIndexOf('/') + 1)..];
        return new MountedPath(root, rest, name, best.ReadOnly);
    }

    /// <summary>An absolute path without empty, "." and ".." segments (".." stops at the root, as in the container).</summary>
    public static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == ".") continue;
            if (p == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(p);
        }
        return "/" + string.Join('/', parts);
    }
}
