using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Loading;

/// <summary>The spec's merge rules, on the canonical form (so a short syntax in one file meets a long one in another):
/// values set later win; mappings merge key by key; sequences append without repeating; command, entrypoint and
/// healthcheck.test are replaced; ports, volumes, secrets and configs are unique by their key (the later one wins).
/// Used for override files and for `extends`.</summary>
public static class ServiceMerger
{
    public static ServiceConfig Merge(ServiceConfig b, ServiceConfig o)
    {
        var m = new ServiceConfig
        {
            Name = o.Name.Length > 0 ? o.Name : b.Name,
            Image = o.Image ?? b.Image,
            Build = MergeBuild(b.Build, o.Build),
            ContainerName = o.ContainerName ?? b.ContainerName,
            Command = o.Command ?? b.Command,
            Entrypoint = o.Entrypoint ?? b.Entrypoint,
            Environment = MergeMap(b.Environment, o.Environment),
            EnvFiles = UniqueBy(b.EnvFiles, o.EnvFiles, e => e.Path),
            Ports = UniqueBy(b.Ports, o.Ports, p => p.MergeKey),
            Expose = Append(b.Expose, o.Expose),
            Volumes = UniqueBy(b.Volumes, o.Volumes, v => v.Target),
            Networks = b.Networks is null ? o.Networks : o.Networks is null ? b.Networks : MergeMap(b.Networks, o.Networks),
            NetworkMode = o.NetworkMode ?? b.NetworkMode,
            DependsOn = MergeMap(b.DependsOn, o.DependsOn),
            Healthcheck = MergeHealthcheck(b.Healthcheck, o.Healthcheck),
            Restart = o.Restart ?? b.Restart,
            Deploy = MergeDeploy(b.Deploy, o.Deploy),
            Labels = MergeMap(b.Labels, o.Labels),
            User = o.User ?? b.User,
            WorkingDir = o.WorkingDir ?? b.WorkingDir,
            Hostname = o.Hostname ?? b.Hostname,
            DomainName = o.DomainName ?? b.DomainName,
            ExtraHosts = Append(b.ExtraHosts, o.ExtraHosts),
            Dns = Append(b.Dns, o.Dns),
            DnsSearch = Append(b.DnsSearch, o.DnsSearch),
            DnsOpt = Append(b.DnsOpt, o.DnsOpt),
            Tmpfs = Append(b.Tmpfs, o.Tmpfs),
            Ulimits = MergeMap(b.Ulimits, o.Ulimits),
            StopSignal = o.StopSignal ?? b.StopSignal,
            StopGracePeriod = o.StopGracePeriod ?? b.StopGracePeriod,
            Init = o.Init ?? b.Init,
            ReadOnly = o.ReadOnly ?? b.ReadOnly,
            Privileged = o.Privileged ?? b.Privileged,
            Tty = o.Tty ?? b.Tty,
            StdinOpen = o.StdinOpen ?? b.StdinOpen,
            CapAdd = Append(b.CapAdd, o.CapAdd),
            CapDrop = Append(b.CapDrop, o.CapDrop),
            SecurityOpt = Append(b.SecurityOpt, o.SecurityOpt),
            Sysctls = MergeMap(b.Sysctls, o.Sysctls),
            Secrets = UniqueBy(b.Secrets, o.Secrets, s => s.Target ?? s.Source),
            Configs = UniqueBy(b.Configs, o.Configs, c => c.Target ?? c.Source),
            Profiles = Append(b.Profiles, o.Profiles),
            PullPolicy = o.PullPolicy ?? b.PullPolicy,
            Platform = o.Platform ?? b.Platform,
            MemLimit = o.MemLimit ?? b.MemLimit,
            Cpus = o.Cpus ?? b.Cpus,
            PidsLimit = o.PidsLimit ?? b.PidsLimit,
            Scale = o.Scale ?? b.Scale,
            CpuShares = o.CpuShares ?? b.CpuShares,
            CpuQuota = o.CpuQuota ?? b.CpuQuota,
            CpuPeriod = o.CpuPeriod ?? b.CpuPeriod,
            Cpuset = o.Cpuset ?? b.Cpuset,
            MemReservation = o.MemReservation ?? b.MemReservation,
            MemswapLimit = o.MemswapLimit ?? b.MemswapLimit,
            OomKillDisable = o.OomKillDisable ?? b.OomKillDisable,
            OomScoreAdj = o.OomScoreAdj ?? b.OomScoreAdj,
            ShmSize = o.ShmSize ?? b.ShmSize,
            Pid = o.Pid ?? b.Pid,
            Ipc = o.Ipc ?? b.Ipc,
            CgroupParent = o.CgroupParent ?? b.CgroupParent,
            GroupAdd = Append(b.GroupAdd, o.GroupAdd),
            Devices = Append(b.Devices, o.Devices),
            DeviceCgroupRules = Append(b.DeviceCgroupRules, o.DeviceCgroupRules),
            VolumesFrom = Append(b.VolumesFrom, o.VolumesFrom),
            BlkioConfig = o.BlkioConfig ?? b.BlkioConfig,
            Positions = MergeMap(b.Positions, o.Positions),
        };
        return m;
    }

    private static BuildConfig? MergeBuild(BuildConfig? b, BuildConfig? o)
    {
        if (b is null || o is null) return o ?? b;
        return new BuildConfig
        {
            Context = o.Context,
            Dockerfile = o.Dockerfile ?? b.Dockerfile,
            Args = MergeMap(b.Args, o.Args),
            Target = o.Target ?? b.Target,
            Labels = MergeMap(b.Labels, o.Labels),
            Tags = Append(b.Tags, o.Tags),
            NoCache = o.NoCache ?? b.NoCache,
        };
    }

    private static HealthcheckConfig? MergeHealthcheck(HealthcheckConfig? b, HealthcheckConfig? o)
    {
        if (b is null || o is null) return o ?? b;
        return new HealthcheckConfig
        {
            Test = o.Test ?? b.Test,
            Interval = o.Interval ?? b.Interval,
            Timeout = o.Timeout ?? b.Timeout,
            Retries = o.Retries ?? b.Retries,
            StartPeriod = o.StartPeriod ?? b.StartPeriod,
            StartInterval = o.StartInterval ?? b.StartInterval,
            Disable = o.Disable || b.Disable,
        };
    }

    private static DeployConfig? MergeDeploy(DeployConfig? b, DeployConfig? o)
    {
        if (b is null || o is null) return o ?? b;
        return new DeployConfig
        {
            Replicas = o.Replicas ?? b.Replicas,
            Limits = MergeLimits(b.Limits, o.Limits),
            Reservations = MergeLimits(b.Reservations, o.Reservations),
        };
    }

    private static ResourceLimits? MergeLimits(ResourceLimits? b, ResourceLimits? o)
    {
        if (b is null || o is null) return o ?? b;
        return new ResourceLimits { Cpus = o.Cpus ?? b.Cpus, Memory = o.Memory ?? b.Memory, Pids = o.Pids ?? b.Pids };
    }

    internal static SortedDictionary<string, T> MergeMap<T>(SortedDictionary<string, T> b, SortedDictionary<string, T> o)
    {
        var m = new SortedDictionary<string, T>(b, StringComparer.Ordinal);
        foreach (var (k, v) in o) m[k] = v;
        return m;
    }

    private static List<string> Append(List<string> b, List<string> o) => b.Concat(o).Distinct(StringComparer.Ordinal).ToList();

    private static List<T> UniqueBy<T>(List<T> b, List<T> o, Func<T, string> key)
    {
        var m = new List<T>(b);
        foreach (var item in o)
        {
            var index = m.FindIndex(x => key(x) == key(item));
            if (index >= 0) m[index] = item; else m.Add(item);
        }
        return m;
    }
}
