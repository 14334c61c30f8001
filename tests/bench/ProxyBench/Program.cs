// proxy-bench: the service proxy's table for SERVICES services of ENDPOINTS endpoints each, in the network namespace it
// runs in (service-proxy.sh runs it in one of its own), and the same services as kube-proxy's iptables mode writes them.
//   proxy-bench nft SERVICES ENDPOINTS CHANGES
//       The first sync (the whole table in one `nft -f`), then CHANGES syncs that each move one endpoint of one
//       service to a new pod address (as a pod replaced in a rollout), then one service added and one removed.
//       Each sync is the whole path of the proxy: building the table wanted, the difference, `nft -f`.
//   proxy-bench iptables SERVICES ENDPOINTS CHANGES
//       The same services as kube-proxy's iptables mode renders them (KUBE-SERVICES → KUBE-SVC-* with one
//       `statistic --mode random --probability` rule per endpoint → KUBE-SEP-* DNAT), written the way its full sync
//       writes them: the whole nat table through `iptables-restore --noflush`, once first and again per change.
// Prints one line per phase: count, median, p99 and max in milliseconds.
using System.Diagnostics;
using System.Text;
using ContainerOps.Network.Services;

if (args.Length != 4 || !int.TryParse(args[1], out var serviceCount) || !int.TryParse(args[2], out var endpointCount) || !int.TryParse(args[3], out var changes))
{
    Console.Error.WriteLine("usage: proxy-bench nft|iptables SERVICES ENDPOINTS CHANGES");
    return 2;
}
var services = Enumerable.Range(0, serviceCount).Select(i => Service(i, 0)).ToList();
var random = new Random(1);
var generation = 0;

if (args[0] == "nft")
{
    var proxy = new ServiceProxy("bench_svc", hairpinSource: "10.42.0.1");
    try
    {
        proxy.Sync(services);
        Report("nft first sync (whole table)", [proxy.LastSyncDuration.TotalMilliseconds]);
        var times = new List<double>();
        for (var c = 0; c < changes; c++)
        {
            var i = random.Next(serviceCount);
            services[i] = Service(i, ++generation);
            proxy.Sync(services);
            if (!proxy.LastSyncWasPartial) throw new InvalidOperationException("a change rewrote the whole table");
            times.Add(proxy.LastSyncDuration.TotalMilliseconds);
        }
        Report("nft one endpoint changed", times);
        services.Add(Service(serviceCount, 0));
        proxy.Sync(services);
        var added = proxy.LastSyncDuration.TotalMilliseconds;
        services.RemoveAt(services.Count - 1);
        proxy.Sync(services);
        Report("nft one service added, one removed", [added, proxy.LastSyncDuration.TotalMilliseconds]);
    }
    finally { proxy.Remove(); }
    return 0;
}
if (args[0] == "iptables")
{
    var times = new List<double>();
    Report("iptables-restore first sync (whole nat table)", [Restore(services)]);
    for (var c = 0; c < changes; c++)
    {
        var i = random.Next(serviceCount);
        services[i] = Service(i, ++generation);
        times.Add(Restore(services));
    }
    Report("iptables-restore one endpoint changed (whole nat table)", times);
    return 0;
}
Console.Error.WriteLine($"proxy-bench: unknown mode {args[0]}");
return 2;

// Service i at 10.96.x.y:80 → ENDPOINTS pods on 8080; a change replaces its first endpoint with a new address.
ProxyService Service(int i, int moved) => new("bench", $"s{i}", $"10.96.{i / 250}.{i % 250 + 1}",
    [new ProxyPort("TCP", 80, 0, Enumerable.Range(0, endpointCount).Select(e =>
        new ProxyEndpoint(e == 0 && moved > 0 ? $"10.45.{moved / 250 % 250}.{moved % 250 + 1}" : $"10.44.{(i * endpointCount + e) / 250 % 250}.{(i * endpointCount + e) % 250 + 1}", 8080)).ToList())]);

double Restore(List<ProxyService> all)
{
    var sb = new StringBuilder("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n");
    var rules = new StringBuilder();
    foreach (var s in all)
    {
        var svc = Chain("SVC", s.Name);
        sb.Append($":{svc} - [0:0]\n");
        rules.Append($"-A KUBE-SERVICES -d {s.ClusterIp}/32 -p tcp -m tcp --dport 80 -j {svc}\n");
        var endpoints = s.Ports[0].Endpoints;
        for (var e = 0; e < endpoints.Count; e++)
        {
            var sep = Chain("SEP", $"{s.Name}/{endpoints[e].Address}");
            sb.Append($":{sep} - [0:0]\n");
            rules.Append(e < endpoints.Count - 1
                ? $"-A {svc} -m statistic --mode random --probability {1.0 / (endpoints.Count - e):F10} -j {sep}\n"
                : $"-A {svc} -j {sep}\n");
            rules.Append($"-A {sep} -s {endpoints[e].Address}/32 -j KUBE-MARK-MASQ\n");
            rules.Append($"-A {sep} -p tcp -m tcp -j DNAT --to-destination {endpoints[e].Address}:{endpoints[e].Port}\n");
        }
    }
    rules.Append("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n");
    rules.Append("-A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE\n");
    var input = sb.Append(rules).Append("COMMIT\n").ToString();
    var watch = Stopwatch.StartNew();
    var psi = new ProcessStartInfo("iptables-restore", "--noflush") { RedirectStandardInput = true, RedirectStandardError = true };
    using var p = Process.Start(psi)!;
    p.StandardInput.Write(input);
    p.StandardInput.Close();
    var error = p.StandardError.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException("iptables-restore: " + error);
    return watch.Elapsed.TotalMilliseconds;
}

// kube-proxy names its chains by a hash of what they stand for; any stable short name does here.
static string Chain(string kind, string what) =>
    $"KUBE-{kind}-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(what)))[..16]}";

static void Report(string what, List<double> ms)
{
    ms.Sort();
    double At(double q) => ms[Math.Min(ms.Count - 1, (int)(q * ms.Count))];
    Console.WriteLine($"{what}: {ms.Count} × median {At(0.5):F1} ms, p99 {At(0.99):F1} ms, max {ms[^1]:F1} ms");
}
