using System.Globalization;
using ContainerOps.Cli.Parsing;
using ContainerOps.Client.Terminal;
using ContainerOps.Compose.Execution;
using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;
using ContainerOps.Compose.Output;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>What the compose verbs share: the options before the verb, the project (loaded on first use, with the
/// services the verb names enabled whatever their profiles), and the engine, which reports progress on stderr as
/// docker compose does.</summary>
internal sealed class ComposeContext
{
    private readonly CliContext _cli;
    private ComposeProject? _project;
    private ComposeEngine? _engine;

    public ComposeContext(CliContext cli, ComposeLoadOptions options)
    {
        _cli = cli;
        Options = options;
    }

    public ComposeLoadOptions Options { get; }

    /// <summary>The project from the files; for verbs that work from the daemon's labels alone (down, ps, logs, top),
    /// `-p NAME` without any compose file at hand names the project by itself, as docker compose allows.</summary>
    public ComposeProject Project => _project ??= Options.ProjectName is { } name && ByNameAllowed && Options.Files.Count == 0 && !HasComposeFile()
        ? ComposeLoader.ByName(name)
        : ComposeLoader.Load(Options);

    public bool ByNameAllowed { get; set; }

    private bool HasComposeFile()
    {
        if (Environment.GetEnvironmentVariable("COMPOSE_FILE") is { Length: > 0 }) return true;
        for (var dir = Options.ProjectDirectory ?? Environment.CurrentDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            if (ComposeLoader.DefaultFileNames.Any(n => File.Exists(Path.Join(dir, n)))) return true;
        return false;
    }

    public ComposeEngine Engine => _engine ??= new ComposeEngine(_cli.Client, Project, new Progress(_cli.Err));

    /// <summary>Writes each finished step at once (not through a SynchronizationContext, so lines keep their order).</summary>
    private sealed class Progress(StreamWriter err) : IProgress<ComposeEvent>
    {
        public void Report(ComposeEvent e)
        {
            if (!e.Done && e.Status != "Waiting") return;
            lock (err) err.WriteLine($" {e.Kind} {e.Name}  {e.Status}{(e.Detail is null ? "" : "  " + e.Detail)}");
        }
    }

    public void PrintWarnings()
    {
        if (_project is not null) foreach (var w in _project.Warnings) _cli.Err.WriteLine($"WARN[0000] {w}");
        if (_engine is not null) foreach (var w in _engine.Warnings) _cli.Err.WriteLine($"WARN[0000] {w}");
    }
}

/// <summary>`containerops compose …`: docker compose's verbs over the daemon's API (the loader and engine live in
/// ContainerOps.Compose; this is argument parsing and output).</summary>
internal static class Compose
{
    public static async Task<int> RunAsync(CliContext c, string[] args)
    {
        ParsedArgs global;
        try { global = ArgParser.Parse(ComposeVerbs.GlobalSpec, args); }
        catch (UsageException e) { return CliApp.UsageError(e, "compose"); }
        if (global.Positionals.Count == 0)
        {
            c.Out.Write(ComposeVerbs.Help());
            return global.HelpRequested ? 0 : CliApp.UsageExit;
        }
        var name = global.Positionals[0];
        var verb = ComposeVerbs.All.FirstOrDefault(v => v.Spec.Name == "compose " + name);
        if (verb.Spec is null)
        {
            c.Err.WriteLine($"containerops: unknown compose command \"{name}\"");
            c.Err.WriteLine("See 'containerops compose --help'.");
            return CliApp.UsageExit;
        }
        ParsedArgs parsed;
        try { parsed = ArgParser.Parse(verb.Spec, global.Positionals.Skip(1).ToArray()); }
        catch (UsageException e) { return CliApp.UsageError(e, verb.Spec.Name); }
        if (parsed.HelpRequested)
        {
            c.Out.Write(ArgParser.Help(verb.Spec));
            return 0;
        }

        var options = new ComposeLoadOptions
        {
            Files = global.Values("file").ToList(),
            ProjectName = global.Value("project-name"),
            ProjectDirectory = global.Value("project-directory"),
            Profiles = global.Values("profile").ToList(),
            EnvFiles = global.Values("env-file").ToList(),
        };
        // Services named on the command line are enabled whatever their profiles (exec and run name one, then a command).
        options.Services = name is "exec" or "run" ? parsed.Positionals.Take(1).ToList() : parsed.Positionals.ToList();
        var compose = new ComposeContext(c, options) { ByNameAllowed = name is "down" or "ps" or "logs" or "top" };
        try
        {
            return await verb.Run(c, compose, parsed);
        }
        catch (ComposeFileException e)
        {
            c.Err.WriteLine(e.Message);
            return 15;
        }
        catch (ComposeOperationException e)
        {
            compose.PrintWarnings();
            c.Err.WriteLine($"Error: {e.Message}");
            return 1;
        }
    }

    public static async Task<int> Config(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        var project = compose.Project;
        compose.PrintWarnings();
        if (a.Flag("quiet")) return 0;
        string text;
        if (a.Flag("services")) text = string.Concat(project.Services.Keys.Select(k => k + "\n"));
        else if (a.Flag("volumes")) text = string.Concat(project.Volumes.Keys.Select(k => k + "\n"));
        else if (a.Flag("profiles"))
            text = string.Concat(project.Services.Values.Concat(project.DisabledServices.Values).SelectMany(s => s.Profiles).Distinct().Order(StringComparer.Ordinal).Select(p => p + "\n"));
        else
        {
            var tree = ConfigTree.FromProject(project);
            if (a.Positionals.Count > 0)
            {
                var services = (Map)tree.First(e => e.Key == "services").Value!;
                services.RemoveAll(e => !a.Positionals.Contains(e.Key));
            }
            text = a.Value("format") switch
            {
                null or "yaml" => ConfigWriter.ToYaml(tree),
                "json" => ConfigWriter.ToJson(tree),
                var f => throw new UsageException($"unsupported format \"{f}\": yaml or json"),
            };
        }
        if (a.Value("output") is string file) await File.WriteAllTextAsync(file, text, c.Cancel);
        else c.Out.Write(text);
        return 0;
    }

    public static async Task<int> Up(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        var options = new UpOptions
        {
            Services = a.Positionals.ToList(),
            Build = a.Flag("build"),
            NoBuild = a.Flag("no-build"),
            ForceRecreate = a.Flag("force-recreate"),
            NoRecreate = a.Flag("no-recreate"),
            NoDeps = a.Flag("no-deps"),
            RemoveOrphans = a.Flag("remove-orphans"),
            Wait = a.Flag("wait"),
            WaitTimeout = a.IntValue("wait-timeout") is int wt ? TimeSpan.FromSeconds(wt) : null,
        };
        if (options.ForceRecreate && options.NoRecreate) throw new UsageException("--force-recreate and --no-recreate are incompatible");
        foreach (var s in a.Values("scale"))
        {
            var eq = s.IndexOf('=');
            if (eq <= 0 || !int.TryParse(s[(eq + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                throw new UsageException($"invalid --scale \"{s}\": expected SERVICE=NUM");
            options.Scale[s[..eq]] = n;
        }
        var project = compose.Project;
        var engine = compose.Engine;
        c.CancelOnSignals();
        await engine.UpAsync(options, c.Cancel);
        compose.PrintWarnings();
        if (a.Flag("detach") || options.Wait) return 0;

        // Attached: follow every container's output until they all stop, or until Ctrl+C, which stops them.
        c.Err.WriteLine("Attaching to " + string.Join(", ", (await engine.ServiceContainersAsync(options.Services, false, CancellationToken.None)).Select(x => x.Name)));
        try { await WriteLogsAsync(c, engine, options.Services, follow: true, tail: null, prefix: true, timestamps: false); }
        catch (OperationCanceledException) when (c.Cancel.IsCancellationRequested)
        {
            c.Err.WriteLine("Gracefully stopping... (press Ctrl+C again to force)");
            await engine.StopAsync(options.Services, a.IntValue("timeout"), CancellationToken.None);
            _ = project;
        }
        return 0;
    }

    public static async Task<int> Down(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        if (a.Value("rmi") is { } rmi && rmi is not ("local" or "all")) throw new UsageException($"invalid --rmi \"{rmi}\": local or all");
        await compose.Engine.DownAsync(new DownOptions
        {
            RemoveVolumes = a.Flag("volumes"),
            RemoveOrphans = a.Flag("remove-orphans"),
            RemoveImages = a.Value("rmi"),
            Timeout = a.IntValue("timeout"),
        }, c.Cancel);
        compose.PrintWarnings();
        return 0;
    }

    public static async Task<int> Ps(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        var engine = compose.Engine;
        if (a.Flag("services"))
        {
            foreach (var s in compose.Project.Services.Keys.Where(s => a.Positionals.Count == 0 || a.Positionals.Contains(s))) c.Out.WriteLine(s);
            return 0;
        }
        var list = (await engine.ListContainersAsync(a.Flag("all"), c.Cancel))
            .Where(x => a.Flag("all") || ComposePlanner.Label(x, ComposeLabels.OneOff) != "True")
            .Where(x => a.Positionals.Count == 0 || a.Positionals.Contains(ComposePlanner.Label(x, ComposeLabels.Service) ?? "")).ToList();
        if (a.Flag("quiet"))
        {
            foreach (var x in list) c.Out.WriteLine(x.Id);
            return 0;
        }
        var ports = await PortsAsync(c, list);
        var now = DateTimeOffset.UtcNow;
        var format = a.Value("format");
        if (format == "json")
        {
            using var w = Output.JsonWriter(c.Out.BaseStream, indented: false);
            c.Out.Flush();
            foreach (var (x, i) in list.Select((x, i) => (x, i)))
            {
                w.WriteStartObject();
                w.WriteString("ID", x.Id);
                w.WriteString("Name", x.Name);
                w.WriteString("Image", x.Image);
                w.WriteString("Command", x.Command);
                w.WriteString("Project", compose.Project.Name);
                w.WriteString("Service", ComposePlanner.Label(x, ComposeLabels.Service));
                w.WriteNumber("CreatedAt", x.Created.ToUnixTimeSeconds());
                w.WriteString("State", x.State);
                w.WriteString("Status", x.Status);
                w.WriteNumber("ExitCode", x.ExitCode);
                w.WriteString("Ports", ports[i]);
                w.WriteEndObject();
                w.Flush();
                w.Reset(); // one JSON object a line, as docker compose ps --format json writes them
                c.Out.BaseStream.WriteByte((byte)'\n');
            }
            return 0;
        }
        var rows = list.Select((x, i) => (IReadOnlyList<string>)new[]
        {
            x.Name,
            Output.FamiliarName(x.Image),
            "\"" + Human.Truncate(x.Command, 20) + "\"",
            ComposePlanner.Label(x, ComposeLabels.Service) ?? "",
            Human.Ago(x.Created, now),
            x.Status,
            ports[i],
        });
        c.Out.Write(Table.Render(new[] { "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS" }, rows));
        return 0;
    }

    /// <summary>docker's PORTS column ("0.0.0.0:8080->80/tcp, 443/tcp"), from each running container's inspect, fetched
    /// in parallel: a listing does not carry the bindings.</summary>
    private static async Task<string[]> PortsAsync(CliContext c, IReadOnlyList<ContainerSummary> list)
    {
        var result = new string[list.Count];
        var client = c.Client;
        await Parallel.ForEachAsync(Enumerable.Range(0, list.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = c.Cancel }, async (i, ct) =>
        {
            if (list[i].State != "running") { result[i] = ""; return; }
            try
            {
                var d = await client.InspectContainerAsync(list[i].Id, ct);
                result[i] = string.Join(", ", d.NetworkSettings.Ports.OrderBy(p => PortNumber(p.Key)).SelectMany(p =>
                    p.Value is { Count: > 0 } bindings ? bindings.Select(b => $"{(b.HostIp.Length > 0 ? b.HostIp : "0.0.0.0")}:{b.HostPort}->{p.Key}") : new[] { p.Key }));
            }
            catch (ContainerOpsException) { result[i] = ""; }
        });
        return result;
    }

    private static int PortNumber(string key) => int.TryParse(key.Split('/')[0], out var n) ? n : 0;

    public static async Task<int> Logs(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        int? tail = null;
        if (a.Value("tail") is string t && t != "all")
            tail = int.TryParse(t, out var n) && n >= 0 ? n : throw new UsageException($"invalid argument \"{t}\" for \"--tail\" flag: expected a number or all");
        var follow = a.Flag("follow");
        if (follow) c.CancelOnSignals();
        try { await WriteLogsAsync(c, compose.Engine, a.Positionals, follow, tail, !a.Flag("no-log-prefix"), a.Flag("timestamps")); }
        catch (OperationCanceledException) when (c.Cancel.IsCancellationRequested) { }
        return 0;
    }

    /// <summary>Lines prefixed with the container's short name (service-number) padded to the longest, as docker compose does.</summary>
    private static async Task WriteLogsAsync(CliContext c, ComposeEngine engine, IReadOnlyCollection<string> services, bool follow, int? tail, bool prefix, bool timestamps)
    {
        var containers = await engine.ServiceContainersAsync(services, true, c.Cancel);
        var width = containers.Select(x => ShortName(ComposePlanner.Label(x, ComposeLabels.Service) ?? "", ComposePlanner.Number(x)).Length).DefaultIfEmpty(0).Max();
        await foreach (var line in engine.LogsAsync(services, follow, tail, c.Cancel))
        {
            var w = line.Entry.Stream == "stderr" ? c.Err : c.Out;
            var text = line.Entry.Log.EndsWith('\n') ? line.Entry.Log : line.Entry.Log + "\n";
            lock (w)
            {
                if (prefix) w.Write(ShortName(line.Service, line.Number).PadRight(width) + "  | ");
                if (timestamps) w.Write(line.Entry.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture) + " ");
                w.Write(text);
                if (follow) w.Flush();
            }
        }
    }

    private static string ShortName(string service, int number) => $"{service}-{number}";

    public static async Task<int> Start(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        await compose.Engine.StartAsync(a.Positionals, c.Cancel);
        return 0;
    }

    public static async Task<int> Stop(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        await compose.Engine.StopAsync(a.Positionals, a.IntValue("timeout"), c.Cancel);
        return 0;
    }

    public static async Task<int> Restart(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        await compose.Engine.RestartAsync(a.Positionals, a.IntValue("timeout"), a.Flag("no-deps"), c.Cancel);
        return 0;
    }

    public static async Task<int> Pull(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        await compose.Engine.PullAsync(a.Positionals, a.Flag("ignore-pull-failures"), c.Cancel);
        compose.PrintWarnings();
        return 0;
    }

    public static async Task<int> Build(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        await compose.Engine.BuildAsync(a.Positionals, a.Flag("no-cache"), c.Cancel);
        return 0;
    }

    /// <summary>`exec SERVICE CMD…`: the plain `exec` verb on the service's container (--index, default 1), with a
    /// terminal unless -T or stdin is not one, as docker compose does.</summary>
    public static async Task<int> Exec(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        var service = a.Positionals[0];
        var index = a.IntValue("index") ?? 1;
        var container = (await compose.Engine.ServiceContainersAsync(new[] { service }, false, c.Cancel))
            .FirstOrDefault(x => ComposePlanner.Number(x) == index)
            ?? throw new ComposeOperationException($"service \"{service}\" is not running (no container number {index})", service);
        var args = new List<string>();
        if (a.Flag("detach")) args.Add("-d");
        else if (!a.Flag("no-TTY") && TerminalBridge.StdinIsTerminal) args.AddRange(new[] { "-i", "-t" });
        else args.Add("-i");
        foreach (var e in a.Values("env")) args.AddRange(new[] { "-e", e });
        if (a.Value("user") is string u) args.AddRange(new[] { "-u", u });
        if (a.Value("workdir") is string wd) args.AddRange(new[] { "-w", wd });
        if (a.Flag("privileged")) args.Add("--privileged");
        args.Add(container.Name);
        args.AddRange(a.Positionals.Skip(1));
        var exec = Verbs.Find("exec")!;
        return await exec.Run(c, ArgParser.Parse(exec.Spec, args.ToArray()));
    }

    /// <summary>`run SERVICE [CMD…]`: starts the service's dependencies (unless --no-deps) and waits for their
    /// conditions, makes sure of the service's image, networks and volumes, then runs one new container of the service
    /// labelled as a one-off, attached (or detached with -d); --rm removes it when it ends.</summary>
    public static async Task<int> Run(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        var project = compose.Project;
        var engine = compose.Engine;
        var service = project.Services[a.Positionals[0]];
        var name = a.Value("name") ?? $"{project.Name}-{service.Name}-run-{Guid.NewGuid().ToString("N")[..12]}";
        await engine.PrepareRunAsync(service, name, a.Flag("no-deps"), c.Cancel);
        if (a.Positionals.Count > 1) service.Command = a.Positionals.Skip(1).ToList();
        if (a.Value("entrypoint") is string ep) service.Entrypoint = ComposeValues.SplitShellWords(ep);
        if (a.Value("user") is string u) service.User = u;
        if (a.Value("workdir") is string w) service.WorkingDir = w;
        foreach (var e in a.Values("env"))
        {
            var eq = e.IndexOf('=');
            service.Environment[eq < 0 ? e : e[..eq]] = eq < 0 ? Environment.GetEnvironmentVariable(e) : e[(eq + 1)..];
        }
        var tty = !a.Flag("no-TTY") && !a.Flag("detach") && TerminalBridge.StdinIsTerminal;
        service.Tty = tty;
        service.StdinOpen = a.Flag("interactive") || tty;
        if (!a.Flag("service-ports")) service.Ports.Clear();
        foreach (var p in a.Values("publish"))
            foreach (var (key, binding) in PortSpecs.ParsePublish(p))
            {
                var slash = key.IndexOf('/');
                service.Ports.Add(new ServicePort { Target = int.Parse(key[..slash], CultureInfo.InvariantCulture), Protocol = key[(slash + 1)..], Published = binding.HostPort.Length > 0 ? binding.HostPort : null, HostIp = binding.HostIp.Length > 0 ? binding.HostIp : null });
            }
        service.ContainerName = null;
        var warnings = new List<string>();
        var request = ContainerRequestBuilder.Build(project, service, 1, name, oneOff: true, warnings);
        foreach (var warning in warnings.Where(x => !engine.Warnings.Contains(x))) engine.Warnings.Add(warning);
        compose.PrintWarnings();
        request.HostConfig.RestartPolicy = new RestartPolicy();
        var created = await c.Client.CreateContainerAsync(request, c.Cancel);
        try
        {
            if (a.Flag("detach"))
            {
                await c.Client.StartContainerAsync(created.Id, c.Cancel);
                c.Out.WriteLine(name);
                return 0;
            }
            var start = Verbs.Find("start")!;
            var startArgs = new List<string> { "-a" };
            if (service.StdinOpen == true) startArgs.Add("-i");
            startArgs.Add(created.Id);
            return await start.Run(c, ArgParser.Parse(start.Spec, startArgs.ToArray()));
        }
        finally
        {
            if (a.Flag("rm") && !a.Flag("detach"))
                try { await c.Client.RemoveContainerAsync(created.Id, force: true, CancellationToken.None); } catch (ContainerOpsException) { }
        }
    }

    public static async Task<int> Images(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        var containers = await compose.Engine.ServiceContainersAsync(a.Positionals, true, c.Cancel);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var x in containers)
        {
            var image = await c.Client.InspectImageAsync(x.ImageId.Length > 0 ? x.ImageId : x.Image, c.Cancel);
            var reference = Output.FamiliarName(x.Image);
            var colon = reference.LastIndexOf(':');
            var (repo, tag) = colon > reference.LastIndexOf('/') && colon > 0 ? (reference[..colon], reference[(colon + 1)..]) : (reference, "latest");
            rows.Add(new[] { x.Name, repo, tag, Human.ShortId(image.Id), Human.Size(image.Size) });
        }
        c.Out.Write(Table.Render(new[] { "CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE" }, rows));
        return 0;
    }

    public static async Task<int> Top(CliContext c, ComposeContext compose, ParsedArgs a)
    {
        foreach (var x in await compose.Engine.ServiceContainersAsync(a.Positionals, false, c.Cancel))
        {
            var top = await c.Client.TopContainerAsync(x.Id, c.Cancel);
            c.Out.WriteLine(x.Name);
            c.Out.Write(Table.Render(top.Titles, top.Processes.Select(p => (IReadOnlyList<string>)p)));
            c.Out.WriteLine();
        }
        return 0;
    }
}
