using System.Globalization;
using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Output;

/// <summary>An ordered tree of plain values (string, long, double, bool, null, <see cref="List{T}"/> of values,
/// <see cref="Map"/>), the one shape both the YAML and the JSON writers print.</summary>
public sealed class Map : List<KeyValuePair<string, object?>>
{
    public Map Add(string key, object? value)
    {
        Add(new KeyValuePair<string, object?>(key, value));
        return this;
    }

    /// <summary>Adds the entry only when it carries something (not null, not an empty list or map).</summary>
    public Map AddSet(string key, object? value)
    {
        if (value is null || value is System.Collections.ICollection { Count: 0 }) return this;
        return Add(key, value);
    }
}

/// <summary>The canonical form of a project as `docker compose config` prints it: every short syntax expanded, keys in
/// a fixed order, durations as Go prints them, resource names resolved.</summary>
public static class ConfigTree
{
    public static Map FromProject(ComposeProject p)
    {
        var root = new Map().Add("name", p.Name);
        var services = new Map();
        foreach (var (name, s) in p.Services) services.Add(name, FromService(s));
        root.Add("services", services);
        root.AddSet("networks", Resources(p.Networks, FromNetwork));
        root.AddSet("volumes", Resources(p.Volumes, FromVolume));
        root.AddSet("secrets", Resources(p.Secrets, FromFileObject));
        root.AddSet("configs", Resources(p.Configs, FromFileObject));
        return root;
    }

    private static Map Resources<T>(SortedDictionary<string, T> items, Func<T, Map> map)
    {
        var m = new Map();
        foreach (var (k, v) in items) m.Add(k, map(v));
        return m;
    }

    public static Map FromService(ServiceConfig s)
    {
        var m = new Map();
        if (s.Build is { } b)
        {
            var build = new Map().Add("context", b.Context).Add("dockerfile", b.Dockerfile ?? "Dockerfile");
            build.AddSet("args", StringMap(b.Args));
            build.AddSet("labels", StringMap(b.Labels));
            build.AddSet("tags", Strings(b.Tags));
            build.AddSet("target", b.Target);
            if (b.NoCache is bool nc) build.Add("no_cache", nc);
            m.Add("build", build);
        }
        m.AddSet("cap_add", Strings(s.CapAdd));
        m.AddSet("cap_drop", Strings(s.CapDrop));
        m.AddSet("command", s.Command is null ? null : Strings(s.Command, keepEmpty: true));
        m.AddSet("configs", s.Configs.Count == 0 ? null : s.Configs.Select(FileRef).Cast<object?>().ToList());
        m.AddSet("container_name", s.ContainerName);
        if (s.Cpus is double cpus) m.Add("cpus", cpus);
        if (s.DependsOn.Count > 0)
        {
            var deps = new Map();
            foreach (var (k, d) in s.DependsOn)
            {
                var dm = new Map().Add("condition", d.Condition);
                if (d.Restart) dm.Add("restart", true);
                dm.Add("required", d.Required);
                deps.Add(k, dm);
            }
            m.Add("depends_on", deps);
        }
        if (s.Deploy is { } deploy)
        {
            var dm = new Map();
            if (deploy.Replicas is int r) dm.Add("replicas", r);
            var resources = new Map().AddSet("limits", Limits(deploy.Limits)).AddSet("reservations", Limits(deploy.Reservations));
            dm.AddSet("resources", resources);
            m.Add("deploy", dm);
        }
        m.AddSet("dns", Strings(s.Dns));
        m.AddSet("dns_opt", Strings(s.DnsOpt));
        m.AddSet("dns_search", Strings(s.DnsSearch));
        m.AddSet("domainname", s.DomainName);
        m.AddSet("entrypoint", s.Entrypoint is null ? null : Strings(s.Entrypoint, keepEmpty: true));
        m.AddSet("environment", StringMap(s.Environment));
        m.AddSet("expose", Strings(s.Expose));
        m.AddSet("extra_hosts", Strings(s.ExtraHosts));
        if (s.Healthcheck is { } h)
        {
            var hm = new Map();
            if (h.Disable) hm.Add("disable", true);
            hm.AddSet("test", h.Test is null ? null : Strings(h.Test, keepEmpty: true));
            if (h.Interval is TimeSpan i) hm.Add("interval", ComposeValues.FormatDuration(i));
            if (h.Timeout is TimeSpan t) hm.Add("timeout", ComposeValues.FormatDuration(t));
            if (h.Retries is int retries) hm.Add("retries", retries);
            if (h.StartPeriod is TimeSpan sp) hm.Add("start_period", ComposeValues.FormatDuration(sp));
            if (h.StartInterval is TimeSpan si) hm.Add("start_interval", ComposeValues.FormatDuration(si));
            m.Add("healthcheck", hm);
        }
        m.AddSet("hostname", s.Hostname);
        m.AddSet("image", s.Image);
        if (s.Init is bool init) m.Add("init", init);
        m.AddSet("labels", StringMap(s.Labels));
        if (s.MemLimit is long mem) m.Add("mem_limit", mem.ToString(CultureInfo.InvariantCulture));
        m.AddSet("network_mode", s.NetworkMode);
        if (s.Networks is { Count: > 0 } networks)
        {
            var nm = new Map();
            foreach (var (k, n) in networks)
            {
                var entry = new Map().AddSet("aliases", Strings(n.Aliases)).AddSet("ipv4_address", n.Ipv4Address).AddSet("ipv6_address", n.Ipv6Address);
                if (n.Priority is int prio) entry.Add("priority", prio);
                nm.Add(k, entry.Count == 0 ? null : entry);
            }
            m.Add("networks", nm);
        }
        if (s.PidsLimit is long pids) m.Add("pids_limit", pids);
        m.AddSet("platform", s.Platform);
        m.AddSet("ports", s.Ports.Count == 0 ? null : s.Ports.Select(Port).Cast<object?>().ToList());
        if (s.Privileged is bool priv) m.Add("privileged", priv);
        m.AddSet("profiles", Strings(s.Profiles));
        m.AddSet("pull_policy", s.PullPolicy);
        if (s.ReadOnly is bool ro) m.Add("read_only", ro);
        m.AddSet("restart", s.Restart);
        if (s.Scale is int scale) m.Add("scale", scale);
        m.AddSet("secrets", s.Secrets.Count == 0 ? null : s.Secrets.Select(FileRef).Cast<object?>().ToList());
        m.AddSet("security_opt", Strings(s.SecurityOpt));
        if (s.StdinOpen is bool si2) m.Add("stdin_open", si2);
        if (s.StopGracePeriod is TimeSpan grace) m.Add("stop_grace_period", ComposeValues.FormatDuration(grace));
        m.AddSet("stop_signal", s.StopSignal);
        m.AddSet("sysctls", StringMap(s.Sysctls));
        m.AddSet("tmpfs", Strings(s.Tmpfs));
        if (s.Tty is bool tty) m.Add("tty", tty);
        if (s.Ulimits.Count > 0)
        {
            var um = new Map();
            foreach (var (k, u) in s.Ulimits) um.Add(k, new Map().Add("soft", u.Soft).Add("hard", u.Hard));
            m.Add("ulimits", um);
        }
        m.AddSet("user", s.User);
        m.AddSet("volumes", s.Volumes.Count == 0 ? null : s.Volumes.Select(Volume).Cast<object?>().ToList());
        m.AddSet("working_dir", s.WorkingDir);
        if (s.BlkioConfig is { } io)
        {
            var bm = new Map();
            if (io.Weight is ushort w) bm.Add("weight", (int)w);
            bm.AddSet("weight_device", io.WeightDevice.Count == 0 ? null : io.WeightDevice.Select(d => (object?)new Map().Add("path", d.Path).Add("weight", (int)d.Weight)).ToList());
            foreach (var (key, list) in new[] { ("device_read_bps", io.DeviceReadBps), ("device_read_iops", io.DeviceReadIops),
                                               ("device_write_bps", io.DeviceWriteBps), ("device_write_iops", io.DeviceWriteIops) })
                bm.AddSet(key, list.Count == 0 ? null : list.Select(d => (object?)new Map().Add("path", d.Path).Add("rate", (long)d.Rate)).ToList());
            m.Add("blkio_config", bm);
        }
        m.AddSet("cgroup_parent", s.CgroupParent);
        if (s.CpuPeriod is long period) m.Add("cpu_period", period);
        if (s.CpuQuota is long quota) m.Add("cpu_quota", quota);
        if (s.CpuShares is long shares) m.Add("cpu_shares", shares);
        m.AddSet("cpuset", s.Cpuset);
        m.AddSet("device_cgroup_rules", Strings(s.DeviceCgroupRules));
        m.AddSet("devices", Strings(s.Devices));
        m.AddSet("group_add", Strings(s.GroupAdd));
        m.AddSet("ipc", s.Ipc);
        if (s.MemReservation is long reservation) m.Add("mem_reservation", reservation.ToString(CultureInfo.InvariantCulture));
        if (s.MemswapLimit is long swap) m.Add("memswap_limit", swap.ToString(CultureInfo.InvariantCulture));
        if (s.OomKillDisable is bool oom) m.Add("oom_kill_disable", oom);
        if (s.OomScoreAdj is int adj) m.Add("oom_score_adj", adj);
        m.AddSet("pid", s.Pid);
        if (s.ShmSize is long shm) m.Add("shm_size", shm.ToString(CultureInfo.InvariantCulture));
        m.AddSet("volumes_from", Strings(s.VolumesFrom));
        // In the order docker compose writes them: by key.
        m.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return m;
    }

    private static Map? Limits(ResourceLimits? l)
    {
        if (l is null) return null;
        var m = new Map();
        if (l.Cpus is double c) m.Add("cpus", c);
        if (l.Memory is long mem) m.Add("memory", mem.ToString(CultureInfo.InvariantCulture));
        if (l.Pids is long p) m.Add("pids", p);
        return m;
    }

    private static Map Port(ServicePort p)
    {
        var m = new Map().AddSet("name", p.Name).Add("mode", p.Mode).AddSet("host_ip", p.HostIp).Add("target", (long)p.Target)
            .AddSet("published", p.Published).Add("protocol", p.Protocol).AddSet("app_protocol", p.AppProtocol);
        return m;
    }

    private static Map Volume(ServiceVolume v)
    {
        var m = new Map().Add("type", v.Type).AddSet("source", v.Source).Add("target", v.Target);
        if (v.ReadOnly) m.Add("read_only", true);
        m.AddSet("consistency", v.Consistency);
        switch (v.Type)
        {
            case "bind":
                var bind = new Map().AddSet("propagation", v.Propagation);
                if (v.CreateHostPath is bool chp) bind.Add("create_host_path", chp);
                m.Add("bind", bind);
                break;
            case "volume":
                var vol = new Map();
                if (v.NoCopy is bool nc) vol.Add("nocopy", nc);
                vol.AddSet("subpath", v.Subpath);
                m.Add("volume", vol);
                break;
            case "tmpfs":
                var tmpfs = new Map();
                if (v.TmpfsSize is long size) tmpfs.Add("size", size);
                if (v.TmpfsMode is int mode) tmpfs.Add("mode", (long)mode);
                m.Add("tmpfs", tmpfs);
                break;
        }
        return m;
    }

    private static Map FileRef(FileReference r)
    {
        var m = new Map().Add("source", r.Source).Add("target", r.Target ?? r.Source).AddSet("uid", r.Uid).AddSet("gid", r.Gid);
        if (r.Mode is int mode) m.Add("mode", (long)mode);
        return m;
    }

    private static Map FromNetwork(NetworkConfig n)
    {
        var m = new Map().Add("name", n.Name).AddSet("driver", n.Driver).AddSet("driver_opts", StringMap(n.DriverOpts));
        if (n.IpamConfig.Count > 0)
            m.Add("ipam", new Map().Add("config", n.IpamConfig.Select(p => (object?)new Map().AddSet("subnet", p.Subnet).AddSet("ip_range", p.IpRange).AddSet("gateway", p.Gateway)).ToList()));
        if (n.External) m.Add("external", true);
        if (n.Internal) m.Add("internal", true);
        if (n.Attachable) m.Add("attachable", true);
        if (n.EnableIpv6) m.Add("enable_ipv6", true);
        m.AddSet("labels", StringMap(n.Labels));
        return m;
    }

    private static Map FromVolume(VolumeConfig v)
    {
        var m = new Map().Add("name", v.Name).AddSet("driver", v.Driver).AddSet("driver_opts", StringMap(v.DriverOpts));
        if (v.External) m.Add("external", true);
        m.AddSet("labels", StringMap(v.Labels));
        return m;
    }

    private static Map FromFileObject(FileObjectConfig f) =>
        new Map().Add("name", f.Name).AddSet("file", f.File).AddSet("environment", f.Environment).AddSet("content", f.Content);

    private static List<object?>? Strings(List<string> items, bool keepEmpty = false) =>
        items.Count == 0 && !keepEmpty ? null : items.Cast<object?>().ToList();

    private static Map StringMap<T>(SortedDictionary<string, T> items)
    {
        var m = new Map();
        foreach (var (k, v) in items) m.Add(k, v);
        return m;
    }
}
