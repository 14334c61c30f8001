using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ContainerOps.Images.Registry;

/// <summary>
/// Builds the HTTP stack for one registry: TLS verified against the system trust store, plus the registry's own CAs
/// from <c>certs.d/&lt;host:port&gt;/*.crt</c> (and a client certificate from <c>client.cert</c>/<c>client.key</c>);
/// certificate checks are skipped only for registries the options declare insecure.
/// </summary>
internal static class RegistryTransport
{
    public static HttpMessageHandler CreateHandler(string hostPort, RegistryOptions options, bool insecure)
    {
        var roots = new X509Certificate2Collection();
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true, // blob GETs may redirect to storage; Authorization is not forwarded on redirects
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = Math.Max(4, options.MaxConcurrentTransfers + 1),
        };
        if (options.CertsDirFor(hostPort) is { } dir)
        {
            foreach (var crt in Directory.EnumerateFiles(dir, "*.crt").Order(StringComparer.Ordinal))
                roots.ImportFromPemFile(crt);
            var cert = Path.Combine(dir, "client.cert");
            var key = Path.Combine(dir, "client.key");
            if (File.Exists(cert) && File.Exists(key))
                handler.SslOptions.ClientCertificates = [X509Certificate2.CreateFromPemFile(cert, key)];
        }
        var host = Credentials.RegistryHosts.HostOnly(hostPort);
        handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, _, errors) =>
        {
            if (errors == SslPolicyErrors.None) return true;
            var target = (sender as SslStream)?.TargetHostName;
            var ours = string.IsNullOrEmpty(target) || target.Equals(host, StringComparison.OrdinalIgnoreCase);
            if (!ours) return false;
            if (insecure) return true;
            if (certificate == null || roots.Count == 0) return false;
            if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = new X509Certificate2(certificate);
            return chain.Build(leaf);
        };
        return options.WrapHandler?.Invoke(handler) ?? handler;
    }
}
