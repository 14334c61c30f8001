using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// core/v1 Events about what a controller did, with Kubernetes' reasons (SuccessfulCreate, ScalingReplicaSet…).
/// The same event again (same object, type, reason and message) does not make a new Event: the first one's count
/// goes up and its lastTimestamp moves, as client-go's event correlator does. Events are worth a try, never a
/// failure: a write that fails is dropped.
/// </summary>
public sealed class EventRecorder(ClusterObjects objects, string component, TimeProvider clock)
{
    /// <summary>Events recorded, by what makes them the same: shared by every recorder, bounded.</summary>
    private static readonly ConcurrentDictionary<string, string> Recent = new();
    private const int MaxRecent = 4096;

    public void Normal(JsonObject involved, string reason, string message) => Record(involved, "Normal", reason, message);
    public void Warning(JsonObject involved, string reason, string message) => Record(involved, "Warning", reason, message);

    public void Record(JsonObject involved, string type, string reason, string message)
    {
        var meta = involved["metadata"];
        var ns = Json.Str(meta?["namespace"]) ?? "default";
        var name = Json.Str(meta?["name"]) ?? "";
        var uid = Json.Str(meta?["uid"]) ?? "";
        var now = clock.GetUtcNow();
        var stamp = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        var identity = string.Join('\n', component, ns, uid, type, reason, message);
        try
        {
            if (Recent.TryGetValue(identity, out var existing) && Bump(ns, existing, stamp)) return;
            // The API server's convention for event names: the object's name and the time in hex nanoseconds.
            var eventName = $"{name}.{(now.ToUnixTimeMilliseconds() * 1_000_000 + Random.Shared.Next(1_000_000)):x}";
            objects.Create(ResourceKinds.Event, ns, new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Event",
                ["metadata"] = new JsonObject { ["name"] = eventName },
                ["involvedObject"] = new JsonObject
                {
                    ["kind"] = Json.Str(involved["kind"]), ["apiVersion"] = Json.Str(involved["apiVersion"]), ["namespace"] = ns,
                    ["name"] = name, ["uid"] = uid, ["resourceVersion"] = Json.Str(meta?["resourceVersion"]),
                },
                ["reason"] = reason, ["message"] = message, ["type"] = type,
                ["source"] = new JsonObject { ["component"] = component },
                ["firstTimestamp"] = stamp, ["lastTimestamp"] = stamp, ["count"] = 1,
                ["reportingComponent"] = component, ["reportingInstance"] = Environment.MachineName.ToLowerInvariant(),
            }, FieldValidation.Ignore, dryRun: false, out _);
            if (Recent.Count >= MaxRecent) Recent.Clear();
            Recent[identity] = eventName;
        }
        catch (StatusException) { }
    }

    /// <summary>Counts one more of an event already recorded; false when it is gone (then a new one is made).</summary>
    private bool Bump(string ns, string eventName, string stamp)
    {
        try
        {
            objects.Update(ResourceKinds.Event, ns, eventName, null, e =>
            {
                e["count"] = (e["count"]?.GetValue<int>() ?? 1) + 1;
                e["lastTimestamp"] = stamp;
                return e;
            }, statusOnly: false, dryRun: false);
            return true;
        }
        catch (StatusException e) when (e.Code == 404) { return false; }
    }
}
