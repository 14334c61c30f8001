using System.Text.Json.Nodes;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

/// <summary>Pods through the daemon's Kubernetes API on its socket (/api/v1/…), for the cmdlets and the CLI. Kubernetes'
/// Status errors become <see cref="ContainerOpsException"/>s with its reason as the id and its message.</summary>
public static class PodRequests
{
    public static async Task<List<JsonObject>> ListPodsAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, string? fieldSelector = null, CancellationToken ct = default)
    {
        var query = new List<string>();
        if (labelSelector is { Length: > 0 }) query.Add("labelSelector=" + Uri.EscapeDataString(labelSelector));
        if (fieldSelector is { Length: > 0 }) query.Add("fieldSelector=" + Uri.EscapeDataString(fieldSelector));
        var path = (ns is null ? "api/v1/pods" : $"api/v1/namespaces/{Uri.EscapeDataString(ns)}/pods") + (query.Count > 0 ? "?" + string.Join('&', query) : "");
        var list = await CallAsync(client, HttpMethod.Get, path, null, ct);
        return (list?["items"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
    }

    public static async Task<JsonObject> GetPodAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        (JsonObject)(await CallAsync(client, HttpMethod.Get, PodPath(ns, name), null, ct))!;

    public static async Task<JsonObject> CreatePodAsync(this IContainerOpsClient client, string ns, JsonObject pod, CancellationToken ct = default) =>
        (JsonObject)(await CallAsync(client, HttpMethod.Post, $"api/v1/namespaces/{Uri.EscapeDataString(ns)}/pods", pod, ct))!;

    /// <param name="gracePeriodSeconds">null: the pod's own; 0: at once.</param>
    public static async Task<JsonObject> DeletePodAsync(this IContainerOpsClient client, string ns, string name, long? gracePeriodSeconds = null, CancellationToken ct = default)
    {
        var body = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "DeleteOptions" };
        if (gracePeriodSeconds is { } g) body["gracePeriodSeconds"] = g;
        return (JsonObject)(await CallAsync(client, HttpMethod.Delete, PodPath(ns, name), body, ct))!;
    }

    /// <summary>Evicts a pod (policy/v1 Eviction, as `kubectl drain` does): deleted if its disruption budget allows it
    /// now; otherwise a ResourceUnavailable error (TooManyRequests) to try again later.</summary>
    public static async Task EvictPodAsync(this IContainerOpsClient client, string ns, string name, long? gracePeriodSeconds = null, CancellationToken ct = default)
    {
        var eviction = new JsonObject { ["apiVersion"] = "policy/v1", ["kind"] = "Eviction", ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns } };
        if (gracePeriodSeconds is { } g) eviction["deleteOptions"] = new JsonObject { ["gracePeriodSeconds"] = g };
        await CallAsync(client, HttpMethod.Post, PodPath(ns, name) + "/eviction", eviction, ct);
    }

    /// <summary>A pod container's log, line by line (`kubectl logs`); with <paramref name="follow"/> until it stops.</summary>
    public static async IAsyncEnumerable<string> ReadPodLogAsync(this IContainerOpsClient client, string ns, string name, string? container,
        bool follow = false, int? tail = null, DateTimeOffset? since = null, bool previous = false, bool timestamps = false,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        var query = new List<string>();
        if (container is { Length: > 0 }) query.Add("container=" + Uri.EscapeDataString(container));
        if (follow) query.Add("follow=true");
        if (tail is { } t) query.Add("tailLines=" + t);
        if (since is { } s) query.Add("sinceTime=" + Uri.EscapeDataString(s.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture)));
        if (previous) query.Add("previous=true");
        if (timestamps) query.Add("timestamps=true");
        var path = PodPath(ns, name) + "/log" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
        await using var lines = client.ReadLinesAsync(path, ct).GetAsyncEnumerator(ct);
        while (true)
        {
            try { if (!await lines.MoveNextAsync()) yield break; }
            catch (ContainerOpsException e) when (StatusOf(e.Message) is { } status) { throw FromStatus(status, path, e); }
            yield return lines.Current;
        }
    }

    private static string PodPath(string ns, string name) => $"api/v1/namespaces/{Uri.EscapeDataString(ns)}/pods/{Uri.EscapeDataString(name)}";

    internal static async Task<JsonNode?> CallAsync(IContainerOpsClient client, HttpMethod method, string path, JsonNode? body, CancellationToken ct, string mediaType = "application/json")
    {
        try { return await client.SendJsonAsync(method, path, body, ct, mediaType); }
        catch (ContainerOpsException e) when (StatusOf(e.Message) is { } status) { throw FromStatus(status, path, e); }
    }

    private static ContainerOpsException FromStatus(JsonObject status, string path, ContainerOpsException e)
    {
        var code = status["code"]?.GetValue<int>() ?? 500;
        var kind = code switch
        {
            404 => ErrorKind.NotFound, 409 => ErrorKind.Conflict, 400 or 422 => ErrorKind.InvalidArgument,
            429 or 503 => ErrorKind.ResourceUnavailable, // 429: not now (an eviction a disruption budget holds back)
            _ => ErrorKind.Internal,
        };
        return new ContainerOpsException(kind, status["reason"]?.GetValue<string>() ?? "ClusterError", status["message"]?.GetValue<string>() ?? e.Message, path, inner: e);
    }

    /// <summary>The Kubernetes Status a failed call answered with ("daemon answered 404: {…}"), if it was one.</summary>
    private static JsonObject? StatusOf(string message)
    {
        var start = message.IndexOf('{');
        if (start < 0) return null;
        try { return JsonNode.Parse(message[start..]) is JsonObject o && o["kind"]?.GetValue<string>() == "Status" ? o : null; }
        catch (System.Text.Json.JsonException) { return null; }
    }
}
