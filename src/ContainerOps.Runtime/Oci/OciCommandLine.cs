using System.Runtime.InteropServices;
using ContainerOps.Core.Api;
using ContainerOps.Core.Processes;
using ContainerOps.Runtime.Builtin;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Shim;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Oci;

/// <summary>
/// `containerops oci [--root DIR] create|start|state|kill|delete|run …` and the `containerops-runtime` binary: the
/// built-in runtime behind the OCI runtime command line, so bundles can be run, compared with crun/runc and checked
/// with the OCI validation tools.
/// </summary>
public static class OciCommandLine
{
    public const string DefaultRoot = "/run/containerops/oci";

    /// <param name="program">How this command line is invoked, for messages.</param>
    public static int Run(string[] args, string program = "containerops oci")
    {
        try { return RunCore(args, program); }
        catch (Exception e) when (e is ContainerOpsException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{program}: {e.Message}");
            LogError(args, e.Message);
            return 1;
        }
    }

    /// <summary>With runc's global `--log FILE` (and `--log-format json`), an error also goes to that file: containerd's
    /// shim and conmon read it there to say why a create or start failed.</summary>
    private static void LogError(string[] args, string message)
    {
        string? file = null, format = "text";
        for (var i = 0; i < args.Length && args[i].StartsWith('-'); i++)
        {
            if (args[i] == "--log" && i + 1 < args.Length) file = args[++i];
            else if (args[i].StartsWith("--log=", StringComparison.Ordinal)) file = args[i]["--log=".Length..];
            else if (args[i] == "--log-format" && i + 1 < args.Length) format = args[++i];
            else if (args[i].StartsWith("--log-format=", StringComparison.Ordinal)) format = args[i]["--log-format=".Length..];
            else if (args[i] == "--root" && i + 1 < args.Length) i++;
        }
        if (file is null) return;
        var now = DateTimeOffset.UtcNow;
        var line = format == "json"
            ? System.Text.Encoding.UTF8.GetString(IndentedJson.Object(json =>
            {
                json.WriteString("level", "error");
                json.WriteString("msg", message);
                json.WriteString("time", now);
            }, indented: false))
            : $"time=\"{now:O}\" level=error msg=\"{message.Replace("\"", "\\\"")}\"";
        try { File.AppendAllText(file, line + "\n"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static int RunCore(string[] args, string program)
    {
        var root = DefaultRoot;
        var i = 0;
        for (; i < args.Length && args[i].StartsWith('-'); i++)
        {
            if (args[i] == "--root" && i + 1 < args.Length) root = args[++i];
            else if (args[i].StartsWith("--root=", StringComparison.Ordinal)) root = args[i]["--root=".Length..];
            else if (args[i] is "--log" or "--log-format" && i + 1 < args.Length) i++; // errors go there too (LogError)
            else if (args[i].StartsWith("--log=", StringComparison.Ordinal) || args[i].StartsWith("--log-format=", StringComparison.Ordinal)) { }
            else if (args[i] is "--systemd-cgroup" or "--debug") { }
            else if (args[i] is "-h" or "--help") return Usage(program, null);
            else if (args[i] is "-v" or "--version")
            {
                Console.Out.WriteLine($"{program} version {typeof(OciCommandLine).Assembly.GetName().Version?.ToString(3)}\nspec: {new OciSpec().OciVersion}");
                return 0;
            }
            else return Usage(program, $"unknown global option {args[i]}");
        }
        if (i >= args.Length) return Usage(program, null);
        var verb = args[i];
        var rest = args[(i + 1)..];
        var runtime = new BuiltinRuntime(new RuntimeContext { StateRoot = root });
        if (verb == "exec") return Exec(runtime, root, rest, program);
        if (verb == "update") return Update(runtime, rest, program);
        if (verb == "events") return Events(runtime, rest, program);

        string? bundle = null, pidFile = null, consoleSocket = null;
        bool detach = false, force = false, all = false, quiet = false;
        var format = "table";
        var positional = new List<string>();
        for (var j = 0; j < rest.Length; j++)
        {
            var a = rest[j];
            switch (a)
            {
                case "-b" or "--bundle" when j + 1 < rest.Length: bundle = rest[++j]; break;
                case "--pid-file" when j + 1 < rest.Length: pidFile = rest[++j]; break;
                case "-d" or "--detach": detach = true; break;
                case "-f" or "--format" when verb is "list" or "ps" && j + 1 < rest.Length:
                    format = rest[++j];
                    if (format is not ("table" or "json")) return Usage(program, $"{verb}: --format must be table or json, not {format}");
                    break;
                case "-f" or "--force": force = true; break;
                case "-a" or "--all": all = true; break;
                case "-q" or "--quiet" when verb == "list": quiet = true; break;
                case "--console-socket" when j + 1 < rest.Length: consoleSocket = rest[++j]; break;
                case "--preserve-fds" when j + 1 < rest.Length:
                    // Passing the caller's descriptors 3.. on to the container is not implemented: refused, never ignored.
                    if (rest[++j] != "0") return Usage(program, $"{verb}: --preserve-fds {rest[j]} is not supported (only 0): the container gets stdio only");
                    break;
                default:
                    if (a.StartsWith("--bundle=", StringComparison.Ordinal)) bundle = a["--bundle=".Length..];
                    else if (a.StartsWith("--pid-file=", StringComparison.Ordinal)) pidFile = a["--pid-file=".Length..];
                    else if (a.StartsWith("--console-socket=", StringComparison.Ordinal)) consoleSocket = a["--console-socket=".Length..];
                    else if (a.StartsWith('-') && a.Length > 1 && !(verb == "kill" && positional.Count == 1)) return Usage(program, $"unknown option {a} for {verb}");
                    else positional.Add(a);
                    break;
            }
        }
        if (verb == "list") return OciQueries.List(runtime, root, quiet, format);
        if (verb == "features") return OciQueries.Features();
        if (positional.Count == 0) return Usage(program, $"{verb} needs a container id");
        var id = positional[0];
        bundle ??= Directory.GetCurrentDirectory();

        switch (verb)
        {
            case "create":
            {
                // As runc and crun: the container gets the caller's stdio and, once set up, the caller's subreaper for a
                // parent (conmon, containerd's shim, the OCI test suite) — no shim of ours stays in between.
                var status = runtime.Create(Options(root, id, bundle, inheritStdio: true, unmonitored: true, consoleSocket: consoleSocket));
                WritePidFile(pidFile, status.Pid);
                return 0;
            }
            case "start":
                runtime.Start(id);
                return 0;
            case "run":
            {
                using var forwarding = detach ? null : new SignalForwarding(runtime, id);
                if (detach)
                {
                    var started = runtime.RunAsync(Options(root, id, bundle)).GetAwaiter().GetResult();
                    WritePidFile(pidFile, started.Pid);
                    return 0;
                }
                if (SpecBuilder.ReadBundle(bundle).Process?.Terminal != true)
                {
                    // Foreground, as runc and crun: the container's stdio is ours. The attach socket ends when it has exited.
                    var started = runtime.RunAsync(Options(root, id, bundle, inheritStdio: true)).GetAwaiter().GetResult();
                    forwarding!.Started();
                    WritePidFile(pidFile, started.Pid);
                    using var attach = UnixSocketFile.TryConnect(new ContainerStateDir(root, id).AttachSocket);
                    RelayUntilExit(attach);
                }
                else
                {
                    // With a terminal: create, attach to its output, then start, so not a byte of early output is missed.
                    var status = runtime.Create(Options(root, id, bundle));
                    WritePidFile(pidFile, status.Pid);
                    using var attach = UnixSocketFile.TryConnect(new ContainerStateDir(root, id).AttachSocket);
                    runtime.Start(id);
                    forwarding!.Started();
                    RelayUntilExit(attach);
                }
                var final = runtime.WaitAsync(id).GetAwaiter().GetResult();
                runtime.DeleteAsync(id, force: true).GetAwaiter().GetResult();
                return final.ExitCode;
            }
            case "state":
            {
                var status = runtime.GetStatus(id);
                if (status.State == RuntimeState.Unknown)
                    throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"container {id} does not exist", id);
                Console.Out.WriteLine(StateOf(id, status, new ContainerStateDir(root, id).Read()).ToJson());
                return 0;
            }
            case "ps":
                return OciQueries.Ps(runtime, id, format);
            case "kill":
                runtime.Kill(id, positional.Count > 1 ? Signals.Parse(positional[1]) : Signals.SIGTERM, all);
                return 0;
            case "delete":
            {
                var status = runtime.GetStatus(id);
                // Unknown with a state directory: a launch or a removal that was cut off; what is left of it goes.
                if (status.State == RuntimeState.Unknown && !force && !new ContainerStateDir(root, id).Exists)
                    throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"container {id} does not exist", id);
                // Only a stopped container is deleted without force (the spec's delete): a created one has its init
                // waiting, and deleting it would be a kill nobody asked for.
                if (status.State is RuntimeState.Running or RuntimeState.Paused or RuntimeState.Created && !force)
                    throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotStopped",
                        $"container {id} is {StatusWord(status.State)}: kill it first or use --force", id);
                runtime.DeleteAsync(id, force: true).GetAwaiter().GetResult();
                return 0;
            }
            case "pause": runtime.Pause(id); return 0;
            case "resume": runtime.Resume(id); return 0;
            default: return Usage(program, $"unknown command {verb}");
        }
    }

    /// <summary>While a foreground run waits, SIGHUP, SIGINT, SIGQUIT and SIGTERM sent to this process go to the
    /// container's init, as runc forwards them: the init is in the shim's session, so Ctrl+C at our terminal would
    /// otherwise end this process alone and leave the container running and undeleted.
    /// A signal that arrives before the container's pid is recorded is held and delivered by <see cref="Started"/>:
    /// the container's output reaches the caller before the shim reports the pid, so a caller that reacts to that
    /// output can signal us while the runtime still cannot name the process. Dropping such a signal left a container
    /// running that nobody would delete.</summary>
    private sealed class SignalForwarding : IDisposable
    {
        private static readonly (PosixSignal Posix, int Number)[] Forwarded =
            { (PosixSignal.SIGHUP, 1), (PosixSignal.SIGINT, 2), (PosixSignal.SIGQUIT, 3), (PosixSignal.SIGTERM, Signals.SIGTERM) };
        private readonly List<PosixSignalRegistration> _registrations = new();
        private readonly BuiltinRuntime _runtime;
        private readonly string _id;
        private readonly Lock _gate = new();
        private readonly List<int> _held = new();
        private bool _started;

        public SignalForwarding(BuiltinRuntime runtime, string id)
        {
            _runtime = runtime;
            _id = id;
            foreach (var (posix, number) in Forwarded)
                _registrations.Add(PosixSignalRegistration.Create(posix, context =>
                {
                    context.Cancel = true;
                    lock (_gate)
                    {
                        if (_started) Deliver(number);
                        else _held.Add(number);
                    }
                }));
        }

        /// <summary>The container's process is recorded: signals go straight to it from now on, held ones first.</summary>
        public void Started()
        {
            lock (_gate)
            {
                _started = true;
                foreach (var number in _held) Deliver(number);
                _held.Clear();
            }
        }

        private void Deliver(int number)
        {
            // Already gone: its exit is what the run reports.
            try { _runtime.Kill(_id, number); }
            catch (ContainerOpsException) { }
            catch (IOException) { }
        }

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
        }
    }

    private static RunOptions Options(string root, string id, string bundle, bool inheritStdio = false, bool unmonitored = false, string? consoleSocket = null) => new()
    {
        Id = id,
        BundlePath = Path.GetFullPath(bundle),
        LogPath = Path.Combine(root, id, "container.log"),
        LogMaxBytes = 1024 * 1024,
        LogMaxFiles = 1,
        InheritStdio = inheritStdio,
        Unmonitored = unmonitored,
        ConsoleSocket = consoleSocket,
    };

    private static void WritePidFile(string? path, int pid)
    {
        if (path is not null) Core.IO.AtomicFile.WriteAllText(path, pid.ToString());
    }

    /// <summary>Copies the container's output from its attach socket (stdcopy frames) to our stdout/stderr until it exits.</summary>
    private static void RelayUntilExit(Stream? attach)
    {
        if (attach is null) return;
        try
        {
            using var stdout = Core.IO.StandardStreams.Open(1);
            using var stderr = Core.IO.StandardStreams.Open(2);
            while (AttachFrames.Read(attach) is { } frame)
            {
                var target = frame.Stream == AttachFrames.Stderr ? stderr : stdout;
                target.Write(frame.Data);
                target.Flush();
            }
        }
        catch (IOException) { }
    }

    /// <summary>`exec [--process FILE | --cwd D -e K=V -u UID[:GID] ...] [-d] [--pid-file F] ID [ARGS...]`, as runc's: the
    /// process gets this command's stdio; detached, the pid file names the process the caller reaps for its status.</summary>
    private static int Exec(BuiltinRuntime runtime, string root, string[] rest, string program)
    {
        string? processFile = null, pidFile = null, cwd = null, user = null;
        var env = new List<string>();
        var detach = false;
        var j = 0;
        for (; j < rest.Length && rest[j].StartsWith('-') && rest[j] != "--"; j++)
        {
            var a = rest[j];
            string Value() => j + 1 < rest.Length ? rest[++j] : throw new ContainerOpsException(ErrorKind.InvalidArgument, "MissingValue", $"exec: {a} needs a value", null, a);
            switch (a)
            {
                case "-p" or "--process": processFile = Value(); break;
                case "--pid-file": pidFile = Value(); break;
                case "--cwd": cwd = Value(); break;
                case "-e" or "--env": env.Add(Value()); break;
                case "-u" or "--user": user = Value(); break;
                case "-d" or "--detach": detach = true; break;
                case "-t" or "--tty" or "--console-socket":
                    return Usage(program, $"exec: {a}: a terminal through --console-socket is not supported yet");
                default:
                    var eq = a.IndexOf('=');
                    if (eq > 0 && a[..eq] is "--process" or "--pid-file" or "--cwd" or "--env" or "--user")
                    {
                        var (name, value) = (a[..eq], a[(eq + 1)..]);
                        if (name == "--process") processFile = value; else if (name == "--pid-file") pidFile = value;
                        else if (name == "--cwd") cwd = value; else if (name == "--env") env.Add(value); else user = value;
                        break;
                    }
                    return Usage(program, $"unknown option {a} for exec");
            }
        }
        if (j < rest.Length && rest[j] == "--") j++;
        if (j >= rest.Length) return Usage(program, "exec needs a container id");
        var id = rest[j];
        var args = rest[(j + 1)..];
        var status = runtime.GetStatus(id);
        if (status.State == RuntimeState.Unknown)
            throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"container {id} does not exist", id);

        OciProcess process;
        if (processFile is not null)
        {
            if (args.Length > 0) return Usage(program, "exec: --process and a command line exclude each other");
            process = OciSpecReader.ReadProcess(File.ReadAllBytes(processFile));
        }
        else
        {
            // As runc: the container's own process settings, with the command line and the options given here.
            var bundle = new ContainerStateDir(root, id).Read()?.Bundle
                ?? throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"container {id} does not exist", id);
            process = SpecBuilder.ReadBundle(bundle).Process ?? new OciProcess();
            process.Terminal = false;
            if (args.Length == 0) return Usage(program, "exec needs a command or --process");
            process.Args = args.ToList();
            if (cwd is not null) process.Cwd = cwd;
            foreach (var e in env) BuiltinRuntime.SetEnv(process.Env, e);
            if (user is not null)
            {
                var parts = user.Split(':');
                if (!uint.TryParse(parts[0], out var uid) || parts.Length > 2 || (parts.Length == 2 && !uint.TryParse(parts[1], out _)))
                    return Usage(program, $"exec: --user {user}: expected UID[:GID] in numbers");
                process.User = new OciUser { Uid = uid, Gid = parts.Length == 2 ? uint.Parse(parts[1]) : process.User.Gid };
            }
        }
        var pid = runtime.ExecWithCallerStdio(id, process, detach, out var exitCode);
        WritePidFile(pidFile, pid);
        return exitCode;
    }

    /// <summary>`events [--stats] [--interval DURATION] ID`, as runc's: one line of JSON per event on stdout — with
    /// `--stats` the container's statistics once, otherwise every interval (default 5s) until it stops, and an "oom"
    /// event whenever the kernel's OOM killer has struck in it since the last look. The statistics are runc's subset
    /// that this runtime reads: CPU time, memory usage and limit, pids and their limit.</summary>
    private static int Events(BuiltinRuntime runtime, string[] rest, string program)
    {
        string? id = null;
        var once = false;
        var interval = TimeSpan.FromSeconds(5);
        for (var j = 0; j < rest.Length; j++)
        {
            var a = rest[j];
            if (a == "--stats") { once = true; continue; }
            if (a == "--interval" || a.StartsWith("--interval=", StringComparison.Ordinal))
            {
                var value = a.Length > "--interval".Length ? a["--interval=".Length..] : j + 1 < rest.Length ? rest[++j] : null;
                if (value is null || !TryParseDuration(value, out interval) || interval <= TimeSpan.Zero)
                    return Usage(program, $"events: --interval {value} is not a duration (5s, 500ms, 1m)");
                continue;
            }
            if (a.StartsWith('-')) return Usage(program, $"unknown option {a} for events");
            if (id is not null) return Usage(program, $"events: unexpected argument {a}");
            id = a;
        }
        if (id is null) return Usage(program, "events: a container id is needed");
        var stats = runtime.ReadStats(id); // a container that does not exist is an error at once
        var oomKills = stats.OomKills;
        while (true)
        {
            WriteEvent("stats", id, stats);
            if (once) return 0;
            Thread.Sleep(interval);
            if (runtime.GetStatus(id).State is not (RuntimeState.Running or RuntimeState.Paused)) return 0;
            try { stats = runtime.ReadStats(id); }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { return 0; }
            if (stats.OomKills > oomKills) WriteEvent("oom", id, null);
            oomKills = stats.OomKills;
        }
    }

    private static void WriteEvent(string type, string id, CgroupStats? stats)
    {
        var line = IndentedJson.Object(json =>
        {
            json.WriteString("type", type);
            json.WriteString("id", id);
            if (stats is null) return;
            json.WriteStartObject("data");
            json.WriteStartObject("cpu");
            json.WriteStartObject("usage");
            json.WriteNumber("total", stats.CpuUsageNanos);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject("memory");
            json.WriteStartObject("usage");
            json.WriteNumber("usage", stats.MemoryUsage);
            json.WriteNumber("limit", stats.MemoryLimit);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject("pids");
            json.WriteNumber("current", stats.Pids);
            if (stats.PidsLimit > 0) json.WriteNumber("limit", stats.PidsLimit);
            json.WriteEndObject();
            json.WriteEndObject();
        }, indented: false);
        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(line));
        Console.Out.Flush();
    }

    /// <summary>Go's durations as runc takes them: a number with ms, s, m or h.</summary>
    private static bool TryParseDuration(string value, out TimeSpan duration)
    {
        duration = default;
        var unit = value.EndsWith("ms", StringComparison.Ordinal) ? "ms" : value.Length > 0 ? value[^1..] : "";
        if (!double.TryParse(value[..^unit.Length], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n)) return false;
        duration = unit switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.Zero,
        };
        return unit is "ms" or "s" or "m" or "h";
    }

    /// <summary>`update [--resources FILE|-] [--memory N] [--memory-reservation N] [--memory-swap N] [--cpu-shares N]
    /// [--cpu-quota N] [--cpu-period N] [--cpuset-cpus LIST] [--pids-limit N] ID`, as runc's; flags override the file.</summary>
    private static int Update(BuiltinRuntime runtime, string[] rest, string program)
    {
        OciResources resources = new();
        string? id = null;
        for (var j = 0; j < rest.Length; j++)
        {
            var a = rest[j];
            if (!a.StartsWith('-')) { if (id is not null) return Usage(program, $"update: unexpected argument {a}"); id = a; continue; }
            var eq = a.IndexOf('=');
            var (name, inline) = eq > 0 ? (a[..eq], a[(eq + 1)..]) : (a, null);
            var value = inline ?? (j + 1 < rest.Length ? rest[++j] : null);
            if (value is null) return Usage(program, $"update: {name} needs a value");
            long Number() => long.TryParse(value, out var n) ? n
                : throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidValue", $"update: {name} {value} is not a number", id, name);
            switch (name)
            {
                case "-r" or "--resources":
                    var json = value == "-" ? System.Text.Encoding.UTF8.GetBytes(Console.In.ReadToEnd()) : File.ReadAllBytes(value);
                    resources = OciSpecReader.ReadResources(json);
                    break;
                case "--memory": (resources.Memory ??= new()).Limit = Number(); break;
                case "--memory-reservation": (resources.Memory ??= new()).Reservation = Number(); break;
                case "--memory-swap": (resources.Memory ??= new()).Swap = Number(); break;
                case "--cpu-shares": (resources.Cpu ??= new()).Shares = (ulong)Number(); break;
                case "--cpu-quota": (resources.Cpu ??= new()).Quota = Number(); break;
                case "--cpu-period": (resources.Cpu ??= new()).Period = (ulong)Number(); break;
                case "--cpuset-cpus": (resources.Cpu ??= new()).Cpus = value; break;
                case "--pids-limit": resources.Pids = new OciPids { Limit = Number() }; break;
                default: return Usage(program, $"unknown option {name} for update");
            }
        }
        if (id is null) return Usage(program, "update needs a container id");
        runtime.Update(id, resources);
        return 0;
    }

    private static string StatusWord(RuntimeState state) =>
        state switch { RuntimeState.Created => "created", RuntimeState.Running => "running", RuntimeState.Paused => "paused", _ => "stopped" };

    internal static OciState StateOf(string id, RuntimeStatus status, ContainerRuntimeRecord? record) => new()
    {
        Id = id,
        Status = StatusWord(status.State),
        Pid = status.State == RuntimeState.Exited ? 0 : status.Pid,
        Bundle = record?.Bundle ?? "",
    };

    private static int Usage(string program, string? error)
    {
        if (error is not null) Console.Error.WriteLine($"{program}: {error}");
        (error is null ? Console.Out : Console.Error).WriteLine($"usage: {program} [--root DIR] create|start|run|exec|update|events|state|list|ps|features|kill|delete|pause|resume [--bundle DIR] [--pid-file F] [-d] [-f] [-a] <id> [signal]");
        return error is null ? 0 : 2;
    }
}
