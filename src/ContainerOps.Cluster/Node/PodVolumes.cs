using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Security;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A pod's volumes as the engine is asked for them (emptyDir, hostPath, configMap, secret, downwardAPI, projected of
/// those and of service account tokens, persistentVolumeClaim as its bound volume's path), and a container's volumeMounts as host binds (with subPath and readOnly). A missing ConfigMap, Secret or
/// key that is not optional is a <see cref="ContainerConfigException"/>.
/// </summary>
public static class PodVolumes
{
    /// <summary>Each volume's host path, and whether it is read-only in every container (ConfigMap, Secret, downward
    /// API and projected volumes are, as in Kubernetes).</summary>
    public static async Task<Dictionary<string, (string Path, bool ReadOnly)>> PrepareAsync(INodeRuntime runtime, ClusterObjects objects, ServiceAccountTokens? tokens,
        JsonObject pod, string uid, CancellationToken ct)
    {
        var result = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        foreach (var v in (pod["spec"]?["volumes"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var name = Json.Str(v["name"]) ?? "";
            var volume = PodSecurity.WithFsGroup(pod, Describe(objects, tokens, pod, v, name));
            var readOnly = volume.Kind == PodVolumeKind.Files || v["persistentVolumeClaim"]?["readOnly"]?.GetValue<bool>() == true;
            result[name] = (await runtime.PrepareVolumeAsync(uid, volume, ct), readOnly);
        }
        return result;
    }

    /// <summary>Whether a volume of the pod is made of the ConfigMap or Secret <paramref name="name"/> (null: any of that
    /// kind), or, for kind "Pod", of the pod's own labels or annotations.</summary>
    internal static bool Uses(JsonObject pod, string kind, string? name) =>
        ((pod["spec"]?["volumes"] as JsonArray)?.OfType<JsonObject>() ?? []).Any(v => VolumeUses(v, kind, name));

    private static bool VolumeUses(JsonObject volume, string kind, string? name)
    {
        bool Named(JsonNode? reference, string field) => reference is JsonObject r && (name is null || Json.Str(r[field]) == name);
        // Labels and annotations, whole or one of them (metadata.labels['app']), are what can change in a running pod.
        bool ReadsLabelsOrAnnotations(JsonNode? source) => ((source?["items"] as JsonArray)?.OfType<JsonObject>() ?? [])
            .Any(i => Json.Str(i["fieldRef"]?["fieldPath"]) is { } path && (path.StartsWith("metadata.labels", StringComparison.Ordinal) || path.StartsWith("metadata.annotations", StringComparison.Ordinal)));
        var sources = (volume["projected"]?["sources"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        return kind switch
        {
            "ConfigMap" => Named(volume["configMap"], "name") || sources.Any(s => Named(s["configMap"], "name")),
            "Secret" => Named(volume["secret"], "secretName") || sources.Any(s => Named(s["secret"], "name")),
            "Pod" => ReadsLabelsOrAnnotations(volume["downwardAPI"]) || sources.Any(s => ReadsLabelsOrAnnotations(s["downwardAPI"])),
            "ServiceAccountToken" => sources.Any(s => s["serviceAccountToken"] is JsonObject),
            _ => false,
        };
    }

    /// <summary>Writes again the pod's volumes made of the <paramref name="changed"/> sources (see <see cref="Uses"/>);
    /// returns why any could not be (it is left as it was).</summary>
    public static async Task<List<string>> RewriteAsync(INodeRuntime runtime, ClusterObjects objects, ServiceAccountTokens? tokens, JsonObject pod, string uid,
        IReadOnlyCollection<(string Kind, string? Name)> changed, CancellationToken ct)
    {
        var problems = new List<string>();
        foreach (var v in (pod["spec"]?["volumes"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            if (!changed.Any(c => VolumeUses(v, c.Kind, c.Name))) continue;
            var name = Json.Str(v["name"]) ?? "";
            try { await runtime.PrepareVolumeAsync(uid, PodSecurity.WithFsGroup(pod, Describe(objects, tokens, pod, v, name)), ct); }
            catch (ContainerConfigException e) { problems.Add($"volume {name} is left as it was: {e.Message}"); }
        }
        return problems;
    }

    private static PodVolume Describe(ClusterObjects objects, ServiceAccountTokens? tokens, JsonObject pod, JsonObject v, string name)
    {
        var ns = Json.Str(pod["metadata"]?["namespace"]) ?? "default";
        if (v["emptyDir"] is JsonObject empty)
            return new PodVolume(name, PodVolumeKind.EmptyDir, Memory: Json.Str(empty["medium"]) == "Memory",
                SizeLimit: Json.Str(empty["sizeLimit"]) is { } size ? Quantity.Bytes(size) : 0);
        if (v["hostPath"] is JsonObject host)
            return new PodVolume(name, PodVolumeKind.HostPath, Path: Json.Str(host["path"]), HostPathType: Json.Str(host["type"]) ?? "");
        if (v["configMap"] is JsonObject cm) return Files(name, false, Source(objects, ns, "ConfigMap", cm, Mode(cm["defaultMode"])));
        if (v["secret"] is JsonObject secret)
        {
            var reference = new JsonObject { ["name"] = Json.Str(secret["secretName"]), ["items"] = secret["items"]?.DeepClone(), ["optional"] = secret["optional"]?.DeepClone() };
            return Files(name, true, Source(objects, ns, "Secret", reference, Mode(secret["defaultMode"])));
        }
        if (v["downwardAPI"] is JsonObject downward) return Files(name, false, Downward(pod, downward["items"] as JsonArray, Mode(downward["defaultMode"])));
        if (v["projected"] is JsonObject projected)
        {
            var mode = Mode(projected["defaultMode"]);
            var files = new List<(string, byte[], int)>();
            var secretSeen = false;
            foreach (var s in (projected["sources"] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                if (s["configMap"] is JsonObject pcm) files.AddRange(Source(objects, ns, "ConfigMap", pcm, mode));
                if (s["secret"] is JsonObject ps) { files.AddRange(Source(objects, ns, "Secret", ps, mode)); secretSeen = true; }
                if (s["downwardAPI"] is JsonObject pd) files.AddRange(Downward(pod, pd["items"] as JsonArray, mode));
                if (s["serviceAccountToken"] is JsonObject pt) { files.Add((Json.Str(pt["path"]) ?? "token", Token(objects, tokens, pod, pt), mode)); secretSeen = true; }
            }
            return Files(name, secretSeen, files);
        }
        if (v["persistentVolumeClaim"] is JsonObject claim)
        {
            // The bound volume's directory on this node, bound like a hostPath.
            var (path, type) = PodClaims.VolumePath(objects, ns, Json.Str(claim["claimName"]) ?? "");
            return new PodVolume(name, PodVolumeKind.HostPath, Path: path, HostPathType: type);
        }
        throw new ContainerConfigException($"volume {name}: only emptyDir, hostPath, configMap, secret, downwardAPI, projected and persistentVolumeClaim volumes are supported on this node");
    }

    /// <summary>The lifetime of the shortest-lived service account token the pod's volumes hold, or null for none: the
    /// node writes a new one when 80 % of it has passed, as the kubelet does.</summary>
    public static TimeSpan? TokenLifetime(JsonObject pod) =>
        ((pod["spec"]?["volumes"] as JsonArray)?.OfType<JsonObject>() ?? [])
            .SelectMany(v => (v["projected"]?["sources"] as JsonArray)?.OfType<JsonObject>() ?? [])
            .Select(s => s["serviceAccountToken"]).OfType<JsonObject>()
            .Select(t => (TimeSpan?)TimeSpan.FromSeconds(t["expirationSeconds"] is JsonValue e && e.TryGetValue<long>(out var seconds) ? seconds : Authentication.DefaultExpirationSeconds))
            .Min();

    /// <summary>A token of the pod's service account, bound to the pod (it dies with it), for the source's audience.</summary>
    private static byte[] Token(ClusterObjects objects, ServiceAccountTokens? tokens, JsonObject pod, JsonObject source)
    {
        if (tokens is null) throw new ContainerConfigException("a serviceAccountToken volume source needs a server that issues tokens, and this one does not");
        var meta = pod["metadata"]!;
        var spec = new JsonObject
        {
            ["boundObjectRef"] = new JsonObject { ["kind"] = "Pod", ["apiVersion"] = "v1", ["name"] = Json.Str(meta["name"]), ["uid"] = Json.Str(meta["uid"]) },
        };
        if (source["expirationSeconds"] is { } expiration) spec["expirationSeconds"] = expiration.DeepClone();
        if (Json.Str(source["audience"]) is { Length: > 0 } audience) spec["audiences"] = new JsonArray(audience);
        try
        {
            var answer = Authentication.RequestToken(objects, tokens, Json.Str(meta["namespace"]) ?? "default",
                Json.Str(pod["spec"]?["serviceAccountName"]) ?? "default", new JsonObject { ["spec"] = spec }, DateTimeOffset.UtcNow);
            return Encoding.UTF8.GetBytes(Json.Str(answer["status"]?["token"]) ?? "");
        }
        catch (StatusException e) { throw new ContainerConfigException($"service account token: {e.Message}"); }
    }

    private static PodVolume Files(string name, bool memory, List<(string, byte[], int)> files) => new(name, PodVolumeKind.Files, Memory: memory, Files: files);

    private static int Mode(JsonNode? node) => node is JsonValue v && v.TryGetValue<int>(out var m) ? m : Convert.ToInt32("644", 8);

    /// <summary>A ConfigMap's or Secret's keys as files (all, or the items asked for, at their paths and modes).</summary>
    private static List<(string, byte[], int)> Source(ClusterObjects objects, string ns, string kind, JsonObject reference, int mode)
    {
        var name = Json.Str(reference["name"]) ?? "";
        var optional = reference["optional"]?.GetValue<bool>() == true;
        var resource = kind == "Secret" ? ResourceKinds.Secret : ResourceKinds.ConfigMap;
        if (objects.Store.Get(resource.Key(ns, name)) is not { } stored)
            return optional ? [] : throw new ContainerConfigException($"{kind.ToLowerInvariant()} \"{name}\" not found");
        var o = ClusterObjects.Parse(stored.Value);
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (k, v) in o["data"] as JsonObject ?? [])
            data[k] = kind == "Secret" ? Convert.FromBase64String(Json.Str(v) ?? "") : Encoding.UTF8.GetBytes(Json.Str(v) ?? "");
        foreach (var (k, v) in o["binaryData"] as JsonObject ?? []) data[k] = Convert.FromBase64String(Json.Str(v) ?? "");
        if (reference["items"] is not JsonArray items) return data.Select(kv => (kv.Key, kv.Value, mode)).ToList();
        var files = new List<(string, byte[], int)>();
        foreach (var item in items.OfType<JsonObject>())
        {
            var key = Json.Str(item["key"]) ?? "";
            if (!data.TryGetValue(key, out var content))
            {
                if (optional) continue;
                throw new ContainerConfigException($"couldn't find key {key} in {kind} {ns}/{name}");
            }
            files.Add((Json.Str(item["path"]) ?? key, content, item["mode"] is { } m ? Mode(m) : mode));
        }
        return files;
    }

    private static List<(string, byte[], int)> Downward(JsonObject pod, JsonArray? items, int mode)
    {
        var files = new List<(string, byte[], int)>();
        foreach (var item in items?.OfType<JsonObject>() ?? [])
        {
            var path = Json.Str(item["path"]) ?? "";
            string text;
            if (item["fieldRef"] is JsonObject field)
            {
                var fieldPath = Json.Str(field["fieldPath"]) ?? "";
                // Whole maps are written one key="value" per line, as the kubelet writes them.
                text = fieldPath is "metadata.labels" or "metadata.annotations"
                    ? string.Concat(((pod["metadata"]?[fieldPath["metadata.".Length..]] as JsonObject) ?? []).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{Json.Str(kv.Value)}\"\n")).TrimEnd('\n')
                    : ContainerEnv.Field(pod, fieldPath, Json.Str(pod["status"]?["podIP"]), Json.Str(pod["status"]?["hostIP"]) ?? "");
            }
            else if (item["resourceFieldRef"] is JsonObject resource) text = ResourceField(pod, resource);
            else continue;
            files.Add((path, Encoding.UTF8.GetBytes(text), item["mode"] is { } m ? Mode(m) : mode));
        }
        return files;
    }

    /// <summary>limits.cpu/memory, requests.cpu/memory of a container, in the divisor's unit (1 by default).</summary>
    internal static string ResourceField(JsonObject pod, JsonObject reference)
    {
        var container = (pod["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["name"]) == Json.Str(reference["containerName"]))
            ?? (pod["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
        var resource = Json.Str(reference["resource"]) ?? "";
        var parts = resource.Split('.');
        var value = parts.Length == 2 ? container?["resources"]?[parts[0]]?[parts[1]] : null;
        var divisor = reference["divisor"] is { } d ? Quantity.Value(Json.Str(d) ?? d.ToString()) : 1m;
        var amount = value is null ? 0m : Quantity.Value(Json.Str(value) ?? value.ToString());
        if (divisor == 0) divisor = 1;
        return Math.Ceiling(amount / divisor).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A container's volumeMounts as binds of the prepared volumes (subPath below the volume's directory).</summary>
    public static List<PodMount> Mounts(JsonObject container, IReadOnlyDictionary<string, (string Path, bool ReadOnly)> volumes)
    {
        var result = new List<PodMount>();
        foreach (var m in (container["volumeMounts"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var name = Json.Str(m["name"]) ?? "";
            if (!volumes.TryGetValue(name, out var volume))
                throw new ContainerConfigException($"volumeMount {name}: the pod has no volume {name}");
            var host = volume.Path;
            var sub = Json.Str(m["subPath"]);
            if (sub is { Length: > 0 })
            {
                if (sub.StartsWith('/') || sub.Split('/').Contains(".."))
                    throw new ContainerConfigException($"volumeMount {name}: subPath \"{sub}\" must be a relative path inside the volume");
                host = Path.Combine(host, sub);
                if (!File.Exists(host) && !Directory.Exists(host)) Directory.CreateDirectory(host);
            }
            result.Add(new PodMount(host, Json.Str(m["mountPath"]) ?? "", volume.ReadOnly || m["readOnly"]?.GetValue<bool>() == true));
        }
        return result;
    }
}
