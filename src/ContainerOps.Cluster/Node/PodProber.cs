using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A pod's probes, one loop per (running container, probe kind) as the kubelet's probe workers: startup gates the
/// others; liveness failing failureThreshold times in a row kills the container (its restart policy restarts it);
/// readiness sets the container's ready flag. Kubernetes' defaults: no initial delay, every 10 s, 1 s timeout, 1 success,
/// 3 failures. Results change the pod's status through <paramref name="changed"/> (a sync of its worker).
/// </summary>
internal sealed class PodProber(INodeRuntime runtime, ClusterObjects objects, Action changed) : IDisposable
{
    private sealed class Loop
    {
        public required CancellationTokenSource Stop;
        public bool Started;
        public bool Ready;
    }

    /// <summary>By container id: its probe loops (one cancellation for all of them) and their results.</summary>
    private readonly ConcurrentDictionary<string, Loop> _loops = new();

    /// <summary>Starts the probes of newly running containers, stops those of containers no longer running.</summary>
    public void Sync(JsonObject pod, IEnumerable<RuntimeContainer> running, string? podIp)
    {
        var live = running.ToDictionary(c => c.Id);
        foreach (var (id, loop) in _loops)
            if (!live.ContainsKey(id) && _loops.TryRemove(id, out _)) loop.Stop.Cancel();
        foreach (var c in live.Values)
        {
            if (_loops.ContainsKey(c.Id)) continue;
            var spec = PodStatusBuilder.Specs((JsonObject)pod["spec"]!, "containers").FirstOrDefault(s => Json.Str(s["name"]) == c.ContainerName);
            if (spec is null) continue;
            var startup = spec["startupProbe"] as JsonObject;
            var liveness = spec["livenessProbe"] as JsonObject;
            var readiness = spec["readinessProbe"] as JsonObject;
            var loop = new Loop { Stop = new CancellationTokenSource(), Started = startup is null, Ready = readiness is null };
            _loops[c.Id] = loop;
            if (startup is null && liveness is null && readiness is null) continue;
            _ = Task.Run(() => RunAsync(pod, spec, c, podIp, loop, startup, liveness, readiness));
        }
    }

    /// <summary>The running containers that are not ready (a readiness probe not passed, or not started yet).</summary>
    public IReadOnlySet<string> NotReady(IEnumerable<RuntimeContainer> running) =>
        running.Where(c => _loops.TryGetValue(c.Id, out var l) && !(l.Ready && l.Started)).Select(c => c.ContainerName).ToHashSet();

    private async Task RunAsync(JsonObject pod, JsonObject spec, RuntimeContainer c, string? podIp, Loop loop, JsonObject? startup, JsonObject? liveness, JsonObject? readiness)
    {
        var ct = loop.Stop.Token;
        try
        {
            if (startup is not null)
            {
                if (!await UntilAsync(pod, spec, c, podIp, startup, "Startup", ct)) return;
                loop.Started = true;
                changed();
            }
            var tasks = new List<Task>();
            if (liveness is not null) tasks.Add(Task.Run(() => UntilAsync(pod, spec, c, podIp, liveness, "Liveness", ct)));
            if (readiness is not null) tasks.Add(Task.Run(() => ReadinessAsync(pod, spec, c, podIp, readiness, loop, ct)));
            await Task.WhenAll(tasks);
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Startup: probes until success (true) or failureThreshold failures in a row. Liveness: probes until
    /// failureThreshold failures in a row. Either failing kills the container; false then.</summary>
    private async Task<bool> UntilAsync(JsonObject pod, JsonObject spec, RuntimeContainer c, string? podIp, JsonObject probe, string kind, CancellationToken ct)
    {
        var (delay, period, timeout, _, failures) = Settings(probe);
        await Task.Delay(delay, ct);
        var failed = 0;
        var succeeded = 0;
        while (!ct.IsCancellationRequested)
        {
            var (ok, output) = await ProbeOnceAsync(pod, spec, c, podIp, probe, timeout, ct);
            if (ok)
            {
                failed = 0;
                if (kind == "Startup" && ++succeeded >= 1) return true;
            }
            else
            {
                succeeded = 0;
                Events.Record(objects, pod, "Warning", "Unhealthy", $"{kind} probe failed: {output.Trim()}", "kubelet", $"spec.containers{{{c.ContainerName}}}");
                if (++failed >= failures)
                {
                    Events.Record(objects, pod, "Normal", "Killing", $"Container {c.ContainerName} failed {kind.ToLowerInvariant()} probe, will be restarted", "kubelet", $"spec.containers{{{c.ContainerName}}}");
                    var grace = probe["terminationGracePeriodSeconds"]?.GetValue<long>() ?? pod["spec"]?["terminationGracePeriodSeconds"]?.GetValue<long>() ?? 30;
                    // Killed as any stop is: its preStop hook first, within the grace period.
                    var left = await LifecycleHooks.PreStopAsync(runtime, objects, pod, c, podIp, (int)Math.Min(int.MaxValue, grace), ct);
                    await runtime.StopContainerAsync(c.Id, left);
                    return false;
                }
            }
            await Task.Delay(period, ct);
        }
        return false;
    }

    private async Task ReadinessAsync(JsonObject pod, JsonObject spec, RuntimeContainer c, string? podIp, JsonObject probe, Loop loop, CancellationToken ct)
    {
        var (delay, period, timeout, successes, failures) = Settings(probe);
        await Task.Delay(delay, ct);
        int okInRow = 0, failedInRow = 0;
        while (!ct.IsCancellationRequested)
        {
            var (ok, output) = await ProbeOnceAsync(pod, spec, c, podIp, probe, timeout, ct);
            if (ok) { okInRow++; failedInRow = 0; }
            else
            {
                failedInRow++; okInRow = 0;
                Events.Record(objects, pod, "Warning", "Unhealthy", $"Readiness probe failed: {output.Trim()}", "kubelet", $"spec.containers{{{c.ContainerName}}}");
            }
            var ready = loop.Ready;
            if (!ready && okInRow >= successes) ready = true;
            if (ready && failedInRow >= failures) ready = false;
            if (ready != loop.Ready)
            {
                loop.Ready = ready;
                changed();
            }
            await Task.Delay(period, ct);
        }
    }

    private static (TimeSpan Delay, TimeSpan Period, TimeSpan Timeout, int Successes, int Failures) Settings(JsonObject probe)
    {
        static int I(JsonNode? n, int fallback) => n is JsonValue v && v.TryGetValue<int>(out var i) && i > 0 ? i : fallback;
        return (TimeSpan.FromSeconds(probe["initialDelaySeconds"] is JsonValue d && d.TryGetValue<int>(out var delay) ? delay : 0),
            TimeSpan.FromSeconds(I(probe["periodSeconds"], 10)), TimeSpan.FromSeconds(I(probe["timeoutSeconds"], 1)),
            I(probe["successThreshold"], 1), I(probe["failureThreshold"], 3));
    }

    private Task<(bool, string)> ProbeOnceAsync(JsonObject pod, JsonObject spec, RuntimeContainer c, string? podIp, JsonObject probe, TimeSpan timeout, CancellationToken ct) =>
        RunHandlerAsync(runtime, spec, c, podIp, probe, timeout, ct);

    /// <summary>Runs a probe's or a lifecycle hook's handler (they share the shape: exec, httpGet, tcpSocket; probes
    /// also grpc, hooks also sleep) against container <paramref name="c"/> of spec <paramref name="spec"/>: success, or failure with why.</summary>
    internal static async Task<(bool, string)> RunHandlerAsync(INodeRuntime runtime, JsonObject spec, RuntimeContainer c, string? podIp, JsonObject handler, TimeSpan timeout, CancellationToken ct)
    {
        ProbeRequest request;
        if (handler["exec"]?["command"] is JsonArray command)
            request = new ProbeRequest(c.Id, ProbeAction.Exec, timeout, Command: command.Select(a => Json.Str(a) ?? "").ToList());
        else if (handler["httpGet"] is JsonObject http)
        {
            if (Port(spec, http["port"]) is not { } port) return (false, $"port {http["port"]} is not a number or a port name of container {c.ContainerName}");
            var headers = (http["httpHeaders"] as JsonArray)?.OfType<JsonObject>().Select(h => (Json.Str(h["name"]) ?? "", Json.Str(h["value"]) ?? "")).ToList();
            request = new ProbeRequest(c.Id, ProbeAction.HttpGet, timeout, Host: Json.Str(http["host"]) ?? podIp ?? "127.0.0.1", Port: port,
                Path: Json.Str(http["path"]) ?? "/", Scheme: Json.Str(http["scheme"]) ?? "HTTP", Headers: headers);
        }
        else if (handler["tcpSocket"] is JsonObject tcp)
        {
            if (Port(spec, tcp["port"]) is not { } port) return (false, $"port {tcp["port"]} is not a number or a port name of container {c.ContainerName}");
            request = new ProbeRequest(c.Id, ProbeAction.TcpSocket, timeout, Host: Json.Str(tcp["host"]) ?? podIp ?? "127.0.0.1", Port: port);
        }
        else if (handler["grpc"] is JsonObject grpc)
        {
            // The port is a number (the API refuses names for grpc) and the host always the pod's address.
            if (grpc["port"] is not JsonValue p || !p.TryGetValue<int>(out var port)) return (false, $"grpc port {grpc["port"]} is not a number");
            request = new ProbeRequest(c.Id, ProbeAction.Grpc, timeout, Host: podIp ?? "127.0.0.1", Port: port, GrpcService: Json.Str(grpc["service"]));
        }
        else if (handler["sleep"]?["seconds"] is JsonValue seconds && seconds.TryGetValue<long>(out var s))
        {
            var wait = TimeSpan.FromSeconds(Math.Max(0, s));
            await Task.Delay(wait < timeout ? wait : timeout, ct);
            return (true, "");
        }
        else return (false, "the handler has no action this node supports (exec, httpGet, tcpSocket, grpc, sleep)");
        try { return await runtime.ProbeAsync(request, ct); }
        catch (Exception e) when (e is not OperationCanceledException) { return (false, e.Message); }
    }

    /// <summary>A probe's port: a number, or the name of one of the container's ports.</summary>
    internal static int? Port(JsonObject container, JsonNode? port)
    {
        if (port is JsonValue v && v.TryGetValue<int>(out var n)) return n;
        var text = Json.Str(port);
        if (text is null) return null;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)) return parsed;
        return (container["ports"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(p => Json.Str(p["name"]) == text)?["containerPort"]?.GetValue<int>();
    }

    public void Dispose()
    {
        foreach (var loop in _loops.Values) loop.Stop.Cancel();
        _loops.Clear();
    }
}
