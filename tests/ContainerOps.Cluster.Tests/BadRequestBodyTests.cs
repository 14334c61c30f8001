using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>Bodies and requests the API must refuse with a clear status, leaving the store as it was: an object over
/// etcd's size limit, nesting past the parser's depth, bytes that are not UTF-8, and more watches than the server
/// takes at once.</summary>
public sealed class BadRequestBodyTests : IAsyncLifetime
{
    private ApiServer _api = null!;
    private static string S(JsonNode? n) => n!.GetValue<string>();

    public Task InitializeAsync() { _api = new ApiServer(new KubernetesApiOptions { MaxWatches = 3 }); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _api.DisposeAsync();

    private async Task<(int Code, JsonObject Status)> PostBytesAsync(byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        using var response = await _api.Http.PostAsync("/api/v1/namespaces/default/configmaps", content);
        return ((int)response.StatusCode, (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task AnOversizedObjectDeepNestingAndBadUtf8AreRefusedAndTheStoreStaysAsItWas()
    {
        var revision = _api.Store.CurrentRevision;

        var big = "{\"metadata\":{\"name\":\"big\"},\"data\":{\"v\":\"" + new string('x', 1600 * 1024) + "\"}}";
        var (code, status) = await _api.PostAsync("/api/v1/namespaces/default/configmaps", big);
        Assert.Equal(413, code);
        Assert.Equal("RequestEntityTooLarge", S(status["reason"]));
        Assert.Contains("ConfigMap \"big\" is too large", S(status["message"]));

        var deep = """{"metadata":{"name":"deep"},"data":{"v":"1"},"x":""" + string.Concat(Enumerable.Repeat("[", 200)) + string.Concat(Enumerable.Repeat("]", 200)) + "}";
        (code, status) = await _api.PostAsync("/api/v1/namespaces/default/configmaps", deep);
        Assert.Equal(400, code);
        Assert.Contains("not valid JSON", S(status["message"]));
        Assert.Contains("depth", S(status["message"]));

        var bad = Encoding.UTF8.GetBytes("""{"metadata":{"name":"bad"},"data":{"v":"AB"}}""");
        bad[Array.IndexOf(bad, (byte)'A')] = 0xff;
        bad[Array.IndexOf(bad, (byte)'B')] = 0xfe;
        (code, status) = await PostBytesAsync(bad);
        Assert.Equal(400, code);
        Assert.Equal($"the request body is not valid UTF-8: byte {Array.IndexOf(bad, (byte)0xff)} (0xff) starts no character", S(status["message"]));

        Assert.Equal(revision, _api.Store.CurrentRevision);
        var (listed, list) = await _api.GetAsync("/api/v1/namespaces/default/configmaps");
        Assert.Equal(200, listed);
        Assert.DoesNotContain(list["items"]!.AsArray(), i => S(i!["metadata"]!["name"]) is "big" or "deep" or "bad");
        // And the next good write goes through.
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"good"},"data":{"v":"1"}}""")).Code);
    }

    [Fact]
    public async Task WatchesPastTheLimitAreRefusedWithRetryAfterAndTheOpenOnesStillDeliver()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var open = new List<HttpResponseMessage>();
        try
        {
            for (var i = 0; i < 3; i++)
                open.Add(await _api.Http.GetAsync("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0&timeoutSeconds=20",
                    HttpCompletionOption.ResponseHeadersRead, cts.Token));
            Assert.All(open, r => Assert.Equal(200, (int)r.StatusCode));

            using var refused = await _api.Http.GetAsync("/api/v1/namespaces/default/configmaps?watch=1", cts.Token);
            Assert.Equal(429, (int)refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
            var status = (JsonObject)JsonNode.Parse(await refused.Content.ReadAsStringAsync(cts.Token))!;
            Assert.Equal("TooManyRequests", S(status["reason"]));
            Assert.Contains("too many watches are open (3", S(status["message"]));

            // Reads and writes are not watches: they go on, and the open watches see the write.
            Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"seen"},"data":{"v":"1"}}""")).Code);
            foreach (var response in open)
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
                string? line;
                while ((line = await reader.ReadLineAsync(cts.Token)) is not null && !line.Contains("\"seen\"")) { }
                Assert.NotNull(line);
            }

            // A watch that ends gives its place back.
            open[0].Dispose();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            int code;
            do
            {
                using var again = await _api.Http.GetAsync("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1", HttpCompletionOption.ResponseHeadersRead, cts.Token);
                code = (int)again.StatusCode;
                if (code != 200) await Task.Delay(50, cts.Token);
            } while (code != 200 && DateTime.UtcNow < deadline);
            Assert.Equal(200, code);
        }
        finally { foreach (var r in open) r.Dispose(); }
    }
}
