using System.Text.Json;
using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>`volume create|ls|inspect|rm|prune`, as docker's.</summary>
internal static class Volumes
{
    public static async Task<int> Create(CliContext c, ParsedArgs a)
    {
        var request = new VolumeCreateRequest { Name = a.Positionals.Count > 0 ? a.Positionals[0] : null, Driver = a.Value("driver") };
        foreach (var l in a.Values("label")) { var kv = l.Split('=', 2); request.Labels[kv[0]] = kv.Length > 1 ? kv[1] : ""; }
        foreach (var o in a.Values("opt"))
        {
            var kv = o.Split('=', 2);
            if (kv.Length != 2) throw new UsageException($"invalid option \"{o}\": expected KEY=VALUE (type=, device=, o=)");
            request.DriverOpts[kv[0]] = kv[1];
        }
        var v = await c.Client.CreateVolumeAsync(request, c.Cancel);
        c.Out.WriteLine(v.Name);
        return 0;
    }

    /// <summary>`--filter key=value`, repeated; the same key given twice keeps both values.</summary>
    private static Dictionary<string, List<string>>? ParseFilters(ParsedArgs a)
    {
        Dictionary<string, List<string>>? filters = null;
        foreach (var f in a.Values("filter"))
        {
            var kv = f.Split('=', 2);
            if (kv.Length != 2 || kv[0].Length == 0) throw new UsageException($"bad format of filter \"{f}\" (expected name=value)");
            filters ??= new();
            if (!filters.TryGetValue(kv[0], out var list)) filters[kv[0]] = list = new();
            list.Add(kv[1]);
        }
        return filters;
    }

    public static async Task<int> List(CliContext c, ParsedArgs a)
    {
        var list = await c.Client.ListVolumesAsync(ParseFilters(a), c.Cancel);
        if (a.Flag("quiet"))
        {
            foreach (var v in list) c.Out.WriteLine(v.Name);
            return 0;
        }
        c.Out.Write(Table.Render(["DRIVER", "VOLUME NAME"], list.Select(v => (IReadOnlyList<string>)[v.Driver, v.Name]).ToList()));
        return 0;
    }

    public static Task<int> Inspect(CliContext c, ParsedArgs a) =>
        Output.InspectEach(c, a.Positionals, name => c.Client.InspectVolumeAsync(name, c.Cancel), ApiJsonContext.Default.Volume);

    public static Task<int> Remove(CliContext c, ParsedArgs a) =>
        Output.RemoveEach(c, a.Positionals, name => c.Client.RemoveVolumeAsync(name, a.Flag("force"), c.Cancel));

    public static async Task<int> Prune(CliContext c, ParsedArgs a)
    {
        var all = a.Flag("all");
        if (!a.Flag("force"))
        {
            c.Out.Write($"WARNING! This will remove {(all ? "all" : "anonymous")} local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ");
            c.Out.Flush();
            if (c.In.ReadLine()?.Trim() is not ("y" or "Y" or "yes")) return 0;
        }
        var r = await c.Client.PruneVolumesAsync(all, ParseFilters(a), c.Cancel);
        PrintPrune(c, r);
        c.Out.WriteLine($"Total reclaimed space: {Human.Size(r.SpaceReclaimed)}");
        return 0;
    }

    internal static void PrintPrune(CliContext c, VolumePruneResponse r)
    {
        if (r.VolumesDeleted.Count == 0) return;
        c.Out.WriteLine("Deleted Volumes:");
        foreach (var n in r.VolumesDeleted) c.Out.WriteLine(n);
        c.Out.WriteLine();
    }
}
