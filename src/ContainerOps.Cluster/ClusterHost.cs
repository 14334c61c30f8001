using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Security;
using ContainerOps.Cluster.Store;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace ContainerOps.Cluster;

/// <summary>Where and how the cluster API is served.</summary>
public sealed class ClusterHostOptions
{
    /// <summary>The TLS listener for kubectl and other Kubernetes clients (`--cluster-address`); null: none. Port 0
    /// takes a free port (tests), which the kubeconfig then names.</summary>
    public IPEndPoint? TlsEndpoint { get; set; } = new(IPAddress.Loopback, 6443);
    public KubernetesApiOptions Api { get; set; } = new();

    /// <summary>"127.0.0.1:6443", "[::1]:6443", "0.0.0.0:6443"; "none" or "" for no TLS listener.</summary>
    public static IPEndPoint? ParseAddress(string text)
    {
        if (text is "" or "none") return null;
        return IPEndPoint.TryParse(text, out var ep) && ep.Port is >= 0 and <= 65535 && text.Contains(':')
            ? ep : throw new ArgumentException($"--cluster-address \"{text}\" is not an address and port (e.g. 127.0.0.1:6443) or \"none\"");
    }
}

/// <summary>
/// The control plane as the daemon hosts it: the store in the state root (cluster/cluster.db), the API over it, the
/// certificates (cluster/pki), the TLS listener with client-certificate authentication, and the middleware that
/// sends Kubernetes requests to the API (every request on the TLS port; /api, /apis and /openapi on the socket).
/// </summary>
public sealed class ClusterHost : IDisposable
{
    private readonly ClusterHostOptions _options;
    private string? _serverUrl;

    public IClusterStore Store { get; }
    public ClusterObjects Objects { get; }
    public KubernetesApi Api { get; }
    public ClusterCertificates Certificates { get; }
    /// <summary>Why the TLS listener is not served (its address was taken), when it is not.</summary>
    public string? TlsProblem { get; private set; }

    private ClusterHost(ClusterHostOptions options, IClusterStore store, ClusterCertificates certificates)
    {
        _options = options;
        Store = store;
        Certificates = certificates;
        Objects = new ClusterObjects(store);
        Objects.EnsureInitialObjects();
        Api = new KubernetesApi(Objects, options.Api);
    }

    public static ClusterHost Open(string stateRoot, ClusterHostOptions options)
    {
        var dir = Path.Combine(stateRoot, "cluster");
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var store = new SqliteClusterStore(Path.Combine(dir, "cluster.db"));
        try
        {
            var extra = options.TlsEndpoint is { } ep ? new[] { ep.Address } : [];
            return new ClusterHost(options, store, ClusterCertificates.LoadOrCreate(Path.Combine(dir, "pki"), extra));
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Adds the TLS listener, unless its address is taken (then the daemon still serves its socket, and
    /// <see cref="TlsProblem"/> says why the cluster port is missing).</summary>
    public void Listen(KestrelServerOptions kestrel)
    {
        if (_options.TlsEndpoint is not { } endpoint) return;
        if (endpoint.Port != 0 && !IsFree(endpoint))
        {
            TlsProblem = $"{endpoint} is in use: the cluster API is served on the socket only";
            return;
        }
        kestrel.Listen(endpoint, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = Certificates.Server,
                SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                // Asked for, not required at the handshake: a client without one gets a 401 Status it can print.
                ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                ClientCertificateValidation = (certificate, _, _) => Certificates.IsIssuedHere(certificate),
            });
        });
    }

    private static bool IsFree(IPEndPoint endpoint)
    {
        try
        {
            using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(endpoint);
            return true;
        }
        catch (SocketException) { return false; }
    }

    /// <summary>Told the addresses the server listens on once it has started (a port 0 is then known).</summary>
    public void Started(IEnumerable<string> addresses) =>
        _serverUrl = addresses.FirstOrDefault(a => a.StartsWith("https://", StringComparison.Ordinal))?.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "[::1]");

    /// <summary>https://host:port of the TLS listener, or null when there is none.</summary>
    public string? ServerUrl => _serverUrl;

    public async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        if (ctx.Request.IsHttps)
        {
            if (ctx.Connection.ClientCertificate is null)
            {
                var status = StatusException.Unauthorized();
                ctx.Response.StatusCode = status.Code;
                ctx.Response.ContentType = "application/json";
                await ctx.Response.Body.WriteAsync(Json.Bytes(status.ToStatus()));
                return;
            }
            await Api.HandleAsync(ctx);
            return;
        }
        if (KubernetesApi.IsApiPath(ctx.Request.Path))
        {
            await Api.HandleAsync(ctx);
            return;
        }
        if (ctx.Request.Path == "/cluster/kubeconfig" && HttpMethods.IsGet(ctx.Request.Method))
        {
            // The socket answers while the server is still starting: the bound addresses are there already.
            if (_serverUrl is null && ctx.RequestServices.GetService(typeof(IServer)) is IServer server && server.Features.Get<IServerAddressesFeature>() is { } bound)
                Started(bound.Addresses);
            if (Kubeconfig() is not { } config)
            {
                ctx.Response.StatusCode = 503;
                await ctx.Response.WriteAsync(TlsProblem ?? "the daemon serves no cluster port (--cluster-address none)");
                return;
            }
            ctx.Response.ContentType = "application/yaml";
            await ctx.Response.WriteAsync(config);
            return;
        }
        await next(ctx);
    }

    /// <summary>A kubeconfig for the administrator: this cluster's CA, the TLS listener, the admin client certificate.</summary>
    public string? Kubeconfig() => ServerUrl is { } url ? KubeconfigText(url, Certificates) : null;

    public static string KubeconfigText(string serverUrl, ClusterCertificates certificates)
    {
        static string B64(string pem) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));
        return $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: containerops
              cluster:
                server: {serverUrl}
                certificate-authority-data: {B64(ClusterCertificates.Pem(certificates.Authority))}
            users:
            - name: containerops-admin
              user:
                client-certificate-data: {B64(ClusterCertificates.Pem(certificates.Admin))}
                client-key-data: {B64(ClusterCertificates.KeyPem(certificates.Admin))}
            contexts:
            - name: containerops
              context:
                cluster: containerops
                user: containerops-admin
                namespace: default
            current-context: containerops
            preferences: {"{}"}

            """;
    }

    public void Dispose()
    {
        Store.Dispose();
        Certificates.Dispose();
    }
}
