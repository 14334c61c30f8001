using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>Service account tokens through kubectl 1.32 over TLS: `kubectl create token` issues one, a client that
/// presents it is that account (`kubectl auth whoami`), and it stops working when the account goes.</summary>
public sealed class ServiceAccountTokenTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static JsonObject Claims(string token) =>
        JsonNode.Parse(Base64Url.DecodeFromChars(token.Split('.')[1]))!.AsObject();

    /// <summary>kubectl as a user with only <paramref name="token"/>: no client certificate.</summary>
    private (int Exit, string Out, string Err) AsToken(string token, params string[] args) => AsToken(_server, token, args);

    /// <summary>The same against <paramref name="server"/>, through a context of its own (--user is also a flag of
    /// some commands, such as kubectl create rolebinding).</summary>
    internal static (int Exit, string Out, string Err) AsToken(TlsClusterServer server, string token, params string[] args)
    {
        server.Ok("config", "set-credentials", "robot-user", "--token", token);
        server.Ok("config", "set-context", "robot", "--cluster", "containerops", "--user", "robot-user");
        return server.Kubectl(["--context", "robot", .. args]);
    }

    [Fact]
    public void ATokenFromKubectlCreateTokenActsAsItsAccountUntilTheAccountGoes()
    {
        _server.Ok("create", "serviceaccount", "robot");
        var token = _server.Ok("create", "token", "robot", "--duration", "15m").Trim();
        var claims = Claims(token);
        Assert.Equal("system:serviceaccount:default:robot", Json.Str(claims["sub"]));
        Assert.Equal(900, claims["exp"]!.GetValue<long>() - claims["iat"]!.GetValue<long>());
        Assert.Equal("https://kubernetes.default.svc.cluster.local", Json.Str(claims["aud"]![0]));

        var (exit, whoami, err) = AsToken(token, "auth", "whoami", "-o", "json");
        Assert.True(exit == 0, err);
        var user = JsonNode.Parse(whoami)!["status"]!["userInfo"]!;
        Assert.Equal("system:serviceaccount:default:robot", Json.Str(user["username"]));
        Assert.Equal(["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"], user["groups"]!.AsArray().Select(g => Json.Str(g)!));
        Assert.StartsWith("JTI=", Json.Str(user["extra"]!["authentication.kubernetes.io/credential-id"]![0]));
        // Authenticated, it may read what every authenticated user may (RbacTests: what it may do beyond that).
        (exit, _, err) = AsToken(token, "version", "-o", "json");
        Assert.True(exit == 0, err);

        // The administrator's certificate is its own user.
        var admin = JsonNode.Parse(_server.Ok("auth", "whoami", "-o", "json"))!["status"]!["userInfo"]!;
        Assert.Equal("containerops-admin", Json.Str(admin["username"]));
        Assert.Contains("system:masters", admin["groups"]!.AsArray().Select(g => Json.Str(g)));

        // A token whose signature does not hold, and one of an account that is gone, are refused.
        var forged = token[..token.LastIndexOf('.')] + ".AAAA";
        (exit, _, err) = AsToken(forged, "get", "serviceaccounts");
        Assert.NotEqual(0, exit);
        Assert.Matches("Unauthorized|provide credentials", err); // 401, on the request or on the discovery before it
        _server.Ok("delete", "serviceaccount", "robot");
        (exit, _, err) = AsToken(token, "get", "serviceaccounts");
        Assert.NotEqual(0, exit);
        Assert.Matches("Unauthorized|provide credentials", err); // 401, on the request or on the discovery before it
        // Made again under the same name, the account has a new uid: the old token stays refused.
        _server.Ok("create", "serviceaccount", "robot");
        (exit, _, _) = AsToken(token, "get", "serviceaccounts");
        Assert.NotEqual(0, exit);
    }

    [Fact]
    public void PodsGetTheirAccountsTokenMountedUnlessThePodOrTheAccountSaysNo()
    {
        _server.KubectlWithInput("""
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: quiet}
            automountServiceAccountToken: false
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: plain}
            spec:
              initContainers: [{name: setup, image: busybox}]
              containers: [{name: a, image: busybox}, {name: b, image: busybox}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: declined}
            spec:
              automountServiceAccountToken: false
              containers: [{name: a, image: busybox}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: account-declines}
            spec:
              serviceAccountName: quiet
              containers: [{name: a, image: busybox}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: pod-overrides}
            spec:
              serviceAccountName: quiet
              automountServiceAccountToken: true
              containers: [{name: a, image: busybox}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: own-mount}
            spec:
              volumes: [{name: mine, emptyDir: {}}]
              containers: [{name: a, image: busybox, volumeMounts: [{name: mine, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}]}]
            """, "apply", "-f", "-");
        JsonObject Pod(string name) => JsonNode.Parse(_server.Ok("get", "pod", name, "-o", "json"))!.AsObject();
        static List<JsonObject> Access(JsonObject pod) =>
            (pod["spec"]!["volumes"] as JsonArray ?? []).OfType<JsonObject>().Where(v => Json.Str(v["name"])!.StartsWith("kube-api-access-")).ToList();

        var plain = Pod("plain");
        var volume = Assert.Single(Access(plain));
        var sources = volume["projected"]!["sources"]!.AsArray();
        Assert.Equal(3607, sources[0]!["serviceAccountToken"]!["expirationSeconds"]!.GetValue<long>());
        Assert.Equal("kube-root-ca.crt", Json.Str(sources[1]!["configMap"]!["name"]));
        Assert.Equal("metadata.namespace", Json.Str(sources[2]!["downwardAPI"]!["items"]![0]!["fieldRef"]!["fieldPath"]));
        foreach (var c in new[] { plain["spec"]!["initContainers"]![0]!, plain["spec"]!["containers"]![0]!, plain["spec"]!["containers"]![1]! })
        {
            var mount = Assert.Single(c["volumeMounts"]!.AsArray());
            Assert.Equal(Json.Str(volume["name"]), Json.Str(mount!["name"]));
            Assert.Equal("/var/run/secrets/kubernetes.io/serviceaccount", Json.Str(mount["mountPath"]));
            Assert.True(mount["readOnly"]!.GetValue<bool>());
        }
        Assert.Empty(Access(Pod("declined")));
        Assert.Empty(Access(Pod("account-declines")));
        Assert.Single(Access(Pod("pod-overrides")));
        var own = Pod("own-mount");
        Assert.Empty(Access(own));
        Assert.Single(own["spec"]!["containers"]![0]!["volumeMounts"]!.AsArray());
    }

    [Fact]
    public void ATokenBoundToAPodNamesItAndEndsWithIt()
    {
        _server.Ok("create", "serviceaccount", "worker");
        _server.Ok("run", "job-pod", "--image", "busybox", "--overrides", """{"spec":{"serviceAccountName":"worker"}}""");
        var token = _server.Ok("create", "token", "worker", "--bound-object-kind", "Pod", "--bound-object-name", "job-pod").Trim();
        var pod = Claims(token)["kubernetes.io"]!["pod"]!;
        Assert.Equal("job-pod", Json.Str(pod["name"]));
        var (exit, whoami, err) = AsToken(token, "auth", "whoami", "-o", "json");
        Assert.True(exit == 0, err);
        Assert.Equal("job-pod", Json.Str(JsonNode.Parse(whoami)!["status"]!["userInfo"]!["extra"]!["authentication.kubernetes.io/pod-name"]![0]));

        _server.Ok("delete", "pod", "job-pod", "--grace-period", "0", "--force", "--wait=false");
        (exit, _, err) = AsToken(token, "get", "pods");
        Assert.NotEqual(0, exit);
        Assert.Matches("Unauthorized|provide credentials", err); // 401, on the request or on the discovery before it
    }

    [Theory]
    [InlineData(new[] { "create", "token", "worker", "--duration", "5m" }, "may not specify a duration less than 10 minutes")]
    [InlineData(new[] { "create", "token", "nobody" }, "serviceaccounts \"nobody\" not found")]
    [InlineData(new[] { "create", "token", "worker", "--bound-object-kind", "Pod", "--bound-object-name", "absent" }, "pods \"absent\" not found")]
    public void AWrongTokenRequestIsRefusedSayingWhy(string[] args, string message)
    {
        _server.Ok("create", "serviceaccount", "worker");
        var (exit, _, err) = _server.Kubectl(args);
        Assert.NotEqual(0, exit);
        Assert.Contains(message, err);
    }

    [Fact]
    public async Task ATokenReviewSaysWhoseATokenIsAndForWhichAudiences()
    {
        _server.Ok("create", "serviceaccount", "checker");
        _server.Ok("create", "clusterrolebinding", "checker-delegator", "--clusterrole", "system:auth-delegator", "--serviceaccount", "default:checker");
        var token = _server.Ok("create", "token", "checker", "--audience", "vault", "--audience", "https://kubernetes.default.svc.cluster.local").Trim();
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var http = new HttpClient(handler);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var url = _server.Host.ServerUrl + "/apis/authentication.k8s.io/v1/tokenreviews";
        async Task<JsonObject> ReviewAsync(string body)
        {
            using var response = await http.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["status"]!.AsObject();
        }
        const string review = """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"TOKEN","audiences":["AUDIENCE"]}}""";
        var status = await ReviewAsync(review.Replace("TOKEN", token).Replace("AUDIENCE", "vault"));
        Assert.True(status["authenticated"]!.GetValue<bool>());
        Assert.Equal("system:serviceaccount:default:checker", Json.Str(status["user"]!["username"]));
        Assert.Equal(["vault"], status["audiences"]!.AsArray().Select(a => Json.Str(a)!));
        status = await ReviewAsync(review.Replace("TOKEN", token).Replace("AUDIENCE", "other"));
        Assert.False(status["authenticated"]!.GetValue<bool>());
        Assert.Contains("audiences", Json.Str(status["error"]));
        // A party that checks tokens itself finds the key through the OpenID discovery documents, and the signature holds.
        var configuration = JsonNode.Parse(await http.GetStringAsync(_server.Host.ServerUrl + "/.well-known/openid-configuration"))!;
        Assert.Equal("https://kubernetes.default.svc.cluster.local", Json.Str(configuration["issuer"]));
        Assert.EndsWith("/openid/v1/jwks", Json.Str(configuration["jwks_uri"]));
        var jwk = JsonNode.Parse(await http.GetStringAsync(_server.Host.ServerUrl + "/openid/v1/jwks"))!["keys"]![0]!;
        using var key = System.Security.Cryptography.ECDsa.Create(new System.Security.Cryptography.ECParameters
        {
            Curve = System.Security.Cryptography.ECCurve.NamedCurves.nistP256,
            Q = new System.Security.Cryptography.ECPoint { X = Base64Url.DecodeFromChars(Json.Str(jwk["x"])), Y = Base64Url.DecodeFromChars(Json.Str(jwk["y"])) },
        });
        var parts = token.Split('.');
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]),
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.Equal(Json.Str(jwk["kid"]), Json.Str(JsonNode.Parse(Base64Url.DecodeFromChars(parts[0]))!["kid"]));

        // Found where kubectl looks: the group, and the subresource on service accounts.
        Assert.Contains("tokenreviews", _server.Ok("api-resources", "--api-group", "authentication.k8s.io", "-o", "name"));
    }
}
