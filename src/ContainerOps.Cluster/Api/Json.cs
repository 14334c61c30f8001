using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using k8s.Models;

namespace ContainerOps.Cluster.Api;

[JsonSerializable(typeof(string))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;

internal static class Json
{
    public static JsonTypeInfo<string> StringInfo => ClusterJsonContext.Default.String;

    public static string? Str(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>A string value's text, any other value as its JSON: a quantity may be written "2" or 2.</summary>
    public static string? Scalar(JsonNode? node) => Str(node) ?? node?.ToJsonString();

    public static JsonObject? Obj(JsonNode? node) => node as JsonObject;
    public static JsonArray? Arr(JsonNode? node) => node as JsonArray;

    public static JsonObject Metadata(JsonObject o)
    {
        if (o["metadata"] is JsonObject m) return m;
        m = new JsonObject();
        o["metadata"] = m;
        return m;
    }

    /// <summary>The object under <paramref name="name"/>, made (and attached) when missing.</summary>
    public static JsonObject Child(JsonObject o, string name)
    {
        if (o[name] is JsonObject c) return c;
        c = new JsonObject();
        o[name] = c;
        return c;
    }

    /// <summary>The array under <paramref name="name"/>, made (and attached) when missing.</summary>
    public static JsonArray ChildArray(JsonObject o, string name)
    {
        if (o[name] is JsonArray a) return a;
        a = new JsonArray();
        o[name] = a;
        return a;
    }

    /// <summary>A time as the API writes one (RFC 3339, UTC, whole seconds).</summary>
    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static byte[] Bytes(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, JsonContext.JsonNodeInfo);
}

internal static class JsonContext
{
    public static JsonTypeInfo<JsonNode> JsonNodeInfo => NodeContext.Default.JsonNode;
}

[JsonSerializable(typeof(JsonNode))]
internal sealed partial class NodeContext : JsonSerializerContext;

/// <summary>The client library's models of the kinds served, and only those: the library's own context describes every
/// kind it knows (several hundred), and NativeAOT keeps the type data of each in memory from the daemon's first
/// instruction, used or not (about 11 MB resident, measured). Add a kind here when <see cref="ResourceKinds"/> gains it.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(V1Namespace))]
[JsonSerializable(typeof(V1Pod))]
[JsonSerializable(typeof(V1Service))]
[JsonSerializable(typeof(V1Endpoints))]
[JsonSerializable(typeof(V1ConfigMap))]
[JsonSerializable(typeof(V1Secret))]
[JsonSerializable(typeof(V1ServiceAccount))]
[JsonSerializable(typeof(Corev1Event))]
[JsonSerializable(typeof(V1Node))]
[JsonSerializable(typeof(V1PersistentVolumeClaim))]
[JsonSerializable(typeof(V1PersistentVolume))]
[JsonSerializable(typeof(V1LimitRange))]
[JsonSerializable(typeof(V1ResourceQuota))]
[JsonSerializable(typeof(V1Deployment))]
[JsonSerializable(typeof(V1ReplicaSet))]
[JsonSerializable(typeof(V1ReplicationController))]
[JsonSerializable(typeof(V1DaemonSet))]
[JsonSerializable(typeof(V1StatefulSet))]
[JsonSerializable(typeof(V1ControllerRevision))]
[JsonSerializable(typeof(JsonElement))] // ControllerRevision.data is an object: written back as the element it was read as
[JsonSerializable(typeof(V1Job))]
[JsonSerializable(typeof(V1CronJob))]
[JsonSerializable(typeof(V2HorizontalPodAutoscaler))]
[JsonSerializable(typeof(V1HorizontalPodAutoscaler))]
[JsonSerializable(typeof(V1Lease))]
[JsonSerializable(typeof(V1EndpointSlice))]
[JsonSerializable(typeof(Eventsv1Event))]
[JsonSerializable(typeof(V1Role))]
[JsonSerializable(typeof(V1RoleBinding))]
[JsonSerializable(typeof(V1ClusterRole))]
[JsonSerializable(typeof(V1ClusterRoleBinding))]
[JsonSerializable(typeof(V1Ingress))]
[JsonSerializable(typeof(V1IngressClass))]
[JsonSerializable(typeof(V1PriorityClass))]
[JsonSerializable(typeof(V1StorageClass))]
[JsonSerializable(typeof(V1PodDisruptionBudget))]
internal sealed partial class ModelsContext : JsonSerializerContext;
