using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Spec;

/// <summary>
/// Resolves `--user` (uid[:gid] or user[:group], names or numbers) against the image's /etc/passwd and
/// /etc/group, as Docker does: the user's primary group, supplementary groups from /etc/group, and HOME.
/// The files are read only when they are regular files inside the root (a symlink could point at the host's).
/// </summary>
public static class UserResolver
{
    public sealed record ResolvedUser(uint Uid, uint Gid, IReadOnlyList<uint> AdditionalGids, string Home);

    private sealed record PasswdEntry(string Name, uint Uid, uint Gid, string Home);
    private sealed record GroupEntry(string Name, uint Gid, string[] Members);

    public static ResolvedUser Resolve(string rootfs, string? user, string? containerName = null)
    {
        var passwd = ReadPasswd(rootfs);
        var groups = ReadGroups(rootfs);
        var spec = string.IsNullOrEmpty(user) ? "0" : user;
        var parts = spec.Split(':', 2);
        var userPart = parts[0];
        var groupPart = parts.Length > 1 ? parts[1] : null;
        if (userPart.Length == 0)
            throw Invalid(containerName, $"user '{spec}' has an empty user part");

        PasswdEntry? entry;
        uint uid;
        if (uint.TryParse(userPart, out uid))
            entry = passwd.FirstOrDefault(p => p.Uid == uid);
        else
        {
            entry = passwd.FirstOrDefault(p => p.Name == userPart)
                ?? throw Invalid(containerName, $"unable to find user {userPart}: no matching entries in the image's /etc/passwd");
            uid = entry.Uid;
        }

        uint gid = entry?.Gid ?? 0;
        if (groupPart is not null)
        {
            if (groupPart.Length == 0) throw Invalid(containerName, $"user '{spec}' has an empty group part");
            if (!uint.TryParse(groupPart, out gid))
            {
                var g = groups.FirstOrDefault(x => x.Name == groupPart)
                    ?? throw Invalid(containerName, $"unable to find group {groupPart}: no matching entries in the image's /etc/group");
                gid = g.Gid;
            }
        }

        var additional = new List<uint>();
        if (entry is not null && groupPart is null)
            foreach (var g in groups)
                if (g.Gid != gid && g.Members.Contains(entry.Name) && !additional.Contains(g.Gid))
                    additional.Add(g.Gid);

        var home = entry?.Home is { Length: > 0 } h ? h : "/";
        return new ResolvedUser(uid, gid, additional, home);
    }

    /// <summary>Whether resolving <paramref name="user"/> and <paramref name="groupAdd"/> can fail without the image's
    /// /etc/passwd and /etc/group: only names are looked up there; numbers are taken as they are.</summary>
    public static bool NeedsImageFiles(string? user, IEnumerable<string>? groupAdd) =>
        (user ?? "").Split(':').Any(part => part.Length > 0 && !uint.TryParse(part, out _))
        || (groupAdd ?? []).Any(g => !uint.TryParse(g, out _));

    /// <summary>A group of `--group-add`: a number, or a name from the image's /etc/group.</summary>
    public static uint ResolveGroup(string rootfs, string group, string? containerName = null)
    {
        if (uint.TryParse(group, out var gid)) return gid;
        return ReadGroups(rootfs).FirstOrDefault(g => g.Name == group)?.Gid
            ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidGroup",
                $"unable to find group {group}: no matching entries in the image's /etc/group", containerName, "HostConfig.GroupAdd");
    }

    private static ContainerOpsException Invalid(string? target, string message) =>
        new(ErrorKind.InvalidArgument, "InvalidUser", message, target, "User");

    private static IEnumerable<string[]> ReadColonFile(string rootfs, string relative)
    {
        var path = Path.Combine(rootfs, relative);
        FileSystemInfo info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null) yield break;
        // The parent directory must not be a symlink either (etc -> /host/etc).
        var etc = new DirectoryInfo(Path.Combine(rootfs, "etc"));
        if (etc.LinkTarget is not null) yield break;
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            yield return line.Split(':');
        }
    }

    private static List<PasswdEntry> ReadPasswd(string rootfs) =>
        ReadColonFile(rootfs, "etc/passwd")
            .Where(f => f.Length >= 4 && uint.TryParse(f[2], out _) && uint.TryParse(f[3], out _))
            .Select(f => new PasswdEntry(f[0], uint.Parse(f[2]), uint.Parse(f[3]), f.Length > 5 ? f[5] : "/"))
            .ToList();

    private static List<GroupEntry> ReadGroups(string rootfs) =>
        ReadColonFile(rootfs, "etc/group")
            .Where(f => f.Length >= 3 && uint.TryParse(f[2], out _))
            .Select(f => new GroupEntry(f[0], uint.Parse(f[2]), f.Length > 3 ? f[3].Split(',', StringSplitOptions.RemoveEmptyEntries) : Array.Empty<string>()))
            .ToList();
}
