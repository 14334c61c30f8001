namespace ContainerOps.Runtime;

/// <summary>Finds containerops-shim: CONTAINEROPS_SHIM, then beside the running program, then its parent directory.</summary>
public static class ShimLocator
{
    public static string Find()
    {
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_SHIM") is { Length: > 0 } env) return env;
        var baseDir = AppContext.BaseDirectory;
        foreach (var candidate in new[] { Path.Combine(baseDir, "containerops-shim"), Path.Combine(baseDir, "..", "containerops-shim") })
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        return "containerops-shim";
    }
}
