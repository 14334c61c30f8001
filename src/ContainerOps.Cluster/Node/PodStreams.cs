using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// The kubelet's streaming endpoints for the pods on this node, reached through the API's pod subresources
/// (<see cref="IPodConnections"/>): `log` with the parameters kubectl sends (container, follow, previous, tailLines,
/// sinceSeconds, sinceTime, timestamps, limitBytes), `exec` and `attach` over the remote command protocol
/// (<see cref="RemoteCommand"/>), `portforward` (<see cref="PortForward"/>). Errors say what the kubelet says, so kubectl
/// prints the same.
/// </summary>
public sealed class PodStreams(INodeRuntime runtime, string nodeName) : IPodConnections
{
    public Task ServeAsync(HttpContext ctx, JsonObject pod, string subresource)
    {
        var name = Json.Str(pod["metadata"]?["name"]) ?? "";
        var node = Json.Str(pod["spec"]?["nodeName"]);
        if (string.IsNullOrEmpty(node)) throw StatusException.BadRequest($"pod {name} does not have a host assigned");
        if (node != nodeName) throw new StatusException(503, "ServiceUnavailable", $"pod {name} runs on node {node}, which this daemon does not reach");
        return subresource switch
        {
            "log" => LogAsync(ctx, pod),
            "exec" => ExecAsync(ctx, pod, attach: false),
            "attach" => ExecAsync(ctx, pod, attach: true),
            "portforward" => PortForwardAsync(ctx, pod),
            _ => throw StatusException.MethodNotAllowed($"pods/{subresource} is not served by this node"),
        };
    }

    /// <summary>The container a request names, or the pod's only one; an error in the kubelet's words otherwise.</summary>
    internal static string ContainerName(JsonObject pod, string? requested)
    {
        var name = Json.Str(pod["metadata"]?["name"]);
        string[] Names(string list) => pod["spec"]?[list] is JsonArray a ? a.Select(c => Json.Str(c?["name"]) ?? "").ToArray() : [];
        var containers = Names("containers");
        var init = Names("initContainers");
        if (string.IsNullOrEmpty(requested))
        {
            if (containers.Length == 1) return containers[0];
            var message = $"a container name must be specified for pod {name}, choose one of: [{string.Join(" ", containers)}]";
            if (init.Length > 0) message += $" or one of the init containers: [{string.Join(" ", init)}]";
            throw StatusException.BadRequest(message);
        }
        if (!containers.Contains(requested) && !init.Contains(requested))
            throw StatusException.BadRequest($"container {requested} is not valid for pod {name}");
        return requested;
    }

    /// <summary>The engine's container for a pod container: its current run, or the one before with previous.</summary>
    private RuntimeContainer FindRun(JsonObject pod, string container, bool previous)
    {
        var uid = Json.Str(pod["metadata"]?["uid"]);
        var name = Json.Str(pod["metadata"]?["name"]);
        var runs = runtime.ListPodContainers().Where(c => c.PodUid == uid && c.ContainerName == container).OrderBy(c => c.Attempt).ToList();
        if (previous)
        {
            return runs.Count >= 2 ? runs[^2]
                : runs.Count == 1 && !runs[0].Running && !runs[0].Created && Restarted(pod, container) ? runs[0]
                : throw StatusException.BadRequest($"previous terminated container \"{container}\" in pod \"{name}\" not found");
        }
        if (runs.Count == 0 || runs[^1].Created)
        {
            var reason = StatusOf(pod, container)?["state"]?["waiting"]?["reason"] is { } r ? Json.Str(r) : "ContainerCreating";
            throw StatusException.BadRequest($"container \"{container}\" in pod \"{name}\" is waiting to start: {reason}");
        }
        return runs[^1];
    }

    private static JsonNode? StatusOf(JsonObject pod, string container) =>
        new[] { "containerStatuses", "initContainerStatuses" }
            .SelectMany(list => pod["status"]?[list] is JsonArray a ? a : [])
            .FirstOrDefault(s => Json.Str(s?["name"]) == container);

    /// <summary>A single kept run is the previous one when the container is waiting to run again.</summary>
    private static bool Restarted(JsonObject pod, string container) => StatusOf(pod, container)?["state"]?["waiting"] is not null;

    private async Task LogAsync(HttpContext ctx, JsonObject pod)
    {
        var q = ctx.Request.Query;
        static bool Flag(string? v) => v is "true" or "1";
        static long? Number(IQueryCollection q, string key, bool positive)
        {
            var text = q[key].ToString();
            if (text.Length == 0) return null;
            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < 0 || (positive && n == 0))
                throw StatusException.BadRequest($"{key}: Invalid value: \"{text}\": must be {(positive ? "greater than 0" : "0 or greater")}");
            return n;
        }
        var container = ContainerName(pod, q["container"].ToString());
        var follow = Flag(q["follow"]);
        var previous = Flag(q["previous"]);
        var timestamps = Flag(q["timestamps"]);
        var tail = Number(q, "tailLines", positive: false);
        var limit = Number(q, "limitBytes", positive: true);
        var sinceSeconds = Number(q, "sinceSeconds", positive: true);
        DateTimeOffset? since = sinceSeconds is { } s ? DateTimeOffset.UtcNow.AddSeconds(-s) : null;
        if (q["sinceTime"].ToString() is { Length: > 0 } sinceTime)
        {
            if (since is not null) throw StatusException.BadRequest("at most one of sinceTime or sinceSeconds may be specified");
            since = DateTimeOffset.TryParse(sinceTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                ? t : throw StatusException.BadRequest($"sinceTime: Invalid value: \"{sinceTime}\": not an RFC 3339 time");
        }
        var stream = q["stream"].ToString() switch
        {
            "" or "All" => null,
            "Stdout" => "stdout",
            "Stderr" => "stderr",
            var other => throw StatusException.BadRequest($"stream: Unsupported value: \"{other}\": supported values: \"All\", \"Stdout\", \"Stderr\""),
        };
        if (stream is not null && tail is not null) throw StatusException.BadRequest("tailLines and specific stream are mutually exclusive for now");
        var run = FindRun(pod, container, previous);

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain";
        var body = ctx.Response.Body;
        var written = 0L;
        var buffer = new StringBuilder();
        await foreach (var entry in runtime.ReadLogAsync(run.Id, follow && !previous, tail is { } t2 ? (int)Math.Min(t2, int.MaxValue) : null, since, ctx.RequestAborted))
        {
            if (stream is not null && entry.Stream != stream) continue;
            buffer.Clear();
            if (timestamps) buffer.Append(Rfc3339Nano(entry.Time)).Append(' ');
            buffer.Append(entry.Log);
            var bytes = Encoding.UTF8.GetBytes(buffer.ToString());
            var take = limit is { } l ? (int)Math.Min(bytes.Length, l - written) : bytes.Length;
            await body.WriteAsync(bytes.AsMemory(0, take), ctx.RequestAborted);
            written += take;
            if (follow) await body.FlushAsync(ctx.RequestAborted);
            if (limit is { } max && written >= max) break;
        }
    }

    /// <summary>exec: a command started in the container; attach: the container's own process. Both speak
    /// <see cref="RemoteCommand"/>.</summary>
    private async Task ExecAsync(HttpContext ctx, JsonObject pod, bool attach)
    {
        var q = ctx.Request.Query;
        static bool Flag(string? v) => v is "true" or "1";
        var name = Json.Str(pod["metadata"]?["name"]);
        var container = ContainerName(pod, q["container"].ToString());
        var command = q["command"].Where(c => c is not null).Select(c => c!).ToList();
        var (stdin, stdout, stderr, tty) = (Flag(q["stdin"]), Flag(q["stdout"]), Flag(q["stderr"]), Flag(q["tty"]));
        if (command.Count == 0 && !attach) throw StatusException.BadRequest("you must specify at least one command for the container");
        if (!stdin && !stdout && !stderr) throw StatusException.BadRequest("you must specify at least one of stdin, stdout, stderr");
        if (tty && stderr) throw StatusException.BadRequest("tty and stderr cannot both be true");
        var run = FindRun(pod, container, previous: false);
        if (!run.Running) throw StatusException.BadRequest($"container \"{container}\" in pod \"{name}\" is not running");
        var protocol = RemoteCommand.Negotiate(ctx);
        if (attach && stdin && LifecycleHooks.SpecOf(pod, container)?["stdin"]?.GetValue<bool>() != true)
            throw StatusException.BadRequest($"stdin is not open in container \"{container}\" of pod \"{name}\" (its spec has no stdin: true)");
        IPodExecProcess process;
        try { process = attach ? await runtime.AttachAsync(run.Id, stdin, ctx.RequestAborted) : runtime.StartExec(run.Id, command, tty); }
        catch (ContainerConfigException e) { throw StatusException.BadRequest($"{(attach ? "attach to" : "exec in")} container \"{container}\" of pod \"{name}\": {e.Message}"); }
        using (process) await RemoteCommand.RunAsync(ctx, protocol, process, stdin, stdout, stderr, tty, command);
    }

    /// <summary>portforward: each connection kubectl forwards becomes one to the port on the pod's loopback address.</summary>
    private Task PortForwardAsync(HttpContext ctx, JsonObject pod)
    {
        var uid = Json.Str(pod["metadata"]?["uid"]) ?? "";
        var hostNetwork = pod["spec"]?["hostNetwork"] is JsonValue v && v.TryGetValue<bool>(out var host) && host;
        return PortForward.ServeAsync(ctx, Json.Str(pod["metadata"]?["name"]) ?? "", uid, (port, ct) => runtime.ConnectPortAsync(uid, hostNetwork, port, ct));
    }

    /// <summary>A time as Go's RFC3339Nano writes it (UTC, trailing zeros of the fraction dropped), as the kubelet's timestamps are.</summary>
    internal static string Rfc3339Nano(DateTimeOffset time)
    {
        var text = time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture).TrimEnd('0').TrimEnd('.');
        return text + "Z";
    }
}
