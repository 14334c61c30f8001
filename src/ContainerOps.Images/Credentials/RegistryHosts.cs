namespace ContainerOps.Images.Credentials;

/// <summary>Registry host names as Docker spells them in config files and as the API is reached.</summary>
public static class RegistryHosts
{
    /// <summary>The key Docker Hub credentials are stored under in <c>config.json</c>.</summary>
    public const string DockerHubConfigKey = "https://index.docker.io/v1/";

    /// <summary>The host that serves Docker Hub's registry API.</summary>
    public const string DockerHubApiHost = "registry-1.docker.io";

    /// <summary>Strips a scheme and path ("https://host:5000/v2/" → "host:5000") and maps Docker Hub's aliases to "docker.io".</summary>
    public static string Normalize(string registry)
    {
        var s = (registry ?? "").Trim();
        var scheme = s.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0) s = s[(scheme + 3)..];
        var slash = s.IndexOf('/');
        if (slash >= 0) s = s[..slash];
        s = s.ToLowerInvariant();
        return s is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" ? "docker.io" : s;
    }

    /// <summary>The host:port the distribution API is reached at for a reference's domain.</summary>
    public static string ApiHost(string domain) => Normalize(domain) == "docker.io" ? DockerHubApiHost : domain;

    /// <summary>The host without its port (IPv6 brackets kept off).</summary>
    public static string HostOnly(string hostPort)
    {
        if (hostPort.StartsWith('['))
        {
            var close = hostPort.IndexOf(']');
            return close > 0 ? hostPort[1..close] : hostPort;
        }
        var colon = hostPort.LastIndexOf(':');
        return colon > 0 && hostPort.IndexOf(':') == colon ? hostPort[..colon] : hostPort;
    }

    public static bool IsLoopback(string hostPort)
    {
        var host = HostOnly(hostPort);
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip);
    }
}
