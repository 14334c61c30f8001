using System.Globalization;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Execution;

/// <summary>Turns one service into the Docker-shaped create request of one of its containers, labels included.
/// What the daemon cannot take yet is reported as a warning (once per service), never silently dropped.</summary>
public static class ContainerRequestBuilder
{
    public static string ContainerName(ComposeProject project, ServiceConfig service, int number) =>
        service.ContainerName ?? $"{project.Name}-{service.Name}-{number}";

    /// <summary>The image a service runs: its `image:`, or for a build without one, `&lt;project&gt;-&lt;service&gt;`.</summary>
    public static string ImageName(ComposeProject project, ServiceConfig service) => service.Image ?? $"{project.Name}-{service.Name}";

    public static ContainerCreateRequest Build(ComposeProject project, ServiceConfig service, int number, string name, bool oneOff,
        ICollection<string> warnings)
    {
        var r = new ContainerCreateRequest
        {
            Name = name,
            Image = ImageName(project, service),
            Entrypoint = service.Entrypoint,
            Cmd = service.Command,
            WorkingDir = service.WorkingDir,
            User = service.User,
            Hostname = service.Hostname,
            Domainname = service.DomainName,
            Tty = service.Tty ?? false,
            OpenStdin = service.StdinOpen ?? false,
            StopSignal = service.StopSignal,
            StopTimeout = service.StopGracePeriod is TimeSpan g ? (int)Math.Ceiling(g.TotalSeconds) : null,
        };
        foreach (var (k, v) in service.Environment)
            if (v is not null) r.Env.Add($"{k}={v}");
        foreach (var (k, v) in service.Labels) r.Labels[k] = v;
        r.Labels[ComposeLabels.Project] = project.Name;
        r.Labels[ComposeLabels.Service] = service.Name;
        r.Labels[ComposeLabels.ContainerNumber] = number.ToString(CultureInfo.InvariantCulture);
        r.Labels[ComposeLabels.ConfigHash] = ServiceHash.Compute(service);
        r.Labels[ComposeLabels.OneOff] = oneOff ? "True" : "False";
        r.Labels[ComposeLabels.WorkingDir] = project.WorkingDirectory;
        r.Labels[ComposeLabels.ConfigFiles] = string.Join(",", project.ConfigFiles);
        r.Labels[ComposeLabels.Image] = r.Image;
        r.Labels[ComposeLabels.Version] = ComposeLabels.VersionValue;
        if (service.DependsOn.Count > 0)
            r.Labels[ComposeLabels.DependsOn] = string.Join(",", service.DependsOn.Select(d => $"{d.Key}:{d.Value.Condition}:{(d.Value.Restart ? "true" : "false")}"));

        var h = r.HostConfig;
        SetNetworking(project, service, r, warnings);
        foreach (var p in service.Ports)
        {
            h.PortBindings ??= new();
            var key = $"{p.Target}/{p.Protocol}";
            if (!h.PortBindings.TryGetValue(key, out var list)) h.PortBindings[key] = list = new();
            list.Add(new PortBinding { HostIp = p.HostIp ?? "", HostPort = p.Published ?? "" });
        }
        foreach (var e in service.Expose) PortSpecs.AddExpose(r, e);
        h.ExtraHosts.AddRange(service.ExtraHosts);
        h.Dns.AddRange(service.Dns);
        h.DnsSearch.AddRange(service.DnsSearch);
        h.DnsOptions.AddRange(service.DnsOpt);
        h.ReadonlyRootfs = service.ReadOnly ?? false;
        h.Privileged = service.Privileged ?? false;
        h.CapAdd.AddRange(service.CapAdd);
        h.CapDrop.AddRange(service.CapDrop);
        h.SecurityOpt.AddRange(service.SecurityOpt);
        foreach (var (k, v) in service.Sysctls) h.Sysctls[k] = v;
        var limits = service.Deploy?.Limits;
        if ((limits?.Memory ?? service.MemLimit) is long memory) h.Memory = memory;
        if ((limits?.Cpus ?? service.Cpus) is double cpus) h.NanoCpus = (long)(cpus * 1e9);
        if ((limits?.Pids ?? service.PidsLimit) is long pids) h.PidsLimit = pids;
        h.RestartPolicy = RestartPolicy(service.Restart);
        foreach (var t in service.Tmpfs) h.Tmpfs.Add(t);
        for (var i = 0; i < service.Volumes.Count; i++)
        {
            var v = service.Volumes[i];
            switch (v.Type)
            {
                case "bind":
                    // Propagation travels among the bind's options, as in `-v /src:/dst:ro,rshared`.
                    var bindOptions = new List<string>();
                    if (v.ReadOnly) bindOptions.Add("ro");
                    if (v.Propagation is { } propagation) bindOptions.Add(propagation);
                    h.Binds.Add($"{v.Source}:{v.Target}{(bindOptions.Count > 0 ? ":" + string.Join(",", bindOptions) : "")}");
                    break;
                case "tmpfs":
                    var options = new List<string>();
                    if (v.TmpfsSize is long size) options.Add("size=" + size.ToString(CultureInfo.InvariantCulture));
                    if (v.TmpfsMode is int mode) options.Add("mode=" + Convert.ToString(mode, 8));
                    h.Tmpfs.Add(options.Count == 0 ? v.Target : $"{v.Target}:{string.Join(",", options)}");
                    break;
                case "volume":
                    var volume = VolumeName(project, service, v, name);
                    h.Binds.Add($"{volume}:{v.Target}{(v.ReadOnly ? ":ro" : "")}{(v.NoCopy == true ? (v.ReadOnly ? ",nocopy" : ":nocopy") : "")}");
                    if (v.Subpath is not null)
                        warnings.Add($"services.{service.Name}.volumes[{i}].volume.subpath: not applied by containerops (the daemon mounts the whole volume), ignored");
                    break;
            }
        }
        for (var i = 0; i < service.Secrets.Count; i++)
        {
            var s = service.Secrets[i];
            var secret = project.Secrets[s.Source];
            var target = s.Target is { } t && t.StartsWith('/') ? t : "/run/secrets/" + (s.Target ?? s.Source);
            h.Binds.Add($"{secret.File}:{target}:ro");
            CheckFileOptions($"services.{service.Name}.secrets[{i}]", s, secret.File, warnings);
        }
        for (var i = 0; i < service.Configs.Count; i++)
        {
            var c = service.Configs[i];
            var config = project.Configs[c.Source];
            var target = c.Target is { } t && t.StartsWith('/') ? t : "/" + (c.Target ?? c.Source);
            h.Binds.Add($"{config.File}:{target}:ro");
            CheckFileOptions($"services.{service.Name}.configs[{i}]", c, config.File, warnings);
        }
        // The daemon checks names and values (as dockerd does for docker compose) and refuses the create with the field.
        foreach (var (ulimit, value) in service.Ulimits) h.Ulimits.Add(new Core.Api.Ulimit { Name = ulimit, Soft = value.Soft, Hard = value.Hard });
        h.Init = service.Init;
        ApplyResourceOptions(project, service, h, warnings);
        if (service.Healthcheck is { } check)
            r.Healthcheck = check.Disable ? new HealthConfig { Test = ["NONE"] } : new HealthConfig
            {
                // Unset fields stay 0: the daemon merges them with the image's HEALTHCHECK, as docker compose leaves it to dockerd.
                Test = check.Test,
                Interval = Nanos(check.Interval), Timeout = Nanos(check.Timeout), StartPeriod = Nanos(check.StartPeriod),
                StartInterval = Nanos(check.StartInterval), Retries = check.Retries ?? 0,
            };
        return r;
    }

    private static long Nanos(TimeSpan? d) => d is { } t ? t.Ticks * 100 : 0;

    /// <summary>A secret or config is a read-only bind of its file, as docker compose makes it outside a swarm: the
    /// owner cannot change, and the container sees the file's own mode, so a mode is met only when the file has it
    /// already (less the write bits the read-only bind takes away). Anything else is said, not dropped.</summary>
    private static void CheckFileOptions(string at, FileReference r, string? file, ICollection<string> warnings)
    {
        if (r.Uid is not null || r.Gid is not null)
            warnings.Add($"{at}: uid and gid are not applied (the file is bind-mounted with its owner on the host), ignored");
        if (r.Mode is not int mode) return;
        const int permissions = 0x1ff, writeBits = 0x92; // 0777, 0222
        int? own = file is not null && File.Exists(file) ? (int)File.GetUnixFileMode(file) & permissions : null;
        if (own is int o && (mode == o || mode == (o & ~writeBits))) return;
        warnings.Add($"{at}: mode {Octal(mode)} is not applied (the file is bind-mounted read-only{(own is int m ? $" with its own mode {Octal(m)}" : "")}), ignored");
    }

    private static string Octal(int mode) => "0" + Convert.ToString(mode, 8);

    /// <summary>The cgroup, process and device keys, as docker compose hands them to dockerd (which checks them).</summary>
    private static void ApplyResourceOptions(ComposeProject project, ServiceConfig service, HostConfig h, ICollection<string> warnings)
    {
        string Container(string serviceName) => ContainerName(project, project.Services[serviceName], 1);
        string? Mode(string? mode) => mode is not null && mode.StartsWith("service:", StringComparison.Ordinal) ? "container:" + Container(mode[8..]) : mode;
        h.CpuShares = service.CpuShares ?? 0;
        h.CpuQuota = service.CpuQuota ?? 0;
        h.CpuPeriod = service.CpuPeriod ?? 0;
        h.CpusetCpus = service.Cpuset;
        // deploy.resources.reservations: the memory one is the soft limit docker compose sets; a CPU or pids
        // reservation is for a scheduler to place the container, which a single daemon has not.
        var reservations = service.Deploy?.Reservations;
        h.MemoryReservation = service.MemReservation ?? reservations?.Memory ?? 0;
        foreach (var (key, value) in new[] { ("cpus", (object?)reservations?.Cpus), ("pids", reservations?.Pids) })
            if (value is not null) warnings.Add($"services.{service.Name}.deploy.resources.reservations.{key}: not applied by containerops (no scheduler reserves them), ignored");
        h.MemorySwap = service.MemswapLimit ?? 0;
        h.OomKillDisable = service.OomKillDisable;
        h.OomScoreAdj = service.OomScoreAdj ?? 0;
        h.ShmSize = service.ShmSize ?? 0;
        h.PidMode = Mode(service.Pid);
        h.IpcMode = Mode(service.Ipc);
        h.CgroupParent = service.CgroupParent;
        h.GroupAdd.AddRange(service.GroupAdd);
        foreach (var d in service.Devices) h.Devices.Add(ProcessSpecs.ParseDevice(d));
        h.DeviceCgroupRules.AddRange(service.DeviceCgroupRules);
        // volumes_from names a service (its first container) or container:NAME, either with :ro or :rw.
        foreach (var from in service.VolumesFrom)
            h.VolumesFrom.Add(from.StartsWith("container:", StringComparison.Ordinal) ? from[10..]
                : from.IndexOf(':') is var colon and > 0 ? Container(from[..colon]) + from[colon..] : Container(from));
        if (service.BlkioConfig is { } io)
        {
            h.BlkioWeight = io.Weight ?? 0;
            if (io.WeightDevice.Count > 0) h.BlkioWeightDevice = io.WeightDevice.Select(d => new WeightDevice { Path = d.Path, Weight = d.Weight }).ToList();
            static List<ThrottleDevice>? Throttles(List<(string Path, ulong Rate)> list) =>
                list.Count == 0 ? null : list.Select(d => new ThrottleDevice { Path = d.Path, Rate = d.Rate }).ToList();
            h.BlkioDeviceReadBps = Throttles(io.DeviceReadBps);
            h.BlkioDeviceWriteBps = Throttles(io.DeviceWriteBps);
            h.BlkioDeviceReadIOps = Throttles(io.DeviceReadIops);
            h.BlkioDeviceWriteIOps = Throttles(io.DeviceWriteIops);
        }
    }

    /// <summary>A named volume's daemon name, or for an anonymous one a name of the container's own (kept across recreation).</summary>
    public static string VolumeName(ComposeProject project, ServiceConfig service, ServiceVolume v, string containerName) =>
        v.Source is { } source ? project.Volumes[source].Name! : $"{containerName}_{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(v.Target)))[..12]}";

    private static void SetNetworking(ComposeProject project, ServiceConfig service, ContainerCreateRequest r, ICollection<string> warnings)
    {
        if (service.NetworkMode is { } mode)
        {
            r.HostConfig.NetworkMode = mode.StartsWith("service:", StringComparison.Ordinal)
                ? "container:" + ContainerName(project, project.Services[mode[8..]], 1)
                : mode;
            return;
        }
        var networks = (service.Networks ?? new()).OrderByDescending(n => n.Value.Priority ?? 0).ThenBy(n => n.Key, StringComparer.Ordinal).ToList();
        if (networks.Count == 0) { r.HostConfig.NetworkMode = "none"; return; }
        r.HostConfig.NetworkMode = project.Networks[networks[0].Key].Name!;
        r.NetworkingConfig = new NetworkingConfig();
        foreach (var (key, n) in networks)
        {
            if (n.Ipv6Address is not null)
                warnings.Add($"services.{service.Name}.networks.{key}.ipv6_address: not applied by containerops (the daemon gives IPv4 endpoint addresses only), ignored");
            var aliases = new List<string> { service.Name };
            aliases.AddRange(n.Aliases.Where(a => a != service.Name));
            r.NetworkingConfig.EndpointsConfig[project.Networks[key].Name!] = new EndpointSettings
            {
                Aliases = aliases,
                IPAMConfig = n.Ipv4Address is { } ip ? new EndpointIPAMConfig { IPv4Address = ip } : null,
            };
        }
    }

    private static RestartPolicy RestartPolicy(string? restart)
    {
        if (restart is null) return new RestartPolicy();
        var parts = restart.Split(':');
        return new RestartPolicy { Name = parts[0], MaximumRetryCount = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 0 };
    }
}
