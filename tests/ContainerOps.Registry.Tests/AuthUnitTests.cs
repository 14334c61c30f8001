using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ContainerOps.Images.Credentials;
using ContainerOps.Images.Registry;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

public class AuthUnitTests
{
    [Fact]
    public void ChallengeParameters_AreParsed_WithQuotedCommas()
    {
        var p = AuthChallenge.Parse("realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push\"");
        Assert.Equal("https://auth.example/token", p["realm"]);
        Assert.Equal("registry.example", p["service"]);
        Assert.Equal("repository:a/b:pull,push", p["scope"]);
        var q = AuthChallenge.Parse("realm=basic, charset=\"UTF-8\"");
        Assert.Equal("basic", q["realm"]);
        Assert.Equal("UTF-8", q["charset"]);
    }

    [Fact]
    public void PullSecrets_AreTriedInOrder_BeforeTheFallback_AndCannotKeepLogins()
    {
        static string Auth(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        var fallback = new InMemoryCredentialStore();
        fallback.Store("registry.example:5000", new RegistryCredential("node", "node-secret"));
        fallback.Store("other.example", new RegistryCredential("node", "other-secret"));
        var store = new PullSecretCredentialStore(
        [
            """{"auths": {"https://registry.example:5000/v2/": {"auth": """ + $"\"{Auth("first", "one")}\"" + "}}}",
            """{"auths": {"registry.example:5000": {"username": "second", "password": "two"}, "https://index.docker.io/v1/": {"auth": """ + $"\"{Auth("hub", "h")}\"" + "}}}",
            """{"auths": {"broken.example": {"auth": "not base64!"}}}""",
        ], fallback);

        Assert.Equal("first", store.Get("registry.example:5000")!.Username); // the first secret that names it
        Assert.Equal("hub", store.Get("docker.io")!.Username);               // Docker Hub under its v1 index URL
        Assert.Equal("other-secret", store.Get("other.example")!.Secret);    // none of the pod's: the node's own
        Assert.Null(store.Get("broken.example"));                            // an unreadable entry is no credential
        Assert.Throws<InvalidOperationException>(() => store.Store("x.example", new RegistryCredential("u", "p")));
        Assert.Throws<InvalidOperationException>(() => store.Erase("registry.example:5000"));
    }

    /// <summary>A registry that wants Bearer tokens from a separate realm, in memory.</summary>
    private sealed class FakeTokenRegistry : HttpMessageHandler
    {
        public int TokenRequests;
        public int ExpiresIn = 300;
        public string? TokenAuthorization;
        public readonly List<string> TokenQueries = new();
        public readonly byte[] Manifest = Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":2},\"layers\":[]}");

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var uri = request.RequestUri!;
            if (uri.Host == "auth.example")
            {
                Interlocked.Increment(ref TokenRequests);
                TokenAuthorization = request.Headers.Authorization?.ToString();
                lock (TokenQueries) TokenQueries.Add(uri.Query);
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{\"token\":\"tok-123\",\"expires_in\":" + ExpiresIn + "}") });
            }
            if (request.Headers.Authorization is { Scheme: "Bearer", Parameter: "tok-123" } && uri.AbsolutePath.StartsWith("/v2/team/app/manifests/"))
            {
                var c = new ByteArrayContent(Manifest);
                c.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = c });
            }
            var r = new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("") };
            r.Headers.WwwAuthenticate.ParseAdd("Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:team/app:pull\"");
            return Task.FromResult(r);
        }
    }

    [Fact]
    public async Task Bearer_TokenIsFetchedWithBasicCredentials_AndCachedPerScope()
    {
        var fake = new FakeTokenRegistry();
        var creds = new InMemoryCredentialStore();
        creds.Store("registry.example", new RegistryCredential("alice", "pw-alice"));
        using var client = new RegistryClient("registry.example", new RegistryOptions { Credentials = creds, WrapHandler = _ => fake });

        var m1 = await client.GetManifestAsync("team/app", "1");
        var m2 = await client.GetManifestAsync("team/app", "2");
        Assert.Equal(m1.Digest, m2.Digest);
        Assert.Equal(1, fake.TokenRequests);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:pw-alice")), fake.TokenAuthorization);
        Assert.Contains("service=registry.example", fake.TokenQueries[0]);
        Assert.Contains("scope=repository%3Ateam%2Fapp%3Apull", fake.TokenQueries[0]);
    }

    [Fact]
    public async Task Bearer_ExpiredTokenIsFetchedAgain()
    {
        // Three seconds: long enough that the second request comes within it on a busy machine.
        var fake = new FakeTokenRegistry { ExpiresIn = 3 };
        using var client = new RegistryClient("registry.example", new RegistryOptions { WrapHandler = _ => fake });
        await client.GetManifestAsync("team/app", "1");
        await client.GetManifestAsync("team/app", "1");
        Assert.Equal(1, fake.TokenRequests);
        await Task.Delay(3300);
        await client.GetManifestAsync("team/app", "1");
        Assert.Equal(2, fake.TokenRequests);
    }

    [Fact]
    public async Task Bearer_AnonymousTokenWorksToo()
    {
        var fake = new FakeTokenRegistry();
        using var client = new RegistryClient("registry.example", new RegistryOptions { WrapHandler = _ => fake });
        await client.GetManifestAsync("team/app", "1");
        Assert.Null(fake.TokenAuthorization);
    }

    [Fact]
    public void DockerConfig_StoreGetErase_KeepsOtherKeys_AndIsPrivate()
    {
        using var dir = new TempDir("co-dockercfg");
        var path = Path.Combine(dir.Path, "sub", "config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + Convert.ToBase64String(Encoding.UTF8.GetBytes("hub:hubpw")) + "\"}},\"psFormat\":\"table\"}");
        var store = new DockerConfigCredentialStore(path);

        Assert.Equal("hub", store.Get("docker.io")!.Username);
        Assert.Equal("hubpw", store.Get("index.docker.io")!.Secret);
        Assert.Null(store.Get("127.0.0.1:5000"));

        store.Store("127.0.0.1:5000", new RegistryCredential("u", "p:with:colons"));
        var back = new DockerConfigCredentialStore(path).Get("http://127.0.0.1:5000/v2/");
        Assert.Equal("u", back!.Username);
        Assert.Equal("p:with:colons", back.Secret);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Contains("psFormat", File.ReadAllText(path));
        Assert.Equal("u:***", back.ToString());

        Assert.True(store.Erase("127.0.0.1:5000"));
        Assert.False(store.Erase("127.0.0.1:5000"));
        Assert.Null(store.Get("127.0.0.1:5000"));
        Assert.NotNull(store.Get("docker.io"));
    }

    [Fact]
    public void DockerConfig_NewFileAndFolder_AreOwnerOnly()
    {
        using var dir = new TempDir("co-dockercfg");
        var path = Path.Combine(dir.Path, ".docker", "config.json");
        new DockerConfigCredentialStore(path).Store("docker.io", new RegistryCredential("a", "b"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        Assert.Contains(RegistryHosts.DockerHubConfigKey, File.ReadAllText(path));
    }
}
