using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ContainerOps.TestSupport;
using Xunit.Abstractions;

namespace ContainerOps.Daemon.Tests;

/// <summary>Traffic through services under load with real pods, from the host: 3000 requests spread evenly over three
/// replicas, a pod deleted mid-load costs no more than the requests it had in flight, ClientIP affinity keeps a client
/// on one pod, an external IP answers, and a service without a selector sends its traffic to the Endpoints its user wrote. The daemon has a
/// service range of its own, so no other daemon's rules answer for its cluster IPs.</summary>
public sealed class ServiceTrafficTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await ClusterDaemon.StartAsync(ClusterDaemon.Image, "--service-cidr", $"10.{Random.Shared.Next(97, 112)}.{Random.Shared.Next(0, 256)}.0/24");

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    /// <summary>A deployment of web servers that answer with their pod's name on port 8080 ("http").</summary>
    private void WebDeployment(int replicas) => _cluster.Apply($$$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: {{{replicas}}}
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: web
                image: {{{ClusterDaemon.Image}}}
                command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']
                ports: [{name: http, containerPort: 8080}]
                readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
        """);

    private string Service(string extra = "")
    {
        _cluster.Apply($$$"""
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 80, targetPort: http}]
            {{{extra}}}
            """);
        return _cluster.Get("service", "web")["spec"]!["clusterIP"]!.GetValue<string>();
    }

    /// <summary>The names of the web pods once <paramref name="count"/> are ready (and, with <paramref name="service"/>,
    /// are the web service's ready endpoints).</summary>
    private async Task<List<string>> ReadyPodsAsync(int count, bool service = true)
    {
        var pods = await _cluster.EventuallyAsync(() => _cluster.Items("get", "pods", "-l", "app=web").Where(ClusterDaemon.IsReady).ToList(), l => l.Count == count, $"{count} ready pods", 120);
        if (service)
        {
            await _cluster.EventuallyAsync(() => _cluster.TryGet("endpoints", "web"), e => (e?["subsets"]?[0]?["addresses"] as JsonArray)?.Count == count, $"{count} ready endpoints", 60);
            // The proxy follows the EndpointSlices a moment after the Endpoints: wait for its rules to hold every pod.
            var podIps = pods.Select(p => p["status"]!["podIP"]!.GetValue<string>()).ToList();
            await _cluster.EventuallyAsync(() => Shell.Run("nft", $"list table inet {_cluster.Daemon.NftTable}_svc", check: false),
                rules => podIps.All(ip => rules.Contains($"ep_default/web/tcp/80/{ip}/", StringComparison.Ordinal) || rules.Contains($"{ip} . 8080", StringComparison.Ordinal) || rules.Contains($"{ip}:8080", StringComparison.Ordinal)),
                "every ready pod in the proxy's rules", 30);
        }
        return pods.Select(p => p["metadata"]!["name"]!.GetValue<string>()).Order().ToList();
    }

    /// <summary>One HTTP/1.0 GET on a connection of its own: the pod's name, or null when the connection failed.</summary>
    private static async Task<string?> GetAsync(string ip, int port = 80)
    {
        try
        {
            using var tcp = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await tcp.ConnectAsync(ip, port, timeout.Token);
            var stream = tcp.GetStream();
            await stream.WriteAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), timeout.Token);
            var answer = await new StreamReader(stream).ReadToEndAsync(timeout.Token);
            var body = answer.Split("\r\n\r\n", 2);
            return body.Length == 2 && answer.StartsWith("HTTP/1.", StringComparison.Ordinal) && answer.Contains(" 200 ") ? body[1].Trim() : null;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException) { return null; }
    }

    /// <summary><paramref name="total"/> requests by <paramref name="clients"/> concurrent clients.</summary>
    private static async Task<List<string?>> LoadAsync(string ip, int total, int clients)
    {
        var answers = new ConcurrentBag<string?>();
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= total) answers.Add(await GetAsync(ip));
        })));
        return [.. answers];
    }

    [Fact]
    public async Task ThreeThousandRequestsSpreadWithinTenPercentOfEvenOverThreeReplicas()
    {
        WebDeployment(3);
        // The service as `kubectl expose` makes it.
        _cluster.Ok("expose", "deployment", "web", "--port", "80", "--target-port", "8080");
        var ip = _cluster.Get("service", "web")["spec"]!["clusterIP"]!.GetValue<string>();
        var pods = await ReadyPodsAsync(3);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var answers = await LoadAsync(ip, 3000, 8);
        output.WriteLine($"3000 requests (8 clients, a connection each) in {stopwatch.Elapsed.TotalSeconds:0.0} s");
        Assert.DoesNotContain(null, answers);
        var spread = answers.GroupBy(a => a!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(pods, spread.Keys.Order());
        // Even is 1000 each; ±10 % is 3.9 standard deviations of a fair random pick.
        output.WriteLine(string.Join(", ", spread));
        // For comparison (a figure, not a check: the VM's load varies): the same requests straight to the pods.
        var podIps = _cluster.Items("get", "pods", "-l", "app=web").Select(p => p["status"]!["podIP"]!.GetValue<string>()).ToList();
        stopwatch.Restart();
        var direct = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            for (var i = c; i < 3000; i += 8) if (await GetAsync(podIps[i % podIps.Count], 8080) is not null) Interlocked.Increment(ref direct);
        })));
        output.WriteLine($"the same {direct} straight to the pod IPs in {stopwatch.Elapsed.TotalSeconds:0.0} s");
        Assert.All(spread, kv => Assert.True(kv.Value is >= 900 and <= 1100, string.Join(", ", spread)));
    }

    [Fact]
    public async Task APodDeletedMidLoadFailsNoMoreThanTheRequestsItHadInFlight()
    {
        WebDeployment(3);
        var ip = Service();
        var pods = await ReadyPodsAsync(3);
        const int clients = 4;
        var failures = 0;
        var served = new ConcurrentDictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (await GetAsync(ip) is { } pod) served.AddOrUpdate(pod, 1, (_, n) => n + 1);
                else Interlocked.Increment(ref failures);
            }
        })));
        await Task.Delay(1000);
        Assert.Equal(0, _cluster.Kubectl("delete", "pod", pods[0], "--wait=false").Exit);
        // Until the pod is gone and its replacement serves.
        await _cluster.EventuallyAsync(() => _cluster.Items("get", "pods", "-l", "app=web"), l => l.All(p => p["metadata"]!["name"]!.GetValue<string>() != pods[0]) && l.Count(ClusterDaemon.IsReady) == 3, "the pod replaced", 60);
        // The proxy follows its endpoints a moment later: the load goes on until the replacement has served (or 30 s).
        var servedDeadline = DateTime.UtcNow.AddSeconds(30);
        while (served.Keys.Count() < 4 && DateTime.UtcNow < servedDeadline) await Task.Delay(200);
        stop.Cancel();
        await load;
        output.WriteLine($"{failures} failed; served: {string.Join(", ", served)}");
        Assert.True(failures <= clients, $"{failures} failed requests; served: {string.Join(", ", served)}");
        Assert.True(served.Keys.Count() >= 4, $"the replacement never served: {string.Join(", ", served)}");
    }

    [Fact]
    public async Task ClientIpAffinityKeepsAClientOnOnePod()
    {
        WebDeployment(3);
        var ip = Service("  sessionAffinity: ClientIP");
        await ReadyPodsAsync(3);
        // The client's first connection picks its pod (connections opened at the same instant on two cores could each
        // pick one before either is recorded, as with kube-proxy); every later one, however concurrent, goes there.
        var first = await GetAsync(ip);
        Assert.NotNull(first);
        var answers = await LoadAsync(ip, 200, 4);
        Assert.DoesNotContain(null, answers);
        Assert.Equal([first], answers.Distinct());
        // A fourth pod comes: the table is rewritten, and the client stays on its pod.
        _cluster.Ok("scale", "deployment", "web", "--replicas", "4");
        await ReadyPodsAsync(4);
        answers = await LoadAsync(ip, 100, 4);
        Assert.Equal([first], answers.Distinct());
    }

    [Fact]
    public async Task AnExternalIpOfAServiceAnswersAsItsClusterIpDoes()
    {
        WebDeployment(1);
        var external = $"198.51.100.{Random.Shared.Next(2, 250)}"; // a documentation address: nobody else's
        Service($"  externalIPs: [\"{external}\"]");
        var pod = (await ReadyPodsAsync(1))[0];
        await _cluster.EventuallyAsync(() => GetAsync(external).GetAwaiter().GetResult(), a => a == pod, "an answer on the external IP", 30);
    }

    [Fact]
    public async Task AServiceWithoutSelectorSendsItsTrafficToTheEndpointsItsUserWrote()
    {
        WebDeployment(1);
        var pod = (await ReadyPodsAsync(1, service: false))[0];
        var podIp = _cluster.Get("pod", pod)["status"]!["podIP"]!.GetValue<string>();
        _cluster.Apply($$$"""
            apiVersion: v1
            kind: Endpoints
            metadata: {name: legacy}
            subsets:
            - addresses: [{ip: "{{{podIp}}}"}]
              ports: [{name: http, port: 8080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: legacy}
            spec:
              ports: [{name: http, port: 80, targetPort: 8080}]
            """);
        var ip = _cluster.Get("service", "legacy")["spec"]!["clusterIP"]!.GetValue<string>();
        var slices = await _cluster.EventuallyAsync(() => _cluster.Items("get", "endpointslices", "-l", "kubernetes.io/service-name=legacy"), l => l.Count == 1, "the mirrored slice");
        Assert.Equal("endpointslicemirroring-controller.k8s.io", slices[0]["metadata"]!["labels"]!["endpointslice.kubernetes.io/managed-by"]!.GetValue<string>());
        await _cluster.EventuallyAsync(() => GetAsync(ip).GetAwaiter().GetResult(), a => a == pod, "an answer through the cluster IP");
        // The Endpoints stay as their user wrote them.
        var endpoints = _cluster.Get("endpoints", "legacy");
        Assert.Equal(podIp, endpoints["subsets"]![0]!["addresses"]![0]!["ip"]!.GetValue<string>());
        Assert.Null(endpoints["subsets"]![0]!["addresses"]![0]!["targetRef"]);
    }
}
