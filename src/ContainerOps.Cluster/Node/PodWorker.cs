using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// One pod on this node, synced level-triggered: each sync compares the pod's spec with the containers the engine has
/// (found by their labels) and does what is missing — sandbox, init containers in order, app containers, restarts
/// under the restart policy and its backoff — then writes the status. A sync runs when the pod changes, when one of its
/// containers exits, or when a backoff ends (a timer only for a pod that waits); never two at once for a pod.
/// </summary>
internal sealed class PodWorker : IDisposable
{
    private readonly NodeAgent _agent;
    private readonly string _uid;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, (Waiting Waiting, DateTimeOffset RetryAt, int Failures)> _waiting = new();
    private readonly HashSet<string> _watched = new();
    private readonly object _lock = new();
    private JsonObject? _pod;
    private bool _gone;
    private int _dirty;
    private Timer? _retry;
    private string? _podIp;
    private readonly PodProber _prober;
    /// <summary>Termination messages of ended runs, by container id.</summary>
    private readonly Dictionary<string, string> _messages = new();
    /// <summary>What the pod's volumes are made of and has changed since they were written: (ConfigMap or Secret, name;
    /// null for any), or ("Pod", null) for its own labels and annotations (downward API).</summary>
    private readonly HashSet<(string Kind, string? Name)> _changedSources = new();
    /// <summary>When the service account tokens in the pod's volumes are to be renewed.</summary>
    private DateTimeOffset? _tokensDue;
    private bool _adoptionChecked;

    public Task Completion { get; }
    public string Key { get; private set; } = "";

    public PodWorker(NodeAgent agent, string uid)
    {
        _agent = agent;
        _uid = uid;
        _prober = new PodProber(agent.Runtime, agent.Objects, Signal);
        Completion = Task.Run(LoopAsync);
    }

    private INodeRuntime Runtime => _agent.Runtime;
    private ClusterObjects Objects => _agent.Objects;
    private NodeAgentOptions Options => _agent.Options;

    /// <summary>The pod as the store has it now (null: it is gone from the store).</summary>
    public void Update(JsonObject? pod)
    {
        lock (_lock)
        {
            if (pod is null) _gone = true;
            else
            {
                // A change of status alone (the worker's own writes, mostly) asks for nothing new.
                var same = _pod is not null && JsonNode.DeepEquals(_pod["spec"], pod["spec"])
                    && JsonNode.DeepEquals(_pod["metadata"]?["deletionTimestamp"], pod["metadata"]?["deletionTimestamp"])
                    && Json.Str(pod["status"]?["phase"]) is not ("Succeeded" or "Failed");
                if (_pod is not null && (!JsonNode.DeepEquals(_pod["metadata"]?["labels"], pod["metadata"]?["labels"])
                                         || !JsonNode.DeepEquals(_pod["metadata"]?["annotations"], pod["metadata"]?["annotations"]))
                    && PodVolumes.Uses(pod, "Pod", null))
                {
                    _changedSources.Add(("Pod", null));
                    same = false;
                }
                _pod = pod;
                if (same) return;
                Key = $"{Json.Str(pod["metadata"]?["namespace"])}/{Json.Str(pod["metadata"]?["name"])}";
            }
        }
        Signal();
    }

    /// <summary>A ConfigMap or Secret changed (<paramref name="ns"/> null: any may have). If this pod's volumes use it,
    /// the next pass writes them again — running containers see the new files at once, swapped whole as the kubelet's
    /// atomic writer does (not through a subPath, as in Kubernetes) — and a container waiting for it is tried again.</summary>
    public void SourceChanged(string kind, string? ns, string? name)
    {
        var which = ns is null ? null : name;
        lock (_lock)
        {
            if (_pod is null || _gone) return;
            if (ns is not null && ns != (Json.Str(_pod["metadata"]?["namespace"]) ?? "default")) return;
            if (!PodVolumes.Uses(_pod, kind, which) && !ContainerEnv.Uses(_pod, kind, which)) return;
            _changedSources.Add((kind, which));
        }
        Signal();
    }

    public void Signal()
    {
        if (Interlocked.Exchange(ref _dirty, 1) == 0)
            try { _signal.Release(); } catch (SemaphoreFullException) { }
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try { await _signal.WaitAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            Interlocked.Exchange(ref _dirty, 0);
            TimeSpan? again;
            try
            {
                if (await SyncAsync()) { _agent.Finished(_uid, this); return; }
                again = NextRetry();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _agent.Log.LogWarning("pod {Pod}: {Message}", Key, e.Message);
                again = Options.BaseBackoff;
            }
            _retry?.Dispose();
            _retry = again is { } delay ? new Timer(_ => Signal(), null, delay < TimeSpan.Zero ? TimeSpan.Zero : delay, Timeout.InfiniteTimeSpan) : null;
        }
    }

    private TimeSpan? NextRetry()
    {
        var now = DateTimeOffset.UtcNow;
        DateTimeOffset? next = _waiting.Count == 0 ? null : _waiting.Values.Min(w => w.RetryAt);
        if (_tokensDue is { } due && (next is null || due < next)) next = due;
        return next is { } at ? at - now + TimeSpan.FromMilliseconds(10) : null;
    }

    /// <summary>One pass. Returns true when the pod is finished with (gone from the store and from the node).</summary>
    private async Task<bool> SyncAsync()
    {
        JsonObject? pod;
        bool gone;
        lock (_lock) { pod = _pod; gone = _gone; }
        var mine = Runtime.ListPodContainers().Where(c => c.PodUid == _uid).ToList();
        if (gone || pod is null)
        {
            await TearDownAsync(mine, 0);
            return true;
        }
        var meta = (JsonObject)pod["metadata"]!;
        var ns = Json.Str(meta["namespace"]) ?? "default";
        var name = Json.Str(meta["name"]) ?? "";
        var spec = (JsonObject)pod["spec"]!;
        if (meta["deletionTimestamp"] is not null)
        {
            var grace = (int)Math.Min(int.MaxValue, meta["deletionGracePeriodSeconds"]?.GetValue<long>() ?? 30);
            await TearDownAsync(mine, grace, pod);
            try { Objects.Delete(ResourceKinds.Pod, ns, name, null, _uid, dryRun: false, gracePeriodSeconds: 0); }
            catch (StatusException e) when (e.Code is 404 or 409) { }
            return true;
        }
        var phase = Json.Str(pod["status"]?["phase"]);
        if (phase is "Succeeded" or "Failed")
        {
            // Finished: nothing runs any more (sidecars are stopped), the sandbox goes; the exited containers stay for
            // their logs. Nothing needs new tokens.
            _tokensDue = null;
            var stopped = mine.Where(c => c.Running).ToList();
            foreach (var c in stopped) await Runtime.StopContainerAsync(c.Id, 0);
            await Runtime.RemoveSandboxAsync(_uid);
            if (stopped.Count > 0)
            {
                var now = Runtime.ListPodContainers().Where(c => c.PodUid == _uid).ToList();
                await ReadTerminationMessagesAsync(pod, now);
                WriteStatus(ns, name, pod, now, sandboxReady: false, initDone: true, failed: phase == "Failed");
            }
            return false;
        }

        if (mine.Count == 0 && PodSecurity.SysctlRejection(spec) is { } rejection)
        {
            Reject(ns, name, pod, "SysctlForbidden", rejection);
            return false;
        }

        var hostNetwork = spec["hostNetwork"]?.GetValue<bool>() == true;
        var sandboxReady = false;
        try
        {
            var hostname = (Json.Str(spec["hostname"]) ?? name) is var h && h.Length > 63 ? h[..63].TrimEnd('-', '.') : h;
            var sandbox = await Runtime.RunSandboxAsync(new SandboxRequest(_uid, ns, name, hostname, hostNetwork, ResolvConf(spec, ns, Options), HostAliases(spec),
                SharePid: spec["shareProcessNamespace"]?.GetValue<bool>() == true, Cgroup: PodCgroup.For(spec, _uid, Options.PodPidsLimit)), _stop.Token);
            _podIp = hostNetwork ? _agent.Registration.HostIp : sandbox.Ip;
            sandboxReady = true;
            _waiting.Remove("");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail("", new Waiting("ContainerCreating", null), e.Message, pod, "FailedCreatePodSandBox", $"Failed to create pod sandbox: {e.Message}");
        }

        if (sandboxReady) await RewriteChangedVolumesAsync(pod, mine);

        var policy = Json.Str(spec["restartPolicy"]) ?? "Always";
        var initDone = true;
        var failed = false;
        if (sandboxReady)
        {
            var appNames = PodStatusBuilder.Specs(spec, "containers").Select(c => Json.Str(c["name"])).ToHashSet();
            var appStarted = mine.Any(c => appNames.Contains(c.ContainerName));
            foreach (var c in PodStatusBuilder.Specs(spec, "initContainers"))
            {
                var cname = Json.Str(c["name"])!;
                var (latest, _) = PodStatusBuilder.Runs(mine, cname);
                if (PodStatusBuilder.IsSidecar(c))
                {
                    // A sidecar keeps running beside the app containers, restarted whatever the pod's policy; the init
                    // containers after it wait until it has started, once.
                    if (latest is null) await StartAsync(pod, c, 0, null);
                    else if (latest.Running) Watch(latest);
                    else if (latest.Created) await StartExistingAsync(pod, latest);
                    else await RestartAsync(pod, c, latest);
                    if (!appStarted && !Runtime.ListPodContainers().Any(x => x.PodUid == _uid && x.ContainerName == cname && x.Running))
                    {
                        initDone = false;
                        break;
                    }
                    continue;
                }
                if (latest is { Running: false, Created: false, ExitCode: 0, Error: null }) continue;
                initDone = false;
                if (latest is null) await StartAsync(pod, c, 0, null);
                else if (latest.Running) Watch(latest);
                else if (policy == "Never") failed = true;
                else await RestartAsync(pod, c, latest);
                break;
            }
            if (initDone && !failed)
                foreach (var c in PodStatusBuilder.Specs(spec, "containers"))
                {
                    var cname = Json.Str(c["name"])!;
                    var (latest, _) = PodStatusBuilder.Runs(mine, cname);
                    if (latest is null) await StartAsync(pod, c, 0, null);
                    else if (latest.Running) Watch(latest);
                    else if (latest.Created) await StartExistingAsync(pod, latest);
                    else if (policy == "Always" || (policy == "OnFailure" && (latest.ExitCode != 0 || latest.Error is not null))) await RestartAsync(pod, c, latest);
                    else _waiting.Remove(cname);
                }
            mine = Runtime.ListPodContainers().Where(c => c.PodUid == _uid).ToList();
            foreach (var c in mine.Where(c => c.Running)) Watch(c);
        }
        _prober.Sync(pod, mine.Where(c => c.Running), _podIp);
        await ReadTerminationMessagesAsync(pod, mine);
        WriteStatus(ns, name, pod, mine, sandboxReady, initDone && !failed, failed);
        // Completed with sidecars still running: the next sync stops them (no container exit would bring one).
        lock (_lock) pod = _pod;
        if (Json.Str(pod?["status"]?["phase"]) is "Succeeded" or "Failed" && mine.Any(c => c.Running)) Signal();
        return false;
    }

    /// <summary>The volumes made of sources that changed, written again for the containers that have them mounted (those
    /// still to start get theirs written when they start). A source that cannot be read now (deleted, a key gone) leaves
    /// the volume as it was, as the kubelet does.</summary>
    private async Task RewriteChangedVolumesAsync(JsonObject pod, List<RuntimeContainer> mine)
    {
        List<(string Kind, string? Name)> changed;
        lock (_lock)
        {
            changed = [.. _changedSources];
            _changedSources.Clear();
        }
        // A pod adopted from an earlier daemon has tokens this one did not write and cannot date: new ones at once.
        var tokensDue = _tokensDue is { } due ? due <= DateTimeOffset.UtcNow
            : !_adoptionChecked && PodVolumes.TokenLifetime(pod) is not null && mine.Any(c => c.Running);
        _adoptionChecked = true;
        if (tokensDue) changed.Add(("ServiceAccountToken", null));
        if (changed.Count == 0) return;
        if (!mine.Any(c => c.Running || c.Created))
        {
            // Nothing has them mounted: the next container to start gets its volumes (and new tokens) written then.
            if (tokensDue) _tokensDue = null;
            return;
        }
        foreach (var problem in await PodVolumes.RewriteAsync(Runtime, Objects, _agent.Tokens, pod, _uid, changed, _stop.Token))
            _agent.Log.LogWarning("pod {Pod}: {Message}", Key, problem);
        if (changed.Any(c => c.Kind == "ServiceAccountToken")) TokensWritten(pod);
    }

    /// <summary>The pod's tokens were written now: new ones are due when 80 % of the shortest lifetime has passed
    /// (or after the node's <see cref="NodeAgentOptions.TokenRenewal"/>).</summary>
    private void TokensWritten(JsonObject pod) =>
        _tokensDue = PodVolumes.TokenLifetime(pod) is { } lifetime ? DateTimeOffset.UtcNow + (Options.TokenRenewal ?? lifetime * 0.8) : null;

    /// <summary>The termination messages of the runs that have ended, read once per run (they do not change).</summary>
    private async Task ReadTerminationMessagesAsync(JsonObject pod, IEnumerable<RuntimeContainer> containers)
    {
        foreach (var c in containers.Where(c => !c.Running && !c.Created && !_messages.ContainsKey(c.Id)))
        {
            try { _messages[c.Id] = await TerminationMessages.ReadAsync(Runtime, Options, _uid, LifecycleHooks.SpecOf(pod, c.ContainerName), c, _stop.Token); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { _messages[c.Id] = $"Error on reading termination log: {e.Message}"; }
        }
        foreach (var gone in _messages.Keys.Where(id => !containers.Any(c => c.Id == id)).ToList()) _messages.Remove(gone);
    }

    private void WriteStatus(string ns, string name, JsonObject pod, List<RuntimeContainer> containers, bool sandboxReady, bool initDone, bool failed)
    {
        var waiting = _waiting.Where(kv => kv.Key.Length > 0).ToDictionary(kv => kv.Key, kv => kv.Value.Waiting);
        try
        {
            var written = Objects.Update(ResourceKinds.Pod, ns, name, null, o =>
            {
                if (Json.Str(o["metadata"]?["uid"]) != _uid) return o;
                o["status"] = PodStatusBuilder.Build(new PodStatusBuilder.Input
                {
                    Pod = o, Containers = containers, Waiting = waiting, PodIp = sandboxReady ? _podIp : null, HostIp = _agent.Registration.HostIp,
                    SandboxReady = sandboxReady, InitDone = initDone, Failed = failed, NotReady = _prober.NotReady(containers.Where(c => c.Running)),
                    TerminationMessages = _messages,
                }, o["status"] as JsonObject);
                return o;
            }, statusOnly: true, dryRun: false);
            lock (_lock) if (!_gone && Json.Str(written["metadata"]?["uid"]) == _uid) _pod = written;
        }
        catch (StatusException e) when (e.Code is 404 or 409) { }
    }

    /// <summary>The kubelet's admission refusal: the pod fails at once, nothing of it is made.</summary>
    private void Reject(string ns, string name, JsonObject pod, string reason, string message)
    {
        Events.Record(Objects, pod, "Warning", reason, message, "kubelet");
        try
        {
            var written = Objects.Update(ResourceKinds.Pod, ns, name, null, o =>
            {
                if (Json.Str(o["metadata"]?["uid"]) != _uid) return o;
                var status = Json.Child(o, "status");
                status["phase"] = "Failed";
                status["reason"] = reason;
                status["message"] = "Pod was rejected: " + message;
                status["startTime"] ??= NodeRegistration.Now();
                return o;
            }, statusOnly: true, dryRun: false);
            lock (_lock) if (!_gone && Json.Str(written["metadata"]?["uid"]) == _uid) _pod = written;
        }
        catch (StatusException e) when (e.Code is 404 or 409) { }
    }

    /// <summary>Restarts an exited container once its backoff allows: 10 s after the first restart, doubling to 5
    /// minutes; a run of 10 minutes or more starts the count again. Meanwhile it waits in CrashLoopBackOff.</summary>
    private async Task RestartAsync(JsonObject pod, JsonObject c, RuntimeContainer latest)
    {
        var cname = Json.Str(c["name"])!;
        var ran = (latest.FinishedAt ?? DateTimeOffset.UtcNow) - (latest.StartedAt ?? latest.FinishedAt ?? DateTimeOffset.UtcNow);
        var delay = latest.Attempt == 0 || ran >= Options.BackoffReset ? TimeSpan.Zero
            : TimeSpan.FromTicks(Math.Min(Options.MaxBackoff.Ticks, Options.BaseBackoff.Ticks * (1L << Math.Min(30, latest.Attempt - 1))));
        var at = (latest.FinishedAt ?? DateTimeOffset.UtcNow) + delay;
        if (at > DateTimeOffset.UtcNow)
        {
            var message = $"back-off {Seconds(delay)} restarting failed container={cname} pod={Json.Str(pod["metadata"]?["name"])}_{Json.Str(pod["metadata"]?["namespace"])}({_uid})";
            if (!_waiting.TryGetValue(cname, out var w) || w.Waiting.Reason != "CrashLoopBackOff")
                Events.Record(Objects, pod, "Warning", "BackOff", "Back-off restarting failed container " + cname, "kubelet", $"spec.containers{{{cname}}}");
            _waiting[cname] = (new Waiting("CrashLoopBackOff", message), at, latest.Attempt);
            return;
        }
        await StartAsync(pod, c, latest.Attempt + 1, latest);
    }

    private static string Seconds(TimeSpan t) => t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds}s" : $"{(int)t.TotalSeconds}s";

    /// <summary>Creates and starts run <paramref name="attempt"/> of a container: image (by its pull policy), environment,
    /// command; the run before <paramref name="previous"/> is removed (the previous one stays for lastState and logs).</summary>
    private async Task StartAsync(JsonObject pod, JsonObject c, int attempt, RuntimeContainer? previous)
    {
        var cname = Json.Str(c["name"])!;
        var image = Json.Str(c["image"]) ?? "";
        var policy = Json.Str(c["imagePullPolicy"]) ?? "IfNotPresent";
        if (_waiting.TryGetValue(cname, out var w) && w.Waiting.Reason is "ErrImagePull" or "ImagePullBackOff" && w.RetryAt > DateTimeOffset.UtcNow)
        {
            _waiting[cname] = (new Waiting("ImagePullBackOff", $"Back-off pulling image \"{image}\""), w.RetryAt, w.Failures);
            return;
        }
        try { await Runtime.EnsureImageAsync(image, policy, ImagePullSecrets.Read(Objects, pod), _stop.Token); }
        catch (ImageUnavailableException e)
        {
            var failures = w.Waiting?.Reason is "ErrImagePull" or "ImagePullBackOff" ? w.Failures + 1 : 1;
            var reason = e.NeverPull ? "ErrImageNeverPull" : "ErrImagePull";
            Fail(cname, new Waiting(reason, e.Message), e.Message, pod, e.NeverPull ? "ErrImageNeverPull" : "Failed",
                e.NeverPull ? e.Message : $"Failed to pull image \"{image}\": {e.Message}", failures);
            // Halfway to the retry the container shows ImagePullBackOff, as the kubelet's next sync shows it.
            var half = (_waiting[cname].RetryAt - DateTimeOffset.UtcNow) / 2;
            if (!e.NeverPull) _ = Task.Delay(half > TimeSpan.Zero ? half : TimeSpan.Zero, _stop.Token).ContinueWith(_ => Signal(), TaskScheduler.Default);
            return;
        }
        var labels = new Dictionary<string, string>
        {
            [PodLabels.PodName] = Json.Str(pod["metadata"]?["name"]) ?? "",
            [PodLabels.PodNamespace] = Json.Str(pod["metadata"]?["namespace"]) ?? "",
            [PodLabels.PodUid] = _uid,
            [PodLabels.ContainerName] = cname,
            [PodLabels.Attempt] = attempt.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        string id;
        try
        {
            var env = ContainerEnv.Build(Objects, pod, c, _podIp, _agent.Registration.HostIp);
            var security = PodSecurity.For(pod, c, Runtime.ImageUser(image), Options);
            var volumes = await PodVolumes.PrepareAsync(Runtime, Objects, _agent.Tokens, pod, _uid, _stop.Token);
            TokensWritten(pod);
            var mounts = PodVolumes.Mounts(c, volumes);
            if (TerminationMessages.Prepare(Options, _uid, c, attempt) is { } terminationLog) mounts.Add(terminationLog);
            var (memory, nanoCpus, shares) = Resources(c);
            List<string>? Expanded(string field) => (c[field] as JsonArray)?.Select(a => ContainerEnv.Expand(Json.Str(a) ?? "", env)).ToList();
            id = await Runtime.CreateContainerAsync(new PodContainerRequest
            {
                PodUid = _uid, Image = image, Command = Expanded("command"), Args = Expanded("args"),
                Env = env.Select(kv => kv.Key + "=" + kv.Value).ToList(), WorkingDir = Json.Str(c["workingDir"]),
                Labels = labels, HostNetwork = pod["spec"]?["hostNetwork"]?.GetValue<bool>() == true,
                Tty = c["tty"]?.GetValue<bool>() == true, Stdin = c["stdin"]?.GetValue<bool>() == true,
                StdinOnce = c["stdinOnce"]?.GetValue<bool>() == true,
                Mounts = mounts, MemoryLimit = memory, NanoCpus = nanoCpus, CpuShares = shares,
                Security = security, CgroupParent = PodCgroup.For((JsonObject)pod["spec"]!, _uid).Parent,
            }, _stop.Token);
        }
        catch (ContainerConfigException e)
        {
            var reason = e.ConfigError || e.Message.Contains("not found", StringComparison.Ordinal) || e.Message.StartsWith("couldn't find key", StringComparison.Ordinal) || e.Message.StartsWith("fieldRef", StringComparison.Ordinal)
                ? "CreateContainerConfigError" : "CreateContainerError";
            Fail(cname, new Waiting(reason, e.Message), e.Message, pod, "Failed", "Error: " + e.Message);
            return;
        }
        _waiting.Remove(cname);
        // Older runs than the one before go: the one before is lastState (and `logs --previous`).
        foreach (var old in Runtime.ListPodContainers().Where(x => x.PodUid == _uid && x.ContainerName == cname && x.Id != id && x.Attempt < attempt && x.Id != previous?.Id))
            await Runtime.RemoveContainerAsync(old.Id);
        await StartExistingAsync(pod, Runtime.ListPodContainers().First(x => x.Id == id));
    }

    /// <summary>Limits become the memory limit and CPU quota; the cpu request (else the limit) the CPU weight, 2 for none
    /// (as the kubelet maps them to cgroups).</summary>
    private static (long Memory, long NanoCpus, long Shares) Resources(JsonObject c)
    {
        string? Q(string kind, string name) => c["resources"]?[kind]?[name] is { } n ? Json.Str(n) ?? n.ToString() : null;
        var memory = Q("limits", "memory") is { } m ? Quantity.Bytes(m) : 0;
        var cpuLimit = Q("limits", "cpu") is { } l ? Quantity.Value(l) : 0m;
        var cpuRequest = Q("requests", "cpu") is { } r ? Quantity.Value(r) : cpuLimit;
        return (memory, (long)(cpuLimit * 1_000_000_000m), cpuRequest > 0 ? Math.Max(2, (long)(cpuRequest * 1024m)) : 2);
    }

    private async Task StartExistingAsync(JsonObject pod, RuntimeContainer container)
    {
        try { await Runtime.StartContainerAsync(container.Id); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The engine recorded the failed start as the run's end (StartError); the restart policy takes it from here.
            Events.Record(Objects, pod, "Warning", "Failed", "Error: " + e.Message, "kubelet", $"spec.containers{{{container.ContainerName}}}");
            Signal();
            return;
        }
        Events.Record(Objects, pod, "Normal", "Started", $"Started container {container.ContainerName}", "kubelet", $"spec.containers{{{container.ContainerName}}}");
        if (!await LifecycleHooks.PostStartAsync(Runtime, Objects, pod, container, _podIp, _stop.Token))
        {
            // Killed as the kubelet kills it (within the pod's grace period); its restart policy decides what comes next.
            var grace = (int)Math.Min(int.MaxValue, pod["spec"]?["terminationGracePeriodSeconds"]?.GetValue<long>() ?? 30);
            await Runtime.StopContainerAsync(container.Id, grace);
        }
        // A run that ends before the sync looks at it again still brings the next sync.
        Watch(container);
    }

    /// <summary>Notes why a container (or, for "", the sandbox) waits, with a retry after the backoff its failures earned.</summary>
    private void Fail(string container, Waiting waiting, string log, JsonObject pod, string eventReason, string eventMessage, int failures = 1)
    {
        var delay = TimeSpan.FromTicks(Math.Min(Options.MaxBackoff.Ticks, Options.BaseBackoff.Ticks * (1L << Math.Min(30, failures - 1))));
        var first = !_waiting.TryGetValue(container, out var before) || before.Waiting.Reason != waiting.Reason || before.Waiting.Message != waiting.Message;
        _waiting[container] = (waiting, DateTimeOffset.UtcNow + delay, failures);
        _agent.Log.LogInformation("pod {Pod} container {Container}: {Reason}: {Message}", Key, container, waiting.Reason, log);
        if (first) Events.Record(Objects, pod, "Warning", eventReason, eventMessage, "kubelet", container.Length > 0 ? $"spec.containers{{{container}}}" : null);
    }

    /// <summary>A sync when the container's run ends: no polling.</summary>
    private void Watch(RuntimeContainer c)
    {
        lock (_watched) if (!_watched.Add(c.Id)) return;
        _ = Task.Run(async () =>
        {
            try { await Runtime.WaitForExitAsync(c.Id, _stop.Token); }
            catch (Exception) { }
            lock (_watched) _watched.Remove(c.Id);
            Signal();
        });
    }

    /// <summary>Stops every container of the pod (its preStop hook, the stop signal, then SIGKILL when the grace period
    /// is over), removes them and the sandbox. As the kubelet, the app containers stop first, then the sidecars one at
    /// a time in the reverse order of their definition (so they serve the app to its end), all within the one grace
    /// period.</summary>
    private async Task TearDownAsync(List<RuntimeContainer> containers, int grace, JsonObject? pod = null)
    {
        _prober.Dispose();
        var running = containers.Where(c => c.Running).ToList();
        if (pod is null) await Task.WhenAll(running.Select(c => Runtime.StopContainerAsync(c.Id, grace)));
        else
        {
            var deadline = DateTimeOffset.UtcNow.AddSeconds(grace);
            var spec = pod["spec"] as JsonObject ?? new JsonObject();
            var sidecars = PodStatusBuilder.Specs(spec, "initContainers").Where(PodStatusBuilder.IsSidecar).Select(c => Json.Str(c["name"])).ToList();
            await Task.WhenAll(running.Where(c => !sidecars.Contains(c.ContainerName)).Select(c => StopGracefullyAsync(pod, c, grace)));
            foreach (var sidecar in Enumerable.Reverse(sidecars))
                foreach (var c in running.Where(c => c.ContainerName == sidecar))
                    await StopGracefullyAsync(pod, c, Math.Max(LifecycleHooks.MinimumGraceSeconds, (int)Math.Ceiling((deadline - DateTimeOffset.UtcNow).TotalSeconds)));
        }
        foreach (var c in containers) await Runtime.RemoveContainerAsync(c.Id);
        await Runtime.RemoveSandboxAsync(_uid);
    }

    private async Task StopGracefullyAsync(JsonObject pod, RuntimeContainer c, int grace)
    {
        Events.Record(Objects, pod, "Normal", "Killing", $"Stopping container {c.ContainerName}", "kubelet", $"spec.containers{{{c.ContainerName}}}");
        var left = await LifecycleHooks.PreStopAsync(Runtime, Objects, pod, c, _podIp, grace, _stop.Token);
        await Runtime.StopContainerAsync(c.Id, left);
    }

    /// <summary>/etc/resolv.conf: for ClusterFirst (when the node has a cluster DNS) its address, the cluster search
    /// domains and ndots:5 before the host's search domains, as the kubelet writes it; for Default (and ClusterFirst
    /// without cluster DNS) the host's; then dnsConfig. None: dnsConfig alone.</summary>
    internal static string ResolvConf(JsonObject spec, string ns, NodeAgentOptions node)
    {
        var policy = Json.Str(spec["dnsPolicy"]) ?? "ClusterFirst";
        var clusterFirst = policy is "ClusterFirst" or "ClusterFirstWithHostNet" && node.ClusterDns is not null
            && (policy == "ClusterFirstWithHostNet" || spec["hostNetwork"]?.GetValue<bool>() != true);
        var host = policy == "None" ? "" : File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : "";
        List<string> servers = clusterFirst ? [node.ClusterDns!]
            : host.Split('\n').Where(l => l.StartsWith("nameserver", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1)).OfType<string>().ToList();
        var searches = host.Split('\n').Where(l => l.StartsWith("search", StringComparison.Ordinal)).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)).ToList();
        var options = host.Split('\n').Where(l => l.StartsWith("options", StringComparison.Ordinal)).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)).ToList();
        if (clusterFirst)
        {
            var domain = node.ClusterDomain;
            searches.InsertRange(0, [$"{ns}.svc.{domain}", $"svc.{domain}", domain]);
            options.RemoveAll(o => o.StartsWith("ndots:", StringComparison.Ordinal));
            options.Insert(0, "ndots:5");
        }
        if (spec["dnsConfig"] is JsonObject dns)
        {
            servers.AddRange((dns["nameservers"] as JsonArray)?.Select(n => Json.Str(n)).OfType<string>() ?? []);
            searches.AddRange((dns["searches"] as JsonArray)?.Select(n => Json.Str(n)).OfType<string>() ?? []);
            foreach (var o in (dns["options"] as JsonArray)?.OfType<JsonObject>() ?? [])
                options.Add(Json.Str(o["value"]) is { } v ? $"{Json.Str(o["name"])}:{v}" : Json.Str(o["name"]) ?? "");
        }
        var text = string.Concat(servers.Distinct().Select(s => $"nameserver {s}\n"));
        if (searches.Count > 0) text += "search " + string.Join(' ', searches.Distinct()) + "\n";
        if (options.Count > 0) text += "options " + string.Join(' ', options.Distinct()) + "\n";
        return text;
    }

    private static IReadOnlyList<(string, IReadOnlyList<string>)> HostAliases(JsonObject spec) =>
        (spec["hostAliases"] as JsonArray)?.OfType<JsonObject>()
            .Select(a => (Json.Str(a["ip"]) ?? "", (IReadOnlyList<string>)((a["hostnames"] as JsonArray)?.Select(h => Json.Str(h)).OfType<string>().ToList() ?? [])))
            .ToList() ?? [];

    public void Dispose()
    {
        _prober.Dispose();
        _stop.Cancel();
        _retry?.Dispose();
    }
}
