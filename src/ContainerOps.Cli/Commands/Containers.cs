using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Cli.Parsing;
using ContainerOps.Client;
using ContainerOps.Client.Terminal;
using ContainerOps.Core.Terminal;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Commands;

/// <summary>Container verbs: run, create, start, stop, restart, kill, pause, unpause, wait, rm, rename, ps, logs, exec, top, stats.</summary>
internal static class Containers
{
    // ---- create / run ----

    public static async Task<int> Create(CliContext c, ParsedArgs a)
    {
        var request = RunOptions.ToRequest(a);
        var modes = RunModes.Parse(a, detach: false);
        var created = await CreateAsync(c, request, modes);
        c.Out.WriteLine(created.Id);
        return 0;
    }

    /// <summary>Pulls as --pull says, creates, and writes --cidfile: the file is made before the create (so a second
    /// run with the same file fails at once, as docker's) and removed again when the create fails.</summary>
    private static async Task<ContainerCreateResponse> CreateAsync(CliContext c, ContainerCreateRequest request, RunModes modes)
    {
        if (modes.Pull == "always") await PullAsync(c, request.Image);
        FileStream? cidFile = null;
        if (modes.CidFile is { } path)
        {
            try { cidFile = new FileStream(path, FileMode.CreateNew, FileAccess.Write); }
            catch (IOException e) { throw new UsageException($"failed to create the container ID file {path}: {e.Message}"); }
        }
        ContainerCreateResponse created;
        try { created = await CreateOrPullAsync(c, request, modes.Pull ?? "missing"); }
        catch
        {
            cidFile?.Dispose();
            if (modes.CidFile is { } p) File.Delete(p);
            throw;
        }
        if (cidFile is not null)
            await using (cidFile) await cidFile.WriteAsync(System.Text.Encoding.ASCII.GetBytes(created.Id));
        foreach (var w in created.Warnings) c.Err.WriteLine($"WARNING: {w}");
        return created;
    }

    /// <summary>Creates the container; under --pull missing (docker's default) an image that is not there is pulled
    /// and the create tried once more. Asking the daemon first would cost every run a request; a create that finds no
    /// image costs one only when the image is missing.</summary>
    private static async Task<ContainerCreateResponse> CreateOrPullAsync(CliContext c, ContainerCreateRequest request, string pull)
    {
        try { return await c.Client.CreateContainerAsync(request, c.Cancel); }
        catch (ContainerOpsException e) when (pull == "missing" && e.Error.Kind == ErrorKind.NotFound && e.Error.Id == "ImageNotFound")
        {
            c.Err.WriteLine($"Unable to find image '{request.Image}' locally");
        }
        await PullAsync(c, request.Image);
        return await c.Client.CreateContainerAsync(request, c.Cancel);
    }

    private static async Task PullAsync(CliContext c, string image)
    {
        await c.Client.PullImageAsync(image, ct: c.Cancel);
        c.Err.WriteLine($"Status: Downloaded {image}");
    }

    public static async Task<int> Run(CliContext c, ParsedArgs a)
    {
        var request = RunOptions.ToRequest(a);
        var detach = a.Flag("detach");
        var modes = RunModes.Parse(a, detach);
        if ((request.Tty || request.OpenStdin) && modes.Attach is { } streams && !(streams.Contains("stdin") && streams.Contains("stdout") && (request.Tty || streams.Contains("stderr"))))
            throw new UsageException("--attach with -i or -t must name stdin and stdout (and stderr without -t): an interactive run shows every stream in this release");
        var remove = request.HostConfig.AutoRemove;
        // As docker run --rm, the daemon removes the container when it ends, and the run waits for that. An interactive
        // run removes it here instead: one that is detached from keeps running and is not removed when it ends.
        var interactive = request.Tty || request.OpenStdin;
        if (!detach && interactive) request.HostConfig.AutoRemove = false;
        var client = c.Client;
        var id = (await CreateAsync(c, request, modes)).Id;

        if (detach)
        {
            await StartOrCleanUp(client, id, remove);
            c.Out.WriteLine(id);
            return 0;
        }

        int code;
        if (request.Tty || request.OpenStdin)
        {
            // Attach before the start so the first output is not missed.
            InteractiveSession session;
            try
            {
                if (client is ContainerOpsClient concrete) session = await concrete.AttachAndStartAsync(id, c.Cancel);
                else
                {
                    session = await client.AttachAsync(id, c.Cancel);
                    await client.StartContainerAsync(id, c.Cancel);
                }
            }
            catch (ContainerOpsException)
            {
                if (remove) await RemoveQuietly(client, id);
                throw;
            }
            var keys = DetachKeys.ParseOrDefault(modes.DetachKeys);
            await using (session)
            {
                (code, var detached) = await TerminalBridge.RunAsync(session, request.Tty && TerminalBridge.StdinIsTerminal, keys, c.Cancel);
                if (detached)
                {
                    if (remove) c.Err.WriteLine($"containerops: detached from {id[..12]}; it keeps running and is not removed when it ends (containerops rm)");
                    return 0;
                }
            }
        }
        else
        {
            // Followed from before the start, so a container that ends at once is not missed (nor removed before its
            // output is read); with --rm the wait is for the removal, registered before the start for the same reason.
            var output = await client.AttachOutputAsync(id, modes.ShowsStdout, modes.ShowsStderr, c.Cancel);
            var removed = remove ? await client.RegisterWaitAsync(id, "removed", c.Cancel) : null;
            await StartOrCleanUp(client, id, remove);
            return await FollowUntilExit(c, id, output, removed, modes.SigProxy);
        }
        if (remove) await RemoveQuietly(client, id);
        return code;
    }

    private static async Task StartOrCleanUp(IContainerOpsClient client, string id, bool remove)
    {
        try { await client.StartContainerAsync(id); }
        catch (ContainerOpsException)
        {
            if (remove) await RemoveQuietly(client, id);
            throw;
        }
    }

    /// <summary>Copies the container's output (the streams asked for) until it stops, passing Ctrl+C and SIGTERM on to it
    /// unless <paramref name="sigProxy"/> is off (then they end this process as usual); returns its exit status.</summary>
    private static Task<int> FollowUntilExit(CliContext c, string id, DateTimeOffset? since) =>
        FollowUntilExit(c, id, c.Client.GetLogsAsync(id, follow: true, since: since, ct: c.Cancel), exit: null, sigProxy: true);

    /// <param name="exit">The status of a wait registered before the start (for the removal); null: waits after the output.</param>
    private static async Task<int> FollowUntilExit(CliContext c, string id, IAsyncEnumerable<LogEntry> output, Task<ContainerWaitResponse>? exit, bool sigProxy)
    {
        var client = c.Client;
        using var sigint = sigProxy ? PosixSignalRegistration.Create(PosixSignal.SIGINT, s => { s.Cancel = true; Forward(client, id, "INT"); }) : null;
        using var sigterm = sigProxy ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, s => { s.Cancel = true; Forward(client, id, "TERM"); }) : null;
        await Output.WriteLogsAsync(c, output, timestamps: false, flushEach: true);
        var result = await (exit ?? client.WaitContainerAsync(id, c.Cancel));
        if (result.Error is { Length: > 0 } error) c.Err.WriteLine($"containerops: {error}");
        return result.StatusCode;
    }

    private static void Forward(IContainerOpsClient client, string id, string signal) =>
        _ = client.KillContainerAsync(id, signal).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);

    private static async Task RemoveQuietly(IContainerOpsClient client, string id)
    {
        try { await client.RemoveContainerAsync(id, force: true); }
        catch (ContainerOpsException e) when (e.Error.Kind is ErrorKind.NotFound or ErrorKind.Conflict) { }
    }

    // ---- lifecycle ----

    public static async Task<int> Start(CliContext c, ParsedArgs a)
    {
        if (!a.Flag("attach") && !a.Flag("interactive"))
            return await ForEach(c, a.Positionals, id => c.Client.StartContainerAsync(id, c.Cancel));
        if (a.Positionals.Count > 1) throw new UsageException("you cannot start and attach multiple containers at once");
        var name = a.Positionals[0];
        var client = c.Client;
        var details = await client.InspectContainerAsync(name, c.Cancel);
        if (details.Config.Tty || a.Flag("interactive"))
        {
            InteractiveSession session;
            if (client is ContainerOpsClient concrete) session = await concrete.AttachAndStartAsync(details.Id, c.Cancel);
            else
            {
                session = await client.AttachAsync(details.Id, c.Cancel);
                await client.StartContainerAsync(details.Id, c.Cancel);
            }
            await using (session)
                return await TerminalBridge.RunAsync(session, details.Config.Tty && TerminalBridge.StdinIsTerminal, c.Cancel);
        }
        var since = DateTimeOffset.UtcNow;
        await client.StartContainerAsync(details.Id, c.Cancel);
        return await FollowUntilExit(c, details.Id, since);
    }

    public static Task<int> Stop(CliContext c, ParsedArgs a)
    {
        var t = a.IntValue("time");
        return ForEach(c, a.Positionals, id => c.Client.StopContainerAsync(id, t, c.Cancel));
    }

    public static Task<int> Restart(CliContext c, ParsedArgs a)
    {
        var t = a.IntValue("time");
        return ForEach(c, a.Positionals, id => c.Client.RestartContainerAsync(id, t, c.Cancel));
    }

    public static Task<int> Kill(CliContext c, ParsedArgs a)
    {
        var signal = a.Value("signal") ?? "KILL";
        return ForEach(c, a.Positionals, id => c.Client.KillContainerAsync(id, signal, c.Cancel));
    }

    public static Task<int> Pause(CliContext c, ParsedArgs a) => ForEach(c, a.Positionals, id => c.Client.PauseContainerAsync(id, c.Cancel));
    public static Task<int> Unpause(CliContext c, ParsedArgs a) => ForEach(c, a.Positionals, id => c.Client.UnpauseContainerAsync(id, c.Cancel));
    public static Task<int> Remove(CliContext c, ParsedArgs a) => ForEach(c, a.Positionals, id => c.Client.RemoveContainerAsync(id, a.Flag("force"), a.Flag("volumes"), c.Cancel));

    public static async Task<int> Rename(CliContext c, ParsedArgs a)
    {
        await c.Client.RenameContainerAsync(a.Positionals[0], a.Positionals[1], c.Cancel);
        return 0;
    }

    public static async Task<int> Wait(CliContext c, ParsedArgs a)
    {
        c.CancelOnSignals();
        var status = 0;
        foreach (var name in a.Positionals)
        {
            try
            {
                var result = await c.Client.WaitContainerAsync(name, c.Cancel);
                c.Out.WriteLine(result.StatusCode);
                c.Out.Flush();
            }
            catch (ContainerOpsException e)
            {
                c.Err.WriteLine($"containerops: {e.Error.Message}");
                status = e.CliExitCode;
            }
        }
        return status;
    }

    /// <summary>Runs <paramref name="action"/> on every named container, echoing each name on success (as docker does) and
    /// reporting each failure; the status is that of the last failure.</summary>
    private static async Task<int> ForEach(CliContext c, IEnumerable<string> names, Func<string, Task> action)
    {
        var status = 0;
        foreach (var name in names)
        {
            try
            {
                await action(name);
                c.Out.WriteLine(name);
            }
            catch (ContainerOpsException e)
            {
                c.Out.Flush();
                c.Err.WriteLine($"containerops: {e.Error.Message}");
                status = e.CliExitCode;
            }
        }
        return status;
    }

    // ---- ps ----

    public static async Task<int> List(CliContext c, ParsedArgs a)
    {
        var filters = new Dictionary<string, string>();
        foreach (var f in a.Values("filter"))
        {
            var eq = f.IndexOf('=');
            if (eq <= 0) throw new UsageException($"bad format of filter \"{f}\" (expected name=value)");
            filters[f[..eq]] = f[(eq + 1)..];
        }
        var list = await c.Client.ListContainersAsync(a.Flag("all"), filters.Count > 0 ? filters : null, c.Cancel);
        var noTrunc = a.Flag("no-trunc");
        var now = DateTimeOffset.UtcNow;
        if (a.Flag("quiet"))
        {
            foreach (var s in list) c.Out.WriteLine(noTrunc ? s.Id : Human.ShortId(s.Id));
            return 0;
        }
        var format = a.Value("format");
        if (format == "json")
        {
            using var json = Output.JsonWriter(c.Out.BaseStream, indented: false);
            foreach (var s in list)
            {
                c.Out.Flush();
                WriteSummaryJson(json, s, now);
                json.Flush();
                json.Reset();
                c.Out.BaseStream.WriteByte((byte)'\n');
            }
            return 0;
        }
        if (format is { Length: > 0 } and not "table")
        {
            c.Out.Write(GoTemplate.FormatRows(format, list.Select(s => SummaryFields(s, now, noTrunc)), SummaryHeaders));
            return 0;
        }
        var rows = list.Select(s => (IReadOnlyList<string>)new[]
        {
            noTrunc ? s.Id : Human.ShortId(s.Id),
            s.Image,
            noTrunc ? Quote(s.Command) : Quote(Human.Truncate(s.Command, 20)),
            Human.Ago(s.Created, now),
            s.Status,
            s.Name.TrimStart('/'),
        });
        c.Out.Write(Table.Render(new[] { "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES" }, rows));
        return 0;
    }

    private static string Quote(string s) => "\"" + s + "\"";

    /// <summary>The fields `ps --format` templates see, as docker names them.</summary>
    private static JsonObject SummaryFields(ContainerSummary s, DateTimeOffset now, bool noTrunc) => new()
    {
        ["ID"] = noTrunc ? s.Id : Human.ShortId(s.Id),
        ["Image"] = s.Image,
        ["Command"] = Quote(noTrunc ? s.Command : Human.Truncate(s.Command, 20)),
        ["CreatedAt"] = s.Created.ToString("yyyy-MM-dd HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture),
        ["RunningFor"] = Human.Ago(s.Created, now),
        ["Status"] = s.Status,
        ["State"] = s.State,
        ["Names"] = s.Name.TrimStart('/'),
        ["Labels"] = string.Join(",", s.Labels.Select(kv => kv.Key + "=" + kv.Value)),
        ["ExitCode"] = s.ExitCode,
        ["Ports"] = "",
    };

    private static readonly Dictionary<string, string> SummaryHeaders = new()
    {
        ["ID"] = "CONTAINER ID", ["Image"] = "IMAGE", ["Command"] = "COMMAND", ["CreatedAt"] = "CREATED AT", ["RunningFor"] = "CREATED",
        ["Status"] = "STATUS", ["State"] = "STATE", ["Names"] = "NAMES", ["Labels"] = "LABELS", ["ExitCode"] = "EXIT CODE", ["Ports"] = "PORTS",
    };

    /// <summary>One `ps --format json` line, with docker's keys.</summary>
    private static void WriteSummaryJson(Utf8JsonWriter w, ContainerSummary s, DateTimeOffset now)
    {
        w.WriteStartObject();
        w.WriteString("Command", Quote(s.Command));
        w.WriteString("CreatedAt", s.Created.ToString("yyyy-MM-dd HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("ID", s.Id);
        w.WriteString("Image", s.Image);
        w.WriteString("ImageID", s.ImageId);
        w.WriteString("Labels", string.Join(",", s.Labels.Select(kv => kv.Key + "=" + kv.Value)));
        w.WriteString("Names", s.Name.TrimStart('/'));
        w.WriteNumber("RestartCount", s.RestartCount);
        w.WriteString("RunningFor", Human.Ago(s.Created, now));
        w.WriteString("State", s.State);
        w.WriteString("Status", s.Status);
        w.WriteNumber("ExitCode", s.ExitCode);
        w.WriteEndObject();
    }

    // ---- logs ----

    public static async Task<int> Logs(CliContext c, ParsedArgs a)
    {
        int? tail = null;
        if (a.Value("tail") is string t && t != "all")
            tail = int.TryParse(t, out var n) && n >= 0 ? n : throw new UsageException($"invalid argument \"{t}\" for \"--tail\" flag: expected a number or all");
        DateTimeOffset? since = a.Value("since") is string s ? Units.ParseSince(s, DateTimeOffset.UtcNow) : null;
        var follow = a.Flag("follow");
        if (follow) c.CancelOnSignals();
        try
        {
            await Output.WriteLogsAsync(c, c.Client.GetLogsAsync(a.Positionals[0], follow, tail, since, ct: c.Cancel), a.Flag("timestamps"), follow);
        }
        catch (OperationCanceledException) when (c.Cancel.IsCancellationRequested) { }
        return 0;
    }

    // ---- exec ----

    public static async Task<int> Exec(CliContext c, ParsedArgs a)
    {
        var container = a.Positionals[0];
        var request = new ExecCreateRequest
        {
            Cmd = a.Positionals.Skip(1).ToList(),
            User = a.Value("user"),
            WorkingDir = a.Value("workdir"),
            Tty = a.Flag("tty"),
            AttachStdin = a.Flag("interactive"),
            Privileged = a.Flag("privileged"),
        };
        foreach (var file in a.Values("env-file")) request.Env.AddRange(RunOptions.ReadEnvFile(file, Environment.GetEnvironmentVariable));
        foreach (var e in a.Values("env")) if (RunOptions.ExpandEnv(e, Environment.GetEnvironmentVariable) is string kv) request.Env.Add(kv);

        if (a.Flag("detach"))
        {
            // A session's process ends with the session, so a detached command is started in the background by the
            // container's shell, which returns at once.
            request.Tty = false;
            request.Cmd = new List<string> { "/bin/sh", "-c", "\"$@\" </dev/null >/dev/null 2>&1 &", "sh" }.Concat(request.Cmd).ToList();
            return await StreamExec(c, container, request, stdin: null);
        }
        if (request.Tty)
        {
            request.ConsoleSize = TerminalBridge.ConsoleSize();
            await using var session = await c.Client.ExecInteractiveAsync(container, request, c.Cancel);
            return await TerminalBridge.RunAsync(session, TerminalBridge.StdinIsTerminal, c.Cancel);
        }
        return await StreamExec(c, container, request, request.AttachStdin ? ContainerOps.Core.IO.StandardStreams.Open(0, FileAccess.Read) : null);
    }

    private static async Task<int> StreamExec(CliContext c, string container, ExecCreateRequest request, Stream? stdin)
    {
        var code = 0;
        await foreach (var frame in c.Client.ExecAsync(container, request, stdin, c.Cancel))
        {
            switch (frame.Stream)
            {
                case "stdout": c.Out.Write(frame.Data); c.Out.Flush(); break;
                case "stderr": c.Out.Flush(); c.Err.Write(frame.Data); break;
                case "exit": code = frame.ExitCode ?? 0; break;
                case "error":
                    c.Out.Flush();
                    c.Err.WriteLine($"containerops: {frame.Data}");
                    code = frame.ExitCode ?? 126;
                    break;
            }
        }
        return code;
    }

    // ---- top / stats ----

    public static async Task<int> Top(CliContext c, ParsedArgs a)
    {
        var top = await c.Client.TopContainerAsync(a.Positionals[0], c.Cancel);
        c.Out.Write(Table.Render(top.Titles, top.Processes));
        return 0;
    }

    public static async Task<int> Stats(CliContext c, ParsedArgs a)
    {
        var client = c.Client;
        var stream = !a.Flag("no-stream");
        if (stream) c.CancelOnSignals();
        try
        {
            while (true)
            {
                IEnumerable<string> names = a.Positionals.Count > 0
                    ? a.Positionals
                    : (await client.ListContainersAsync(false, null, c.Cancel)).Select(s => s.Id);
                var rows = new List<IReadOnlyList<string>>();
                foreach (var name in names)
                {
                    ContainerStats s;
                    try { s = await client.StatsContainerAsync(name, c.Cancel); }
                    catch (ContainerOpsException e) when (a.Positionals.Count == 0 && e.Error.Kind is ErrorKind.NotFound or ErrorKind.Conflict) { continue; }
                    rows.Add(new[]
                    {
                        Human.ShortId(s.Id),
                        s.Name.TrimStart('/'),
                        s.CpuPercent.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + "%",
                        Human.BinarySize(s.MemoryUsage) + " / " + (s.MemoryLimit > 0 ? Human.BinarySize(s.MemoryLimit) : "unlimited"),
                        s.MemoryPercent.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + "%",
                        s.Pids.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    });
                }
                var table = Table.Render(new[] { "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS" }, rows);
                if (stream) c.Out.Write("\u001b[2J\u001b[H");
                c.Out.Write(table);
                c.Out.Flush();
                if (!stream) return 0;
                await Task.Delay(1000, c.Cancel);
            }
        }
        catch (OperationCanceledException) when (c.Cancel.IsCancellationRequested)
        {
            return 0;
        }
    }
}
