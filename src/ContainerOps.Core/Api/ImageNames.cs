namespace ContainerOps.Core.Api;

/// <summary>Image names as Docker shows them.</summary>
public static class ImageNames
{
    /// <summary>A reference without the default registry and its library/ prefix, as the Docker API and CLI show it:
    /// "docker.io/library/busybox:latest" → "busybox:latest", "docker.io/team/app:1" → "team/app:1"; others unchanged.</summary>
    public static string Familiar(string reference)
    {
        if (reference.StartsWith("docker.io/library/", StringComparison.Ordinal)) return reference["docker.io/library/".Length..];
        if (reference.StartsWith("docker.io/", StringComparison.Ordinal)) return reference["docker.io/".Length..];
        return reference;
    }
}
