using ContainerOps.Core.IO;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ContainerOps.Cluster.Security;

/// <summary>
/// The cluster's own certificate authority, the API server's serving certificate and the administrator's client
/// certificate, made on first start (ECDSA P-256) and kept under the state root: keys 0600, the folder 0700.
/// Client certificates are accepted only if this CA issued them.
/// </summary>
public sealed class ClusterCertificates : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public X509Certificate2 Authority { get; }
    public X509Certificate2 Server { get; }
    public X509Certificate2 Admin { get; }

    private ClusterCertificates(X509Certificate2 authority, X509Certificate2 server, X509Certificate2 admin)
    {
        Authority = authority;
        Server = server;
        Admin = admin;
    }

    /// <summary>Loads the certificates in <paramref name="directory"/>, making what is missing or expired. The serving
    /// certificate names localhost, the loopback addresses, the host name, the in-cluster names and
    /// <paramref name="extraAddresses"/>.</summary>
    public static ClusterCertificates LoadOrCreate(string directory, IEnumerable<IPAddress>? extraAddresses = null)
    {
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var ca = Load(directory, "ca");
        var madeCa = false;
        if (ca is null)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=containerops-ca", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(10));
            Save(directory, "ca", ca);
            madeCa = true;
        }
        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        foreach (var a in extraAddresses ?? []) if (!a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any) && !addresses.Contains(a)) addresses.Add(a);
        var server = madeCa ? null : Load(directory, "server");
        if (server is null || !Covers(server, addresses))
        {
            server = Issue(ca, "CN=containerops-apiserver", serverAuth: true, addresses);
            Save(directory, "server", server);
        }
        var admin = madeCa ? null : Load(directory, "admin");
        if (admin is null)
        {
            // The Kubernetes convention for a cluster administrator: the system:masters group.
            admin = Issue(ca, "CN=containerops-admin, O=system:masters", serverAuth: false, []);
            Save(directory, "admin", admin);
        }
        return new ClusterCertificates(ca, server, admin);
    }

    /// <summary>True when <paramref name="client"/> chains to this cluster's CA and is valid now.</summary>
    public bool IsIssuedHere(X509Certificate2 client)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        return chain.Build(client);
    }

    public static string Pem(X509Certificate2 certificate) => certificate.ExportCertificatePem();

    public static string KeyPem(X509Certificate2 certificate) =>
        certificate.GetECDsaPrivateKey()?.ExportPkcs8PrivateKeyPem() ?? throw new InvalidOperationException("the certificate has no private key");

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, bool serverAuth, IReadOnlyList<IPAddress> addresses)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            foreach (var dns in new[] { "localhost", Environment.MachineName, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local" })
                names.AddDnsName(dns);
            foreach (var a in addresses) names.AddIpAddress(a);
            request.CertificateExtensions.Add(names.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1), serial);
        return issued.CopyWithPrivateKey(key);
    }

    private static bool Covers(X509Certificate2 server, IReadOnlyList<IPAddress> addresses)
    {
        if (server.NotAfter < DateTime.Now.AddDays(30)) return false;
        var san = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        var have = san?.EnumerateIPAddresses().ToList() ?? [];
        return addresses.All(have.Contains);
    }

    private static X509Certificate2? Load(string directory, string name)
    {
        var crt = Path.Combine(directory, name + ".crt");
        var key = Path.Combine(directory, name + ".key");
        if (!File.Exists(crt) || !File.Exists(key)) return null;
        try
        {
            var c = X509Certificate2.CreateFromPemFile(crt, key);
            return c.NotAfter > DateTime.Now ? c : null;
        }
        catch (CryptographicException) { return null; }
    }

    /// <summary>The key first (0600), then the certificate.</summary>
    private static void Save(string directory, string name, X509Certificate2 certificate)
    {
        Write(Path.Combine(directory, name + ".key"), KeyPem(certificate), Private);
        Write(Path.Combine(directory, name + ".crt"), Pem(certificate), Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    /// <summary>Written atomically inside the 0700 folder, then given its mode.</summary>
    private static void Write(string path, string text, UnixFileMode mode)
    {
        AtomicFile.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
    }

    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
        Admin.Dispose();
    }
}
