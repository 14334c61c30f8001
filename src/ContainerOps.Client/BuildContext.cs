using System.Formats.Tar;

namespace ContainerOps.Client;

/// <summary>Packs a build context directory as the tar that <see cref="IContainerOpsClient.BuildImageAsync"/> uploads.
/// Symbolic links travel as links (never followed); the daemon applies .dockerignore.</summary>
public static class BuildContext
{
    /// <summary>Writes <paramref name="contextDir"/> to a temporary tar file and returns its path (the caller deletes it).
    /// A Dockerfile outside the context is added under a name of its own, returned as <c>DockerfileName</c>.</summary>
    public static async Task<(string TarPath, string? DockerfileName)> PackAsync(string contextDir, string? dockerfile, CancellationToken ct = default)
    {
        var context = Path.GetFullPath(contextDir).TrimEnd('/');
        if (!Directory.Exists(context)) throw new DirectoryNotFoundException($"build context \"{contextDir}\" is not a directory");
        string? name = null, extra = null;
        if (dockerfile is { Length: > 0 })
        {
            var full = Path.IsPathRooted(dockerfile) ? dockerfile : Path.GetFullPath(dockerfile);
            // Relative paths name a file in the context first, as docker build -f does when run from elsewhere.
            if (!Path.IsPathRooted(dockerfile) && !File.Exists(full) && File.Exists(Path.Combine(context, dockerfile))) full = Path.Combine(context, dockerfile);
            if (!File.Exists(full)) throw new FileNotFoundException($"Dockerfile \"{dockerfile}\" not found", dockerfile);
            if (full.StartsWith(context + "/", StringComparison.Ordinal)) name = full[(context.Length + 1)..];
            else { extra = full; name = ".containerops-dockerfile-" + Guid.NewGuid().ToString("N")[..12]; }
        }
        var tarPath = Path.Combine(Path.GetTempPath(), "containerops-context-" + Guid.NewGuid().ToString("N") + ".tar");
        try
        {
            await using (var fs = new FileStream(tarPath, FileMode.CreateNew, FileAccess.Write))
            await using (var tar = new TarWriter(fs, TarEntryFormat.Pax, leaveOpen: false))
            {
                await AddTree(tar, context, "", ct);
                if (extra != null) await tar.WriteEntryAsync(extra, name, ct);
            }
            return (tarPath, name);
        }
        catch
        {
            File.Delete(tarPath);
            throw;
        }
    }

    private static async Task AddTree(TarWriter tar, string root, string rel, CancellationToken ct)
    {
        var dir = rel.Length == 0 ? root : Path.Combine(root, rel);
        foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            ct.ThrowIfCancellationRequested();
            var name = rel.Length == 0 ? info.Name : rel + "/" + info.Name;
            if (info.LinkTarget != null || info is FileInfo) { await tar.WriteEntryAsync(info.FullName, name, ct); continue; }
            await tar.WriteEntryAsync(info.FullName, name + "/", ct);
            await AddTree(tar, root, name, ct);
        }
    }
}
