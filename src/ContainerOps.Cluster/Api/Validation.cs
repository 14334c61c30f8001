using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ContainerOps.Cluster.Api;

/// <summary>What the API server checks before it stores an object, with its field paths and its wording. Never
/// changes the object.</summary>
public static partial class Validation
{
    private const string Dns1123LabelText = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    private const string Dns1123SubdomainText = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    private const string Dns1035LabelText = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    private const string QualifiedNameText = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    private const string LabelValueText = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    private const string ConfigKeyText = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex Dns1123Label();
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")] private static partial Regex Dns1123Subdomain();
    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex Dns1035Label();
    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")] private static partial Regex QualifiedName();
    [GeneratedRegex("^[-._a-zA-Z0-9]+$")] private static partial Regex ConfigKey();

    public static string? Dns1123LabelError(string s) =>
        s.Length > 63 ? "must be no more than 63 characters" : Dns1123Label().IsMatch(s) ? null : Dns1123LabelText;
    public static string? Dns1123SubdomainError(string s) =>
        s.Length > 253 ? "must be no more than 253 characters" : Dns1123Subdomain().IsMatch(s) ? null : Dns1123SubdomainText;
    public static string? Dns1035LabelError(string s) =>
        s.Length > 63 ? "must be no more than 63 characters" : Dns1035Label().IsMatch(s) ? null : Dns1035LabelText;

    /// <summary>A label or annotation key: an optional DNS subdomain prefix and '/', then a name of at most 63.</summary>
    public static string? LabelKeyError(string key)
    {
        var slash = key.IndexOf('/');
        var name = slash >= 0 ? key[(slash + 1)..] : key;
        if (slash >= 0)
        {
            var prefix = key[..slash];
            if (prefix.Length == 0) return "prefix part must be non-empty";
            if (Dns1123SubdomainError(prefix) is { } p) return "prefix part " + p;
        }
        if (name.Length == 0) return "name part must be non-empty";
        if (name.Length > 63) return "name part must be no more than 63 characters";
        return QualifiedName().IsMatch(name) ? null : QualifiedNameText;
    }

    public static string? LabelValueError(string value) =>
        value.Length > 63 ? "must be no more than 63 characters" : value.Length == 0 || QualifiedName().IsMatch(value) ? null : LabelValueText;

    /// <summary>Every error in an object about to be created (<paramref name="old"/> null) or to replace
    /// <paramref name="old"/>.</summary>
    public static List<FieldError> Validate(ResourceKind kind, JsonObject o, JsonObject? old)
    {
        var errors = new List<FieldError>();
        var meta = o["metadata"] as JsonObject ?? new JsonObject();
        var name = Json.Str(meta["name"]);
        if (string.IsNullOrEmpty(name)) errors.Add(FieldError.Required("metadata.name", "name or generateName is required"));
        else
        {
            var why = kind.Kind switch
            {
                "Namespace" => Dns1123LabelError(name),
                "Service" => Dns1035LabelError(name),
                // Role names are path segments ("system:aggregate-to-edit"), as the API server checks them.
                "Role" or "ClusterRole" or "RoleBinding" or "ClusterRoleBinding" => name is "." or ".." ? "may not be '.' or '..'"
                    : name.IndexOfAny(['/', '%']) >= 0 ? "may not contain '/' or '%'" : null,
                _ => Dns1123SubdomainError(name),
            };
            if (why is not null) errors.Add(FieldError.Invalid("metadata.name", name, why));
        }
        if (meta["labels"] is JsonObject labels)
            foreach (var (k, v) in labels)
            {
                if (LabelKeyError(k) is { } kw) errors.Add(FieldError.Invalid("metadata.labels", k, kw));
                if (Json.Str(v) is { } value && LabelValueError(value) is { } vw) errors.Add(FieldError.Invalid($"metadata.labels", value, vw));
            }
        if (meta["annotations"] is JsonObject annotations)
        {
            foreach (var (k, _) in annotations)
                if (LabelKeyError(k) is { } kw) errors.Add(FieldError.Invalid("metadata.annotations", k, kw));
            if (annotations.ToJsonString().Length > 256 * 1024) errors.Add(new FieldError("Too long", "metadata.annotations", "must have at most 262144 bytes"));
        }

        Storage.Validate(kind, o, old, errors);
        PriorityClasses.Validate(kind, o, old, errors);
        var spec = o["spec"] as JsonObject;
        switch (kind.Kind)
        {
            case "Pod":
                if (spec is null) errors.Add(FieldError.Required("spec"));
                else PodSpec(spec, "spec", errors, forJob: false);
                break;
            case "ReplicationController":
                if (spec is null) { errors.Add(FieldError.Required("spec")); break; }
                // Its selector is a map of labels: checked as the label selector it means.
                var asSet = (JsonObject)spec.DeepClone();
                asSet["selector"] = Workloads.SelectorOf(kind, spec);
                Workload(asSet, errors);
                break;
            case "Deployment" or "ReplicaSet" or "DaemonSet" or "StatefulSet":
                if (spec is null) { errors.Add(FieldError.Required("spec")); break; }
                Workload(spec, errors);
                if (kind.Kind == "StatefulSet") StatefulSet(spec, old?["spec"] as JsonObject, errors);
                if (kind.Kind == "DaemonSet") UpdateStrategy(spec, ["RollingUpdate", "OnDelete"], errors);
                if (old?["spec"]?["selector"] is JsonNode oldSelector && spec["selector"] is JsonNode newSelector && !JsonNode.DeepEquals(oldSelector, newSelector))
                    errors.Add(FieldError.InvalidRaw("spec.selector", newSelector.ToJsonString(), "field is immutable"));
                break;
            case "Job":
                if (spec is null) { errors.Add(FieldError.Required("spec")); break; }
                if (spec["template"]?["spec"] is JsonObject jobPod) PodSpec(jobPod, "spec.template.spec", errors, forJob: true);
                else errors.Add(FieldError.Required("spec.template.spec"));
                PodFailurePolicy(spec, errors);
                IndexBackoff(spec, errors);
                if (old?["spec"]?["template"] is JsonNode oldTemplate && spec["template"] is JsonNode newTemplate && !JsonNode.DeepEquals(oldTemplate, newTemplate))
                    errors.Add(FieldError.Invalid("spec.template", null, "field is immutable"));
                break;
            case "ResourceQuota":
                if (spec is not null) QuotaScopes.Validate(spec, errors);
                foreach (var (resource, value) in spec?["hard"] as JsonObject ?? [])
                    if (!Node.Quantity.TryValue(value, out _))
                        errors.Add(FieldError.Invalid($"spec.hard[{resource}]", Json.Scalar(value), "must be a quantity"));
                break;
            case "CronJob":
                if (spec is null) { errors.Add(FieldError.Required("spec")); break; }
                CronSchedule.Read(spec, out var scheduleErrors);
                errors.AddRange(scheduleErrors);
                // Its Jobs are named NAME-<11 digits>, and a Job's name must fit a label value.
                if (name is { Length: > 52 }) errors.Add(FieldError.Invalid("metadata.name", name, "must be no more than 52 characters"));
                if (spec["jobTemplate"]?["spec"]?["template"]?["spec"] is JsonObject cronPod) PodSpec(cronPod, "spec.jobTemplate.spec.template.spec", errors, forJob: true);
                else errors.Add(FieldError.Required("spec.jobTemplate.spec.template.spec"));
                if (spec["jobTemplate"]?["spec"] is JsonObject jobTemplateSpec)
                {
                    PodFailurePolicy(jobTemplateSpec, errors, "spec.jobTemplate.spec");
                    IndexBackoff(jobTemplateSpec, errors, "spec.jobTemplate.spec");
                }
                if (spec["concurrencyPolicy"] is { } policy && Json.Str(policy) is not ("Allow" or "Forbid" or "Replace"))
                    errors.Add(FieldError.Unsupported("spec.concurrencyPolicy", Json.Str(policy), ["Allow", "Forbid", "Replace"]));
                foreach (var field in new[] { "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit" })
                    if (spec[field] is JsonValue v && v.TryGetValue<long>(out var n) && n < 0)
                        errors.Add(FieldError.Invalid($"spec.{field}", n.ToString(), "must be greater than or equal to 0"));
                break;
            case "HorizontalPodAutoscaler":
                if (spec is null) { errors.Add(FieldError.Required("spec")); break; }
                if (Json.Str(spec["scaleTargetRef"]?["kind"]) is null) errors.Add(FieldError.Required("spec.scaleTargetRef.kind"));
                if (Json.Str(spec["scaleTargetRef"]?["name"]) is null) errors.Add(FieldError.Required("spec.scaleTargetRef.name"));
                var maxReplicas = spec["maxReplicas"] is JsonValue mx && mx.TryGetValue<long>(out var mxv) ? mxv : (long?)null;
                var minReplicas = spec["minReplicas"] is JsonValue mn && mn.TryGetValue<long>(out var mnv) ? mnv : 1;
                if (maxReplicas is null) errors.Add(FieldError.Required("spec.maxReplicas"));
                else if (maxReplicas < 1) errors.Add(FieldError.Invalid("spec.maxReplicas", maxReplicas.ToString(), "must be greater than or equal to 1"));
                else if (minReplicas > maxReplicas) errors.Add(FieldError.Invalid("spec.minReplicas", minReplicas.ToString(), "must be less than or equal to maxReplicas"));
                if (minReplicas < 0) errors.Add(FieldError.Invalid("spec.minReplicas", minReplicas.ToString(), "must be greater than or equal to 0"));
                break;
            case "PodDisruptionBudget":
                if (spec is null) break;
                if (spec["minAvailable"] is not null && spec["maxUnavailable"] is not null)
                    errors.Add(FieldError.Invalid("spec", null, "minAvailable and maxUnavailable cannot be both set"));
                foreach (var field in new[] { "minAvailable", "maxUnavailable" })
                {
                    if (spec[field] is not JsonValue bound) continue;
                    if (bound.TryGetValue<long>(out var count) ? count < 0 : !(Json.Str(bound) is { } text && text.EndsWith('%') && int.TryParse(text[..^1], out var percent) && percent is >= 0 and <= 100))
                        errors.Add(FieldError.Invalid($"spec.{field}", bound.ToJsonString().Trim('"'), "must be a non-negative integer or a percentage from 0% to 100%"));
                }
                if (spec["unhealthyPodEvictionPolicy"] is { } policyNode && Json.Str(policyNode) is not ("IfHealthyBudget" or "AlwaysAllow"))
                    errors.Add(FieldError.Unsupported("spec.unhealthyPodEvictionPolicy", Json.Str(policyNode), ["AlwaysAllow", "IfHealthyBudget"]));
                break;
            case "Service":
                Service(spec ?? new JsonObject(), old?["spec"] as JsonObject, errors);
                break;
            case "ConfigMap" or "Secret":
                foreach (var field in new[] { "data", "binaryData", "stringData" })
                    if (o[field] is JsonObject data)
                        foreach (var (k, _) in data)
                            if (k.Length > 253 || !ConfigKey().IsMatch(k)) errors.Add(FieldError.Invalid($"{field}[{k}]", k, ConfigKeyText));
                break;
        }
        return errors;
    }

    /// <summary>A string map as Go's %#v writes one: map[string]string{"app":"web"}.</summary>
    private static string GoMap(JsonNode? map) =>
        "map[string]string{" + string.Join(", ", (map as JsonObject ?? []).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"\"{kv.Key}\":\"{Json.Str(kv.Value)}\"")) + "}";

    private static void Workload(JsonObject spec, List<FieldError> errors)
    {
        if (spec["replicas"] is JsonValue r && r.TryGetValue<long>(out var replicas) && replicas < 0)
            errors.Add(FieldError.Invalid("spec.replicas", replicas.ToString(), "must be greater than or equal to 0"));
        var selector = spec["selector"] as JsonObject;
        if (selector is null || (selector["matchLabels"] is not JsonObject { Count: > 0 } && selector["matchExpressions"] is not JsonArray { Count: > 0 }))
            errors.Add(FieldError.Required("spec.selector"));
        var template = spec["template"] as JsonObject;
        if (template is null) { errors.Add(FieldError.Required("spec.template")); return; }
        var labels = LabelSelector.LabelsOf(template["metadata"]?["labels"]);
        if (selector is not null && !LabelSelector.FromObject(selector).Matches(labels))
            errors.Add(FieldError.InvalidRaw("spec.template.metadata.labels", GoMap(template["metadata"]?["labels"]), "`selector` does not match template `labels`"));
        if (template["spec"] is JsonObject podSpec) PodSpec(podSpec, "spec.template.spec", errors, forJob: false);
        else errors.Add(FieldError.Required("spec.template.spec"));
    }

    /// <summary>A StatefulSet's own fields; as in Kubernetes, only replicas, ordinals, the template, the update strategy,
    /// the claim retention policy and minReadySeconds may change after creation.</summary>
    private static void StatefulSet(JsonObject spec, JsonObject? old, List<FieldError> errors)
    {
        var policy = Json.Str(spec["podManagementPolicy"]);
        if (policy is not null && policy is not ("OrderedReady" or "Parallel"))
            errors.Add(FieldError.Unsupported("spec.podManagementPolicy", policy, ["OrderedReady", "Parallel"]));
        UpdateStrategy(spec, ["RollingUpdate", "OnDelete"], errors);
        if (spec["updateStrategy"]?["rollingUpdate"]?["partition"] is JsonValue pv && pv.TryGetValue<long>(out var partition) && partition < 0)
            errors.Add(FieldError.Invalid("spec.updateStrategy.rollingUpdate.partition", partition.ToString(), "must be greater than or equal to 0"));
        foreach (var field in new[] { "whenDeleted", "whenScaled" })
            if (Json.Str(spec["persistentVolumeClaimRetentionPolicy"]?[field]) is { } value && value is not ("Retain" or "Delete"))
                errors.Add(FieldError.Unsupported($"spec.persistentVolumeClaimRetentionPolicy.{field}", value, ["Retain", "Delete"]));
        var claims = spec["volumeClaimTemplates"] as JsonArray ?? [];
        var names = new HashSet<string>();
        for (var i = 0; i < claims.Count; i++)
        {
            var name = Json.Str(claims[i]?["metadata"]?["name"]);
            if (string.IsNullOrEmpty(name)) errors.Add(FieldError.Required($"spec.volumeClaimTemplates[{i}].metadata.name"));
            else if (Dns1123LabelError(name) is { } why) errors.Add(FieldError.Invalid($"spec.volumeClaimTemplates[{i}].metadata.name", name, why));
            else if (!names.Add(name)) errors.Add(FieldError.Duplicate($"spec.volumeClaimTemplates[{i}].metadata.name", name));
        }
        if (old is null) return;
        foreach (var field in new[] { "serviceName", "podManagementPolicy", "volumeClaimTemplates" })
            if (!JsonNode.DeepEquals(old[field], spec[field]))
            {
                errors.Add(FieldError.Forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
                return;
            }
    }

    private static void UpdateStrategy(JsonObject spec, string[] types, List<FieldError> errors)
    {
        if (Json.Str(spec["updateStrategy"]?["type"]) is { } type && !types.Contains(type))
            errors.Add(FieldError.Unsupported("spec.updateStrategy.type", type, types));
    }

    private static void PodSpec(JsonObject spec, string path, List<FieldError> errors, bool forJob)
    {
        if (spec["containers"] is not JsonArray { Count: > 0 } containers)
            errors.Add(FieldError.Required($"{path}.containers"));
        else Containers(containers, $"{path}.containers", errors);
        if (spec["initContainers"] is JsonArray init) Containers(init, $"{path}.initContainers", errors);
        PodSecurityContext(spec, path, errors);
        var restart = Json.Str(spec["restartPolicy"]);
        string[] allowed = forJob ? ["OnFailure", "Never"] : ["Always", "OnFailure", "Never"];
        if (restart is not null && !allowed.Contains(restart)) errors.Add(FieldError.Unsupported($"{path}.restartPolicy", restart, allowed));
        else if (restart is null && forJob) errors.Add(FieldError.Required($"{path}.restartPolicy", "valid values: \"OnFailure\", \"Never\""));
    }

    private static void Containers(JsonArray containers, string path, List<FieldError> errors)
    {
        var names = new HashSet<string>();
        for (var i = 0; i < containers.Count; i++)
        {
            var c = containers[i] as JsonObject ?? new JsonObject();
            var at = $"{path}[{i}]";
            var name = Json.Str(c["name"]);
            if (string.IsNullOrEmpty(name)) errors.Add(FieldError.Required($"{at}.name"));
            else if (Dns1123LabelError(name) is { } why) errors.Add(FieldError.Invalid($"{at}.name", name, why));
            else if (!names.Add(name)) errors.Add(FieldError.Duplicate($"{at}.name", name));
            if (string.IsNullOrWhiteSpace(Json.Str(c["image"]))) errors.Add(FieldError.Required($"{at}.image"));
            if (c["ports"] is JsonArray ports)
                for (var p = 0; p < ports.Count; p++)
                    if (ports[p]?["containerPort"] is not JsonValue cp || !cp.TryGetValue<long>(out var port) || port is < 1 or > 65535)
                        errors.Add(ports[p]?["containerPort"] is null ? FieldError.Required($"{at}.ports[{p}].containerPort")
                            : FieldError.Invalid($"{at}.ports[{p}].containerPort", ports[p]!["containerPort"]!.ToJsonString(), "must be between 1 and 65535, inclusive"));
            var pull = Json.Str(c["imagePullPolicy"]);
            if (pull is not null && pull is not ("Always" or "IfNotPresent" or "Never"))
                errors.Add(FieldError.Unsupported($"{at}.imagePullPolicy", pull, ["Always", "IfNotPresent", "Never"]));
            ContainerSecurityContext(c, at, errors);
        }
    }

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")] private static partial Regex PortName();

    private static void ServicePort(JsonArray ports, int i, string type, List<FieldError> errors)
    {
        if (ports[i] is not JsonObject p) return;
        var at = $"spec.ports[{i}]";
        var name = Json.Str(p["name"]);
        if (!string.IsNullOrEmpty(name))
        {
            if (Dns1123LabelError(name) is { } why) errors.Add(FieldError.Invalid($"{at}.name", name, why));
            else if (ports.Take(i).Any(o => Json.Str(o?["name"]) == name)) errors.Add(FieldError.Duplicate($"{at}.name", name));
        }
        var protocol = Json.Str(p["protocol"]) ?? "TCP";
        if (protocol is not ("TCP" or "UDP" or "SCTP")) errors.Add(FieldError.Unsupported($"{at}.protocol", protocol, ["SCTP", "TCP", "UDP"]));
        switch (p["targetPort"])
        {
            case JsonValue v when v.TryGetValue<long>(out var target) && target is < 1 or > 65535:
                errors.Add(FieldError.InvalidRaw($"{at}.targetPort", target.ToString(), "must be between 1 and 65535, inclusive"));
                break;
            case JsonValue v when v.TryGetValue<string>(out var targetName) && (targetName.Length > 15 || !PortName().IsMatch(targetName) || !targetName.Any(char.IsLetter)):
                errors.Add(FieldError.Invalid($"{at}.targetPort", targetName, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at most 15 characters, with at least one letter"));
                break;
        }
        if (p["nodePort"] is JsonValue np && np.TryGetValue<long>(out var nodePort) && nodePort != 0 && type is "ClusterIP" or "ExternalName")
            errors.Add(FieldError.Forbidden($"{at}.nodePort", $"may not be used when `type` is '{type}'"));
        if (type is "ClusterIP" or "NodePort" or "LoadBalancer" && ports.Take(i).OfType<JsonObject>().Any(o =>
                o["port"]?.ToJsonString() == p["port"]?.ToJsonString() && (Json.Str(o["protocol"]) ?? "TCP") == protocol))
            errors.Add(FieldError.InvalidRaw($"{at}", $"{{\"port\":{p["port"]?.ToJsonString()},\"protocol\":\"{protocol}\"}}", "duplicate port and protocol"));
    }

    private static void Service(JsonObject spec, JsonObject? oldSpec, List<FieldError> errors)
    {
        var type = Json.Str(spec["type"]) ?? "ClusterIP";
        string[] types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
        if (!types.Contains(type)) errors.Add(FieldError.Unsupported("spec.type", type, types));
        var headless = Json.Str(spec["clusterIP"]) == "None";
        if (spec["ports"] is not JsonArray { Count: > 0 } ports)
        {
            if (type != "ExternalName" && !headless) errors.Add(FieldError.Required("spec.ports"));
        }
        else
            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i]?["port"] is not JsonValue pv || !pv.TryGetValue<long>(out var port))
                    errors.Add(FieldError.Required($"spec.ports[{i}].port"));
                else if (port is < 1 or > 65535)
                    errors.Add(FieldError.Invalid($"spec.ports[{i}].port", port.ToString(), "must be between 1 and 65535, inclusive"));
                if (ports.Count > 1 && string.IsNullOrEmpty(Json.Str(ports[i]?["name"])))
                    errors.Add(FieldError.Required($"spec.ports[{i}].name"));
                ServicePort(ports, i, type, errors);
            }
        if (headless && type is "NodePort" or "LoadBalancer")
            errors.Add(FieldError.Invalid("spec.clusterIP", "None", "may not be set to 'None' for LoadBalancer or NodePort services"));
        if (Json.Str(spec["sessionAffinity"]) is { } affinity && affinity is not ("None" or "ClientIP"))
            errors.Add(FieldError.Unsupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]));
        if (type == "ExternalName" && string.IsNullOrEmpty(Json.Str(spec["externalName"])))
            errors.Add(FieldError.Required("spec.externalName"));
        var oldIp = Json.Str(oldSpec?["clusterIP"]);
        var newIp = Json.Str(spec["clusterIP"]);
        if (!string.IsNullOrEmpty(oldIp) && !string.IsNullOrEmpty(newIp) && oldIp != newIp)
            errors.Add(FieldError.Invalid("spec.clusterIP", newIp, "field is immutable"));
    }
}
