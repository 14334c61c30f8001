namespace ContainerOps.Core.IO;

/// <summary>Paths as a container sees them.</summary>
public static class ContainerPaths
{
    /// <summary>An absolute, clean container path: relative ones start at <paramref name="workingDir"/> (default "/"),
    /// empty and "." segments go, and ".." stops at the root, as it does inside the container.</summary>
    public static string Clean(string path, string? workingDir = null)
    {
        var full = path.StartsWith('/') ? path : (workingDir ?? "/").TrimEnd('/') + "/" + path;
        var parts = new List<string>();
        foreach (var c in full.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (c == ".") continue;
            if (c == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(c);
        }
        return "/" + string.Join('/', parts);
    }
}
