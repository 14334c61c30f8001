using System.Text.Json;
using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>`network create|ls|inspect|rm|connect|disconnect|prune` and `port`.</summary>
internal static class Networks
{
    public static async Task<int> Create(CliContext c, ParsedArgs a)
    {
        var request = new NetworkCreateRequest { Name = a.Positionals[0], Driver = a.Value("driver"), Internal = a.Flag("internal"), Attachable = a.Flag("attachable") };
        if (a.Value("subnet") is not null || a.Value("gateway") is not null || a.Value("ip-range") is not null)
            request.IPAM = new IPAM { Config = [new IPAMConfig { Subnet = a.Value("subnet"), Gateway = a.Value("gateway"), IPRange = a.Value("ip-range") }] };
        foreach (var l in a.Values("label")) { var kv = l.Split('=', 2); request.Labels[kv[0]] = kv.Length > 1 ? kv[1] : ""; }
        foreach (var o in a.Values("opt"))
        {
            var kv = o.Split('=', 2);
            if (kv.Length != 2) throw new UsageException($"invalid option \"{o}\": expected KEY=VALUE");
            request.Options[kv[0]] = kv[1];
        }
        var r = await c.Client.CreateNetworkAsync(request, c.Cancel);
        c.Out.WriteLine(r.Id);
        return 0;
    }

    public static async Task<int> List(CliContext c, ParsedArgs a)
    {
        Dictionary<string, string>? filters = null;
        foreach (var f in a.Values("filter"))
        {
            var kv = f.Split('=', 2);
            if (kv.Length != 2) throw new UsageException($"bad format of filter \"{f}\" (expected name=value)");
            (filters ??= new())[kv[0]] = kv[1];
        }
        var list = await c.Client.ListNetworksAsync(filters, c.Cancel);
        string Id(string id) => a.Flag("no-trunc") ? id : Human.ShortId(id);
        if (a.Flag("quiet"))
        {
            foreach (var n in list) c.Out.WriteLine(Id(n.Id));
            return 0;
        }
        c.Out.Write(Table.Render(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], list.Select(n => (IReadOnlyList<string>)[Id(n.Id), n.Name, n.Driver, n.Scope]).ToList()));
        return 0;
    }

    public static Task<int> Inspect(CliContext c, ParsedArgs a) =>
        Output.InspectEach(c, a.Positionals, name => c.Client.InspectNetworkAsync(name, c.Cancel), ApiJsonContext.Default.NetworkResource);

    public static Task<int> Remove(CliContext c, ParsedArgs a) =>
        Output.RemoveEach(c, a.Positionals, name => c.Client.RemoveNetworkAsync(name, c.Cancel));

    public static async Task<int> Connect(CliContext c, ParsedArgs a)
    {
        var aliases = a.Values("alias");
        var settings = new EndpointSettings
        {
            Aliases = aliases.Count > 0 ? aliases.ToList() : null,
            IPAMConfig = a.Value("ip") is string ip ? new EndpointIPAMConfig { IPv4Address = ip } : null,
        };
        await c.Client.ConnectNetworkAsync(a.Positionals[0], a.Positionals[1], settings, c.Cancel);
        return 0;
    }

    public static async Task<int> Disconnect(CliContext c, ParsedArgs a)
    {
        await c.Client.DisconnectNetworkAsync(a.Positionals[0], a.Positionals[1], a.Flag("force"), c.Cancel);
        return 0;
    }

    public static async Task<int> Prune(CliContext c, ParsedArgs a)
    {
        if (!a.Flag("force"))
        {
            c.Out.Write("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
            c.Out.Flush();
            if (c.In.ReadLine()?.Trim() is not ("y" or "Y" or "yes")) return 0;
        }
        var r = await c.Client.PruneNetworksAsync(c.Cancel);
        if (r.NetworksDeleted.Count > 0) c.Out.WriteLine("Deleted Networks:");
        foreach (var n in r.NetworksDeleted) c.Out.WriteLine(n);
        return 0;
    }

    /// <summary>`port CONTAINER [PORT[/PROTO]]`: "80/tcp -> 0.0.0.0:8080", or only "0.0.0.0:8080" for one port.</summary>
    public static async Task<int> Port(CliContext c, ParsedArgs a)
    {
        var d = await c.Client.InspectContainerAsync(a.Positionals[0], c.Cancel);
        if (a.Positionals.Count > 1)
        {
            var key = a.Positionals[1].Contains('/') ? a.Positionals[1] : a.Positionals[1] + "/tcp";
            if (!d.NetworkSettings.Ports.TryGetValue(key, out var bindings) || bindings is not { Count: > 0 })
            {
                c.Err.WriteLine($"containerops: no public port '{key}' published for {d.Name.TrimStart('/')}");
                return 1;
            }
            foreach (var b in bindings) c.Out.WriteLine($"{b.HostIp}:{b.HostPort}");
            return 0;
        }
        foreach (var (key, bindings) in d.NetworkSettings.Ports.OrderBy(kv => int.TryParse(kv.Key.Split('/')[0], out var p) ? p : 0))
            foreach (var b in bindings ?? []) c.Out.WriteLine($"{key} -> {b.HostIp}:{b.HostPort}");
        return 0;
    }
}
