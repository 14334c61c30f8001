using System.Diagnostics;
using ContainerOps.Network.Nat;
using ContainerOps.Network.Services;
using ContainerOps.TestSupport;

namespace ContainerOps.Network.Tests;

/// <summary>The service proxy's table as text (a pure function of the services), and the kernel taking it.</summary>
public sealed class ServiceRulesTests
{
    private static ProxyService Web(int endpoints, int nodePort = 0, int affinity = 0) => new("default", "web", "10.96.0.20",
        [new ProxyPort("TCP", 80, nodePort, Enumerable.Range(1, endpoints).Select(i => new ProxyEndpoint($"10.42.0.{i + 1}", 8080)).ToList())],
        affinity);

    [Fact]
    public void TheTableIsRewrittenInOneScriptWithARandomPickOverTheEndpoints()
    {
        var text = ServiceRules.Render("svc_t", [Web(3)]);
        Assert.DoesNotContain("delete table", text);
        Assert.Contains("flush table inet svc_t\nflush map inet svc_t service-ips\n", text);
        Assert.Contains("elements = { 10.96.0.20 . tcp . 80 : goto svc_default/web/tcp/80 }", text);
        Assert.Contains("    meta l4proto tcp dnat ip to numgen random mod 3 map { 0 : 10.42.0.2 . 8080, 1 : 10.42.0.3 . 8080, 2 : 10.42.0.4 . 8080 }\n", text);
        Assert.Contains("elements = { 10.42.0.2 . 10.42.0.2,\n      10.42.0.3 . 10.42.0.3,\n      10.42.0.4 . 10.42.0.4 }", text);
        Assert.Contains("ip saddr . ip daddr @hairpin masquerade", text);
        Assert.Contains("ip saddr . ip daddr @hairpin snat ip to 10.42.0.1", ServiceRules.Render("svc_t", [Web(3)], hairpinSource: "10.42.0.1"));
        Assert.DoesNotContain("chain ep_", text);
        // The same input renders the same text (the proxy skips unchanged syncs by comparing it).
        Assert.Equal(text, ServiceRules.Render("svc_t", [Web(3)]));
    }

    [Fact]
    public void AServiceWithoutEndpointsIsNotInTheMapsSoItIsRejected()
    {
        var text = ServiceRules.Render("svc_t", [Web(0, nodePort: 30080)]);
        Assert.DoesNotContain("goto svc_default/web", text);
        Assert.Contains("set cluster-ips {\n    type ipv4_addr\n    elements = { 10.96.0.20 }", text);
        Assert.Contains("set no-endpoint-nodeports {\n    type inet_proto . inet_service\n    elements = { tcp . 30080 }", text);
        Assert.Contains("ip daddr @cluster-ips goto reject-connection", text);
        Assert.Contains("meta l4proto tcp reject with tcp reset", text);
    }

    [Fact]
    public void NodePortsAndAffinityHaveTheirChains()
    {
        var text = ServiceRules.Render("svc_t", [Web(2, nodePort: 30080, affinity: 600)]);
        Assert.Contains("tcp . 30080 : goto nodeport_default/web/tcp/80", text);
        Assert.Contains("fib daddr type local meta l4proto . th dport vmap @service-nodeports", text);
        Assert.Contains("set affinity_default/web/tcp/80/10.42.0.2/8080 {\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout 600s\n  }", text);
        Assert.Contains("ip saddr @affinity_default/web/tcp/80/10.42.0.3/8080 goto ep_default/web/tcp/80/10.42.0.3/8080", text);
        Assert.Contains("update @affinity_default/web/tcp/80/10.42.0.2/8080 { ip saddr }", text);
        Assert.Contains("numgen random mod 2 vmap { 0 : goto ep_default/web/tcp/80/10.42.0.2/8080, 1 : goto ep_default/web/tcp/80/10.42.0.3/8080 }", text);
        var local = ServiceRules.Render("svc_t", [Web(2, nodePort: 30080) with { LocalOnly = true }]);
        var nodePortChain = local[local.IndexOf("chain nodeport_", StringComparison.Ordinal)..];
        Assert.StartsWith("chain nodeport_default/web/tcp/80 {\n    fib saddr type local jump mark-for-masquerade\n", nodePortChain);
    }

    [Fact]
    public void ChainsAndSetsNoLongerWantedAreDeletedAndTheOthersKept()
    {
        var two = ServiceRules.Render("svc_t", [Web(2, affinity: 600)]);
        var objects = ServiceRules.Objects(two);
        Assert.Contains("set affinity_default/web/tcp/80/10.42.0.3/8080", objects);
        Assert.Contains("chain ep_default/web/tcp/80/10.42.0.3/8080", objects);
        Assert.Contains("map service-ips", objects);
        // One endpoint fewer: its chain and its set go, nothing else is deleted.
        var one = ServiceRules.Render("svc_t", [Web(1, affinity: 600)], existing: objects);
        var deletes = one.Split('\n').Where(l => l.StartsWith("delete ", StringComparison.Ordinal)).ToList();
        Assert.Equal(["delete chain inet svc_t ep_default/web/tcp/80/10.42.0.3/8080", "delete set inet svc_t affinity_default/web/tcp/80/10.42.0.3/8080"], deletes);
        // The objects as the kernel lists them are read the same way.
        Assert.Equal(["chain c", "map m", "set s/x"], ServiceRules.Objects("table inet t {\n\tset s/x {\n\t\ttype ipv4_addr\n\t}\n\tmap m {\n\t}\n\tchain c {\n\t}\n}\n").Order());
    }

    [Fact]
    public void AChangeIsSentAsTheDifferenceAloneInAnOrderTheKernelTakes()
    {
        var other = Web(1) with { Name = "other", ClusterIp = "10.96.0.21" };
        var before = ServiceRules.Build([Web(2, affinity: 600), other]);
        Assert.Equal("", ServiceRules.RenderChanges("svc_t", before, ServiceRules.Build([Web(2, affinity: 600), other])));

        // One endpoint more: its set and chain are declared, the service's chain filled again, its address added.
        var grown = ServiceRules.RenderChanges("svc_t", before, ServiceRules.Build([Web(3, affinity: 600), other]));
        Assert.DoesNotContain("other", grown);
        Assert.DoesNotContain("flush table", grown);
        Assert.DoesNotContain("delete", grown);
        Assert.StartsWith("flush chain inet svc_t svc_default/web/tcp/80\ntable inet svc_t {\n  set affinity_default/web/tcp/80/10.42.0.4/8080 {", grown);
        Assert.Contains("numgen random mod 3 vmap", grown);
        Assert.DoesNotContain("set affinity_default/web/tcp/80/10.42.0.2/8080", grown); // kept, with its clients
        Assert.EndsWith("}\nadd element inet svc_t hairpin { 10.42.0.4 . 10.42.0.4 }\n", grown);

        // The service goes: its map element first, its chains flushed, then deleted, then the sets their rules named.
        var gone = ServiceRules.RenderChanges("svc_t", before, ServiceRules.Build([other])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("delete element inet svc_t service-ips { 10.96.0.20 . tcp . 80 }", gone[0]);
        Assert.Equal("delete element inet svc_t cluster-ips { 10.96.0.20 }", gone[1]);
        Assert.Equal("delete element inet svc_t hairpin { 10.42.0.3 . 10.42.0.3 }", gone[2]);
        int Line(string prefix) => Array.FindIndex(gone, l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(Line("flush chain inet svc_t svc_default/web") < Line("delete chain inet svc_t ep_default/web/tcp/80/10.42.0.2"));
        Assert.True(Line("delete chain inet svc_t ep_default/web/tcp/80/10.42.0.2") < Line("delete set inet svc_t affinity_default/web/tcp/80/10.42.0.2"));
        Assert.DoesNotContain(gone, l => l.StartsWith("add ", StringComparison.Ordinal) || l.StartsWith("table ", StringComparison.Ordinal));

        // A changed timeout cannot be declared over the old set: it goes and comes back.
        var retimed = ServiceRules.RenderChanges("svc_t", before, ServiceRules.Build([Web(2, affinity: 60), other]));
        Assert.Contains("flush chain inet svc_t svc_default/web/tcp/80\nflush chain inet svc_t ep_default/web/tcp/80/10.42.0.2/8080\n", retimed);
        Assert.Contains("delete set inet svc_t affinity_default/web/tcp/80/10.42.0.2/8080\n", retimed);
        Assert.Contains("timeout 60s", retimed);
        Assert.Contains("  chain ep_default/web/tcp/80/10.42.0.2/8080 {", retimed); // filled again
    }

    /// <summary>Random changes sent as differences leave the kernel with the very table a whole script makes for the
    /// same services (compared in nft's JSON listing, without handles and with elements in order).</summary>
    [Fact]
    public void DifferencesAddUpToTheTableAWholeScriptMakes()
    {
        if (Environment.UserName != "root") return;
        var id = Guid.NewGuid().ToString("N")[..6];
        var (partial, whole) = ($"cotest_svcp_{id}", $"cotest_svcw_{id}");
        var proxy = new ServiceProxy(partial, hairpinSource: "10.42.0.1");
        var random = new Random(7);
        try
        {
            // An affinity timeout changes alone: its sets go and come back, the chains naming them emptied and filled.
            proxy.Sync([Web(2, affinity: 600)]);
            proxy.Sync([Web(2, affinity: 60)]);
            Assert.True(proxy.LastSyncWasPartial, "a timeout change rewrote the whole table");
            new Nftables(whole).Apply(ServiceRules.Render(whole, [Web(2, affinity: 60)], hairpinSource: "10.42.0.1"));
            Assert.Equal(Normalized(whole), Normalized(partial));
            new Nftables(whole).Delete();

            var services = new Dictionary<string, ProxyService>();
            for (var round = 0; round < 12; round++)
            {
                for (var change = 0; change < 4; change++)
                {
                    var i = random.Next(8);
                    if (random.Next(5) == 0) { services.Remove($"s{i}"); continue; }
                    var endpoints = Enumerable.Range(0, random.Next(4)).Select(e => new ProxyEndpoint($"10.42.{i}.{random.Next(2, 6)}", 8080)).Distinct().ToList();
                    services[$"s{i}"] = new ProxyService("t", $"s{i}", $"10.96.1.{i + 1}",
                        [new ProxyPort(random.Next(2) == 0 ? "TCP" : "UDP", 80, random.Next(3) == 0 ? 30100 + i : 0, endpoints)],
                        AffinitySeconds: random.Next(3) == 0 ? 60 + random.Next(2) : 0, LocalOnly: random.Next(2) == 0,
                        ExternalIps: random.Next(4) == 0 ? [$"192.0.2.{i + 1}"] : null);
                }
                if (services.Count == 0) services["s0"] = new ProxyService("t", "s0", "10.96.1.1", [new ProxyPort("TCP", 80, 0, [])]);
                proxy.Sync(services.Values.ToList());
                if (round > 0) Assert.True(proxy.LastSyncWasPartial, $"round {round} rewrote the whole table");
                new Nftables(whole).Apply(ServiceRules.Render(whole, services.Values, hairpinSource: "10.42.0.1"));
                Assert.Equal(Normalized(whole), Normalized(partial));
                new Nftables(whole).Delete();
            }
        }
        finally
        {
            proxy.Remove();
            if (new Nftables(whole).Exists()) new Nftables(whole).Delete();
        }
    }

    /// <summary>A table's listing as nft's JSON, comparable across tables: no table name, no handles, rules grouped by
    /// chain in their order, every other object and every set's elements sorted.</summary>
    private static List<string> Normalized(string table)
    {
        var items = System.Text.Json.Nodes.JsonNode.Parse(Shell.Run("nft", $"-j list table inet {table}"))!["nftables"]!.AsArray();
        var objects = new List<string>();
        var rules = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var item in items.OfType<System.Text.Json.Nodes.JsonObject>())
        {
            var (kind, body) = (item.First().Key, item.First().Value!.AsObject());
            body.Remove("handle");
            body.Remove("table");
            if (body["elem"] is System.Text.Json.Nodes.JsonArray elements)
                body["elem"] = new System.Text.Json.Nodes.JsonArray(elements.Select(e => e!.ToJsonString()).Order(StringComparer.Ordinal)
                    .Select(e => System.Text.Json.Nodes.JsonNode.Parse(e)).ToArray());
            if (kind == "rule") { var chain = body["chain"]!.GetValue<string>(); body.Remove("chain"); (rules.TryGetValue(chain, out var l) ? l : rules[chain] = []).Add(body.ToJsonString()); }
            else if (kind != "metainfo" && kind != "table") objects.Add($"{kind} {body.ToJsonString()}");
        }
        return [.. objects.Order(StringComparer.Ordinal), .. rules.Select(r => $"rules of {r.Key}: {string.Join(" | ", r.Value)}")];
    }

    [Fact]
    public void AChangeKeepsTheClientsOfTheAffinitySetsThatStay()
    {
        if (Environment.UserName != "root") return;
        var table = "cotest_svc_" + Guid.NewGuid().ToString("N")[..6];
        var proxy = new ServiceProxy(table);
        const string kept = "affinity_default/web/tcp/80/10.42.0.2/8080";
        try
        {
            proxy.Sync([Web(2, affinity: 600)]);
            // A client the kernel put on the first endpoint.
            Shell.Run("nft", $"add element inet {table} {kept} {{ 192.0.2.7 }}");
            // An endpoint comes, another service changes: the client stays where it was.
            proxy.Sync([Web(3, affinity: 600), Web(1) with { Name = "other", ClusterIp = "10.96.0.21" }]);
            Assert.Contains("192.0.2.7", Shell.Run("nft", $"list set inet {table} {kept}"));
            Assert.Contains("numgen random mod 3", Shell.Run("nft", $"list table inet {table}"));
            // A daemon restarted on the same table starts from what the kernel holds, and drops what is stale.
            var restarted = new ServiceProxy(table);
            restarted.Sync([Web(1, affinity: 600)]);
            var listed = Shell.Run("nft", $"list table inet {table}");
            Assert.Contains("192.0.2.7", listed);
            Assert.DoesNotContain("10.42.0.3", listed);
            Assert.DoesNotContain("svc_default/other", listed);
        }
        finally
        {
            proxy.Remove();
        }
    }

    [Fact]
    public void ProtocolsOtherThanTcpUdpSctpAreRefused()
    {
        var bad = new ProxyService("default", "x", "10.96.0.9", [new ProxyPort("ICMP", 1, 0, [new ProxyEndpoint("10.42.0.2", 1)])]);
        Assert.Throws<ArgumentException>(() => ServiceRules.Render("svc_t", [bad]));
    }

    [Fact]
    public void TheKernelTakesTheTableAndAThousandServicesApplyInOneTransaction()
    {
        if (Environment.UserName != "root") return;
        var table = "cotest_svc_" + Guid.NewGuid().ToString("N")[..6];
        var proxy = new ServiceProxy(table);
        try
        {
            proxy.Sync([Web(3, nodePort: 30080, affinity: 60), Web(0) with { Name = "empty", ClusterIp = "10.96.0.21" }]);
            var listed = Shell.Run("nft", $"list table inet {table}");
            Assert.Contains("numgen random mod 3", listed);
            var services = Enumerable.Range(0, 1000).Select(i => new ProxyService("bench", $"s{i}", $"10.97.{i / 250}.{i % 250 + 1}",
                [new ProxyPort("TCP", 80, 0, Enumerable.Range(0, 10).Select(e => new ProxyEndpoint($"10.44.{i / 25}.{(i % 25) * 10 + e + 1}", 8080)).ToList())])).ToList();
            var watch = Stopwatch.StartNew();
            var text = ServiceRules.Render(table, services);
            var render = watch.Elapsed;
            proxy.Sync(services);
            Console.WriteLine($"1000 services x 10 endpoints: render {render.TotalMilliseconds:F0} ms, render + nft -f {proxy.LastSyncDuration.TotalMilliseconds:F0} ms, {text.Length / 1024} KiB");
            Assert.Contains("svc_bench/s999/tcp/80", Shell.Run("nft", $"list table inet {table}"));
            // No service with a port left: the table goes.
            proxy.Sync([]);
            Assert.DoesNotContain(table, Shell.Run("nft", "list tables"));
        }
        finally
        {
            proxy.Remove();
        }
    }
}
