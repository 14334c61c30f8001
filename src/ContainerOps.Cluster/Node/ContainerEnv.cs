using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A container's environment as the kubelet makes it: envFrom (ConfigMaps and Secrets, with their prefix) first, then
/// env in order (value with $(VAR) references to what came before, valueFrom configMapKeyRef, secretKeyRef, fieldRef);
/// command and args get the same $(VAR) expansion. A reference to a missing object or key that is not optional is a
/// <see cref="ContainerConfigException"/> (the container waits with CreateContainerConfigError).
/// </summary>
public static class ContainerEnv
{
    public static List<KeyValuePair<string, string>> Build(ClusterObjects objects, JsonObject pod, JsonObject container, string? podIp, string hostIp)
    {
        var ns = Json.Str(pod["metadata"]?["namespace"]) ?? "default";
        var result = new List<KeyValuePair<string, string>>();
        void Set(string name, string value)
        {
            result.RemoveAll(kv => kv.Key == name);
            result.Add(new(name, value));
        }
        foreach (var source in (container["envFrom"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var prefix = Json.Str(source["prefix"]) ?? "";
            var (kind, reference) = source["configMapRef"] is JsonObject cm ? ("ConfigMap", cm) : source["secretRef"] is JsonObject s ? ("Secret", s) : (null, null);
            if (kind is null || reference is null) continue;
            var data = Data(objects, kind, ns, Json.Str(reference["name"]) ?? "", reference["optional"]?.GetValue<bool>() == true);
            foreach (var (key, value) in data) Set(prefix + key, value);
        }
        foreach (var e in (container["env"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var name = Json.Str(e["name"]) ?? "";
            if (e["valueFrom"] is JsonObject from)
            {
                if (From(objects, pod, ns, from, podIp, hostIp) is { } value) Set(name, value);
            }
            else Set(name, Expand(Json.Str(e["value"]) ?? "", result));
        }
        return result;
    }

    /// <summary>Whether a container of the pod takes environment from the ConfigMap or Secret <paramref name="name"/>
    /// (null: any of that kind).</summary>
    internal static bool Uses(JsonObject pod, string kind, string? name)
    {
        var (refField, keyField) = kind == "Secret" ? ("secretRef", "secretKeyRef") : ("configMapRef", "configMapKeyRef");
        bool Named(JsonNode? reference) => reference is JsonObject r && (name is null || Json.Str(r["name"]) == name);
        return new[] { "initContainers", "containers" }
            .SelectMany(list => (pod["spec"]?[list] as JsonArray)?.OfType<JsonObject>() ?? [])
            .Any(c => ((c["envFrom"] as JsonArray)?.OfType<JsonObject>() ?? []).Any(f => Named(f[refField]))
                      || ((c["env"] as JsonArray)?.OfType<JsonObject>() ?? []).Any(e => Named(e["valueFrom"]?[keyField])));
    }

    private static string? From(ClusterObjects objects, JsonObject pod, string ns, JsonObject from, string? podIp, string hostIp)
    {
        if (from["configMapKeyRef"] is JsonObject cm) return Key(objects, "ConfigMap", ns, cm);
        if (from["secretKeyRef"] is JsonObject secret) return Key(objects, "Secret", ns, secret);
        if (from["fieldRef"] is JsonObject field) return Field(pod, Json.Str(field["fieldPath"]) ?? "", podIp, hostIp);
        throw new ContainerConfigException("env valueFrom supports configMapKeyRef, secretKeyRef and fieldRef here");
    }

    private static string? Key(ClusterObjects objects, string kind, string ns, JsonObject reference)
    {
        var name = Json.Str(reference["name"]) ?? "";
        var key = Json.Str(reference["key"]) ?? "";
        var optional = reference["optional"]?.GetValue<bool>() == true;
        var data = Data(objects, kind, ns, name, optional);
        if (data.TryGetValue(key, out var value)) return value;
        if (optional) return null;
        throw new ContainerConfigException($"couldn't find key {key} in {kind} {ns}/{name}");
    }

    /// <summary>A ConfigMap's data (and binaryData as text) or a Secret's decoded data.</summary>
    private static Dictionary<string, string> Data(ClusterObjects objects, string kind, string ns, string name, bool optional)
    {
        var resource = kind == "Secret" ? ResourceKinds.Secret : ResourceKinds.ConfigMap;
        if (objects.Store.Get(resource.Key(ns, name)) is not { } stored)
            return optional ? [] : throw new ContainerConfigException($"{kind.ToLowerInvariant()} \"{name}\" not found");
        var o = ClusterObjects.Parse(stored.Value);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in o["data"] as JsonObject ?? [])
            result[k] = kind == "Secret" ? Encoding.UTF8.GetString(Convert.FromBase64String(Json.Str(v) ?? "")) : Json.Str(v) ?? "";
        if (kind == "ConfigMap")
            foreach (var (k, v) in o["binaryData"] as JsonObject ?? [])
                result[k] = Encoding.UTF8.GetString(Convert.FromBase64String(Json.Str(v) ?? ""));
        return result;
    }

    /// <summary>The downward API's fields for env.</summary>
    internal static string Field(JsonObject pod, string path, string? podIp, string hostIp)
    {
        string? Indexed(string prefix, string map) =>
            path.StartsWith(prefix, StringComparison.Ordinal) && path.EndsWith("']", StringComparison.Ordinal)
                ? Json.Str(pod["metadata"]?[map]?[path[prefix.Length..^2]]) ?? "" : null;
        return path switch
        {
            "metadata.name" => Json.Str(pod["metadata"]?["name"]) ?? "",
            "metadata.namespace" => Json.Str(pod["metadata"]?["namespace"]) ?? "",
            "metadata.uid" => Json.Str(pod["metadata"]?["uid"]) ?? "",
            "spec.nodeName" => Json.Str(pod["spec"]?["nodeName"]) ?? "",
            "spec.serviceAccountName" => Json.Str(pod["spec"]?["serviceAccountName"]) ?? "",
            "status.hostIP" or "status.hostIPs" => hostIp,
            "status.podIP" or "status.podIPs" => podIp ?? "",
            _ => Indexed("metadata.labels['", "labels") ?? Indexed("metadata.annotations['", "annotations")
                ?? throw new ContainerConfigException($"fieldRef {path} is not a supported field"),
        };
    }

    /// <summary>$(VAR) is replaced by VAR's value when VAR is defined, left as it is otherwise; $$ is a literal $.</summary>
    public static string Expand(string text, IReadOnlyList<KeyValuePair<string, string>> env)
    {
        if (!text.Contains('$')) return text;
        var sb = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '$' || i + 1 >= text.Length) { sb.Append(text[i]); continue; }
            if (text[i + 1] == '$') { sb.Append('$'); i++; continue; }
            if (text[i + 1] == '(' && text.IndexOf(')', i + 2) is var close and > 0)
            {
                var name = text[(i + 2)..close];
                var found = env.LastOrDefault(kv => kv.Key == name);
                if (found.Key is not null) { sb.Append(found.Value); i = close; continue; }
                sb.Append(text, i, close - i + 1);
                i = close;
                continue;
            }
            sb.Append('$');
        }
        return sb.ToString();
    }
}
