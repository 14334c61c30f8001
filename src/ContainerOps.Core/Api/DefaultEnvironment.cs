namespace ContainerOps.Core.Api;

/// <summary>The PATH Docker gives a container, and an image built on a base, that sets none.</summary>
public static class DefaultEnvironment
{
    public const string PathDirectories = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    public const string Path = "PATH=" + PathDirectories;

    public static bool SetsPath(IEnumerable<string> env) => env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal));
}
