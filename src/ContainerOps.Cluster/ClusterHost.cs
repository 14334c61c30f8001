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
    public ServiceNetworkOptions ServiceNetwork { get; set; } = new();

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
/// The control plane starts on first use, not with the daemon: a node that only runs containers never opens the
/// store or makes certificates, and stays small. Once its store exists the control plane is in use, and later
/// starts of the daemon open it at once (so what reacts to cluster objects runs again after a restart).
/// </summary>
public sealed class ClusterHost : IDisposable
{
    private readonly ClusterHostOptions _options;
    private readonly string _directory;
    private readonly object _gate = new();
    private ControlPlane? _plane;
    private ClusterCertificates? _certificates;
    private readonly ServiceAccountTokens _tokens;
    private readonly List<Action<ClusterHost>> _onActivated = [];
    private string? _serverUrl;

    private sealed record ControlPlane(IClusterStore Store, ClusterObjects Objects, KubernetesApi Api);

    /// <summary>Why the TLS listener is not served (its address was taken), when it is not.</summary>
    public string? TlsProblem { get; private set; }

    private ClusterHost(ClusterHostOptions options, string directory)
    {
        _options = options;
        _directory = directory;
        // Made on the first token request, beside the certificates.
        _tokens = new ServiceAccountTokens(Path.Combine(directory, "pki", "service-account.key"));
    }

    /// <summary>The host for the cluster under <paramref name="stateRoot"/>; its control plane opens now when it has
    /// been used before, else on first use.</summary>
    public static ClusterHost Open(string stateRoot, ClusterHostOptions options)
    {
        var host = new ClusterHost(options, Path.Combine(stateRoot, "cluster"));
        if (File.Exists(host.DatabasePath)) host.Activate();
        return host;
    }

    private string DatabasePath => Path.Combine(_directory, "cluster.db");

    /// <summary>Whether the control plane has started (its store is open).</summary>
    public bool IsActive => Volatile.Read(ref _plane) is not null;

    public IClusterStore Store => Activate().Store;
    public ClusterObjects Objects => Activate().Objects;
    public KubernetesApi Api => Activate().Api;

    public ClusterCertificates Certificates
    {
        get
        {
            if (Volatile.Read(ref _certificates) is { } made) return made;
            lock (_gate)
            {
                if (_certificates is null)
                {
                    EnsureDirectory();
                    var extra = _options.TlsEndpoint is { } ep ? new[] { ep.Address } : [];
                    _certificates = ClusterCertificates.LoadOrCreate(Path.Combine(_directory, "pki"), extra);
                }
                return _certificates;
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> once the control plane has started: now if it has, else on first use.
    /// What lives off cluster objects (the node agent, controllers) starts this way.</summary>
    public void WhenActive(Action<ClusterHost> action)
    {
        lock (_gate)
        {
            if (_plane is null) { _onActivated.Add(action); return; }
        }
        action(this);
    }

    /// <summary>Opens the store and the API over it, once; a failure is not remembered, so the next request tries again.</summary>
    private ControlPlane Activate()
    {
        if (Volatile.Read(ref _plane) is { } open) return open;
        List<Action<ClusterHost>> waiting;
        ControlPlane plane;
        lock (_gate)
        {
            if (_plane is not null) return _plane;
            EnsureDirectory();
            var store = new SqliteClusterStore(DatabasePath);
            try
            {
                var objects = new ClusterObjects(store) { ServiceNetwork = _options.ServiceNetwork, MountServiceAccountTokens = true };
                objects.EnsureInitialObjects();
                var api = new KubernetesApi(objects, _options.Api) { Tokens = _tokens };
                plane = new ControlPlane(store, objects, api);
            }
            catch
            {
                store.Dispose();
                throw;
            }
            Volatile.Write(ref _plane, plane);
            waiting = [.. _onActivated];
            _onActivated.Clear();
        }
        foreach (var action in waiting) action(this);
        return plane;
    }

    private void EnsureDirectory() =>
        Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

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
                // Chosen per handshake, so the certificates are made when the first client connects, not at start.
                ServerCertificateSelector = (_, _) => Certificates.Server,
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
    public void Started(IEnumerable<string> addresses)
    {
        var bound = addresses.FirstOrDefault(a => a.StartsWith("https://", StringComparison.Ordinal));
        _serverUrl = bound?.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "[::1]");
        // default/kubernetes names where pods reach the API (nothing while it listens on loopback only).
        IPEndPoint? listening = bound is not null && Uri.TryCreate(bound, UriKind.Absolute, out var uri) && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip)
            ? new IPEndPoint(ip, uri.Port) : null;
        var hostAddress = IPAddress.TryParse(Node.NodeRegistration.DefaultRouteAddress(), out var host) ? host : null;
        WhenActive(h =>
        {
            try { KubernetesEndpoints.Reconcile(h.Objects, listening, hostAddress); }
            catch (StatusException) { } // written again at the next start
        });
    }

    /// <summary>https://host:port of the TLS listener, or null when there is none.</summary>
    public string? ServerUrl => _serverUrl;

    public async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        if (ctx.Request.IsHttps)
        {
            // A client certificate of this cluster's CA (checked at the handshake), else a service account token.
            if (ctx.Connection.ClientCertificate is { } certificate)
                ctx.Items[KubernetesApi.UserKey] = UserInfo.FromCertificate(certificate);
            else if (BearerToken(ctx.Request) is not { } token || !TryAuthenticate(ctx, token))
            {
                await WriteStatusAsync(ctx, StatusException.Unauthorized());
                return;
            }
            await ServeApiAsync(ctx);
            return;
        }
        if (KubernetesApi.IsApiPath(ctx.Request.Path))
        {
            await ServeApiAsync(ctx);
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

    private static string? BearerToken(HttpRequest request) =>
        request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? header["Bearer ".Length..].Trim() : null;

    private bool TryAuthenticate(HttpContext ctx, string token)
    {
        if (OpenApi(out _) is not { } api || api.AuthenticateBearer(token, out _) is not { } user) return false;
        ctx.Items[KubernetesApi.UserKey] = user;
        return true;
    }

    private async Task ServeApiAsync(HttpContext ctx)
    {
        if (OpenApi(out var problem) is { } api) await api.HandleAsync(ctx);
        else await WriteStatusAsync(ctx, problem!);
    }

    /// <summary>The API, its control plane opened if need be; null, with the 500 to answer, when its store cannot be.</summary>
    private KubernetesApi? OpenApi(out StatusException? problem)
    {
        problem = null;
        try { return Api; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            problem = new StatusException(500, "InternalError", $"the cluster store {DatabasePath} cannot be opened: {e.Message}");
            return null;
        }
    }

    private static async Task WriteStatusAsync(HttpContext ctx, StatusException status)
    {
        ctx.Response.StatusCode = status.Code;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(Json.Bytes(status.ToStatus()));
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
        _plane?.Store.Dispose();
        _certificates?.Dispose();
        _tokens.Dispose();
    }
}
