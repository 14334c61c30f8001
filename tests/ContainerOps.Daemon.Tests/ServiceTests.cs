using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Services with real pods on a private daemon: traffic to a cluster IP spreads over the ready pods (from the
/// host and from another pod), a pod that fails readiness gets none, node ports answer on 127.0.0.1, a service with
/// no endpoint refuses at once, and a deleted service leaves no rule behind.</summary>
public sealed class ServiceTests : IAsyncLifetime
{
    private ClusterDaemon _cluster = null!;
    private readonly TempDir _flags = new("csvcflags");
    private string SvcTable => _cluster.Daemon.NftTable + "_svc";

    public async Task InitializeAsync() => _cluster = await ClusterDaemon.StartAsync();

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _flags.Dispose();
    }

    /// <summary>A web pod that answers its own name on port 8080 (named "http"), ready while its flag file exists on the host.</summary>
    private string WebPod(string name) => $$$"""
        apiVersion: v1
        kind: Pod
        metadata: {name: {{{name}}}, labels: {app: web}}
        spec:
          terminationGracePeriodSeconds: 0
          volumes: [{name: flags, hostPath: {path: "{{{_flags.Path}}}", type: Directory}}]
          containers:
          - name: web
            image: {{{ClusterDaemon.Image}}}
            command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']
            ports: [{name: http, containerPort: 8080}]
            volumeMounts: [{name: flags, mountPath: /flags}]
            readinessProbe: {exec: {command: [test, -f, "/flags/{{{name}}}"]}, periodSeconds: 1, failureThreshold: 1}
        """;

    private const string Service = """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: NodePort
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]
        """;

    /// <summary>Runs a shell script in a new pod (ClusterFirst DNS) and returns what it wrote, with a DONE line at the end.</summary>
    private Task<string> RunScriptAsync(string pod, string script)
    {
        _cluster.Apply($$$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: {{{pod}}}}
            spec:
              terminationGracePeriodSeconds: 0
              containers:
              - name: c
                image: {{{ClusterDaemon.Image}}}
                command: [sh, -c, '{{{script.Replace("'", "''")}}}; echo DONE; exec sleep 3600']
            """);
        return _cluster.LogsAsync(pod, "DONE");
    }

    private static async Task<string> GetAsync(HttpClient http, string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.ConnectionClose = true; // a new connection each time, so each is balanced on its own
        using var response = await http.SendAsync(request);
        return (await response.Content.ReadAsStringAsync()).Trim();
    }

    /// <summary>The answer, or null while the service does not answer yet.</summary>
    private static async Task<string?> TryGetAsync(HttpClient http, string url)
    {
        try { return await GetAsync(http, url); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return null; }
    }

    private static Dictionary<string, int> Count(IEnumerable<string> answers) =>
        answers.GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public async Task TrafficSpreadsOverReadyPodsFromTheHostAndFromAPodAndStopsForAnUnreadyOne()
    {
        string[] pods = ["web-a", "web-b", "web-c"];
        foreach (var p in pods)
        {
            File.WriteAllText(Path.Combine(_flags.Path, p), "");
            _cluster.Apply(WebPod(p));
        }
        _cluster.Apply(Service);
        foreach (var p in pods) await _cluster.WaitForAsync("pod", p, ClusterDaemon.IsReady);
        var svc = _cluster.Get("service", "web");
        var clusterIp = svc["spec"]!["clusterIP"]!.GetValue<string>();
        var nodePort = svc["spec"]!["ports"]![0]!["nodePort"]!.GetValue<int>();
        await _cluster.WaitForAsync("endpoints", "web", e => (e["subsets"]?[0]?["addresses"] as JsonArray)?.Count == 3);

        // The proxy follows the endpoints a moment later: wait until every pod has answered through the rules.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var seen = new HashSet<string>();
        var rulesDeadline = DateTime.UtcNow.AddSeconds(30);
        while (!pods.All(seen.Contains))
        {
            Assert.True(DateTime.UtcNow < rulesDeadline, $"only {string.Join(", ", seen)} answered through the service");
            if (await TryGetAsync(http, $"http://{clusterIp}/") is { } answer) seen.Add(answer);
            else await Task.Delay(100);
        }

        // From the host: 300 requests over all three, none far from a third.
        var answers = new List<string>();
        for (var i = 0; i < 300; i++) answers.Add(await GetAsync(http, $"http://{clusterIp}/"));
        var spread = Count(answers);
        Assert.True(spread.Keys.Order().SequenceEqual(pods), string.Join(", ", spread));
        Assert.All(spread.Values, n => Assert.InRange(n, 60, 140));

        // From another pod, by cluster IP.
        var log = await RunScriptAsync("client", $"for i in $(seq 60); do wget -q -O - http://{clusterIp}/; done");
        var fromPod = Count(log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l != "DONE"));
        Assert.True(fromPod.Keys.Order().SequenceEqual(pods), log);
        Assert.Equal(60, fromPod.Values.Sum());

        // The node port answers on 127.0.0.1.
        Assert.Contains(await GetAsync(http, $"http://127.0.0.1:{nodePort}/"), pods);

        // web-b fails readiness: no more traffic for it, and none lost for the others.
        File.Delete(Path.Combine(_flags.Path, "web-b"));
        await _cluster.WaitForAsync("endpoints", "web", e => (e["subsets"]?[0]?["addresses"] as JsonArray)?.Count == 2, 30);
        // The proxy follows the EndpointSlices, a moment after the Endpoints: traffic stops once its rules lose the address.
        var webB = _cluster.Get("pod", "web-b")["status"]!["podIP"]!.GetValue<string>();
        await _cluster.EventuallyAsync(() => Shell.Run("nft", $"list table inet {SvcTable}", check: false),
            rules => !System.Text.RegularExpressions.Regex.IsMatch(rules, System.Text.RegularExpressions.Regex.Escape(webB) + "(?![0-9])"), "web-b's address out of the proxy's rules", 30);
        var stopwatch = Stopwatch.StartNew();
        answers.Clear();
        for (var i = 0; i < 100; i++) answers.Add(await GetAsync(http, $"http://{clusterIp}/"));
        Assert.DoesNotContain("web-b", answers);
        Assert.Equal(["web-a", "web-c"], Count(answers).Keys.Order());

        // The service goes: its rules go with it (the API server's own service remains in the table).
        Assert.Equal(0, _cluster.Kubectl("delete", "service", "web").Exit);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Shell.Run("nft", $"list table inet {SvcTable}", check: false).Contains("default/web/", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, Shell.Run("nft", $"list table inet {SvcTable}", check: false));
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task AServiceWithoutReadyEndpointsRefusesAtOnceAndAPodReachesItselfThroughItsService()
    {
        _cluster.Apply("""
            apiVersion: v1
            kind: Service
            metadata: {name: empty}
            spec:
              selector: {app: nobody}
              ports: [{port: 80}]
            """);
        var ip = _cluster.Get("service", "empty")["spec"]!["clusterIP"]!.GetValue<string>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Shell.Run("nft", $"list set inet {SvcTable} cluster-ips", check: false).Contains(ip, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the empty service's address never reached the rules");
            await Task.Delay(100);
        }
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var stopwatch = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<SocketException>(async () => await socket.ConnectAsync(ip, 80).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"refused after {stopwatch.Elapsed}");

        // Hairpin: the only endpoint of a service asks its own service (the address is known before the pod: made first).
        _cluster.Apply(Service);
        var webIp = _cluster.Get("service", "web")["spec"]!["clusterIP"]!.GetValue<string>();
        File.WriteAllText(Path.Combine(_flags.Path, "solo"), "");
        _cluster.Apply(WebPod("solo").Replace("exec httpd -f -p 8080 -h /www",
            $"httpd -f -p 8080 -h /www & for i in $(seq 60); do wget -q -O - http://{webIp}/ && break; sleep 0.5; done; echo DONE; wait"));
        var log = await _cluster.LogsAsync("solo", "DONE");
        // (Refusals first, while the pod was not yet ready, then its own answer.)
        Assert.EndsWith("solo\nDONE", log.Trim());
    }

    [Fact]
    public async Task PodsResolveServicesHeadlessPodsAndSrvRecordsThroughTheClusterDns()
    {
        File.WriteAllText(Path.Combine(_flags.Path, "web-a"), "");
        _cluster.Apply(WebPod("web-a"));
        _cluster.Apply(Service);
        // A StatefulSet-style pod: hostname db-0 under the headless service db.
        _cluster.Apply($$$"""
            apiVersion: v1
            kind: Service
            metadata: {name: db}
            spec:
              clusterIP: None
              selector: {app: db}
              ports: [{name: pg, port: 5432, targetPort: 8080}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: db-0, labels: {app: db}}
            spec:
              hostname: db-0
              subdomain: db
              terminationGracePeriodSeconds: 0
              containers:
              - {name: c, image: {{{ClusterDaemon.Image}}}, command: [sleep, "3600"]}
            """);
        await _cluster.WaitForAsync("pod", "web-a", ClusterDaemon.IsReady);
        var db = await _cluster.WaitForAsync("pod", "db-0", ClusterDaemon.IsReady);
        var dbIp = db["status"]!["podIP"]!.GetValue<string>();
        await _cluster.WaitForAsync("endpoints", "db", e => (e["subsets"]?[0]?["addresses"] as JsonArray)?.Count == 1);
        var webIp = _cluster.Get("service", "web")["spec"]!["clusterIP"]!.GetValue<string>();

        var log = await RunScriptAsync("asker",
            "cat /etc/resolv.conf; nslookup web.default.svc.cluster.local; nslookup db-0.db.default.svc.cluster.local; nslookup -type=srv _http._tcp.web.default.svc.cluster.local; echo \"WGET $(wget -q -O - http://web/)\"");
        Assert.True(log.Contains("WGET web-a"), log + Shell.Run("nft", $"list table inet {SvcTable}", check: false) + _cluster.Kubectl("get", "svc,endpointslices", "-A").Out);
        Assert.Contains("nameserver 10.96.0.10", log);
        Assert.Contains("search default.svc.cluster.local svc.cluster.local cluster.local", log);
        Assert.Contains("ndots:5", log);
        Assert.True(log.Contains($"Address: {dbIp}"), log);
        Assert.Contains($"Address: {webIp}", log);
        Assert.Contains($"Address: {dbIp}", log);
        Assert.Contains("100 80 web.default.svc.cluster.local", log);
        Assert.Contains("WGET web-a", log);
    }

    [Fact]
    public async Task RulesOutliveADaemonKilledWithSigkillAndAreTheSameAfterItsRestart()
    {
        File.WriteAllText(Path.Combine(_flags.Path, "web-a"), "");
        _cluster.Apply(WebPod("web-a"));
        _cluster.Apply(Service);
        await _cluster.WaitForAsync("endpoints", "web", e => (e["subsets"]?[0]?["addresses"] as JsonArray)?.Count == 1);
        var clusterIp = _cluster.Get("service", "web")["spec"]!["clusterIP"]!.GetValue<string>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Shell.Run("nft", $"list map inet {SvcTable} service-ips", check: false).Contains(clusterIp, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the service never reached the rules");
            await Task.Delay(100);
        }
        // The rules hold the pod as well as the service once it answers through them: only then are they the ones to compare with.
        while (await TryGetAsync(http, $"http://{clusterIp}/") != "web-a")
        {
            Assert.True(DateTime.UtcNow < deadline.AddSeconds(20), "the service never answered through its rules");
            await Task.Delay(100);
        }
        var before = Shell.Run("nft", $"list table inet {SvcTable}");

        _cluster.Daemon.Crash();
        Assert.Equal("web-a", await GetAsync(http, $"http://{clusterIp}/")); // the kernel still has the rules
        _cluster.Daemon.Start();
        await _cluster.WriteKubeconfigAsync();
        await _cluster.WaitForAsync("pod", "web-a", ClusterDaemon.IsReady);
        // After the restart the rules come back to the same (its prober may take the pod out for a moment until its
        // first probe): they must settle on exactly what they were.
        var settled = DateTime.UtcNow.AddSeconds(30);
        string after;
        while ((after = Shell.Run("nft", $"list table inet {SvcTable}")) != before && DateTime.UtcNow < settled) await Task.Delay(250);
        Assert.Equal(before, after);
        Assert.Equal("web-a", await GetAsync(http, $"http://{clusterIp}/"));
    }
}
