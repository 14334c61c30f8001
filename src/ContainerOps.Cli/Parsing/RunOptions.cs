using ContainerOps.Core.Api;
using ContainerOps.Core.Security;

namespace ContainerOps.Cli.Parsing;

/// <summary>The options of <c>create</c> and <c>run</c> and their translation into a <see cref="ContainerCreateRequest"/>.</summary>
public static class RunOptions
{
    /// <summary>Options <c>create</c> and <c>run</c> share (everything that shapes the container).</summary>
    public static readonly OptionSpec[] Create =
    {
        new("interactive", 'i', OptionKind.Flag, "Keep STDIN open even if not attached"),
        new("tty", 't', OptionKind.Flag, "Allocate a pseudo-TTY"),
        new("name", null, OptionKind.Value, "Assign a name to the container"),
        new("env", 'e', OptionKind.List, "Set environment variables (KEY=VALUE, or KEY to copy it from here)"),
        new("env-file", null, OptionKind.List, "Read in a file of environment variables"),
        new("workdir", 'w', OptionKind.Value, "Working directory inside the container"),
        new("user", 'u', OptionKind.Value, "Username or UID (format: <name|uid>[:<group|gid>])"),
        new("hostname", 'h', OptionKind.Value, "Container host name"),
        new("label", 'l', OptionKind.List, "Set meta data on a container (KEY=VALUE)"),
        new("entrypoint", null, OptionKind.Value, "Overwrite the default ENTRYPOINT of the image (\"\" clears it)"),
        new("memory", 'm', OptionKind.Value, "Memory limit (e.g. 256m, 1g)", "bytes"),
        new("memory-swap", null, OptionKind.Value, "Swap limit equal to memory plus swap: -1 for unlimited swap", "bytes"),
        new("cpus", null, OptionKind.Value, "Number of CPUs", "decimal"),
        new("cpu-shares", 'c', OptionKind.Value, "CPU shares (relative weight)", "int"),
        new("pids-limit", null, OptionKind.Value, "Tune container pids limit (-1 for unlimited)", "int"),
        new("cpuset-cpus", null, OptionKind.Value, "CPUs in which to allow execution (0-3, 0,1)"),
        new("network", null, OptionKind.Value, "Connect a container to a network (bridge, the default; none, host, container:<id>, or a network's name)"),
        new("network-alias", null, OptionKind.List, "Add network-scoped alias for the container"),
        new("ip", null, OptionKind.Value, "IPv4 address (e.g., 172.30.100.104) on a user-defined network"),
        new("publish", 'p', OptionKind.List, "Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/tcp|udp], ranges as 8000-8009)"),
        new("publish-all", 'P', OptionKind.Flag, "Publish all exposed ports to random ports"),
        new("expose", null, OptionKind.List, "Expose a port or a range of ports"),
        new("add-host", null, OptionKind.List, "Add a custom host-to-IP mapping (host:ip, or host:host-gateway)"),
        new("dns", null, OptionKind.List, "Set custom DNS servers"),
        new("dns-search", null, OptionKind.List, "Set custom DNS search domains"),
        new("dns-option", null, OptionKind.List, "Set DNS options"),
        new("restart", null, OptionKind.Value, "Restart policy: no, on-failure[:max-retries], always, unless-stopped"),
        new("rm", null, OptionKind.Flag, "Automatically remove the container when it exits"),
        new("read-only", null, OptionKind.Flag, "Mount the container's root filesystem as read only"),
        new("privileged", null, OptionKind.Flag, "Give extended privileges to this container"),
        new("cap-add", null, OptionKind.List, "Add Linux capabilities"),
        new("cap-drop", null, OptionKind.List, "Drop Linux capabilities"),
        new("security-opt", null, OptionKind.List, "Security options (no-new-privileges, seccomp=unconfined|PROFILE.json, systempaths=unconfined)"),
        new("volume", 'v', OptionKind.List, "Bind mount a volume (/host:/ctr[:ro|rw], name:/ctr[:ro|rw][,nocopy], or /ctr for an anonymous volume)"),
        new("mount", null, OptionKind.List, "Attach a filesystem mount (type=bind|volume|tmpfs,source=,target=,readonly,bind-propagation=,volume-nocopy,volume-opt=,tmpfs-size=,tmpfs-mode=)"),
        new("tmpfs", null, OptionKind.List, "Mount a tmpfs directory (/path[:size=64m,mode=1777,...])"),
        new("volumes-from", null, OptionKind.List, "Mount volumes from the specified container(s) (CONTAINER[:ro|rw])"),
        new("shm-size", null, OptionKind.Value, "Size of /dev/shm (e.g. 128m)", "bytes"),
        new("ipc", null, OptionKind.Value, "IPC mode to use (private, shareable, host, none, container:NAME)"),
        new("sysctl", null, OptionKind.List, "Sysctl options (KEY=VALUE)"),
        new("runtime", null, OptionKind.Value, "Runtime to use for this container (builtin, crun, runc)"),
        new("stop-signal", null, OptionKind.Value, "Signal to stop the container"),
        new("stop-timeout", null, OptionKind.Value, "Timeout (in seconds) to stop a container", "int"),
        new("health-cmd", null, OptionKind.Value, "Command to run to check health"),
        new("health-interval", null, OptionKind.Value, "Time between running the check (ms|s|m|h) (default 0s)", "duration"),
        new("health-timeout", null, OptionKind.Value, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)", "duration"),
        new("health-retries", null, OptionKind.Value, "Consecutive failures needed to report unhealthy", "int"),
        new("health-start-period", null, OptionKind.Value, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)", "duration"),
        new("health-start-interval", null, OptionKind.Value, "Time between running the check during the start period (ms|s|m|h) (default 0s)", "duration"),
        new("no-healthcheck", null, OptionKind.Flag, "Disable any container-specified HEALTHCHECK"),
        new("ulimit", null, OptionKind.List, "Ulimit options (NAME=SOFT[:HARD], -1 for unlimited)"),
        new("group-add", null, OptionKind.List, "Add additional groups to join"),
        new("pid", null, OptionKind.Value, "PID namespace to use (host, container:NAME)"),
        new("cgroup-parent", null, OptionKind.Value, "Optional parent cgroup for the container"),
        new("cpu-quota", null, OptionKind.Value, "Limit CPU CFS (Completely Fair Scheduler) quota", "int"),
        new("cpu-period", null, OptionKind.Value, "Limit CPU CFS (Completely Fair Scheduler) period", "int"),
        new("memory-reservation", null, OptionKind.Value, "Memory soft limit", "bytes"),
        new("oom-score-adj", null, OptionKind.Value, "Tune host's OOM preferences (-1000 to 1000)", "int"),
        new("oom-kill-disable", null, OptionKind.Flag, "Disable OOM Killer (cgroup v1)"),
        new("blkio-weight", null, OptionKind.Value, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)", "uint16"),
        new("blkio-weight-device", null, OptionKind.List, "Block IO weight (relative device weight) (/dev/vda:300)"),
        new("device-read-bps", null, OptionKind.List, "Limit read rate (bytes per second) from a device (/dev/vda:1mb)"),
        new("device-write-bps", null, OptionKind.List, "Limit write rate (bytes per second) to a device (/dev/vda:1mb)"),
        new("device-read-iops", null, OptionKind.List, "Limit read rate (IO per second) from a device (/dev/vda:100)"),
        new("device-write-iops", null, OptionKind.List, "Limit write rate (IO per second) to a device (/dev/vda:100)"),
        new("device", null, OptionKind.List, "Add a host device to the container (/host[:/container[:rwm]])"),
        new("device-cgroup-rule", null, OptionKind.List, "Add a rule to the cgroup allowed devices list ('c 1:3 rwm')"),
        new("log-driver", null, OptionKind.Value, "Logging driver for the container (json-file)"),
        new("log-opt", null, OptionKind.List, "Log driver options (max-size=, max-file=)"),
        new("domainname", null, OptionKind.Value, "Container NIS domain name"),
        new("init", null, OptionKind.Flag, "Run an init inside the container that forwards signals and reaps processes"),
        new("cidfile", null, OptionKind.Value, "Write the container ID to the file (refused if it exists)"),
        new("pull", null, OptionKind.Value, "Pull image before running (\"always\", \"missing\", \"never\") (default \"missing\")"),
        new("platform", null, OptionKind.Value, "Set platform if server is multi-platform capable (this host's only)"),
        new("attach", 'a', OptionKind.List, "Attach to STDIN, STDOUT or STDERR"),
    };


    /// <summary>Options only <c>run</c> has.</summary>
    public static readonly OptionSpec[] RunOnly =
    {
        new("detach", 'd', OptionKind.Flag, "Run container in background and print container ID"),
        new("sig-proxy", null, OptionKind.Flag, "Proxy received signals to the process (default true)"),
        new("detach-keys", null, OptionKind.Value, "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)"),
    };

    public static readonly CommandSpec CreateSpec = new()
    {
        Name = "create", Usage = "create [OPTIONS] IMAGE [COMMAND] [ARG...]", Summary = "Create a new container",
        Options = Create, StopAtFirstPositional = true, MinArgs = 1,
    };

    public static readonly CommandSpec RunSpec = new()
    {
        Name = "run", Usage = "run [OPTIONS] IMAGE [COMMAND] [ARG...]", Summary = "Create and run a new container from an image",
        Options = RunOnly.Concat(Create).ToArray(), StopAtFirstPositional = true, MinArgs = 1,
    };

    /// <summary>Builds the request from parsed <c>create</c>/<c>run</c> arguments. <paramref name="hostEnv"/> supplies values
    /// for bare <c>-e KEY</c> entries (default: this process's environment).</summary>
    public static ContainerCreateRequest ToRequest(ParsedArgs a, Func<string, string?>? hostEnv = null)
    {
        hostEnv ??= Environment.GetEnvironmentVariable;
        var r = new ContainerCreateRequest
        {
            Image = a.Positionals[0],
            Name = a.Value("name"),
            WorkingDir = a.Value("workdir"),
            User = a.Value("user"),
            Hostname = a.Value("hostname"),
            Tty = a.Flag("tty"),
            OpenStdin = a.Flag("interactive"),
            StopSignal = a.Value("stop-signal"),
            StopTimeout = a.IntValue("stop-timeout"),
        };
        if (a.Positionals.Count > 1) r.Cmd = a.Positionals.Skip(1).ToList();
        r.Healthcheck = Healthcheck(a);
        if (a.Value("entrypoint") is string ep) r.Entrypoint = ep.Length == 0 ? new List<string>() : new List<string> { ep };

        foreach (var file in a.Values("env-file")) r.Env.AddRange(ReadEnvFile(file, hostEnv));
        foreach (var e in a.Values("env")) if (ExpandEnv(e, hostEnv) is string kv) r.Env.Add(kv);
        foreach (var l in a.Values("label")) { var (k, v) = KeyValue(l, "label", requireValue: false); r.Labels[k] = v; }

        var h = r.HostConfig;
        // As docker: the default bridge network unless --network says otherwise (the API's own default is none).
        h.NetworkMode = a.Value("network") ?? "default";
        ApplyNetworkOptions(a, r);
        h.AutoRemove = a.Flag("rm");
        h.Privileged = a.Flag("privileged");
        h.ReadonlyRootfs = a.Flag("read-only");
        h.CapAdd.AddRange(a.Values("cap-add"));
        h.CapDrop.AddRange(a.Values("cap-drop"));
        // As the docker CLI does, a seccomp profile file is read here and its JSON sent (and shown by inspect).
        h.SecurityOpt.AddRange(a.Values("security-opt").Select(o => SecurityOptions.ExpandProfileFile(o)));
        if (a.Value("memory") is string mem) h.Memory = Units.ParseMemory(mem, "memory");
        if (a.Value("memory-swap") is string swap) h.MemorySwap = Units.ParseMemorySwap(swap);
        if (a.Value("cpus") is string cpus) h.NanoCpus = Units.ParseCpus(cpus);
        if (a.Value("cpu-shares") is string shares) h.CpuShares = Units.ParseLong(shares, "cpu-shares");
        if (a.Value("pids-limit") is string pids) h.PidsLimit = Units.ParseLong(pids, "pids-limit");
        h.CpusetCpus = a.Value("cpuset-cpus");
        if (a.Value("restart") is string restart) h.RestartPolicy = Units.ParseRestart(restart);
        if (h.AutoRemove && h.RestartPolicy.Name != "no")
            throw new UsageException("conflicting options: cannot specify both --restart and --rm");
        h.Runtime = a.Value("runtime");
        foreach (var v in a.Values("volume"))
        {
            if (v.Length == 0 || v.Split(':').Length > 3) throw new UsageException($"invalid volume specification \"{v}\": expected [SOURCE:]/container/path[:OPTIONS]");
            h.Binds.Add(v);
        }
        foreach (var m in a.Values("mount"))
        {
            try { h.Mounts.Add(MountSpecs.ParseMount(m)); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
        }
        h.Tmpfs.AddRange(a.Values("tmpfs"));
        h.VolumesFrom.AddRange(a.Values("volumes-from"));
        if (a.Value("shm-size") is string shm) h.ShmSize = Units.ParseMemory(shm, "shm-size");
        h.IpcMode = a.Value("ipc");
        foreach (var s in a.Values("sysctl")) { var (k, v) = KeyValue(s, "sysctl", requireValue: true); h.Sysctls[k] = v; }
        ApplyProcessOptions(a, r);
        return r;
    }

    /// <summary>--ulimit, --group-add, --pid, --cgroup-parent, CFS quota and period, memory reservation, OOM options, devices,
    /// the log driver, --domainname and --init, as the docker CLI puts them in HostConfig.</summary>
    private static void ApplyProcessOptions(ParsedArgs a, ContainerCreateRequest r)
    {
        var h = r.HostConfig;
        if (a.Flag("init")) h.Init = true;
        foreach (var u in a.Values("ulimit")) h.Ulimits.Add(ParseUlimit(u));
        h.GroupAdd.AddRange(a.Values("group-add"));
        h.PidMode = a.Value("pid");
        h.CgroupParent = a.Value("cgroup-parent");
        if (a.Value("cpu-quota") is string quota) h.CpuQuota = Units.ParseLong(quota, "cpu-quota");
        if (a.Value("cpu-period") is string period) h.CpuPeriod = Units.ParseLong(period, "cpu-period");
        if (a.Value("memory-reservation") is string reservation) h.MemoryReservation = Units.ParseMemory(reservation, "memory-reservation");
        if (a.IntValue("oom-score-adj") is int adj) h.OomScoreAdj = adj;
        if (a.Flag("oom-kill-disable")) h.OomKillDisable = true;
        if (a.Value("blkio-weight") is string weight) h.BlkioWeight = ParseWeight(weight, "blkio-weight", weight);
        foreach (var d in a.Values("blkio-weight-device"))
        {
            var (path, value) = DeviceAndValue(d, "blkio-weight-device");
            (h.BlkioWeightDevice ??= []).Add(new WeightDevice { Path = path, Weight = ParseWeight(value, "blkio-weight-device", d) });
        }
        h.BlkioDeviceReadBps = Throttles(a, "device-read-bps");
        h.BlkioDeviceWriteBps = Throttles(a, "device-write-bps");
        h.BlkioDeviceReadIOps = Throttles(a, "device-read-iops");
        h.BlkioDeviceWriteIOps = Throttles(a, "device-write-iops");
        foreach (var d in a.Values("device")) h.Devices.Add(ParseDevice(d));
        h.DeviceCgroupRules.AddRange(a.Values("device-cgroup-rule"));
        if (a.Has("log-driver") || a.Has("log-opt"))
        {
            h.LogConfig = new LogConfig { Type = a.Value("log-driver") ?? "" };
            foreach (var o in a.Values("log-opt")) { var (k, v) = KeyValue(o, "log-opt", requireValue: true); h.LogConfig.Config[k] = v; }
        }
        r.Domainname = a.Value("domainname");
    }

    /// <summary>DEVICE:VALUE, as docker's block I/O flags take them.</summary>
    private static (string Path, string Value) DeviceAndValue(string text, string flag)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1 || !text.StartsWith('/'))
            throw new UsageException($"invalid argument \"{text}\" for \"--{flag}\" flag: expected /dev/DEVICE:VALUE");
        return (text[..colon], text[(colon + 1)..]);
    }

    /// <summary>A device throttle flag's values: sizes for the bps flags (1mb, 512k), plain numbers for the iops ones,
    /// as docker's take them; null when the flag is not given.</summary>
    private static List<ThrottleDevice>? Throttles(ParsedArgs a, string flag)
    {
        List<ThrottleDevice>? list = null;
        foreach (var d in a.Values(flag))
        {
            var (path, value) = DeviceAndValue(d, flag);
            var rate = flag.EndsWith("bps", StringComparison.Ordinal) ? (ulong)Units.ParseMemory(value, flag)
                : ulong.TryParse(value, out var n) ? n : throw new UsageException($"invalid argument \"{d}\" for \"--{flag}\" flag: {value} is not a number");
            (list ??= []).Add(new ThrottleDevice { Path = path, Rate = rate });
        }
        return list;
    }

    private static ushort ParseWeight(string value, string flag, string text) =>
        ushort.TryParse(value, out var w) ? w : throw new UsageException($"invalid argument \"{text}\" for \"--{flag}\" flag: {value} is not a weight (10 to 1000)");

    /// <summary>NAME=SOFT[:HARD] as docker's --ulimit (the hard limit is the soft one when not given).</summary>
    public static Ulimit ParseUlimit(string text)
    {
        try { return ProcessSpecs.ParseUlimit(text); }
        catch (ArgumentException e) { throw new UsageException($"invalid argument \"{text}\" for \"--ulimit\" flag: {e.Message}"); }
    }

    /// <summary>/host[:/container[:permissions]] as docker's --device.</summary>
    public static DeviceMapping ParseDevice(string text)
    {
        try { return ProcessSpecs.ParseDevice(text); }
        catch (ArgumentException e) { throw new UsageException($"invalid argument \"{text}\" for \"--device\" flag: {e.Message}"); }
    }

    /// <summary>The --health-* options as Docker's CLI turns them into Config.Healthcheck: null when none is given, so the
    /// image's check applies; ["NONE"] for --no-healthcheck.</summary>
    private static HealthConfig? Healthcheck(ParsedArgs a)
    {
        string[] durations = ["health-interval", "health-timeout", "health-start-period", "health-start-interval"];
        var given = a.Has("health-cmd") || a.Has("health-retries") || durations.Any(a.Has);
        if (a.Flag("no-healthcheck"))
            return given ? throw new UsageException("--no-healthcheck conflicts with --health-* options") : new HealthConfig { Test = ["NONE"] };
        if (!given) return null;
        long Nanos(string flag)
        {
            if (a.Value(flag) is not string text) return 0;
            if (!GoDuration.TryParseNanos(text, out var nanos))
                throw new UsageException($"invalid argument \"{text}\" for \"--{flag}\" flag: time: invalid duration \"{text}\"");
            return nanos;
        }
        var retries = a.IntValue("health-retries") ?? 0;
        if (retries < 0) throw new UsageException("--health-retries cannot be negative");
        return new HealthConfig
        {
            Test = a.Value("health-cmd") is { Length: > 0 } cmd ? ["CMD-SHELL", cmd] : null,
            Interval = Nanos("health-interval"), Timeout = Nanos("health-timeout"), StartPeriod = Nanos("health-start-period"),
            StartInterval = Nanos("health-start-interval"), Retries = retries,
        };
    }

    private static void ApplyNetworkOptions(ParsedArgs a, ContainerCreateRequest r)
    {
        var h = r.HostConfig;
        var aliases = a.Values("network-alias");
        var ip = a.Value("ip");
        if (aliases.Count > 0 || ip is not null)
        {
            if (h.NetworkMode is "none" or "host" or "bridge" or "default" || h.NetworkMode.StartsWith("container:", StringComparison.Ordinal))
                throw new UsageException("--network-alias and --ip need a user-defined network (--network NAME)");
            r.NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = { [h.NetworkMode] = new EndpointSettings
                {
                    Aliases = aliases.Count > 0 ? aliases.ToList() : null,
                    IPAMConfig = ip is null ? null : new EndpointIPAMConfig { IPv4Address = ip },
                } },
            };
        }
        try
        {
            foreach (var spec in a.Values("publish")) PortSpecs.AddPublish(h, spec);
            foreach (var spec in a.Values("expose")) PortSpecs.AddExpose(r, spec);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        h.PublishAllPorts = a.Flag("publish-all");
        h.ExtraHosts.AddRange(a.Values("add-host"));
        h.Dns.AddRange(a.Values("dns"));
        h.DnsSearch.AddRange(a.Values("dns-search"));
        h.DnsOptions.AddRange(a.Values("dns-option"));
    }

    /// <summary>"KEY=VALUE" as is; a bare "KEY" takes this host's value, and is dropped when the host has none (as docker does).</summary>
    public static string? ExpandEnv(string entry, Func<string, string?> hostEnv)
    {
        if (entry.Length == 0 || entry[0] == '=') throw new UsageException($"invalid environment variable \"{entry}\"");
        if (entry.Contains('=')) return entry;
        return hostEnv(entry) is string value ? entry + "=" + value : null;
    }

    /// <summary>An env file: one KEY=VALUE or KEY a line; blank lines and lines starting with # are skipped.</summary>
    public static List<string> ReadEnvFile(string path, Func<string, string?> hostEnv)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read env file {path}: {e.Message}");
        }
        var list = new List<string>();
        foreach (var raw in lines)
        {
            var line = raw.TrimStart();
            if (line.Length == 0 || line[0] == '#') continue;
            if (ExpandEnv(line, hostEnv) is string kv) list.Add(kv);
        }
        return list;
    }

    private static (string Key, string Value) KeyValue(string text, string flag, bool requireValue)
    {
        var eq = text.IndexOf('=');
        if (eq == 0 || (eq < 0 && requireValue)) throw new UsageException($"invalid argument \"{text}\" for \"--{flag}\" flag: expected KEY=VALUE");
        return eq < 0 ? (text, "") : (text[..eq], text[(eq + 1)..]);
    }
}
