using System.Collections.Concurrent;
using System.Security.Cryptography;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Core.Processes;
using ContainerOps.Images;
using ContainerOps.Runtime;
using ContainerOps.Runtime.Spec;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

public sealed class DaemonOptions
{
    public string Root { get; set; } = "/var/lib/containerops";
    public string RunRoot { get; set; } = "/run/containerops";
    public string? SocketPath { get; set; }
    public string CgroupParent { get; set; } = "containerops";
    /// <summary>The shim (`--shim`); unset, where <see cref="ShimLocator"/> finds it.</summary>
    public string? ShimPath { get; set; }
    /// <summary>The shim every part of the daemon runs: <see cref="ShimPath"/> when given.</summary>
    public string EffectiveShimPath => ShimPath is { Length: > 0 } shim ? shim : ShimLocator.Find();
    /// <summary>Registries (host[:port]) reached over plain HTTP or unverified TLS (`--insecure-registry`, repeated).</summary>
    public List<string> InsecureRegistries { get; set; } = new();
    /// <summary>certs.d-style folder of registry CAs and client certificates (`--certs-dir`; default /etc/containerops/certs.d).</summary>
    public string? RegistryCertsDirectory { get; set; }
    /// <summary>Folder of the config.json that keeps registry logins (`--docker-config`; default $DOCKER_CONFIG, else ~/.docker).</summary>
    public string? DockerConfigDirectory { get; set; }
    public string EffectiveSocketPath => SocketPath ?? Path.Combine(RunRoot, "containerops.sock");
    /// <summary>Kernel name of the default network's bridge (`--bridge-name`).</summary>
    public string BridgeName { get; set; } = "containerops0";
    /// <summary>Subnet of the default network when it is first made (`--bridge-subnet`; default: a free one).</summary>
    public string? BridgeSubnet { get; set; }
    /// <summary>Prefix of user networks' bridge names (`--bridge-prefix`).</summary>
    public string BridgePrefix { get; set; } = "co-";
    /// <summary>The daemon's nftables table (`--nft-table`).</summary>
    public string NftTable { get; set; } = "containerops";
    /// <summary>Where networks' DNS servers send names they do not know (`--dns-upstream`, repeated; default: /etc/resolv.conf's).</summary>
    public List<string> DnsUpstreams { get; set; } = new();
    public int DnsPort { get; set; } = 53;
    /// <summary>The cluster API's TLS listener (`--cluster-address`, CONTAINEROPS_CLUSTER_ADDRESS): IP:PORT, or "none".</summary>
    public string ClusterAddress { get; set; } = "127.0.0.1:6443";
    /// <summary>Services' cluster IPs (`--service-cidr`).</summary>
    public ContainerOps.Cluster.Api.ServiceNetworkOptions ServiceNetwork { get; set; } = new();
    /// <summary>`--max-watches`: how many API watches clients may hold open at once.</summary>
    public int MaxWatches { get; set; } = new ContainerOps.Cluster.Api.KubernetesApiOptions().MaxWatches;
    public NodeSettings Node { get; } = new();
}

/// <summary>
/// The node agent for containers: records on disk, the runtime for processes, the image service for root
/// filesystems. Level-triggered where it matters: on start it re-reads every record and asks the runtime what is
/// really running, so a daemon killed at any point comes back telling the truth.
/// </summary>
public sealed partial class ContainerManager : IDisposable
{
    private readonly DaemonOptions _options;
    private readonly ILogger _log;
    private readonly RuntimeContext _runtimeContext;
    private readonly ConcurrentDictionary<string, IContainerRuntime> _runtimes = new();
    private readonly ConcurrentDictionary<string, Entry> _containers = new();
    private readonly object _namesLock = new();
    private readonly CancellationTokenSource _shutdown = new();

    public IImageService Images { get; }

    /// <summary>The image engine itself, for builds, registries, archives and prune.</summary>
    public ImageService ImageEngine => (ImageService)Images;

    public DaemonOptions Options => _options;

    public ContainerNetworking Networking { get; }

    public ContainerVolumes Volumes { get; }

    /// <summary>Per container: its record, a lock for lifecycle operations and the current run's exit signal.</summary>
    private sealed class Entry
    {
        public required ContainerRecord Record;
        public required string Dir;
        public readonly SemaphoreSlim Lock = new(1, 1);
        public TaskCompletionSource<ContainerWaitResponse> Exit = NewExit();
        public CancellationTokenSource? PendingRestart;
        public TimeSpan Backoff = TimeSpan.Zero;
        public Probes.HealthMonitor? Health;
        /// <summary>Docker attach clients following the current run's output.</summary>
        public int Readers;
        /// <summary>When a start last failed: attached readers waiting for that run stop waiting.</summary>
        public DateTimeOffset? StartFailedAt;
        /// <summary>Completed when the container is removed (`wait?condition=removed`).</summary>
        public readonly TaskCompletionSource Removed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public static TaskCompletionSource<ContainerWaitResponse> NewExit() => new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes at the next change a waiter may be waiting for (a start, a failed start, an exit, a
        /// removal, a reader gone). Take it before testing the condition, then wait: a change in between is not missed.</summary>
        public Task NextChange => Volatile.Read(ref _changed).Task;

        public void Changed() => Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public ContainerManager(DaemonOptions options, ILogger<ContainerManager> log, ContainerNetworking networking, ContainerVolumes volumes, Core.Events.EventBus? events = null)
    {
        _options = options;
        Events = events ?? new Core.Events.EventBus();
        _log = log;
        Networking = networking;
        Volumes = volumes;
        Directory.CreateDirectory(ContainersDir);
        Images = new ImageService(Path.Combine(options.Root, "images")) { Events = Events };
        _runtimeContext = new RuntimeContext { StateRoot = Path.Combine(options.RunRoot, "runtime"), ShimPath = options.EffectiveShimPath };
    }

    private string ContainersDir => Path.Combine(_options.Root, "containers");

    private IContainerRuntime Runtime(string? name) => _runtimes.GetOrAdd(string.IsNullOrEmpty(name) ? "builtin" : name, n => ContainerRuntimes.Create(n, _runtimeContext));

    private static bool WithinRetries(ContainerRecord r) =>
        r.HostConfig.RestartPolicy.MaximumRetryCount <= 0 || r.RestartCount < r.HostConfig.RestartPolicy.MaximumRetryCount;

    // ---------------------------------------------------------------- lookup

    private Entry Find(string idOrName)
    {
        var key = NameGenerator.Normalize(idOrName);
        if (_containers.TryGetValue(key, out var byId)) return byId;
        var byName = _containers.Values.FirstOrDefault(e => e.Record.Name == key);
        if (byName is not null) return byName;
        if (key.Length >= 1)
        {
            var matches = _containers.Values.Where(e => e.Record.Id.StartsWith(key, StringComparison.Ordinal)).Take(2).ToList();
            if (matches.Count == 1) return matches[0];
            if (matches.Count > 1)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "AmbiguousContainer", $"container id prefix '{idOrName}' matches several containers", idOrName);
        }
        throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"No such container: {idOrName}", idOrName);
    }

    public bool IsRunning(string idOrName) => _containers.TryGetValue(Find(idOrName).Record.Id, out var e) && (e.Record.State.Running || e.Record.State.Restarting);

    public bool ImageInUse(string imageId) => _containers.Values.Any(e => e.Record.ImageId == imageId);

    /// <summary>The container's id (= its layer id), image id, and whether it runs.</summary>
    public (string Id, string ImageId, bool Running) Lookup(string idOrName)
    {
        var r = Find(idOrName).Record;
        return (r.Id, r.ImageId, r.State.Running || r.State.Restarting);
    }

    public IReadOnlyList<(string Id, string ImageId, bool Running)> AllContainers() =>
        _containers.Values.Select(e => (e.Record.Id, e.Record.ImageId, e.Record.State.Running || e.Record.State.Restarting)).ToList();

    /// <summary>Removes every container that is not running (`docker container prune`); returns the removed ids.</summary>
    public async Task<List<string>> PruneContainersAsync()
    {
        var removed = new List<string>();
        foreach (var e in _containers.Values.ToList())
        {
            if (e.Record.State.Running || e.Record.State.Restarting || e.Record.State.Paused) continue;
            try
            {
                await RemoveAsync(e.Record.Id, force: false);
                removed.Add(e.Record.Id);
            }
            catch (ContainerOpsException ex) when (ex.Error.Kind is ErrorKind.Conflict or ErrorKind.NotFound) { }
        }
        return removed;
    }

    public int ContainersUsing(string imageId) => _containers.Values.Count(e => e.Record.ImageId == imageId);

    // ---------------------------------------------------------------- create

    /// <param name="sandboxDir">A pod sandbox (<see cref="PodSandboxes"/>) whose namespaces the container joins.</param>
    /// <summary>Docker clients send "" for what is not set (user, working directory, hostname): the image's or the
    /// default then applies, as with dockerd.</summary>
    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    public async Task<ContainerCreateResponse> CreateAsync(ContainerCreateRequest request, string? name, string? sandboxDir = null)
    {
        name = string.IsNullOrEmpty(name) ? request.Name : name;
        if (name is { Length: > 0 }) NameGenerator.Validate(NameGenerator.Normalize(name));
        if (string.IsNullOrEmpty(request.Image))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "ImageRequired", "no image given", null, "Image");
        var image = Images.Inspect(request.Image);
        var hc = request.HostConfig ?? new HostConfig();
        ValidateHostConfig(hc, name);

        var entrypoint = request.Entrypoint ?? image.Config.Entrypoint ?? new List<string>();
        var cmd = request.Cmd is { Count: > 0 } ? request.Cmd : (request.Entrypoint is not null ? request.Cmd ?? new() : image.Config.Cmd ?? new());
        var args = entrypoint.Concat(cmd).ToList();
        if (args.Count == 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "NoCommand", $"no command specified: image {request.Image} has no CMD or ENTRYPOINT and none was given", request.Image, "Cmd");
        var env = MergeEnv(image.Config.Env, request.Env);
        // As Docker does, a container whose image sets no PATH gets the usual one.
        if (!DefaultEnvironment.SetsPath(env)) env.Insert(0, DefaultEnvironment.Path);
        var healthcheck = HealthConfig.Merge(image.Config.Healthcheck, request.Healthcheck);
        healthcheck?.Validate(name);

        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        var dir = Path.Combine(ContainersDir, id);
        var record = new ContainerRecord
        {
            Id = id,
            Created = DateTimeOffset.UtcNow,
            Image = request.Image,
            ImageId = image.Id,
            Path = args[0],
            Args = args.Skip(1).ToList(),
            Config = new ContainerConfig
            {
                Hostname = NullIfEmpty(request.Hostname) ?? id[..12],
                Domainname = request.Domainname ?? "",
                User = NullIfEmpty(request.User) ?? image.Config.User ?? "",
                Env = env,
                Cmd = cmd,
                Entrypoint = entrypoint,
                Image = request.Image,
                WorkingDir = NullIfEmpty(request.WorkingDir) ?? image.Config.WorkingDir ?? "",
                Labels = new Dictionary<string, string>(image.Config.Labels.Concat(request.Labels).GroupBy(kv => kv.Key).Select(g => g.Last())),
                Tty = request.Tty,
                OpenStdin = request.OpenStdin,
                StdinOnce = request.StdinOnce,
                StopSignal = request.StopSignal ?? image.Config.StopSignal,
                StopTimeout = request.StopTimeout,
                ExposedPorts = MergeExposedPorts(image.Config.ExposedPorts?.Keys, request.ExposedPorts?.Keys),
                Healthcheck = healthcheck,
                OnBuild = image.Config.OnBuild,
                Shell = request.Shell is { Count: > 0 } ? request.Shell : image.Config.Shell,
                ArgsEscaped = image.Config.ArgsEscaped,
                Volumes = image.Config.Volumes?.Keys.ToDictionary(k => k, _ => new EmptyObject()),
            },
            HostConfig = hc,
            LogPath = Path.Combine(dir, id + "-json.log"),
            SandboxDir = sandboxDir,
        };
        if (record.Config.StopSignal is { } sig) Signals.Parse(sig, "StopSignal");

        lock (_namesLock)
        {
            if (name is { Length: > 0 })
            {
                name = NameGenerator.Normalize(name);
                NameGenerator.Validate(name);
                if (_containers.Values.Any(e => e.Record.Name == name))
                    throw new ContainerOpsException(ErrorKind.Conflict, "NameInUse", $"the container name \"{name}\" is already in use", name, "Name");
            }
            else name = NameGenerator.Generate(n => _containers.Values.Any(e => e.Record.Name == n));
            record.Name = name;
            // Reserve the name before the slow part; removed again if anything below fails.
            _containers[id] = new Entry { Record = record, Dir = dir };
        }

        try
        {
            Directory.CreateDirectory(dir);
            Networking.Reserve(record, request);
            Volumes.Prepare(record, image.Config.Volumes?.Keys, other => Find(other).Record);
            // Validate the whole spec now, so a bad create leaves nothing. Only user and group names need the image's
            // files (/etc/passwd, /etc/group); without them the layer is made ready and not mounted.
            if (UserResolver.NeedsImageFiles(record.Config.User, hc.GroupAdd))
            {
                var rootfs = Images.MountContainerRootfs(id, image.Id, transient: hc.AutoRemove);
                try { BuildSpec(record, rootfs, dir); }
                finally { Images.UnmountContainerRootfs(id); }
            }
            else BuildSpec(record, Images.PrepareContainerLayer(id, image.Id, transient: hc.AutoRemove), dir);
            record.Save(dir);
        }
        catch
        {
            _containers.TryRemove(id, out _);
            try { Networking.Release(id); } catch (Exception e) { _log.LogWarning("releasing the addresses of {Id}: {Message}", id[..12], e.Message); }
            Volumes.Release(record, removeAnonymous: true, _log);
            try { Images.RemoveContainerLayer(id); } catch (Exception e) when (e is ContainerOpsException or IOException) { }
            try { Directory.Delete(dir, true); } catch (IOException) { }
            throw;
        }
        _log.LogInformation("created container {Name} ({Id}) from {Image}", record.Name, id[..12], request.Image);
        Emit(record, "create");
        await Task.CompletedTask;
        return new ContainerCreateResponse { Id = id, Warnings = SpecBuilder.Warnings(hc) };
    }

    private static void ValidateHostConfig(HostConfig hc, string? target)
    {
        LogDriver.Limits(hc.LogConfig, target);
        // As dockerd: the driver asked for, else the default one, is what the container has (clients read it back).
        if (hc.LogConfig is not { Type.Length: > 0 }) hc.LogConfig = new LogConfig { Type = "json-file", Config = hc.LogConfig?.Config ?? new() };
        var policy = hc.RestartPolicy ?? new RestartPolicy();
        hc.RestartPolicy = policy;
        if (policy.Name is "" or null) policy.Name = "no";
        if (policy.Name is not ("no" or "always" or "unless-stopped" or "on-failure"))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidRestartPolicy",
                $"restart policy '{policy.Name}' is not one of no, on-failure[:max], always, unless-stopped", target, "HostConfig.RestartPolicy.Name");
        if (policy.MaximumRetryCount < 0 || (policy.MaximumRetryCount > 0 && policy.Name != "on-failure"))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidRestartPolicy",
                "a maximum retry count is only valid with the on-failure policy", target, "HostConfig.RestartPolicy.MaximumRetryCount");
        if (hc.AutoRemove && policy.Name != "no")
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "ConflictingOptions",
                "automatic removal (--rm) cannot be combined with a restart policy", target, "HostConfig.AutoRemove");
        if (hc.Runtime is { Length: > 0 } rt && rt is not ("builtin" or "crun" or "runc"))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnknownRuntime", $"runtime '{rt}' is not available (builtin, crun, runc)", target, "HostConfig.Runtime");
    }

    internal static List<string> MergeEnv(IEnumerable<string> imageEnv, IEnumerable<string> requestEnv)
    {
        var result = new List<string>();
        foreach (var e in imageEnv.Concat(requestEnv))
        {
            var key = e.Split('=', 2)[0];
            result.RemoveAll(x => x.Split('=', 2)[0] == key);
            result.Add(e);
        }
        return result;
    }

    private static Dictionary<string, EmptyObject>? MergeExposedPorts(IEnumerable<string>? image, IEnumerable<string>? request)
    {
        var all = (image ?? []).Concat(request ?? []).Select(k => k.Contains('/') ? k : k + "/tcp").Distinct().ToList();
        return all.Count == 0 ? null : all.ToDictionary(k => k, _ => new EmptyObject());
    }

    /// <param name="starting">false for the check at create: volumes are resolved, nothing is mounted.</param>
    private OciSpec BuildSpec(ContainerRecord r, string rootfs, string dir, bool starting = false)
    {
        var hc = r.HostConfig;
        // Where /etc/hostname, /etc/hosts and /etc/resolv.conf come from: the container's folder, or the joined one's.
        var filesDir = dir;
        if (ContainerNetworking.JoinedContainer(hc) is not null)
        {
            (var netns, filesDir) = ContainerNetworking.Join(r, other => { var e = Find(other); return (e.Record, e.Dir); });
            hc = CloneWithNetwork(hc, "container:" + netns);
        }
        else
        {
            Networking.WriteFiles(r, dir);
            if (ContainerNetworking.IsBridge(hc)) hc = CloneWithNetwork(hc, "bridge");
        }
        var (ipcNamespace, shmSource) = Volumes.IpcOf(r, other => Find(other).Record, starting);
        string? pidNamespace = null;
        if (hc.PidMode is { } pidMode && pidMode.StartsWith("container:", StringComparison.Ordinal))
        {
            var other = Find(pidMode["container:".Length..]).Record;
            if (starting && !other.State.Running)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"cannot join the pid namespace of {other.Name}: it is not running", other.Name, "HostConfig.PidMode");
            pidNamespace = $"/proc/{other.State.Pid}/ns/pid";
        }
        string? utsNamespace = null;
        if (r.SandboxDir is { } sandbox) (hc, ipcNamespace, shmSource, utsNamespace, pidNamespace) = PodSandboxes.Join(sandbox, hc, dir, CloneWithNetwork);
        var mounts = Volumes.Resolve(r, rootfs, starting);
        return SpecBuilder.Build(new ContainerSpecInput
        {
            Id = r.Id,
            RootfsPath = rootfs,
            Args = new[] { r.Path }.Concat(r.Args).ToList(),
            Env = r.Config.Env,
            WorkingDir = r.Config.WorkingDir is { Length: > 0 } w ? w : null,
            User = r.Config.User is { Length: > 0 } u ? u : null,
            Hostname = r.Config.Hostname,
            Domainname = r.Config.Domainname,
            PidNamespacePath = pidNamespace,
            Tty = r.Config.Tty,
            OpenStdin = r.Config.OpenStdin,
            HostConfig = hc,
            InitBinary = hc.Init == true ? _runtimeContext.ShimPath : null,
            CgroupParent = _options.CgroupParent,
            HostnameFile = Path.Combine(filesDir, "hostname"),
            HostsFile = Path.Combine(filesDir, "hosts"),
            ResolvConfFile = Path.Combine(filesDir, "resolv.conf"),
            Mounts = mounts,
            IpcNamespacePath = ipcNamespace,
            ShmSource = shmSource,
            UtsNamespacePath = utsNamespace,
        });
    }

    private static HostConfig CloneWithNetwork(HostConfig hc, string mode)
    {
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(hc, ApiJsonContext.Default.HostConfig);
        var copy = System.Text.Json.JsonSerializer.Deserialize(json, ApiJsonContext.Default.HostConfig)!;
        copy.NetworkMode = mode;
        return copy;
    }

    // ---------------------------------------------------------------- start / exit / restart

    public async Task StartAsync(string idOrName, bool createOnly = false)
    {
        var entry = Find(idOrName);
        await entry.Lock.WaitAsync();
        try { await StartLockedAsync(entry, createOnly); }
        catch when (entry.Record.HostConfig.AutoRemove)
        {
            // As dockerd: a container that was to go when it ends goes when it cannot start (docker run --rm waits for that).
            _ = Task.Run(async () =>
            {
                try { await RemoveAsync(entry.Record.Id, force: true, removeVolumes: true); }
                catch (ContainerOpsException) { }
            });
            throw;
        }
        finally { entry.Lock.Release(); }
    }

    /// <summary>Sets the container up; with <paramref name="createOnly"/> its process waits on <see cref="ReleaseCreated"/> (attach before start).</summary>
    private async Task StartLockedAsync(Entry entry, bool createOnly)
    {
        var r = entry.Record;
        if (r.State.Running) return;
        entry.PendingRestart?.Cancel();
        var runtime = Runtime(r.HostConfig.Runtime);
        string? rootfs = null;
        try
        {
            rootfs = Images.MountContainerRootfs(r.Id, r.ImageId, transient: r.HostConfig.AutoRemove);
            var spec = BuildSpec(r, rootfs, entry.Dir, starting: true);
            var bundle = Path.Combine(entry.Dir, "bundle");
            SpecBuilder.WriteBundle(bundle, spec);
            await runtime.DeleteAsync(r.Id, force: true); // leftovers of an earlier run
            var (logBytes, logFiles) = LogDriver.Limits(r.HostConfig.LogConfig, r.Name);
            var options = new RunOptions
            {
                Id = r.Id, BundlePath = bundle, Spec = spec, LogPath = r.LogPath, OpenStdin = r.Config.OpenStdin || createOnly, LogMaxBytes = logBytes, LogMaxFiles = logFiles,
            };
            var startedAt = DateTimeOffset.UtcNow;
            RuntimeStatus status;
            if (Networking.HasEndpoints(r.Id) && runtime is Runtime.Builtin.BuiltinRuntime { Name: "builtin" } b)
            {
                // The container's network namespace exists once it is created: its networks are attached before it runs.
                status = b.Create(options);
                Networking.Attach(r, status.Pid);
                CrashPoint.Hit("daemon-after-create");
                if (!createOnly) b.Start(r.Id);
            }
            else if (createOnly && runtime is Runtime.Builtin.BuiltinRuntime builtin) status = builtin.Create(options);
            else status = await runtime.RunAsync(options);
            CrashPoint.Hit("daemon-after-launch");
            // A waiter for the next exit may hold the pending one already.
            if (entry.Exit.Task.IsCompleted) entry.Exit = Entry.NewExit();
            r.RootfsPath = rootfs;
            r.State = new ContainerState
            {
                Status = "running", Running = true, Pid = status.Pid, StartedAt = startedAt, Health = r.State.Health,
            };
            r.ManuallyStopped = false;
            StartHealthCheck(entry);
            r.Save(entry.Dir);
            Watch(entry);
            entry.Changed();
            Emit(r, "start");
        }
        catch (Exception e)
        {
            // Whatever failed, nothing of this start stays: no runtime state, no mount, no health check.
            StopHealthCheck(entry);
            try { await runtime.DeleteAsync(r.Id, force: true); } catch (Exception cleanup) { _log.LogWarning("cleanup of {Id}: {Message}", r.Id[..12], cleanup.Message); }
            try { Networking.Detach(r.Id); } catch (Exception cleanup) { _log.LogWarning("network cleanup of {Id}: {Message}", r.Id[..12], cleanup.Message); }
            Volumes.Unmount(r, _log);
            if (rootfs is not null) Images.UnmountContainerRootfs(r.Id);
            var error = e as ContainerOpsException
                ?? new ContainerOpsException(ErrorKind.ResourceUnavailable, "ContainerStartFailed", $"container {r.Name} could not start: {e.Message}", r.Name, inner: e);
            var failed = r.State.Copy();
            failed.Error = error.Message;
            failed.ExitCode = error.CliExitCode;
            r.State = failed;
            entry.StartFailedAt = DateTimeOffset.UtcNow;
            entry.Changed();
            r.Save(entry.Dir);
            if (error != e) throw error;
            throw;
        }
    }

    /// <summary>Lets a container started with createOnly run (its attach client is connected).</summary>
    public void ReleaseCreated(string id)
    {
        var entry = Find(id);
        if (Runtime(entry.Record.HostConfig.Runtime) is Runtime.Builtin.BuiltinRuntime builtin && builtin.GetStatus(id).State == RuntimeState.Created)
            builtin.Start(id);
    }

    private void Watch(Entry entry)
    {
        var id = entry.Record.Id;
        var runtime = Runtime(entry.Record.HostConfig.Runtime);
        _ = Task.Run(async () =>
        {
            try
            {
                var status = await runtime.WaitAsync(id, _shutdown.Token);
                await entry.Lock.WaitAsync(_shutdown.Token);
                try
                {
                    if (!_containers.ContainsKey(id)) return;
                    await RecordExitAsync(entry, status, applyPolicy: true);
                }
                finally { entry.Lock.Release(); }
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { _log.LogError(e, "watching container {Id} failed", id); }
        });
    }

    /// <summary>A container that has ended and is removed automatically (--rm): its end and its removal are not written
    /// to its record, since the next daemon removes it whatever the record says (see AdoptAsync).</summary>
    private static bool EndsUnrecorded(ContainerRecord r) => r.HostConfig.AutoRemove && !r.State.Running;

    /// <summary>Called with the entry locked (or during recovery): records the exit, cleans the runtime up, applies the policy.</summary>
    private async Task RecordExitAsync(Entry entry, RuntimeStatus status, bool applyPolicy)
    {
        var r = entry.Record;
        var ranFor = DateTimeOffset.UtcNow - (r.State.StartedAt ?? DateTimeOffset.UtcNow);
        // A new state object, put in place at once: inspect and list never see half of the exit.
        var exited = r.State.Copy();
        exited.Running = false;
        exited.Paused = false;
        exited.Pid = 0;
        exited.ExitCode = status.ExitCode;
        exited.OOMKilled = status.OomKilled;
        exited.FinishedAt = status.FinishedAt ?? DateTimeOffset.UtcNow;
        exited.Status = "exited";
        exited.Health = Probes.HealthTracker.Stopped(exited.Health);
        StopHealthCheck(entry);
        r.State = exited;
        r.RootfsPath = null;
        // On record before the runtime's copy of the exit (its exit file) goes: a crash in between keeps the code.
        if (!EndsUnrecorded(r)) r.Save(entry.Dir);
        CrashPoint.Hit("daemon-exit-recorded");
        try { await Runtime(r.HostConfig.Runtime).DeleteAsync(r.Id, force: true); }
        catch (ContainerOpsException e) { _log.LogWarning("cleanup of {Id}: {Message}", r.Id[..12], e.Message); }
        try { Images.UnmountContainerRootfs(r.Id); } catch (ContainerOpsException e) { _log.LogWarning("unmount of {Id}: {Message}", r.Id[..12], e.Message); }
        try { Networking.Detach(r.Id); } catch (Exception e) { _log.LogWarning("network detach of {Id}: {Message}", r.Id[..12], e.Message); }
        Volumes.Unmount(r, _log);
        if (status.OomKilled) Emit(r, "oom");
        Emit(r, "die", ("exitCode", status.ExitCode.ToString()), ("execDuration", ((long)ranFor.TotalSeconds).ToString()));
        entry.Exit.TrySetResult(new ContainerWaitResponse { StatusCode = status.ExitCode, OOMKilled = status.OomKilled });
        entry.Changed();
        _log.LogInformation("container {Name} ({Id}) exited with {Code}{Oom}", r.Name, r.Id[..12], status.ExitCode, status.OomKilled ? " (OOM killed)" : "");

        if (r.HostConfig.AutoRemove)
        {
            _ = Task.Run(async () =>
            {
                await WaitForAttachedReadersAsync(entry);
                try { await RemoveAsync(r.Id, force: true, removeVolumes: true); }
                catch (ContainerOpsException) { }
            });
            return;
        }
        if (!applyPolicy || r.ManuallyStopped) return;
        var policy = r.HostConfig.RestartPolicy;
        var restart = policy.Name switch
        {
            "always" or "unless-stopped" => true,
            "on-failure" => status.ExitCode != 0 && WithinRetries(r),
            _ => false,
        };
        if (!restart) return;

        // Docker's back-off: 100 ms doubling, reset when the container ran for 10 s.
        entry.Backoff = ranFor >= TimeSpan.FromSeconds(10) || entry.Backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(100) : entry.Backoff * 2;
        if (entry.Backoff > TimeSpan.FromMinutes(1)) entry.Backoff = TimeSpan.FromMinutes(1);
        r.State.Restarting = true;
        r.Save(entry.Dir);
        var cts = new CancellationTokenSource();
        entry.PendingRestart = cts;
        var delay = entry.Backoff;
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(delay, cts.Token);
                await entry.Lock.WaitAsync(cts.Token);
                try
                {
                    if (cts.IsCancellationRequested || !_containers.ContainsKey(r.Id) || !r.State.Restarting) return;
                    r.RestartCount++;
                    r.State.Restarting = false;
                    await StartLockedAsync(entry, createOnly: false);
                }
                finally { entry.Lock.Release(); }
            }
            catch (OperationCanceledException) { }
            catch (ContainerOpsException e)
            {
                _log.LogWarning("restart of {Name} failed: {Message}", r.Name, e.Message);
                r.State.Restarting = false;
                r.Save(entry.Dir);
            }
        });
    }

    // ---------------------------------------------------------------- stop, kill, pause, wait, remove, rename

    public async Task StopAsync(string idOrName, int? timeoutSeconds)
    {
        var entry = Find(idOrName);
        var r = entry.Record;
        Task<ContainerWaitResponse> exit;
        await entry.Lock.WaitAsync();
        try
        {
            r.ManuallyStopped = true;
            if (r.State.Restarting)
            {
                entry.PendingRestart?.Cancel();
                r.State.Restarting = false;
            }
            r.Save(entry.Dir);
            if (!r.State.Running) return;
            exit = entry.Exit.Task;
            var runtime = Runtime(r.HostConfig.Runtime);
            if (r.State.Paused) { runtime.Resume(r.Id); r.State.Paused = false; }
            var signal = r.Config.StopSignal is { } s ? Signals.Parse(s) : Signals.SIGTERM;
            try { runtime.Kill(r.Id, signal); Emit(r, "kill", ("signal", signal.ToString())); } catch (ContainerOpsException) { }
        }
        finally { entry.Lock.Release(); }

        var grace = TimeSpan.FromSeconds(timeoutSeconds ?? r.Config.StopTimeout ?? 10);
        if (grace < TimeSpan.Zero) { await exit; return; }
        if (await Task.WhenAny(exit, Task.Delay(grace)) != exit)
        {
            try { Runtime(r.HostConfig.Runtime).Kill(r.Id, Signals.SIGKILL, all: true); Emit(r, "kill", ("signal", Signals.SIGKILL.ToString())); } catch (ContainerOpsException) { }
            await exit.WaitAsync(TimeSpan.FromSeconds(30));
        }
        Emit(r, "stop");
    }

    public async Task RestartAsync(string idOrName, int? timeoutSeconds)
    {
        await StopAsync(idOrName, timeoutSeconds);
        await StartAsync(idOrName);
        Emit(idOrName, "restart");
    }

    public async Task KillAsync(string idOrName, string signal)
    {
        var entry = Find(idOrName);
        var number = Signals.Parse(signal, "signal");
        Task<ContainerWaitResponse> exit;
        await entry.Lock.WaitAsync();
        try
        {
            if (!entry.Record.State.Running)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {entry.Record.Name} is not running", entry.Record.Name);
            if (number is Signals.SIGKILL or Signals.SIGTERM) { entry.Record.ManuallyStopped = true; entry.Record.Save(entry.Dir); }
            exit = entry.Exit.Task;
            var runtime = Runtime(entry.Record.HostConfig.Runtime);
            runtime.Kill(entry.Record.Id, number);
            Emit(entry.Record, "kill", ("signal", number.ToString()));
            // A frozen process does not die of SIGKILL until it is thawed.
            if (number == Signals.SIGKILL && entry.Record.State.Paused)
            {
                try { runtime.Resume(entry.Record.Id); } catch (ContainerOpsException) { }
                entry.Record.State.Paused = false;
            }
        }
        finally { entry.Lock.Release(); }
        // As Docker does, a SIGKILL is answered once the container has exited: a start that follows the answer must
        // start it again, not find it still running and do nothing while the kill ends it.
        if (number == Signals.SIGKILL)
        {
            try { await exit.WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (TimeoutException)
            {
                throw new ContainerOpsException(ErrorKind.Internal, "KillTimeout",
                    $"container {entry.Record.Name} did not exit within 10 s of SIGKILL", entry.Record.Name);
            }
        }
    }

    public async Task PauseAsync(string idOrName, bool pause)
    {
        var entry = Find(idOrName);
        await entry.Lock.WaitAsync();
        try
        {
            var r = entry.Record;
            if (!r.State.Running)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {r.Name} is not running", r.Name);
            if (r.State.Paused == pause)
                throw new ContainerOpsException(ErrorKind.Conflict, pause ? "ContainerPaused" : "ContainerNotPaused",
                    $"container {r.Name} is {(pause ? "already paused" : "not paused")}", r.Name);
            var runtime = Runtime(r.HostConfig.Runtime);
            if (pause) runtime.Pause(r.Id); else runtime.Resume(r.Id);
            r.State.Paused = pause;
            r.Save(entry.Dir);
            Emit(r, pause ? "pause" : "unpause");
        }
        finally { entry.Lock.Release(); }
    }

    public async Task<ContainerWaitResponse> WaitAsync(string idOrName, CancellationToken ct)
    {
        var entry = Find(idOrName);
        var r = entry.Record;
        if (!r.State.Running && !r.State.Restarting)
            return new ContainerWaitResponse { StatusCode = r.State.ExitCode, OOMKilled = r.State.OOMKilled, Error = r.State.Error is { Length: > 0 } e ? e : null };
        return await entry.Exit.Task.WaitAsync(ct);
    }

    /// <param name="removeVolumes">`rm -v`: the container's anonymous volumes go too.</param>
    public async Task RemoveAsync(string idOrName, bool force, bool removeVolumes = false)
    {
        var entry = Find(idOrName);
        var r = entry.Record;
        await entry.Lock.WaitAsync();
        try
        {
            if ((r.State.Running || r.State.Restarting) && !force)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerRunning",
                    $"cannot remove container {r.Name}: it is {(r.State.Restarting ? "restarting" : "running")}; stop it first or force the removal", r.Name);
            // A pod's container is its node agent's: removed from under it, the pod would only make it again.
            if (!force && r.Config.Labels is { } labels && labels.TryGetValue("io.kubernetes.pod.name", out var pod))
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerInPod",
                    $"cannot remove container {r.Name}: it belongs to pod {labels.GetValueOrDefault("io.kubernetes.pod.namespace")}/{pod}; remove the pod (Remove-Pod) or force the removal", r.Name);
            entry.PendingRestart?.Cancel();
            StopHealthCheck(entry);
            r.ManuallyStopped = true;
            // Marked first: a removal cut off half-way (its process killed, its layer gone) is finished at the next
            // start, instead of leaving a container that has lost its exit status or its layer. Docker's "dead".
            r.State.Dead = true;
            r.RemoveVolumes = removeVolumes;
            if (!EndsUnrecorded(r)) r.Save(entry.Dir);
            CrashPoint.Hit("daemon-removing");
            await Runtime(r.HostConfig.Runtime).DeleteAsync(r.Id, force: true);
            Networking.Release(r.Id);
            Volumes.Unmount(r, _log);
            Volumes.Release(r, removeVolumes, _log);
            Images.RemoveContainerLayer(r.Id);
            _containers.TryRemove(r.Id, out _);
            DeferredDelete.Directory(entry.Dir);
            entry.Exit.TrySetResult(new ContainerWaitResponse { StatusCode = r.State.Running ? 137 : r.State.ExitCode });
            entry.Removed.TrySetResult();
            entry.Changed();
            _log.LogInformation("removed container {Name} ({Id})", r.Name, r.Id[..12]);
            Emit(r, "destroy");
        }
        finally { entry.Lock.Release(); }
    }

    public async Task RenameAsync(string idOrName, string newName)
    {
        var entry = Find(idOrName);
        newName = NameGenerator.Normalize(newName);
        NameGenerator.Validate(newName);
        await entry.Lock.WaitAsync();
        try
        {
            lock (_namesLock)
            {
                if (_containers.Values.Any(e => e.Record.Name == newName && e != entry))
                    throw new ContainerOpsException(ErrorKind.Conflict, "NameInUse", $"the container name \"{newName}\" is already in use", newName, "Name");
                var oldName = entry.Record.Name;
                entry.Record.Name = newName;
                entry.Record.Save(entry.Dir);
                Networking.Networks.Rename(entry.Record.Id, newName);
                Emit(entry.Record, "rename", ("oldName", oldName));
            }
        }
        finally { entry.Lock.Release(); }
    }

    // ---------------------------------------------------------------- queries

    /// <summary>The containers (running ones unless <paramref name="all"/>) that pass Docker's list filters.</summary>
    public List<ContainerSummary> List(bool all, IReadOnlyDictionary<string, List<string>>? filters)
    {
        var now = DateTimeOffset.UtcNow;
        var result = new List<ContainerSummary>();
        foreach (var e in _containers.Values.OrderByDescending(e => e.Record.Created))
        {
            var r = e.Record;
            var s = r.State;
            if (!all && !s.Running && !s.Restarting && (filters is null || !filters.ContainsKey("status"))) continue;
            if (filters is not null && !Matches(r, filters)) continue;
            result.Add(new ContainerSummary
            {
                Id = r.Id, Name = r.Name, Image = r.Image, ImageId = r.ImageId,
                // As dockerd shows it: an argument with a space in single quotes.
                Command = string.Join(' ', new[] { r.Path }.Concat(r.Args.Select(a => a.Contains(' ') ? $"'{a}'" : a))), Created = r.Created,
                State = ContainerRecord.StatusOf(s), Status = ContainerRecord.HumanStatus(s, now), ExitCode = s.ExitCode, RestartCount = r.RestartCount,
                Labels = r.Config.Labels,
            });
        }
        return result;
    }

    private static bool Matches(ContainerRecord r, IReadOnlyDictionary<string, List<string>> filters) =>
        DockerFilters.Pass(filters, r.Config.Labels, (key, value) => key switch
            {
                "name" => r.Name.Contains(value, StringComparison.Ordinal),
                "id" => r.Id.StartsWith(value, StringComparison.Ordinal),
                "status" => r.StatusWord == value,
                "ancestor" => r.Image == value || r.ImageId.StartsWith(value, StringComparison.Ordinal) || r.ImageId == "sha256:" + value,
                "exited" => !r.State.Running && r.State.FinishedAt is not null && r.State.ExitCode.ToString() == value,
                "health" => (r.State.Health?.Status ?? "none") == value,
                _ => throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidFilter", $"unknown filter '{key}' (name, id, status, ancestor, label, exited, health)", key, "filters"),
            });

    public ContainerDetails Inspect(string idOrName)
    {
        var r = Find(idOrName).Record;
        // A copy: the answer is written out after this returns, while an exit or a restart may be changing the record.
        var state = r.State.Copy();
        state.Status = ContainerRecord.StatusOf(state);
        return new ContainerDetails
        {
            Id = r.Id, Name = "/" + r.Name, Created = r.Created, Path = r.Path, Args = r.Args, State = state, Image = r.ImageId, ImageName = r.Image,
            RestartCount = r.RestartCount, LogPath = r.LogPath, Config = r.Config, HostConfig = r.HostConfig, RootfsPath = r.RootfsPath,
            NetworkSettings = Networking.Settings(r),
            Mounts = ContainerVolumes.Inspect(r),
        };
    }

    public IAsyncEnumerable<LogEntry> Logs(string idOrName, bool follow, int? tail, DateTimeOffset? since, bool stdout, bool stderr, CancellationToken ct)
    {
        var entry = Find(idOrName);
        var r = entry.Record;
        return LogReader.ReadAsync(r.LogPath, follow, tail, since, stdout, stderr,
            () => _containers.ContainsKey(r.Id) && (r.State.Running || r.State.Restarting), ct, () => entry.Exit.Task);
    }

    public ContainerProcessList Top(string idOrName)
    {
        var r = RunningRecord(idOrName);
        return ProcessTable.Build(Runtime(r.HostConfig.Runtime).ListPids(r.Id));
    }

    public async Task<ContainerStats> StatsAsync(string idOrName, CancellationToken ct)
    {
        var r = RunningRecord(idOrName);
        var runtime = Runtime(r.HostConfig.Runtime);
        var first = runtime.ReadStats(r.Id);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await Task.Delay(200, ct);
        var second = runtime.ReadStats(r.Id);
        var elapsedNs = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds * 1e6;
        return new ContainerStats
        {
            Id = r.Id, Name = r.Name, Read = DateTimeOffset.UtcNow, CpuUsageNanos = second.CpuUsageNanos,
            CpuPercent = elapsedNs > 0 ? Math.Round(100.0 * (second.CpuUsageNanos - first.CpuUsageNanos) / elapsedNs, 2) : 0,
            MemoryUsage = second.MemoryUsage, MemoryLimit = second.MemoryLimit,
            MemoryPercent = second.MemoryLimit > 0 ? Math.Round(100.0 * second.MemoryUsage / second.MemoryLimit, 2) : 0,
            Pids = second.Pids, PidsLimit = second.PidsLimit,
        };
    }

    /// <summary>A running container's cgroup counters now, or null if it does not run (or is not there).</summary>
    public CgroupStats? ReadCgroupStats(string id)
    {
        if (!_containers.TryGetValue(id, out var entry) || !entry.Record.State.Running) return null;
        try { return Runtime(entry.Record.HostConfig.Runtime).ReadStats(id); }
        catch (IOException) { return null; } // it stopped while being read
    }

    private ContainerRecord RunningRecord(string idOrName)
    {
        var r = Find(idOrName).Record;
        if (!r.State.Running)
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {r.Name} is not running", r.Name);
        return r;
    }

    // ---------------------------------------------------------------- exec and attach

    public (ExecProcess Process, ContainerRecord Record) Exec(string idOrName, ExecCreateRequest request)
    {
        var r = RunningRecord(idOrName);
        if (request.Cmd.Count == 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "NoCommand", "exec needs a command", r.Name, "Cmd");
        uint? uid = null, gid = null;
        IReadOnlyList<uint> groups = Array.Empty<uint>();
        if (request.User is { Length: > 0 } user)
        {
            var resolved = UserResolver.Resolve(r.RootfsPath ?? "/nonexistent", user, r.Name);
            (uid, gid, groups) = (resolved.Uid, resolved.Gid, resolved.AdditionalGids);
        }
        (int, int)? consoleSize = null;
        if (request.ConsoleSize is { } size)
        {
            if (size.Count != 2 || size[0] <= 0 || size[1] <= 0 || size[0] > ushort.MaxValue || size[1] > ushort.MaxValue)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidConsoleSize",
                    $"exec in {r.Name}: ConsoleSize must be [height, width] with both between 1 and 65535", r.Name, "ConsoleSize");
            consoleSize = (size[0], size[1]);
        }
        var process = Runtime(r.HostConfig.Runtime).Exec(r.Id, new ExecOptions
        {
            Args = request.Cmd, Env = request.Env, Uid = uid, Gid = gid, AdditionalGids = groups,
            WorkingDir = request.WorkingDir is { Length: > 0 } w ? w : null, Tty = request.Tty, Privileged = request.Privileged,
            ConsoleSize = request.Tty ? consoleSize : null,
        });
        return (process, r);
    }

    /// <summary>Paths of the shim's attach and control sockets for a running container.</summary>
    public (string Attach, string Control, ContainerRecord Record, Task<ContainerWaitResponse> Exit) AttachPoints(string idOrName)
    {
        var entry = Find(idOrName);
        var dir = new ContainerStateDir(_runtimeContext.StateRoot, entry.Record.Id);
        return (dir.AttachSocket, dir.ControlSocket, entry.Record, entry.Exit.Task);
    }

    public void Dispose() => _shutdown.Cancel();
}
