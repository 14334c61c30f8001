using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Loading;

/// <summary>Maps one service's YAML to <see cref="ServiceConfig"/>, expanding every short syntax to the long one.
/// Unknown keys are errors that name their path (<c>x-</c> keys excepted); keys of the spec this engine does not apply
/// are errors too, rather than silently ignored.</summary>
internal static class ServiceReader
{
    /// <summary>Keys of the spec that are accepted and have no effect here (each gives a warning).</summary>
    private static readonly HashSet<string> IgnoredKeys = new(StringComparer.Ordinal)
    {
        "logging", "mem_swappiness", "runtime", "pull_refresh_after", "develop", "post_start", "pre_stop",
    };

    /// <summary>Keys of the spec that need something this engine lacks: using them is an error.</summary>
    private static readonly HashSet<string> UnsupportedKeys = new(StringComparer.Ordinal)
    {
        "cgroup", "cpu_count", "cpu_percent",
        "cpu_rt_period", "cpu_rt_runtime", "gpus", "isolation",
        "links", "external_links", "mac_address", "storage_opt", "userns_mode",
        "uts", "credential_spec", "annotations", "attach",
        "label_file", "models", "provider", "use_api_socket", "env_from", "lifecycle_hooks", "dns_search_domains",
    };

    public static ServiceConfig Read(string name, Node node, List<string> warnings)
    {
        var s = new ServiceConfig { Name = name };
        s.Positions[""] = node.Position;
        if (node.IsNull) return s;
        foreach (var (key, value) in node.Entries())
        {
            if (key.StartsWith("x-", StringComparison.Ordinal)) continue;
            s.Positions[key] = value.Position;
            switch (key)
            {
                case "extends": break; // resolved by the project reader before this service is read
                case "image": s.Image = value.String(); break;
                case "build": s.Build = ReadBuild(value); break;
                case "container_name": s.ContainerName = value.String(); break;
                case "command": s.Command = ReadCommand(value); break;
                case "entrypoint": s.Entrypoint = ReadCommand(value); break;
                case "environment":
                    foreach (var (k, v) in value.KeyValues()) s.Environment[k] = v;
                    break;
                case "env_file": s.EnvFiles = ReadEnvFiles(value); break;
                case "ports":
                    foreach (var item in value.Items()) s.Ports.AddRange(ReadPort(item));
                    break;
                case "expose":
                    foreach (var item in value.Items()) s.Expose.Add(ReadExpose(item));
                    break;
                case "volumes":
                    foreach (var item in value.Items()) s.Volumes.Add(ReadVolume(item));
                    break;
                case "tmpfs": s.Tmpfs = value.StringList(allowSingle: true); break;
                case "networks": s.Networks = ReadServiceNetworks(value); break;
                case "network_mode": s.NetworkMode = value.String(); break;
                case "depends_on": s.DependsOn = ReadDependsOn(value); break;
                case "healthcheck": s.Healthcheck = ReadHealthcheck(value); break;
                case "restart": s.Restart = ReadRestart(value); break;
                case "deploy": s.Deploy = ReadDeploy(value, s, warnings); break;
                case "scale": s.Scale = value.Int(0); break;
                case "labels":
                    foreach (var (k, v) in value.KeyValues()) s.Labels[k] = v ?? "";
                    break;
                case "user": s.User = value.String(); break;
                case "working_dir": s.WorkingDir = value.String(); break;
                case "hostname": s.Hostname = value.String(); break;
                case "domainname": s.DomainName = value.String(); break;
                case "extra_hosts": s.ExtraHosts = ReadExtraHosts(value); break;
                case "dns": s.Dns = value.StringList(allowSingle: true); break;
                case "dns_search": s.DnsSearch = value.StringList(allowSingle: true); break;
                case "dns_opt": s.DnsOpt = value.StringList(); break;
                case "ulimits": s.Ulimits = ReadUlimits(value); break;
                case "stop_signal": s.StopSignal = value.String(); break;
                case "stop_grace_period": s.StopGracePeriod = value.Duration(); break;
                case "init": s.Init = value.Bool(); break;
                case "read_only": s.ReadOnly = value.Bool(); break;
                case "privileged": s.Privileged = value.Bool(); break;
                case "tty": s.Tty = value.Bool(); break;
                case "stdin_open": s.StdinOpen = value.Bool(); break;
                case "cap_add": s.CapAdd = value.StringList(); break;
                case "cap_drop": s.CapDrop = value.StringList(); break;
                case "security_opt": s.SecurityOpt = value.StringList(); break;
                case "sysctls":
                    foreach (var (k, v) in value.KeyValues()) s.Sysctls[k] = v ?? throw value.Error($"sysctl \"{k}\" has no value");
                    break;
                case "secrets": s.Secrets = ReadFileReferences(value); break;
                case "configs": s.Configs = ReadFileReferences(value); break;
                case "profiles": s.Profiles = value.StringList(); break;
                case "pull_policy":
                    s.PullPolicy = value.String();
                    if (s.PullPolicy is not ("always" or "never" or "missing" or "if_not_present" or "build" or "daily" or "weekly"))
                        throw value.Error($"invalid pull_policy \"{s.PullPolicy}\": always, never, missing or build");
                    break;
                case "platform": s.Platform = value.String(); break;
                case "mem_limit": s.MemLimit = value.Bytes(); break;
                case "cpus": s.Cpus = value.Double(); break;
                case "pids_limit": s.PidsLimit = value.Long(); break;
                case "cpu_shares": s.CpuShares = value.Long(); break;
                case "cpu_quota": s.CpuQuota = Microseconds(value); break;
                case "cpu_period": s.CpuPeriod = Microseconds(value); break;
                case "cpuset": s.Cpuset = value.String(); break;
                case "mem_reservation": s.MemReservation = value.Bytes(); break;
                case "memswap_limit": s.MemswapLimit = value.ScalarOrNull() is "-1" ? -1 : value.Bytes(); break;
                case "oom_kill_disable": s.OomKillDisable = value.Bool(); break;
                case "oom_score_adj":
                    s.OomScoreAdj = value.Int(-1000);
                    if (s.OomScoreAdj > 1000) throw value.Error("must be between -1000 and 1000");
                    break;
                case "shm_size": s.ShmSize = value.Bytes(); break;
                case "pid": s.Pid = value.String(); break;
                case "ipc": s.Ipc = value.String(); break;
                case "cgroup_parent": s.CgroupParent = value.String(); break;
                case "group_add": s.GroupAdd = value.StringList(); break;
                case "devices": s.Devices = ReadDevices(value); break;
                case "device_cgroup_rules": s.DeviceCgroupRules = value.StringList(); break;
                case "volumes_from": s.VolumesFrom = value.StringList(); break;
                case "blkio_config": s.BlkioConfig = ReadBlkio(value); break;
                case var k when IgnoredKeys.Contains(k): warnings.Add($"{value.Path}: not applied by containerops, ignored"); break;
                case var k when UnsupportedKeys.Contains(k): throw value.Error("not supported by containerops");
                default: throw value.Error("unknown key");
            }
        }
        return s;
    }

    /// <summary>A CFS quota or period: microseconds as a number, or a duration ("50ms").</summary>
    private static long Microseconds(Node value) =>
        long.TryParse(value.String(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var us)
            ? us : (long)(value.Duration().Ticks / TimeSpan.TicksPerMicrosecond);

    /// <summary>`devices`: the short form (/host[:/container[:rwm]]) or the long one (source, target, permissions).</summary>
    private static List<string> ReadDevices(Node node)
    {
        var list = new List<string>();
        foreach (var item in node.Items())
        {
            if (item.IsScalar)
            {
                try { Core.Api.ProcessSpecs.ParseDevice(item.String()); }
                catch (ArgumentException e) { throw item.Error(e.Message); }
                list.Add(item.String());
                continue;
            }
            string? source = null, target = null, permissions = null;
            foreach (var (key, value) in item.Entries())
            {
                switch (key)
                {
                    case "source": source = value.String(); break;
                    case "target": target = value.String(); break;
                    case "permissions": permissions = value.String(); break;
                    default: RejectUnknown(value, key, "source", "target", "permissions"); break;
                }
            }
            if (source is null) throw item.Error("a device needs a source");
            list.Add(source + ":" + (target ?? source) + (permissions is null ? "" : ":" + permissions));
        }
        return list;
    }

    private static BlkioConfig ReadBlkio(Node node)
    {
        var b = new BlkioConfig();
        List<(string, ulong)> Rates(Node list, bool bytes) => list.Items().Select(item =>
        {
            string? path = null;
            ulong? rate = null;
            foreach (var (key, value) in item.Entries())
            {
                switch (key)
                {
                    case "path": path = value.String(); break;
                    case "rate": rate = bytes ? (ulong)value.Bytes() : (ulong)value.Long(); break;
                    default: RejectUnknown(value, key, "path", "rate"); break;
                }
            }
            return (path ?? throw item.Error("needs a path"), rate ?? throw item.Error("needs a rate"));
        }).ToList();
        foreach (var (key, value) in node.Entries())
        {
            switch (key)
            {
                case "weight": b.Weight = (ushort)value.Int(0); break;
                case "weight_device":
                    foreach (var item in value.Items())
                    {
                        string? path = null;
                        ushort? weight = null;
                        foreach (var (k, v) in item.Entries())
                        {
                            switch (k)
                            {
                                case "path": path = v.String(); break;
                                case "weight": weight = (ushort)v.Int(0); break;
                                default: RejectUnknown(v, k, "path", "weight"); break;
                            }
                        }
                        b.WeightDevice.Add((path ?? throw item.Error("needs a path"), weight ?? throw item.Error("needs a weight")));
                    }
                    break;
                case "device_read_bps": b.DeviceReadBps = Rates(value, bytes: true); break;
                case "device_write_bps": b.DeviceWriteBps = Rates(value, bytes: true); break;
                case "device_read_iops": b.DeviceReadIops = Rates(value, bytes: false); break;
                case "device_write_iops": b.DeviceWriteIops = Rates(value, bytes: false); break;
                default: RejectUnknown(value, key, "weight", "weight_device", "device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"); break;
            }
        }
        return b;
    }

    /// <summary>An unknown key is an error that lists the known ones; an `x-` extension key is accepted wherever it stands.</summary>
    internal static void RejectUnknown(Node node, string key, params string[] known)
    {
        if (!key.StartsWith("x-", StringComparison.Ordinal) && Array.IndexOf(known, key) < 0)
            throw node.Error($"unknown key (expected {string.Join(", ", known)})");
    }

    private static BuildConfig ReadBuild(Node node)
    {
        if (node.IsScalar) return new BuildConfig { Context = node.File.ResolvePath(node.String()) };
        var b = new BuildConfig { Context = node.File.BaseDirectory };
        foreach (var (key, value) in node.Entries())
        {
            switch (key)
            {
                case "context": b.Context = node.File.ResolvePath(value.String()); break;
                case "dockerfile": b.Dockerfile = value.String(); break;
                case "args":
                    foreach (var (k, v) in value.KeyValues()) b.Args[k] = v;
                    break;
                case "target": b.Target = value.String(); break;
                case "labels":
                    foreach (var (k, v) in value.KeyValues()) b.Labels[k] = v ?? "";
                    break;
                case "tags": b.Tags = value.StringList(); break;
                case "no_cache": b.NoCache = value.Bool(); break;
                case "cache_from" or "cache_to" or "network" or "pull" or "shm_size" or "extra_hosts" or "platforms" or "isolation":
                    break; // build hints the builder does not take; harmless to leave out
                case "secrets" or "ssh" or "additional_contexts" or "dockerfile_inline" or "privileged" or "entitlements" or "ulimits":
                    throw value.Error("not supported by containerops");
                default: RejectUnknown(value, key, "context", "dockerfile", "args", "target", "labels", "tags", "no_cache"); break;
            }
        }
        return b;
    }

    private static List<string> ReadCommand(Node node)
    {
        if (node.IsSequence) return node.StringList();
        try { return ComposeValues.SplitShellWords(node.String()); }
        catch (FormatException e) { throw node.Error(e.Message); }
    }

    private static List<EnvFileReference> ReadEnvFiles(Node node)
    {
        var result = new List<EnvFileReference>();
        var items = node.IsScalar ? new List<Node> { node } : node.Items();
        foreach (var item in items)
        {
            if (item.IsScalar) { result.Add(new EnvFileReference { Path = item.File.ResolvePath(item.String()), Position = item.Position }); continue; }
            var reference = new EnvFileReference { Position = item.Position };
            var hasPath = false;
            foreach (var (key, value) in item.Entries())
            {
                switch (key)
                {
                    case "path": reference.Path = item.File.ResolvePath(value.String()); hasPath = true; break;
                    case "required": reference.Required = value.Bool(); break;
                    case "format": if (value.String() != "raw") break; throw value.Error("the raw format is not supported");
                    default: RejectUnknown(value, key, "path", "required", "format"); break;
                }
            }
            if (!hasPath) throw item.Error("an env_file entry needs a path");
            result.Add(reference);
        }
        return result;
    }

    /// <summary>Short syntax <c>[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]</c> (IPv6 host addresses in
    /// brackets), a plain number, or the long syntax. A container port range becomes one entry per port.</summary>
    internal static List<ServicePort> ReadPort(Node node)
    {
        if (node.IsMapping)
        {
            var p = new ServicePort();
            var hasTarget = false;
            foreach (var (key, value) in node.Entries())
            {
                switch (key)
                {
                    case "target": p.Target = Port(value, value.String()); hasTarget = true; break;
                    case "published":
                        var published = value.String();
                        if (published.Length > 0) CheckPortRange(value, published, published);
                        p.Published = published.Length == 0 ? null : published;
                        break;
                    case "host_ip": p.HostIp = CheckIp(value, value.String()); break;
                    case "protocol": p.Protocol = Protocol(value, value.String()); break;
                    case "mode":
                        p.Mode = value.String();
                        if (p.Mode is not ("ingress" or "host")) throw value.Error($"invalid mode \"{p.Mode}\": ingress or host");
                        break;
                    case "name": p.Name = value.String(); break;
                    case "app_protocol": p.AppProtocol = value.String(); break;
                    default: RejectUnknown(value, key, "target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"); break;
                }
            }
            if (!hasTarget) throw node.Error("a port needs a target");
            return new() { p };
        }

        var spec = node.String();
        var body = spec;
        var protocol = "tcp";
        var slash = body.LastIndexOf('/');
        if (slash >= 0) { protocol = Protocol(node, body[(slash + 1)..], spec); body = body[..slash]; }
        string? ip = null;
        if (body.StartsWith('['))
        {
            var close = body.IndexOf(']');
            if (close < 0 || close + 1 >= body.Length || body[close + 1] != ':') throw node.Error($"invalid port \"{spec}\": expected [IPv6]:host:container");
            ip = CheckIp(node, body[1..close], spec);
            body = body[(close + 2)..];
        }
        var parts = body.Split(':');
        string? host = null;
        string container;
        switch (parts.Length)
        {
            case 1: container = parts[0]; break;
            case 2: (host, container) = (parts[0], parts[1]); break;
            case 3 when ip is null: ip = CheckIp(node, parts[0], spec); (host, container) = (parts[1], parts[2]); break;
            default: throw node.Error($"invalid port \"{spec}\": expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]");
        }
        if (host is "") host = null;
        var (cFirst, cLast) = CheckPortRange(node, container, spec);
        var result = new List<ServicePort>();
        if (host is null)
        {
            for (var port = cFirst; port <= cLast; port++) result.Add(new ServicePort { Target = port, HostIp = ip, Protocol = protocol });
            return result;
        }
        var (hFirst, hLast) = CheckPortRange(node, host, spec);
        if (cFirst == cLast)
        {
            // One container port on a host range: the daemon takes any free port of the range.
            result.Add(new ServicePort { Target = cFirst, Published = host, HostIp = ip, Protocol = protocol });
            return result;
        }
        if (hLast - hFirst != cLast - cFirst) throw node.Error($"invalid port \"{spec}\": the host and container port ranges differ in size");
        for (var i = 0; i <= cLast - cFirst; i++)
            result.Add(new ServicePort { Target = cFirst + i, Published = (hFirst + i).ToString(), HostIp = ip, Protocol = protocol });
        return result;
    }

    private static string ReadExpose(Node node)
    {
        var spec = node.String();
        var slash = spec.LastIndexOf('/');
        if (slash >= 0) Protocol(node, spec[(slash + 1)..], spec);
        CheckPortRange(node, slash >= 0 ? spec[..slash] : spec, spec);
        return spec;
    }

    private static int Port(Node node, string text, string? spec = null)
    {
        if (int.TryParse(text, out var p) && p is >= 1 and <= 65535) return p;
        throw node.Error($"invalid port \"{spec ?? text}\"");
    }

    private static (int First, int Last) CheckPortRange(Node node, string text, string spec)
    {
        var dash = text.IndexOf('-');
        if (dash < 0) { var p = Port(node, text, spec); return (p, p); }
        var first = Port(node, text[..dash], spec);
        var last = Port(node, text[(dash + 1)..], spec);
        if (last < first) throw node.Error($"invalid port \"{spec}\": the range ends before it starts");
        return (first, last);
    }

    private static string Protocol(Node node, string text, string? spec = null)
    {
        var p = text.ToLowerInvariant();
        return p is "tcp" or "udp" or "sctp" ? p : throw node.Error($"invalid protocol \"{text}\"{(spec is null ? "" : $" in \"{spec}\"")}: tcp or udp");
    }

    /// <summary>An IPv4 address in four parts (not the legacy "1.2.3" forms .NET also accepts) or an IPv6 address.</summary>
    private static string CheckIp(Node node, string text, string? spec = null) =>
        System.Net.IPAddress.TryParse(text, out _) && (text.Contains(':') || text.Split('.').Length == 4) ? text : throw node.Error($"invalid host IP \"{text}\"{(spec is null ? "" : $" in port \"{spec}\"")}");

    /// <summary>Short syntax <c>[SOURCE:]TARGET[:MODE]</c>: a source that is a path (/, ., ~) is a bind, another a
    /// named volume, none an anonymous volume. Or the long syntax.</summary>
    internal static ServiceVolume ReadVolume(Node node)
    {
        if (node.IsMapping) return ReadVolumeLong(node);
        var spec = node.String();
        var parts = spec.Split(':');
        var v = new ServiceVolume { Position = node.Position };
        string? mode = null;
        switch (parts.Length)
        {
            case 1: v.Target = parts[0]; break;
            case 2 when IsVolumeMode(parts[1]): v.Target = parts[0]; mode = parts[1]; break;
            case 2: v.Source = parts[0]; v.Target = parts[1]; break;
            case 3: v.Source = parts[0]; v.Target = parts[1]; mode = parts[2]; break;
            default: throw node.Error($"invalid volume \"{spec}\": expected [SOURCE:]TARGET[:MODE]");
        }
        if (v.Target.Length == 0 || !v.Target.StartsWith('/')) throw node.Error($"invalid volume \"{spec}\": the target \"{v.Target}\" is not an absolute path");
        if (v.Source is "") throw node.Error($"invalid volume \"{spec}\": the source is empty");
        if (v.Source is null) v.Type = "volume";
        else if (v.Source.StartsWith('/') || v.Source.StartsWith('.') || v.Source.StartsWith('~'))
        {
            v.Type = "bind";
            v.Source = node.File.ResolvePath(v.Source);
            v.CreateHostPath = true;
        }
        else v.Type = "volume";
        if (mode is not null)
            foreach (var option in mode.Split(','))
                switch (option)
                {
                    case "ro": v.ReadOnly = true; break;
                    case "rw": v.ReadOnly = false; break;
                    case "z" or "Z": break; // SELinux relabelling: nothing to do without SELinux
                    case "nocopy" when v.Type == "volume": v.NoCopy = true; break;
                    case "shared" or "slave" or "private" or "rshared" or "rslave" or "rprivate" when v.Type == "bind": v.Propagation = option; break;
                    default: throw node.Error($"invalid volume \"{spec}\": unknown mode \"{option}\"");
                }
        return v;
    }

    private static bool IsVolumeMode(string text) =>
        text.Split(',').All(o => o is "ro" or "rw" or "z" or "Z" or "nocopy" or "shared" or "slave" or "private" or "rshared" or "rslave" or "rprivate");

    private static ServiceVolume ReadVolumeLong(Node node)
    {
        var v = new ServiceVolume { Position = node.Position };
        string? type = null;
        foreach (var (key, value) in node.Entries())
        {
            switch (key)
            {
                case "type":
                    type = value.String();
                    if (type is not ("volume" or "bind" or "tmpfs")) throw value.Error($"invalid type \"{type}\": volume, bind or tmpfs");
                    break;
                case "source": v.Source = value.String(); break;
                case "target": v.Target = value.String(); break;
                case "read_only": v.ReadOnly = value.Bool(); break;
                case "consistency": v.Consistency = value.String(); break;
                case "bind":
                    foreach (var (k, o) in value.Entries())
                        switch (k)
                        {
                            case "propagation":
                                v.Propagation = o.String();
                                if (v.Propagation is not ("private" or "rprivate" or "shared" or "rshared" or "slave" or "rslave"))
                                    throw o.Error($"invalid propagation \"{v.Propagation}\": [r]private, [r]shared or [r]slave");
                                break;
                            case "create_host_path": v.CreateHostPath = o.Bool(); break;
                            case "selinux": o.String(); break;
                            case "recursive": o.String(); break;
                            default: RejectUnknown(o, k, "propagation", "create_host_path", "selinux", "recursive"); break;
                        }
                    break;
                case "volume":
                    foreach (var (k, o) in value.Entries())
                        switch (k)
                        {
                            case "nocopy": v.NoCopy = o.Bool(); break;
                            case "subpath": v.Subpath = o.String(); break;
                            default: RejectUnknown(o, k, "nocopy", "subpath"); break;
                        }
                    break;
                case "tmpfs":
                    foreach (var (k, o) in value.Entries())
                        switch (k)
                        {
                            case "size": v.TmpfsSize = o.Bytes(); break;
                            case "mode":
                                var m = o.String();
                                try { v.TmpfsMode = Convert.ToInt32(m, m.StartsWith('0') ? 8 : 10); }
                                catch (FormatException) { throw o.Error($"invalid mode \"{m}\""); }
                                break;
                            default: RejectUnknown(o, k, "size", "mode"); break;
                        }
                    break;
                default: RejectUnknown(value, key, "type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency"); break;
            }
        }
        v.Type = type ?? throw node.Error("a volume needs a type (volume, bind or tmpfs)");
        if (v.Target.Length == 0 || !v.Target.StartsWith('/')) throw node.Error($"the target \"{v.Target}\" is not an absolute path");
        if (v.Type == "bind")
        {
            if (string.IsNullOrEmpty(v.Source)) throw node.Error("a bind mount needs a source");
            v.Source = node.File.ResolvePath(v.Source);
        }
        if (v.Type == "tmpfs" && v.Source is not null) throw node.Error("a tmpfs mount takes no source");
        return v;
    }

    private static SortedDictionary<string, ServiceNetwork> ReadServiceNetworks(Node node)
    {
        var result = new SortedDictionary<string, ServiceNetwork>(StringComparer.Ordinal);
        if (node.IsSequence)
        {
            foreach (var item in node.Items()) result[item.String()] = new ServiceNetwork { Position = item.Position };
            return result;
        }
        foreach (var (name, value) in node.Entries())
        {
            var n = new ServiceNetwork { Position = value.Position };
            if (!value.IsNull)
                foreach (var (key, v) in value.Entries())
                    switch (key)
                    {
                        case "aliases": n.Aliases = v.StringList(); break;
                        case "ipv4_address": n.Ipv4Address = CheckIp(v, v.String()); break;
                        case "ipv6_address": n.Ipv6Address = CheckIp(v, v.String()); break;
                        case "priority": n.Priority = v.Int(); break;
                        case "link_local_ips" or "mac_address" or "driver_opts" or "gw_priority" or "interface_name":
                            throw v.Error("not supported by containerops");
                        default: RejectUnknown(v, key, "aliases", "ipv4_address", "ipv6_address", "priority"); break;
                    }
            result[name] = n;
        }
        return result;
    }

    private static SortedDictionary<string, ServiceDependency> ReadDependsOn(Node node)
    {
        var result = new SortedDictionary<string, ServiceDependency>(StringComparer.Ordinal);
        if (node.IsSequence)
        {
            foreach (var item in node.Items()) result[item.String()] = new ServiceDependency { Position = item.Position };
            return result;
        }
        foreach (var (name, value) in node.Entries())
        {
            var d = new ServiceDependency { Position = value.Position };
            var hasCondition = false;
            foreach (var (key, v) in value.Entries())
                switch (key)
                {
                    case "condition":
                        d.Condition = v.String();
                        hasCondition = true;
                        if (d.Condition is not (ServiceConditions.Started or ServiceConditions.Healthy or ServiceConditions.CompletedSuccessfully))
                            throw v.Error($"invalid condition \"{d.Condition}\": service_started, service_healthy or service_completed_successfully");
                        break;
                    case "restart": d.Restart = v.Bool(); break;
                    case "required": d.Required = v.Bool(); break;
                    default: RejectUnknown(v, key, "condition", "restart", "required"); break;
                }
            if (!hasCondition) throw value.Error("a dependency in the long syntax needs a condition");
            result[name] = d;
        }
        return result;
    }

    private static HealthcheckConfig ReadHealthcheck(Node node)
    {
        var h = new HealthcheckConfig();
        foreach (var (key, value) in node.Entries())
        {
            switch (key)
            {
                case "test":
                    if (value.IsScalar) { h.Test = new() { "CMD-SHELL", value.String() }; break; }
                    h.Test = value.StringList();
                    if (h.Test.Count == 0 || h.Test[0] is not ("CMD" or "CMD-SHELL" or "NONE"))
                        throw value.Error("a test list starts with CMD, CMD-SHELL or NONE");
                    if (h.Test[0] == "CMD-SHELL" && h.Test.Count != 2) throw value.Error("CMD-SHELL takes one command string");
                    break;
                case "interval": h.Interval = value.Duration(); break;
                case "timeout": h.Timeout = value.Duration(); break;
                case "retries": h.Retries = value.Int(0); break;
                case "start_period": h.StartPeriod = value.Duration(); break;
                case "start_interval": h.StartInterval = value.Duration(); break;
                case "disable": h.Disable = value.Bool(); break;
                default: RejectUnknown(value, key, "test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"); break;
            }
        }
        if (h.Disable && h.Test is { Count: > 0 } && h.Test[0] != "NONE") throw node.Error("disable: true and a test cannot go together");
        return h;
    }

    private static string ReadRestart(Node node)
    {
        var r = node.String();
        var name = r.Split(':')[0];
        if (name is not ("no" or "always" or "on-failure" or "unless-stopped"))
            throw node.Error($"invalid restart policy \"{r}\": no, always, on-failure[:N] or unless-stopped");
        if (r.Contains(':') && (name != "on-failure" || !int.TryParse(r[(r.IndexOf(':') + 1)..], out var n) || n < 0))
            throw node.Error($"invalid restart policy \"{r}\": only on-failure takes a retry count");
        return r;
    }

    private static DeployConfig ReadDeploy(Node node, ServiceConfig service, List<string> warnings)
    {
        var d = new DeployConfig();
        foreach (var (key, value) in node.Entries())
        {
            switch (key)
            {
                case "replicas": d.Replicas = value.Int(0); break;
                case "resources":
                    foreach (var (k, v) in value.Entries())
                        switch (k)
                        {
                            case "limits": d.Limits = ReadLimits(v); break;
                            case "reservations": d.Reservations = ReadLimits(v); break;
                            default: RejectUnknown(v, k, "limits", "reservations"); break;
                        }
                    break;
                case "restart_policy":
                    string? condition = null;
                    int? attempts = null;
                    foreach (var (k, v) in value.Entries())
                        switch (k)
                        {
                            case "condition": condition = v.String(); break;
                            case "max_attempts": attempts = v.Int(0); break;
                            case "delay" or "window": v.Duration(); break;
                            default: RejectUnknown(v, k, "condition", "max_attempts", "delay", "window"); break;
                        }
                    service.Restart ??= condition switch
                    {
                        "none" => "no",
                        "on-failure" => attempts is int a ? $"on-failure:{a}" : "on-failure",
                        "any" or null => "always",
                        _ => throw value.Error($"invalid condition \"{condition}\": none, on-failure or any"),
                    };
                    break;
                case "mode" or "labels" or "placement" or "update_config" or "rollback_config" or "endpoint_mode":
                    warnings.Add($"{value.Path}: applies to swarm deployments, ignored");
                    break;
                default: RejectUnknown(value, key, "replicas", "resources", "restart_policy", "mode", "labels", "placement", "update_config", "rollback_config", "endpoint_mode"); break;
            }
        }
        return d;
    }

    private static ResourceLimits ReadLimits(Node node)
    {
        var l = new ResourceLimits();
        foreach (var (key, value) in node.Entries())
            switch (key)
            {
                case "cpus": l.Cpus = value.Double(); break;
                case "memory": l.Memory = value.Bytes(); break;
                case "pids": l.Pids = value.Long(); break;
                case "devices" or "generic_resources": throw value.Error("not supported by containerops");
                default: RejectUnknown(value, key, "cpus", "memory", "pids"); break;
            }
        return l;
    }

    /// <summary>extra_hosts: a mapping, or a list of "host=ip" or the older "host:ip" (split at the first colon, so
    /// an IPv6 address stays whole).</summary>
    private static List<string> ReadExtraHosts(Node node)
    {
        var result = new List<string>();
        if (node.IsMapping)
        {
            foreach (var (host, ip) in node.KeyValues()) result.Add($"{host}:{ip ?? throw node.Error($"extra host \"{host}\" has no address")}");
            return result;
        }
        foreach (var item in node.Items())
        {
            var s = item.String();
            var i = s.IndexOf('=') is var eq && eq > 0 ? eq : s.IndexOf(':');
            if (i <= 0 || i == s.Length - 1) throw item.Error($"invalid extra host \"{s}\": expected HOST=IP or HOST:IP");
            result.Add($"{s[..i]}:{s[(i + 1)..]}");
        }
        return result;
    }

    private static SortedDictionary<string, Ulimit> ReadUlimits(Node node)
    {
        var result = new SortedDictionary<string, Ulimit>(StringComparer.Ordinal);
        foreach (var (name, value) in node.Entries())
        {
            if (value.IsScalar) { var n = value.Long(); result[name] = new Ulimit { Soft = n, Hard = n }; continue; }
            var u = new Ulimit();
            foreach (var (k, v) in value.Entries())
                switch (k)
                {
                    case "soft": u.Soft = v.Long(); break;
                    case "hard": u.Hard = v.Long(); break;
                    default: RejectUnknown(v, k, "soft", "hard"); break;
                }
            if (u.Soft > u.Hard) throw value.Error($"the soft limit {u.Soft} is above the hard limit {u.Hard}");
            result[name] = u;
        }
        return result;
    }

    private static List<FileReference> ReadFileReferences(Node node)
    {
        var result = new List<FileReference>();
        foreach (var item in node.Items())
        {
            if (item.IsScalar) { result.Add(new FileReference { Source = item.String(), Position = item.Position }); continue; }
            var r = new FileReference { Position = item.Position };
            foreach (var (key, v) in item.Entries())
                switch (key)
                {
                    case "source": r.Source = v.String(); break;
                    case "target": r.Target = v.String(); break;
                    case "uid": r.Uid = v.String(); break;
                    case "gid": r.Gid = v.String(); break;
                    case "mode":
                        var m = v.String();
                        try { r.Mode = Convert.ToInt32(m, m.StartsWith('0') ? 8 : 10); }
                        catch (FormatException) { throw v.Error($"invalid mode \"{m}\""); }
                        break;
                    default: RejectUnknown(v, key, "source", "target", "uid", "gid", "mode"); break;
                }
            if (r.Source.Length == 0) throw item.Error("needs a source");
            result.Add(r);
        }
        return result;
    }
}
