using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>Why a container is not running, when the engine cannot tell (it was never made, or waits to restart).</summary>
public sealed record Waiting(string Reason, string? Message);

/// <summary>
/// A pod's status as Kubernetes reports it, from its spec and what the engine shows: phase, the five conditions
/// (their transition times kept while they hold), podIP(s), hostIP(s), startTime, qosClass, and per container its
/// state, lastState, restartCount, ready, started, image, imageID and containerID.
/// </summary>
public static class PodStatusBuilder
{
    public const string ContainerIdScheme = "containerops://";

    public sealed class Input
    {
        public required JsonObject Pod { get; init; }
        public required IReadOnlyList<RuntimeContainer> Containers { get; init; }
        public required IReadOnlyDictionary<string, Waiting> Waiting { get; init; }
        public string? PodIp { get; init; }
        public required string HostIp { get; init; }
        public bool SandboxReady { get; init; }
        /// <summary>The pod failed as a whole (an init container failed with restartPolicy Never).</summary>
        public bool Failed { get; init; }
        public bool InitDone { get; init; }
        /// <summary>Container names whose readiness probe currently fails (or has not passed yet).</summary>
        public IReadOnlySet<string> NotReady { get; init; } = new HashSet<string>();
        /// <summary>Ended runs' termination messages by container id (<see cref="TerminationMessages"/>); a run not
        /// in it keeps the message the previous status gave it.</summary>
        public IReadOnlyDictionary<string, string> TerminationMessages { get; init; } = new Dictionary<string, string>();
    }

    public static JsonObject Build(Input input, JsonObject? previous)
    {
        var spec = input.Pod["spec"] as JsonObject ?? new JsonObject();
        var policy = Json.Str(spec["restartPolicy"]) ?? "Always";
        var app = Specs(spec, "containers");
        var init = Specs(spec, "initContainers");
        var appStatuses = new JsonArray();
        var running = 0; var terminated = 0; var succeeded = 0; var ready = 0;
        foreach (var c in app)
        {
            var (containerStatus, isRunning, exit) = ContainerStatus(input, c, previous);
            if (isRunning) running++;
            if (exit is { } code) { terminated++; if (code == 0) succeeded++; }
            if (containerStatus["ready"]?.GetValue<bool>() == true) ready++;
            appStatuses.Add((JsonNode)containerStatus);
        }
        var initStatuses = new JsonArray();
        var sidecars = 0; var readySidecars = 0;
        foreach (var c in init)
        {
            var (initStatus, _, _) = ContainerStatus(input, c, previous);
            if (IsSidecar(c))
            {
                sidecars++;
                if (initStatus["ready"]?.GetValue<bool>() == true) readySidecars++;
            }
            initStatuses.Add((JsonNode)initStatus);
        }

        string phase;
        if (input.Failed) phase = "Failed";
        else if (!input.InitDone) phase = "Pending";
        else if (terminated == app.Count && app.Count > 0 && (policy == "Never" || (policy == "OnFailure" && succeeded == app.Count)))
            phase = succeeded == app.Count ? "Succeeded" : "Failed";
        else if (running > 0 || (terminated > 0 && policy != "Never")) phase = "Running";
        else if (terminated == app.Count && app.Count > 0) phase = succeeded == app.Count ? "Succeeded" : "Failed";
        else phase = "Pending";

        var allReady = app.Count > 0 && ready == app.Count && readySidecars == sidecars;
        var status = new JsonObject { ["phase"] = phase };
        var conditions = new List<(string Type, string Status, string? Reason)>
        {
            ("PodReadyToStartContainers", input.SandboxReady ? "True" : "False", null),
            ("Initialized", input.InitDone ? "True" : "False", input.InitDone ? null : "ContainersNotInitialized"),
            ("Ready", allReady ? "True" : "False", allReady ? null : phase is "Succeeded" or "Failed" ? "PodCompleted" : "ContainersNotReady"),
            ("ContainersReady", allReady ? "True" : "False", allReady ? null : phase is "Succeeded" or "Failed" ? "PodCompleted" : "ContainersNotReady"),
            ("PodScheduled", "True", null),
        };
        var target = new JsonObject { ["status"] = previous?.DeepClone() ?? new JsonObject() };
        foreach (var (type, value, reason) in conditions)
        {
            string? message = null;
            if (reason == "ContainersNotReady")
                message = $"containers with unready status: [{string.Join(" ", app.Where((c, i) => appStatuses[i]?["ready"]?.GetValue<bool>() != true).Select(c => Json.Str(c["name"])))}]";
            if (reason == "ContainersNotInitialized")
                message = $"containers with incomplete status: [{string.Join(" ", init.Where((c, i) => IsSidecar(c) ? initStatuses[i]?["started"]?.GetValue<bool>() != true : initStatuses[i]?["state"]?["terminated"]?["exitCode"]?.GetValue<int>() != 0).Select(c => Json.Str(c["name"])))}]";
            SetCondition(target, type, value, reason, message);
        }
        status["conditions"] = target["status"]!["conditions"]!.DeepClone();
        status["hostIP"] = input.HostIp;
        status["hostIPs"] = new JsonArray(new JsonObject { ["ip"] = input.HostIp });
        if (input.PodIp is { } ip)
        {
            status["podIP"] = ip;
            status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip });
        }
        status["startTime"] = previous?["startTime"]?.DeepClone() ?? NodeRegistration.Now();
        if (init.Count > 0) status["initContainerStatuses"] = initStatuses;
        status["containerStatuses"] = appStatuses;
        status["qosClass"] = QosClass(spec);
        return status;
    }

    /// <summary>An init container with restartPolicy Always: a sidecar, which runs beside the app containers.</summary>
    internal static bool IsSidecar(JsonObject initContainer) => Json.Str(initContainer["restartPolicy"]) == "Always";

    internal static List<JsonObject> Specs(JsonObject spec, string list) => (spec[list] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];

    /// <summary>The newest run of a container (highest attempt) and the one before it.</summary>
    public static (RuntimeContainer? Latest, RuntimeContainer? Previous) Runs(IReadOnlyList<RuntimeContainer> containers, string name)
    {
        var runs = containers.Where(c => c.ContainerName == name).OrderByDescending(c => c.Attempt).ThenByDescending(c => c.StartedAt).ToList();
        return (runs.ElementAtOrDefault(0), runs.ElementAtOrDefault(1));
    }

    private static (JsonObject Status, bool Running, int? ExitCode) ContainerStatus(Input input, JsonObject c, JsonObject? previousStatus)
    {
        var name = Json.Str(c["name"]) ?? "";
        var (latest, previous) = Runs(input.Containers, name);
        input.Waiting.TryGetValue(name, out var waiting);
        var status = new JsonObject { ["name"] = name };
        var running = latest is { Running: true };
        int? exit = null;
        JsonObject? last = null;
        if (latest is null || latest.Created)
        {
            status["state"] = new JsonObject { ["waiting"] = WaitingState(waiting ?? new Waiting("ContainerCreating", null)) };
            if (previous is not null) last = Terminated(input, previous, previousStatus);
        }
        else if (running)
        {
            status["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = Time(latest.StartedAt) } };
            if (previous is not null) last = Terminated(input, previous, previousStatus);
        }
        else if (waiting is not null)
        {
            // Exited and waiting to run again (CrashLoopBackOff): the run that ended is the last state.
            status["state"] = new JsonObject { ["waiting"] = WaitingState(waiting) };
            last = Terminated(input, latest, previousStatus);
            // Counted as stopped, as the kubelet counts a waiting container that ran before.
            exit = latest.ExitCode;
        }
        else
        {
            status["state"] = Terminated(input, latest, previousStatus);
            exit = latest.ExitCode;
            if (previous is not null) last = Terminated(input, previous, previousStatus);
        }
        status["lastState"] = last ?? new JsonObject();
        status["ready"] = running && !input.NotReady.Contains(name);
        status["restartCount"] = latest?.Attempt ?? 0;
        status["image"] = Json.Str(c["image"]);
        status["imageID"] = latest?.ImageId ?? "";
        if (latest is not null) status["containerID"] = ContainerIdScheme + latest.Id;
        status["started"] = running;
        return (status, running, exit);
    }

    private static JsonObject WaitingState(Waiting w)
    {
        var o = new JsonObject { ["reason"] = w.Reason };
        if (w.Message is not null) o["message"] = w.Message;
        return o;
    }

    private static JsonObject Terminated(Input input, RuntimeContainer c, JsonObject? previousStatus)
    {
        var t = new JsonObject
        {
            ["exitCode"] = c.ExitCode,
            ["reason"] = TerminationReason(c),
            ["startedAt"] = Time(c.StartedAt),
            ["finishedAt"] = Time(c.FinishedAt),
            ["containerID"] = ContainerIdScheme + c.Id,
        };
        // As the kubelet: the engine's error, then what the container left as its termination message.
        var message = c.Error ?? "";
        if (!input.TerminationMessages.TryGetValue(c.Id, out var left)) message = PreviousMessage(previousStatus, c.Id) ?? message;
        else if (left.Length > 0) message = message.Length > 0 ? $"{message}: {left}" : left;
        if (message.Length > 0) t["message"] = message;
        return new JsonObject { ["terminated"] = t };
    }

    /// <summary>The message an earlier status gave the run (its files may be gone with a finished pod's sandbox).</summary>
    private static string? PreviousMessage(JsonObject? previous, string id) =>
        new[] { "containerStatuses", "initContainerStatuses" }
            .SelectMany(list => (previous?[list] as JsonArray)?.OfType<JsonObject>() ?? [])
            .SelectMany(s => new[] { s["state"]?["terminated"], s["lastState"]?["terminated"] })
            .Where(t => Json.Str(t?["containerID"]) == ContainerIdScheme + id)
            .Select(t => Json.Str(t?["message"])).FirstOrDefault(m => m is not null);

    public static string TerminationReason(RuntimeContainer c) =>
        c.OomKilled ? "OOMKilled" : c.Error is { Length: > 0 } ? "StartError" : c.ExitCode == 0 ? "Completed" : "Error";

    private static string? Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Guaranteed: every container has cpu and memory limits equal to its requests; BestEffort: no container
    /// asks for or limits anything; Burstable otherwise.</summary>
    public static string QosClass(JsonObject spec)
    {
        var all = Specs(spec, "containers").Concat(Specs(spec, "initContainers")).ToList();
        var any = false;
        var guaranteed = true;
        foreach (var c in all)
        {
            var requests = c["resources"]?["requests"] as JsonObject;
            var limits = c["resources"]?["limits"] as JsonObject;
            if (requests is { Count: > 0 } || limits is { Count: > 0 }) any = true;
            foreach (var r in new[] { "cpu", "memory" })
            {
                var limit = Json.Str(limits?[r]) ?? limits?[r]?.ToString();
                var request = Json.Str(requests?[r]) ?? requests?[r]?.ToString() ?? limit;
                if (limit is null || request != limit) guaranteed = false;
            }
        }
        return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
    }

    /// <summary>Sets a condition of status.conditions; its lastTransitionTime changes only when its status does.</summary>
    public static void SetCondition(JsonObject pod, string type, string status, string? reason, string? message)
    {
        if (pod["status"] is not JsonObject s) pod["status"] = s = new JsonObject();
        if (s["conditions"] is not JsonArray conditions) s["conditions"] = conditions = new JsonArray();
        var existing = conditions.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == type);
        var transition = existing is not null && Json.Str(existing["status"]) == status ? existing["lastTransitionTime"]?.DeepClone() : NodeRegistration.Now();
        var updated = new JsonObject { ["type"] = type, ["status"] = status, ["lastProbeTime"] = null, ["lastTransitionTime"] = transition };
        if (reason is not null) updated["reason"] = reason;
        if (message is not null) updated["message"] = message;
        if (existing is null) conditions.Add((JsonNode)updated);
        else conditions[conditions.IndexOf(existing)] = updated;
    }
}
