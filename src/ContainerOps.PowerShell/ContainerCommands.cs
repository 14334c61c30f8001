using System.Collections;
using System.Management.Automation;
using ContainerOps.Core.Api;
using ContainerOps.Core.Security;

namespace ContainerOps.PowerShell;

/// <summary>
/// Lists containers (`docker ps`). Without arguments only running ones, as docker does; -All, -Name, -Id and -Status
/// look at every container. -Name takes wildcards; a plain name that matches nothing is an ObjectNotFound error.
/// -Detailed writes the inspect objects (ContainerDetails) instead of the summary rows: one cmdlet with one set of
/// filters, rather than a second Get- cmdlet that would repeat them.
/// </summary>
/// <example><code>Get-Container</code>Running containers, like `docker ps`.</example>
/// <example><code>Get-Container -All | Where-Object State -eq exited | Remove-Container</code>Removes every exited container: `docker container prune -f`.</example>
/// <example><code>Get-Container web* -Detailed | Select-Object Name, @{ n = 'Pid'; e = { $_.State.Pid } }</code>Inspect objects of the containers whose names start with web, like `docker inspect`.</example>
[Cmdlet(VerbsCommon.Get, "Container")]
[OutputType(typeof(ContainerSummary), typeof(ContainerDetails))]
public sealed class GetContainerCommand : ContainerOpsCmdlet
{
    /// <summary>Container names; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Container ids or id prefixes.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ContainerId")]
    public string[]? Id { get; set; }

    /// <summary>Include stopped containers (`docker ps -a`).</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    /// <summary>Daemon-side filters, docker's names: @{ label = 'app=web'; status = 'exited' }.</summary>
    [Parameter]
    public Hashtable? Filter { get; set; }

    /// <summary>Only containers in these states.</summary>
    [Parameter]
    [ValidateSet("created", "running", "paused", "restarting", "removing", "exited", "dead", IgnoreCase = true)]
    [Alias("State")]
    public string[]? Status { get; set; }

    /// <summary>Write full inspect objects (ContainerDetails).</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override void ProcessRecord()
    {
        var all = All || Name is not null || Id is not null || Status is not null;
        Dictionary<string, string>? filters = null;
        if (Filter is { Count: > 0 })
        {
            filters = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (DictionaryEntry de in Filter)
                filters[de.Key.ToString()!] = (de.Value is PSObject p ? p.BaseObject : de.Value)?.ToString() ?? "";
        }

        IReadOnlyList<ContainerSummary> list;
        try
        {
            list = Run(ct => Client.ListContainersAsync(all, filters, ct));
        }
        catch (ContainerOpsException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex));
            return;
        }

        IEnumerable<ContainerSummary> selected = list;
        if (Status is not null)
            selected = selected.Where(c => Status.Contains(c.State, StringComparer.OrdinalIgnoreCase));

        if (Name is not null)
        {
            var patterns = Name.Select(n => (Text: n, Pattern: new WildcardPattern(TrimSlash(n), WildcardOptions.IgnoreCase))).ToList();
            var matched = selected.Where(c => patterns.Any(p => p.Pattern.IsMatch(TrimSlash(c.Name)))).ToList();
            foreach (var p in patterns.Where(p => !WildcardPattern.ContainsWildcardCharacters(p.Text)))
                if (!matched.Any(c => p.Pattern.IsMatch(TrimSlash(c.Name))))
                    WriteError(ErrorRecords.NotFound("container", "ContainerNotFound", p.Text));
            selected = matched;
        }

        if (Id is not null)
        {
            var matched = selected.Where(c => Id.Any(i => c.Id.StartsWith(i, StringComparison.OrdinalIgnoreCase))).ToList();
            foreach (var i in Id.Where(i => !matched.Any(c => c.Id.StartsWith(i, StringComparison.OrdinalIgnoreCase))))
                WriteError(ErrorRecords.NotFound("container", "ContainerNotFound", i));
            selected = matched;
        }

        foreach (var c in selected)
        {
            if (Detailed)
                TryStep(() => WriteObject(Run(ct => Client.InspectContainerAsync(c.Id, ct))));
            else
                WriteObject(c);
        }
    }
}

/// <summary>
/// Creates a container (`docker create`); with -Start also starts it (`docker run -d`); with -Wait starts it, writes its
/// output while it runs and sets $LASTEXITCODE to its exit status (`docker run`).
/// <para>-Rm with -Wait removes the container once it has exited and its output is written (`docker run --rm`); -Rm without
/// -Wait asks the daemon to remove it when it exits (`docker run -d --rm`).</para>
/// <para>-Wait -Interactive -Tty in a terminal connects the console to the container (`docker run -it`).</para>
/// <para>Ctrl+C during -Wait sends SIGINT to the container; with -Rm the container is removed instead (killed if it still runs).</para>
/// <para>Output: the container object (ContainerSummary). With -Wait: the container's standard output as lines of text and its
/// standard error as non-terminating errors (ErrorId ContainerStandardError), then, with -PassThru, the container object with
/// its ExitCode.</para>
/// </summary>
/// <example><code>New-Container busybox echo hello -Wait -Rm</code>Runs echo in a new container, writes its output, sets $LASTEXITCODE and removes the container: `docker run --rm busybox echo hello`.</example>
/// <example><code>New-Container busybox -Name web -Memory 64MB -Command sh, -c, 'while :; do date; sleep 1; done' -Start</code>Starts a named container in the background with a memory limit: `docker run -d --name web -m 64m busybox sh -c '...'`. Quote or comma-separate arguments that start with a dash so PowerShell does not take them for parameters.</example>
/// <example><code>New-Container busybox sh -Interactive -Tty -Wait -Rm</code>An interactive shell in a new container, removed when the shell exits: `docker run -it --rm busybox sh`.</example>
/// <example><code>New-Container busybox httpd, -f -Name web -HealthCommand 'wget -q -O /dev/null localhost' -HealthInterval 5s -Start | Wait-Container -Condition Healthy</code>Starts a web server with a health check and waits until it passes: `docker run -d --health-cmd '…' --health-interval 5s busybox httpd -f`; Get-Container then shows "Up 6 seconds (healthy)".</example>
/// <example><code>New-Container busybox httpd -f -p 80 -Name web -Network app -NetworkAlias www -Publish 8080:80 -Start</code>A web server on the network app, reachable there as web and www, and from the host on port 8080: `docker run -d --name web --network app --network-alias www -p 8080:80 busybox httpd -f -p 80`.</example>
/// <example><code>New-Container busybox env -Environment @{ MODE = 'test' } -RestartPolicy on-failure -MaximumRetryCount 3</code>Creates (not starts) a container with an environment variable and a restart policy: `docker create -e MODE=test --restart on-failure:3 busybox env`.</example>
[Cmdlet(VerbsCommon.New, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ContainerSummary), typeof(string))]
public sealed class NewContainerCommand : ImageTransferCmdlet
{
    /// <summary>Image reference or id.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Image { get; set; } = "";

    /// <summary>When to pull the image from its registry (`docker run --pull`): Missing (the default) when it is not
    /// here, Always before the container is made, Never (a missing image is an error).</summary>
    [Parameter]
    [ValidateSet("Missing", "Always", "Never")]
    public string Pull { get; set; } = "Missing";

    /// <summary>The command and its arguments (overrides the image's CMD); everything after the image.</summary>
    [Parameter(Position = 1, ValueFromRemainingArguments = true)]
    [Alias("Cmd", "ArgumentList")]
    public string[]? Command { get; set; }

    /// <summary>The container's name (`--name`); unique on the node. Without it the daemon picks one.</summary>
    [Parameter]
    public string? Name { get; set; }

    /// <summary>Overrides the image's ENTRYPOINT (an empty array clears it).</summary>
    [Parameter]
    [AllowEmptyCollection]
    public string[]? Entrypoint { get; set; }

    /// <summary>Environment: a hashtable (@{ A = 1 }) or KEY=VALUE strings; a bare KEY copies this session's value.</summary>
    [Parameter]
    [Alias("Env")]
    public object[]? Environment { get; set; }

    /// <summary>The directory the command starts in (`--workdir`).</summary>
    [Parameter]
    [Alias("WorkDir")]
    public string? WorkingDirectory { get; set; }

    /// <summary>user[:group] or uid[:gid].</summary>
    [Parameter]
    public string? User { get; set; }

    /// <summary>The container's host name (`--hostname`).</summary>
    [Parameter]
    public string? HostName { get; set; }

    /// <summary>Labels: a hashtable or KEY=VALUE strings.</summary>
    [Parameter]
    public object[]? Label { get; set; }

    /// <summary>Memory limit in bytes (256MB works).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Memory { get; set; }

    /// <summary>Memory plus swap in bytes; -1 for unlimited swap.</summary>
    [Parameter]
    [ValidateRange(-1, long.MaxValue)]
    public long MemorySwap { get; set; }

    /// <summary>CPUs (1.5 = one and a half cores).</summary>
    [Parameter]
    [ValidateRange(0.0, 1024.0)]
    public double Cpus { get; set; }

    /// <summary>Relative CPU weight (`--cpu-shares`; 1024 is the default weight).</summary>
    [Parameter]
    [ValidateRange(0, 262144)]
    public long CpuShares { get; set; }

    /// <summary>Maximum number of processes; -1 for unlimited.</summary>
    [Parameter]
    [ValidateRange(-1, long.MaxValue)]
    public long PidsLimit { get; set; }

    /// <summary>CPUs the container may run on ("0-1", "0,2").</summary>
    [Parameter]
    public string? CpusetCpus { get; set; }

    /// <summary>bridge (the default network, which is the default, as with `docker run`), none (a private network
    /// namespace with loopback only), host, container:NAME, or the name of a network made with New-ContainerNetwork
    /// (`--network`).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(NetworkNameCompleter))]
    public string? Network { get; set; }

    /// <summary>More names the container answers to on its user-defined network (`--network-alias`).</summary>
    [Parameter]
    public string[]? NetworkAlias { get; set; }

    /// <summary>A fixed IPv4 address on its user-defined network (`--ip`).</summary>
    [Parameter]
    [Alias("IP")]
    public string? IPv4Address { get; set; }

    /// <summary>Ports to publish: [ip:][hostPort:]containerPort[/tcp|udp], ranges as 8000-8009:80-89 (`-p`).</summary>
    [Parameter]
    [Alias("p")]
    public string[]? Publish { get; set; }

    /// <summary>Publish every exposed port on a free host port (`-P`).</summary>
    [Parameter]
    public SwitchParameter PublishAll { get; set; }

    /// <summary>Lines for /etc/hosts: name:ip, or name:host-gateway for the network's gateway (`--add-host`).</summary>
    [Parameter]
    public string[]? AddHost { get; set; }

    /// <summary>The container's name servers (`--dns`): on a user-defined network, where the network's server passes the
    /// names it does not know; elsewhere, the nameservers of its /etc/resolv.conf.</summary>
    [Parameter]
    public string[]? Dns { get; set; }

    /// <summary>Search domains for /etc/resolv.conf (`--dns-search`).</summary>
    [Parameter]
    public string[]? DnsSearch { get; set; }

    /// <summary>Options for /etc/resolv.conf, e.g. ndots:2 (`--dns-option`).</summary>
    [Parameter]
    public string[]? DnsOption { get; set; }

    /// <summary>When the daemon restarts the container: no (default), on-failure, always or unless-stopped (`--restart`).</summary>
    [Parameter]
    [ValidateSet("no", "on-failure", "always", "unless-stopped")]
    [Alias("Restart")]
    public string? RestartPolicy { get; set; }

    /// <summary>With -RestartPolicy on-failure: give up after this many restarts.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int MaximumRetryCount { get; set; }

    /// <summary>Mount the root filesystem read-only (`--read-only`).</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>Runs an init as the container's pid 1 (`docker run --init`): it starts the command, passes signals on to
    /// it (so Stop-Container ends a program that never set up a SIGTERM handler at once) and reaps orphaned processes.</summary>
    [Parameter]
    public SwitchParameter Init { get; set; }

    /// <summary>All capabilities, all devices, no masked paths (`--privileged`).</summary>
    [Parameter]
    public SwitchParameter Privileged { get; set; }

    /// <summary>Capabilities to add to the default set (`--cap-add`), e.g. NET_ADMIN or ALL.</summary>
    [Parameter]
    [Alias("CapAdd")]
    public string[]? CapabilityAdd { get; set; }

    /// <summary>Capabilities to drop from the default set (`--cap-drop`).</summary>
    [Parameter]
    [Alias("CapDrop")]
    public string[]? CapabilityDrop { get; set; }

    /// <summary>Security options as `--security-opt` takes them: no-new-privileges, seccomp=unconfined,
    /// seccomp=PATH (a profile in Docker's JSON format, read here), systempaths=unconfined.</summary>
    [Parameter]
    [Alias("SecurityOpt")]
    public string[]? SecurityOption { get; set; }

    /// <summary>`-v`: /host/path:/container/path[:ro|rw] (a missing host directory is made), name:/path[:ro|rw][,nocopy]
    /// (a named volume, made when it does not exist), or /path alone (an anonymous volume).</summary>
    [Parameter]
    [Alias("Bind", "v")]
    [ArgumentCompleter(typeof(VolumeNameCompleter))]
    public string[]? Volume { get; set; }

    /// <summary>`--mount`: type=bind|volume|tmpfs,source=,target=[,readonly][,bind-propagation=][,volume-nocopy]
    /// [,volume-opt=K=V][,tmpfs-size=64m][,tmpfs-mode=1770]. A bind's source must exist.</summary>
    [Parameter]
    public string[]? Mount { get; set; }

    /// <summary>`--tmpfs`: /path[:size=64m,mode=1777,…].</summary>
    [Parameter]
    public string[]? Tmpfs { get; set; }

    /// <summary>`--volumes-from`: another container's volumes and binds at the same paths (CONTAINER[:ro|rw]).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string[]? VolumesFrom { get; set; }

    /// <summary>Size of /dev/shm in bytes (`--shm-size`; 128MB works; default 64 MB).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long ShmSize { get; set; }

    /// <summary>IPC namespace (`--ipc`): private (default), shareable, host, none, or container:NAME (that container's,
    /// which must be shareable).</summary>
    [Parameter]
    public string? Ipc { get; set; }

    /// <summary>Resource limits of the container's processes (`--ulimit`): NAME=SOFT[:HARD], e.g. nofile=1024:2048.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(UlimitCompleter))]
    public string[]? Ulimit { get; set; }

    /// <summary>More groups for the container's user (`--group-add`): names from the image's /etc/group, or numbers.</summary>
    [Parameter]
    public string[]? GroupAdd { get; set; }

    /// <summary>PID namespace (`--pid`): host, or container:NAME to share another container's.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(NamespaceModeCompleter))]
    [Alias("PidMode")]
    public string? Pid { get; set; }

    /// <summary>The cgroup the container's cgroup is made under (`--cgroup-parent`).</summary>
    [Parameter]
    public string? CgroupParent { get; set; }

    /// <summary>CPU time per period in microseconds (`--cpu-quota`); with -CpuPeriod.</summary>
    [Parameter]
    [ValidateRange(-1, long.MaxValue)]
    public long CpuQuota { get; set; }

    /// <summary>The CFS period in microseconds (`--cpu-period`; 1000 to 1000000, default 100000).</summary>
    [Parameter]
    [ValidateRange(0, 1_000_000)]
    public long CpuPeriod { get; set; }

    /// <summary>Memory soft limit in bytes (`--memory-reservation`; 64MB works).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long MemoryReservation { get; set; }

    /// <summary>How much the kernel prefers this container when it kills for memory (`--oom-score-adj`, -1000 to 1000).</summary>
    [Parameter]
    [ValidateRange(-1000, 1000)]
    public int? OomScoreAdj { get; set; }

    /// <summary>Do not let the kernel's OOM killer kill the container's processes (`--oom-kill-disable`; cgroup v1).</summary>
    [Parameter]
    public SwitchParameter OomKillDisable { get; set; }

    /// <summary>The container's share of block I/O (`--blkio-weight`, 10 to 1000; 0: the default).</summary>
    [Parameter]
    [ValidateRange(0, 1000)]
    public ushort BlkioWeight { get; set; }

    /// <summary>Weights on single devices (`--blkio-weight-device`): @{ '/dev/vda' = 300 }.</summary>
    [Parameter]
    public Hashtable? BlkioWeightDevice { get; set; }

    /// <summary>Bytes per second read from a device, at most (`--device-read-bps`): @{ '/dev/vda' = 1MB }.</summary>
    [Parameter]
    public Hashtable? DeviceReadBps { get; set; }

    /// <summary>Bytes per second written to a device, at most (`--device-write-bps`): @{ '/dev/vda' = 1MB }.</summary>
    [Parameter]
    public Hashtable? DeviceWriteBps { get; set; }

    /// <summary>Read operations per second on a device, at most (`--device-read-iops`): @{ '/dev/vda' = 100 }.</summary>
    [Parameter]
    public Hashtable? DeviceReadIops { get; set; }

    /// <summary>Write operations per second on a device, at most (`--device-write-iops`): @{ '/dev/vda' = 100 }.</summary>
    [Parameter]
    public Hashtable? DeviceWriteIops { get; set; }

    /// <summary>Host devices in the container (`--device`): /host[:/container[:rwm]].</summary>
    [Parameter]
    public string[]? Device { get; set; }

    /// <summary>Rules for the devices cgroup (`--device-cgroup-rule`): 'c 1:3 rwm', 'b *:* r'.</summary>
    [Parameter]
    public string[]? DeviceCgroupRule { get; set; }

    /// <summary>The container's NIS domain name (`--domainname`).</summary>
    [Parameter]
    public string? Domainname { get; set; }

    /// <summary>The log driver (`--log-driver`): json-file, the one ContainerOps has.</summary>
    [Parameter]
    public string? LogDriver { get; set; }

    /// <summary>Log driver options (`--log-opt`): a hashtable or KEY=VALUE strings, e.g. @{ 'max-size' = '10m'; 'max-file' = '3' }.</summary>
    [Parameter]
    [Alias("LogOpt")]
    public object[]? LogOption { get; set; }

    /// <summary>The OCI runtime: builtin (default), crun or runc (`--runtime`).</summary>
    [Parameter]
    [ValidateSet("builtin", "crun", "runc")]
    public string? Runtime { get; set; }

    /// <summary>The health check's command, run by the container's shell (`--health-cmd`); overrides the image's HEALTHCHECK.</summary>
    [Parameter]
    [Alias("HealthCmd")]
    public string? HealthCommand { get; set; }

    /// <summary>Time between checks (`--health-interval`): a TimeSpan or a duration such as 30s; default 30s.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan? HealthInterval { get; set; }

    /// <summary>Longest a check may run before it counts as failed (`--health-timeout`); default 30s.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan? HealthTimeout { get; set; }

    /// <summary>Failures in a row that make the container unhealthy (`--health-retries`); default 3.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? HealthRetries { get; set; }

    /// <summary>Time after start when failures do not count yet (`--health-start-period`).</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan? HealthStartPeriod { get; set; }

    /// <summary>Time between checks during the start period (`--health-start-interval`); default 5s.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan? HealthStartInterval { get; set; }

    /// <summary>Turn off the image's HEALTHCHECK (`--no-healthcheck`).</summary>
    [Parameter]
    public SwitchParameter NoHealthcheck { get; set; }

    /// <summary>Give the container a terminal.</summary>
    [Parameter]
    public SwitchParameter Tty { get; set; }

    /// <summary>Keep the container's stdin open.</summary>
    [Parameter]
    public SwitchParameter Interactive { get; set; }

    /// <summary>Start the container and write it (`docker run -d`).</summary>
    [Parameter]
    [Alias("Detach")]
    public SwitchParameter Start { get; set; }

    /// <summary>Start the container, write its output until it exits, set $LASTEXITCODE (`docker run`).</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>Remove the container once it has exited (`docker run --rm`).</summary>
    [Parameter]
    [Alias("AutoRemove")]
    public SwitchParameter Rm { get; set; }

    /// <summary>With -Wait: write the container object (with its exit code) after its output.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private string ResolvePath(string path) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    internal ContainerCreateRequest BuildRequest()
    {
        var request = new ContainerCreateRequest
        {
            Name = string.IsNullOrEmpty(Name) ? null : Name,
            Image = Image,
            Cmd = Command is { Length: > 0 } ? Command.ToList() : null,
            Entrypoint = Entrypoint?.ToList(),
            Env = ToKeyValueList(Environment, inheritBareKeys: true),
            WorkingDir = WorkingDirectory,
            User = User,
            Hostname = HostName,
            Labels = ToDictionary(Label),
            Tty = Tty,
            OpenStdin = Interactive,
        };
        request.Healthcheck = BuildHealthcheck();
        var h = request.HostConfig;
        h.NetworkMode = Network ?? "default";
        if (NetworkAlias is { Length: > 0 } || IPv4Address is not null)
        {
            if (Network is null or "none" or "host" or "bridge" || Network.StartsWith("container:", StringComparison.Ordinal))
                throw new ArgumentException("-NetworkAlias and -IPv4Address need a user-defined network (-Network NAME)");
            request.NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = { [Network] = new EndpointSettings
                {
                    Aliases = NetworkAlias?.ToList(), IPAMConfig = IPv4Address is null ? null : new EndpointIPAMConfig { IPv4Address = IPv4Address },
                } },
            };
        }
        foreach (var p in Publish ?? []) PortSpecs.AddPublish(h, p);
        h.PublishAllPorts = PublishAll;
        if (AddHost is not null) h.ExtraHosts = AddHost.ToList();
        if (Dns is not null) h.Dns = Dns.ToList();
        if (DnsSearch is not null) h.DnsSearch = DnsSearch.ToList();
        if (DnsOption is not null) h.DnsOptions = DnsOption.ToList();
        h.AutoRemove = Rm && !Wait;
        h.Privileged = Privileged;
        if (Init) h.Init = true;
        h.ReadonlyRootfs = ReadOnly;
        if (CapabilityAdd is not null) h.CapAdd = CapabilityAdd.ToList();
        if (CapabilityDrop is not null) h.CapDrop = CapabilityDrop.ToList();
        // A seccomp profile file is read here, relative to the current location, and its JSON sent.
        if (SecurityOption is not null)
            h.SecurityOpt = SecurityOption.Select(o => SecurityOptions.ExpandProfileFile(o, ResolvePath)).ToList();
        h.Memory = Memory;
        h.MemorySwap = MemorySwap;
        h.NanoCpus = (long)Math.Round(Cpus * 1e9);
        h.CpuShares = CpuShares;
        h.PidsLimit = PidsLimit;
        h.CpusetCpus = CpusetCpus;
        if (RestartPolicy is not null) h.RestartPolicy = new RestartPolicy { Name = RestartPolicy, MaximumRetryCount = MaximumRetryCount };
        h.Runtime = Runtime;
        if (Volume is not null) h.Binds = Volume.ToList();
        foreach (var m in Mount ?? []) h.Mounts.Add(MountSpecs.ParseMount(m));
        if (Tmpfs is not null) h.Tmpfs = new TmpfsList(Tmpfs);
        if (VolumesFrom is not null) h.VolumesFrom = VolumesFrom.ToList();
        h.ShmSize = ShmSize;
        h.IpcMode = Ipc;
        ApplyProcessOptions(request);
        return request;
    }

    /// <summary>A device throttle given as @{ path = rate }.</summary>
    private static List<ThrottleDevice>? Throttles(Hashtable? table) =>
        table?.Keys.Cast<object>().Select(k => new ThrottleDevice { Path = k.ToString()!, Rate = LanguagePrimitives.ConvertTo<ulong>(table[k]) }).ToList();

    /// <summary>-Ulimit … -LogOption, as the CLI's --ulimit … --log-opt put them in the request.</summary>
    private void ApplyProcessOptions(ContainerCreateRequest request)
    {
        var h = request.HostConfig;
        foreach (var u in Ulimit ?? []) h.Ulimits.Add(ProcessSpecs.ParseUlimit(u));
        if (GroupAdd is not null) h.GroupAdd.AddRange(GroupAdd);
        h.PidMode = Pid;
        h.CgroupParent = CgroupParent;
        h.CpuQuota = CpuQuota;
        h.CpuPeriod = CpuPeriod;
        h.MemoryReservation = MemoryReservation;
        if (OomScoreAdj is int adj) h.OomScoreAdj = adj;
        if (OomKillDisable) h.OomKillDisable = true;
        h.BlkioWeight = BlkioWeight;
        h.BlkioWeightDevice = BlkioWeightDevice?.Keys.Cast<object>()
            .Select(k => new WeightDevice { Path = k.ToString()!, Weight = LanguagePrimitives.ConvertTo<ushort>(BlkioWeightDevice[k]) }).ToList();
        h.BlkioDeviceReadBps = Throttles(DeviceReadBps);
        h.BlkioDeviceWriteBps = Throttles(DeviceWriteBps);
        h.BlkioDeviceReadIOps = Throttles(DeviceReadIops);
        h.BlkioDeviceWriteIOps = Throttles(DeviceWriteIops);
        foreach (var d in Device ?? []) h.Devices.Add(ProcessSpecs.ParseDevice(d));
        if (DeviceCgroupRule is not null) h.DeviceCgroupRules.AddRange(DeviceCgroupRule);
        if (LogDriver is not null || LogOption is not null)
            h.LogConfig = new LogConfig { Type = LogDriver ?? "", Config = ToDictionary(LogOption) };
        request.Domainname = Domainname;
    }

    /// <summary>The -Health* parameters as docker's --health-* flags: null when none is given (the image's check applies).</summary>
    private HealthConfig? BuildHealthcheck()
    {
        TimeSpan?[] durations = [HealthInterval, HealthTimeout, HealthStartPeriod, HealthStartInterval];
        var given = HealthCommand is not null || HealthRetries is not null || durations.Any(d => d is not null);
        if (NoHealthcheck)
            return given ? throw new ArgumentException("-NoHealthcheck conflicts with the -Health* parameters") : new HealthConfig { Test = ["NONE"] };
        if (!given) return null;
        foreach (var d in durations)
            if (d is { } t && t <= TimeSpan.Zero) throw new ArgumentException("the -Health* durations must be positive");
        static long Nanos(TimeSpan? t) => t is { } v ? v.Ticks * 100 : 0;
        return new HealthConfig
        {
            Test = HealthCommand is { Length: > 0 } cmd ? ["CMD-SHELL", cmd] : null,
            Interval = Nanos(HealthInterval), Timeout = Nanos(HealthTimeout), StartPeriod = Nanos(HealthStartPeriod),
            StartInterval = Nanos(HealthStartInterval), Retries = HealthRetries ?? 0,
        };
    }

    protected override void ProcessRecord()
    {
        ContainerCreateRequest request;
        try
        {
            request = BuildRequest();
        }
        catch (ArgumentException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "InvalidKeyValue", ErrorCategory.InvalidArgument, null));
            return;
        }
        catch (ContainerOpsException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex));
            return;
        }

        var what = request.Name is null ? $"image {Image}" : $"{request.Name} (image {Image})";
        if (!ShouldProcess(what, Wait || Start ? "Create and start container" : "Create container")) return;

        ContainerCreateResponse created;
        try
        {
            if (Pull.Equals("Always", StringComparison.OrdinalIgnoreCase)) PullWithProgress(Image, insecure: false);
            try { created = Run(ct => Client.CreateContainerAsync(request, ct)); }
            catch (ContainerOpsException ex) when (Pull.Equals("Missing", StringComparison.OrdinalIgnoreCase) && ex.Error.Kind == ErrorKind.NotFound && ex.Error.Id == "ImageNotFound")
            {
                // Asking first would cost every create a request; a missing image costs the failed create only.
                WriteVerbose($"Unable to find image '{Image}' locally; pulling it");
                PullWithProgress(Image, insecure: false);
                created = Run(ct => Client.CreateContainerAsync(request, ct));
            }
        }
        catch (ContainerOpsException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex));
            return;
        }
        foreach (var w in created.Warnings) WriteWarning(w);
        var id = created.Id;

        var settled = false;
        try
        {
            if (Wait && Interactive && Tty && OperatingSystem.IsLinux() && InteractiveTerminal.Available)
            {
                // `docker run -it`: attach before the start so no output is lost, then hand the console to the container.
                var session = Run(ct => Client.AttachAsync(id, ct));
                try
                {
                    Run(ct => Client.StartContainerAsync(id, ct));
                    InteractiveTerminal.Run(session, StopToken, WriteApiError);
                }
                finally
                {
                    try { session.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5)); } catch { }
                }
            }
            else
            {
                if (Start || Wait) Run(ct => Client.StartContainerAsync(id, ct));
                if (!Wait)
                {
                    WriteObject(GetContainerObject(id));
                    return;
                }
                foreach (var entry in Enumerate(Client.GetLogsAsync(id, follow: true, ct: StopToken)))
                    WriteLogLine(entry, id);
            }
            var exit = Run(ct => Client.WaitContainerAsync(id, ct));
            if (exit.OOMKilled) WriteWarning($"Container {id[..Math.Min(12, id.Length)]} was killed for running out of memory.");
            if (!string.IsNullOrEmpty(exit.Error))
                WriteError(new ErrorRecord(new InvalidOperationException(exit.Error), "ContainerFailed", ErrorCategory.InvalidResult, id));
            SetLastExitCode(exit.StatusCode);
            var final = PassThru ? GetContainerObject(id) : null;
            if (Rm) Run(ct => Client.RemoveContainerAsync(id, true, removeVolumes: true, ct));
            settled = true;
            if (final is not null) WriteObject(final);
        }
        catch (ContainerOpsException ex)
        {
            settled = true;
            if (Wait)
            {
                // As `docker run`: 125 when the daemon failed, 126/127 when the command could not run; --rm still removes.
                SetLastExitCode(ex.CliExitCode);
                if (Rm)
                {
                    try { Run(ct => Client.RemoveContainerAsync(id, true, removeVolumes: true, ct)); } catch (ContainerOpsException) { }
                }
            }
            ThrowTerminatingError(ErrorRecords.From(ex));
        }
        finally
        {
            if (Wait && !settled) LeaveStoppedRun(id);
        }
    }

    /// <summary>The pipeline stopped during -Wait (Ctrl+C, or an error under ErrorAction Stop): like `docker run`, pass the
    /// interrupt on to the container; with -Rm remove it (killing it if need be), as `docker run --rm` does.</summary>
    private void LeaveStoppedRun(string id)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            if (Rm) Client.RemoveContainerAsync(id, true, removeVolumes: true, cts.Token).GetAwaiter().GetResult();
            else Client.KillContainerAsync(id, "INT", cts.Token).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is ContainerOpsException or OperationCanceledException or IOException or HttpRequestException)
        {
        }
    }

    private void WriteLogLine(LogEntry entry, string id)
    {
        var text = entry.Log.TrimEnd('\n').TrimEnd('\r');
        if (entry.Stream == "stderr")
            WriteError(new ErrorRecord(new RemoteException(text), "ContainerStandardError", ErrorCategory.NotSpecified, id));
        else
            WriteObject(text);
    }
}
