using ContainerOps.Cluster.Node;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// The node agent's view of this daemon (<see cref="INodeRuntime"/>): pod containers are ordinary containers of the
/// engine, named as the kubelet names them (k8s_CONTAINER_POD_NAMESPACE_UID_ATTEMPT), labelled with their pod, and
/// joined to their pod's sandbox (<see cref="PodSandboxes"/>); images come from the image service by pull policy.
/// </summary>
public sealed class NodeRuntimeAdapter(ContainerManager containers, PodSandboxes sandboxes, ContainerInputs inputs, PodCgroupTree cgroups) : INodeRuntime
{
    /// <summary>The node agent over this daemon's engine, registered and following its pods, started with the control
    /// plane: on the first use of the cluster API, or at once when its store exists (see ClusterHost).</summary>
    public static AgentStarter StartAgent(ContainerOps.Cluster.ClusterHost cluster, ContainerManager containers, PodSandboxes sandboxes, ContainerInputs inputs, DaemonOptions options, ILogger log)
    {
        options.Node.Agent.StateRoot = options.Root;
        var starter = new AgentStarter();
        cluster.WhenActive(active =>
        {
            var runtime = new NodeRuntimeAdapter(containers, sandboxes, inputs, new PodCgroupTree(options, log));
            var agent = new NodeAgent(active.Objects, runtime, options.Node.Agent, log) { Tokens = active.Api.Tokens };
            agent.Start();
            active.Api.PodConnections = new PodStreams(runtime, options.Node.Agent.NodeName);
            active.Api.Metrics = new NodeMetrics(runtime, options.Node.Agent.NodeName);
            starter.Agent = agent;
        });
        return starter;
    }

    /// <summary>The agent once it has started; disposing stops it.</summary>
    public sealed class AgentStarter : IAsyncDisposable
    {
        private NodeAgent? _agent;
        public NodeAgent? Agent { get => Volatile.Read(ref _agent); internal set => Volatile.Write(ref _agent, value); }
        public async ValueTask DisposeAsync() { if (Agent is { } agent) await agent.DisposeAsync(); }
    }

    public async Task<SandboxStatus> RunSandboxAsync(SandboxRequest request, CancellationToken ct)
    {
        if (request.Cgroup is { } cgroup) cgroups.Ensure(request.PodUid, cgroup);
        if (request.HostNetwork) return new SandboxStatus(request.PodUid, null);
        var ip = await sandboxes.RunAsync(request.PodUid, request.Hostname, request.ResolvConf, request.HostAliases, ct);
        if (request.SharePid) await sandboxes.HoldPidNamespaceAsync(request.PodUid, ct);
        return new SandboxStatus(request.PodUid, ip);
    }

    public Task RemoveSandboxAsync(string podUid)
    {
        sandboxes.Remove(podUid);
        cgroups.Remove(podUid);
        return Task.CompletedTask;
    }

    public IReadOnlyList<SandboxStatus> ListSandboxes() =>
        sandboxes.List().Select(uid => new SandboxStatus(uid, sandboxes.AddressOf(uid))).ToList();

    public async Task EnsureImageAsync(string image, string pullPolicy, IReadOnlyList<string> pullSecrets, CancellationToken ct)
    {
        bool Present()
        {
            try { containers.Images.Inspect(image); return true; }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { return false; }
        }
        if (pullPolicy == "Never")
        {
            if (!Present()) throw new ImageUnavailableException($"Container image \"{image}\" is not present with pull policy of Never", neverPull: true);
            return;
        }
        if (pullPolicy == "IfNotPresent" && Present()) return;
        try { await containers.ImageEngine.PullAsync(image, Api.ImageRoutes.RegistryOptionsFor(containers, pullSecrets: pullSecrets), null, ct); }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            throw new ImageUnavailableException(e.Message);
        }
    }

    public async Task<string> CreateContainerAsync(PodContainerRequest request, CancellationToken ct)
    {
        string Label(string key) => request.Labels.TryGetValue(key, out var v) ? v : "";
        var name = $"k8s_{Label(PodLabels.ContainerName)}_{Label(PodLabels.PodName)}_{Label(PodLabels.PodNamespace)}_{request.PodUid}_{Label(PodLabels.Attempt)}";
        var create = new ContainerCreateRequest
        {
            Image = request.Image,
            Entrypoint = request.Command?.ToList(),
            Cmd = request.Args?.ToList(),
            Env = request.Env.ToList(),
            WorkingDir = request.WorkingDir,
            Hostname = request.HostNetwork ? null : sandboxes.HostnameOf(request.PodUid),
            Labels = new Dictionary<string, string>(request.Labels),
            Tty = request.Tty,
            OpenStdin = request.Stdin,
            StdinOnce = request.StdinOnce,
            HostConfig = new HostConfig
            {
                NetworkMode = request.HostNetwork ? "host" : "none",
                Binds = request.Mounts.Select(m => $"{m.HostPath}:{m.ContainerPath}{(m.ReadOnly ? ":ro" : "")}").ToList(),
                Memory = request.MemoryLimit, NanoCpus = request.NanoCpus, CpuShares = request.CpuShares,
                CgroupParent = request.CgroupParent is { } parent ? cgroups.ContainerParentOf(parent) : null,
            },
        };
        ApplySecurity(create, request.Security);
        try
        {
            var created = await containers.CreateAsync(create, name, request.HostNetwork ? null : sandboxes.DirOf(request.PodUid));
            return created.Id;
        }
        catch (ContainerOpsException e) when (e.Error.Kind is ErrorKind.InvalidArgument or ErrorKind.NotFound)
        {
            throw new ContainerConfigException(e.Message);
        }
    }

    /// <summary>A pod container's securityContext as `containerops run` options: --user, --group-add, --privileged,
    /// --read-only, --cap-add/--cap-drop, --security-opt no-new-privileges and seccomp, --sysctl.</summary>
    private static void ApplySecurity(ContainerCreateRequest create, ContainerSecurity security)
    {
        var hc = create.HostConfig;
        create.User = security.User;
        hc.GroupAdd = security.GroupAdd.ToList();
        hc.Privileged = security.Privileged;
        hc.ReadonlyRootfs = security.ReadOnlyRootfs;
        hc.CapAdd = security.CapAdd.ToList();
        hc.CapDrop = security.CapDrop.ToList();
        hc.SecurityOpt = ["seccomp=" + security.Seccomp, .. security.NoNewPrivileges ? ["no-new-privileges"] : Array.Empty<string>()];
        hc.Sysctls = new Dictionary<string, string>(security.Sysctls);
    }

    public string ImageUser(string image) => containers.Images.Inspect(image).Config.User ?? "";

    public Task<string> PrepareVolumeAsync(string podUid, PodVolume volume, CancellationToken ct) =>
        Task.FromResult(sandboxes.Volumes.Prepare(podUid, volume));

    public async Task<(bool Success, string Output)> ProbeAsync(ProbeRequest request, CancellationToken ct)
    {
        Probes.IProbe probe = request.Action switch
        {
            ProbeAction.Exec => new Probes.ExecProbe(request.Command ?? [], args => containers.Exec(request.ContainerId, new ExecCreateRequest { Cmd = args.ToList() }).Process),
            ProbeAction.HttpGet => new Probes.HttpProbe(new Uri($"{request.Scheme.ToLowerInvariant()}://{request.Host}:{request.Port}{(request.Path.StartsWith('/') ? "" : "/")}{request.Path}"), request.Headers ?? []),
            ProbeAction.Grpc => new Probes.GrpcProbe(request.Host, request.Port, request.GrpcService),
            _ => new Probes.TcpProbe(System.Net.IPAddress.Parse(request.Host), request.Port),
        };
        var result = await probe.RunAsync(request.Timeout, ct);
        return (result.Succeeded, result.Output);
    }

    public async Task<System.Net.Sockets.Socket> ConnectPortAsync(string podUid, bool hostNetwork, int port, CancellationToken ct)
    {
        System.Net.Sockets.Socket Open() => new(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        var socket = hostNetwork ? Open()
            : sandboxes.NetworkNamespaceOf(podUid) is { } netns ? ContainerOps.Network.Netlink.NetworkNamespace.Run(netns, Open)
            : throw new ContainerConfigException("the pod's sandbox (its network namespace) does not exist on this node");
        try
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port, ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task StartContainerAsync(string id) => containers.StartAsync(id);

    public async Task StopContainerAsync(string id, int graceSeconds)
    {
        try { await containers.StopAsync(id, graceSeconds); }
        catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { }
    }

    public async Task RemoveContainerAsync(string id)
    {
        try { await containers.RemoveAsync(id, force: true); }
        catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { }
    }

    public ContainerUsageSample? ReadUsage(string id) =>
        containers.ReadCgroupStats(id) is { } stats ? new ContainerUsageSample(stats.CpuUsageNanos, stats.MemoryUsage) : null;

    public IReadOnlyList<RuntimeContainer> ListPodContainers()
    {
        var result = new List<RuntimeContainer>();
        foreach (var summary in containers.List(all: true, null))
        {
            if (!summary.Labels.ContainsKey(PodLabels.PodUid)) continue;
            ContainerDetails d;
            try { d = containers.Inspect(summary.Id); }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { continue; }
            var s = d.State;
            result.Add(new RuntimeContainer(d.Id, summary.Labels, d.Config.Image, d.Image, s.Running || s.Restarting,
                s.StartedAt is null && s.FinishedAt is null && s.Error.Length == 0, s.ExitCode, s.OOMKilled, s.StartedAt, s.FinishedAt,
                s.Error is { Length: > 0 } error ? error : null));
        }
        return result;
    }

    public IAsyncEnumerable<LogEntry> ReadLogAsync(string id, bool follow, int? tail, DateTimeOffset? since, CancellationToken ct) =>
        containers.Logs(id, follow, tail, since, stdout: true, stderr: true, ct);

    public IPodExecProcess StartExec(string id, IReadOnlyList<string> command, bool tty)
    {
        try { return new PodExecProcess(containers.Exec(id, new ExecCreateRequest { Cmd = command.ToList(), Tty = tty }).Process); }
        catch (ContainerOpsException e) when (e.Error.Kind is ErrorKind.NotFound or ErrorKind.Conflict or ErrorKind.InvalidArgument)
        {
            throw new ContainerConfigException(e.Message);
        }
    }

    public async Task<IPodExecProcess> AttachAsync(string id, bool stdin, CancellationToken ct)
    {
        try { return await PodAttachment.OpenAsync(containers, inputs, id, stdin, ct); }
        catch (ContainerOpsException e) when (e.Error.Kind is ErrorKind.NotFound or ErrorKind.Conflict)
        {
            throw new ContainerConfigException(e.Message);
        }
    }

    private sealed class PodExecProcess(ContainerOps.Runtime.ExecProcess process) : IPodExecProcess
    {
        public Stream? Stdin => process.Stdin;
        public Stream? Stdout => process.Stdout;
        public Stream? Stderr => process.Stderr;
        public Stream? Terminal => process.Terminal;
        public void Resize(int rows, int columns) => process.Resize(rows, columns);
        public void ClientGone() => process.Signal(9);
        public Task<int> WaitForExitAsync(CancellationToken ct = default) => process.WaitForExitAsync(ct);
        public bool OutputPending => process.OutputPending;
        public void Dispose() => process.Dispose();
    }

    public async Task WaitForExitAsync(string id, CancellationToken ct)
    {
        try { await containers.WaitAsync(id, "not-running", ct); }
        catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { }
    }
}
