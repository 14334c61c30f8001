using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A container's lifecycle hooks, as the kubelet runs them: postStart right after the container starts (the pod's next
/// containers wait for it; a failure kills the container, whose restart policy then decides), preStop before the stop
/// signal, within the termination grace period, whose rest the stop signal gets. Failures are FailedPostStartHook and
/// FailedPreStopHook events.
/// </summary>
internal static class LifecycleHooks
{
    /// <summary>The container's spec in the pod (app or init container) by name.</summary>
    public static JsonObject? SpecOf(JsonObject pod, string container) =>
        pod["spec"] is not JsonObject spec ? null
            : PodStatusBuilder.Specs(spec, "containers").Concat(PodStatusBuilder.Specs(spec, "initContainers")).FirstOrDefault(c => Json.Str(c["name"]) == container);

    /// <summary>Runs postStart if the container has one: true when there is none or it succeeded.</summary>
    public static async Task<bool> PostStartAsync(INodeRuntime runtime, ClusterObjects objects, JsonObject pod, RuntimeContainer c, string? podIp, CancellationToken ct)
    {
        if (SpecOf(pod, c.ContainerName) is not { } spec || spec["lifecycle"]?["postStart"] is not JsonObject handler) return true;
        // The kubelet gives postStart no deadline of its own; a day stands for none.
        var (ok, output) = await PodProber.RunHandlerAsync(runtime, spec, c, podIp, handler, TimeSpan.FromDays(1), ct);
        if (ok) return true;
        Record(objects, pod, c.ContainerName, "FailedPostStartHook", "PostStart", handler, output);
        return false;
    }

    /// <summary>The least a container gets for its stop signal after a hook or others used up the grace period (the
    /// kubelet's minimum).</summary>
    public const int MinimumGraceSeconds = 2;

    /// <summary>Runs preStop if the container has one, within <paramref name="grace"/>; returns the grace left for the stop
    /// signal (at least 2 s after a hook that used it all, as the kubelet allows).</summary>
    public static async Task<int> PreStopAsync(INodeRuntime runtime, ClusterObjects objects, JsonObject pod, RuntimeContainer c, string? podIp, int grace, CancellationToken ct)
    {
        if (grace <= 0 || SpecOf(pod, c.ContainerName) is not { } spec || spec["lifecycle"]?["preStop"] is not JsonObject handler) return grace;
        var started = DateTimeOffset.UtcNow;
        var (ok, output) = await PodProber.RunHandlerAsync(runtime, spec, c, podIp, handler, TimeSpan.FromSeconds(grace), ct);
        if (!ok) Record(objects, pod, c.ContainerName, "FailedPreStopHook", "PreStop", handler, output);
        var left = grace - (int)Math.Ceiling((DateTimeOffset.UtcNow - started).TotalSeconds);
        return Math.Max(MinimumGraceSeconds, left);
    }

    private static void Record(ClusterObjects objects, JsonObject pod, string container, string reason, string hook, JsonObject handler, string output)
    {
        var meta = pod["metadata"];
        var target = $"Container \"{container}\" in Pod \"{Json.Str(meta?["name"])}_{Json.Str(meta?["namespace"])}({Json.Str(meta?["uid"])})\"";
        var what = handler["exec"]?["command"] is JsonArray command
            ? $"Exec lifecycle hook ([{string.Join(" ", command.Select(a => Json.Str(a)))}]) for {target} failed"
            : handler["httpGet"] is not null ? $"HTTP lifecycle hook ({Json.Str(handler["httpGet"]?["path"]) ?? "/"}) for {target} failed"
            : $"{hook} lifecycle hook for {target} failed";
        Events.Record(objects, pod, "Warning", reason, $"{what} - error: {output.Trim()}", "kubelet", $"spec.containers{{{container}}}");
    }
}
