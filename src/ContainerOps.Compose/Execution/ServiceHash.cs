using System.Security.Cryptography;
using System.Text;
using ContainerOps.Compose.Model;
using ContainerOps.Compose.Output;

namespace ContainerOps.Compose.Execution;

/// <summary>The config hash docker compose keeps in com.docker.compose.config-hash: a SHA-256 of the service's
/// canonical form without what does not change a container (build, replicas/scale, depends_on, profiles), so `up`
/// recreates a container exactly when its service changed.</summary>
public static class ServiceHash
{
    private static readonly HashSet<string> Left = new(StringComparer.Ordinal) { "build", "depends_on", "profiles", "scale", "pull_policy" };

    public static string Compute(ServiceConfig service)
    {
        var tree = ConfigTree.FromService(service);
        var kept = new Map();
        foreach (var (k, v) in tree)
        {
            if (Left.Contains(k)) continue;
            if (k == "deploy" && v is Map deploy)
            {
                var d = new Map();
                foreach (var (dk, dv) in deploy) if (dk != "replicas") d.Add(dk, dv);
                kept.AddSet(k, d);
                continue;
            }
            kept.Add(k, v);
        }
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(ConfigWriter.ToJson(kept)));
        return Convert.ToHexStringLower(bytes);
    }
}
