using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>The `Table` rendering (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`) with the columns kubectl shows
/// for each kind; kinds without their own columns get NAME and AGE.</summary>
public static class Tables
{
    private sealed record Column(string Name, string Type, Func<JsonObject, DateTimeOffset, JsonNode?> Cell, int Priority = 0, string Format = "");

    private static readonly Column NameColumn = new("Name", "string", (o, _) => Json.Str(o["metadata"]?["name"]), Format: "name");
    private static readonly Column AgeColumn = new("Age", "string", (o, now) => Age(o, now));

    /// <summary>A ReplicaSet's columns, and a ReplicationController's.</summary>
    private static readonly Column[] ReplicaColumns =
    [
        NameColumn,
        new("Desired", "integer", (o, _) => Int(o["spec"]?["replicas"])),
        new("Current", "integer", (o, _) => Int(o["status"]?["replicas"])),
        new("Ready", "integer", (o, _) => Int(o["status"]?["readyReplicas"])),
        AgeColumn,
    ];

    private static readonly Dictionary<string, Column[]> ByKind = new()
    {
        ["Pod"] =
        [
            NameColumn,
            new("Ready", "string", (o, _) => $"{(o["status"]?["containerStatuses"] as JsonArray)?.Count(c => c?["ready"]?.GetValue<bool>() == true) ?? 0}/{(o["spec"]?["containers"] as JsonArray)?.Count ?? 0}"),
            new("Status", "string", (o, _) => o["metadata"]?["deletionTimestamp"] is not null ? "Terminating" : Json.Str(o["status"]?["reason"]) ?? Json.Str(o["status"]?["phase"]) ?? "Pending"),
            new("Restarts", "string", (o, _) => ((o["status"]?["containerStatuses"] as JsonArray)?.Sum(c => c?["restartCount"]?.GetValue<int>() ?? 0) ?? 0).ToString()),
            AgeColumn,
            new("IP", "string", (o, _) => Json.Str(o["status"]?["podIP"]) ?? "<none>", 1),
            new("Node", "string", (o, _) => Json.Str(o["spec"]?["nodeName"]) ?? "<none>", 1),
            new("Nominated Node", "string", (o, _) => Json.Str(o["status"]?["nominatedNodeName"]) ?? "<none>", 1),
            new("Readiness Gates", "string", (o, _) => "<none>", 1),
        ],
        ["Deployment"] =
        [
            NameColumn,
            new("Ready", "string", (o, _) => $"{Int(o["status"]?["readyReplicas"])}/{Int(o["spec"]?["replicas"])}"),
            new("Up-to-date", "integer", (o, _) => Int(o["status"]?["updatedReplicas"])),
            new("Available", "integer", (o, _) => Int(o["status"]?["availableReplicas"])),
            AgeColumn,
            new("Containers", "string", (o, _) => Join(o["spec"]?["template"]?["spec"]?["containers"], "name"), 1),
            new("Images", "string", (o, _) => Join(o["spec"]?["template"]?["spec"]?["containers"], "image"), 1),
            new("Selector", "string", (o, _) => Selector(o["spec"]?["selector"]?["matchLabels"]), 1),
        ],
        ["ReplicationController"] = ReplicaColumns,
        ["ReplicaSet"] = ReplicaColumns,
        ["StatefulSet"] =
        [
            NameColumn,
            new("Ready", "string", (o, _) => $"{Int(o["status"]?["readyReplicas"])}/{Int(o["spec"]?["replicas"])}"),
            AgeColumn,
            new("Containers", "string", (o, _) => Join(o["spec"]?["template"]?["spec"]?["containers"], "name"), 1),
            new("Images", "string", (o, _) => Join(o["spec"]?["template"]?["spec"]?["containers"], "image"), 1),
        ],
        ["DaemonSet"] =
        [
            NameColumn,
            new("Desired", "integer", (o, _) => Int(o["status"]?["desiredNumberScheduled"])),
            new("Current", "integer", (o, _) => Int(o["status"]?["currentNumberScheduled"])),
            new("Ready", "integer", (o, _) => Int(o["status"]?["numberReady"])),
            new("Up-to-date", "integer", (o, _) => Int(o["status"]?["updatedNumberScheduled"])),
            new("Available", "integer", (o, _) => Int(o["status"]?["numberAvailable"])),
            new("Node Selector", "string", (o, _) => o["spec"]?["template"]?["spec"]?["nodeSelector"] is JsonObject { Count: > 0 } ns ? Selector(ns) : "<none>"),
            AgeColumn,
            new("Containers", "string", (o, _) => Join(o["spec"]?["template"]?["spec"]?["containers"], "name"), 1),
            new("Images", "string", (o, _) => Join(o["spec"]?["template"]?["spec"]?["containers"], "image"), 1),
        ],
        ["Service"] =
        [
            NameColumn,
            new("Type", "string", (o, _) => Json.Str(o["spec"]?["type"]) ?? "ClusterIP"),
            new("Cluster-IP", "string", (o, _) => Json.Str(o["spec"]?["clusterIP"]) ?? "<none>"),
            new("External-IP", "string", (o, _) => Json.Str(o["spec"]?["externalName"]) ?? "<none>"),
            new("Port(s)", "string", (o, _) => (o["spec"]?["ports"] as JsonArray)?.OfType<JsonObject>()
                .Select(p => $"{p["port"]}{(p["nodePort"] is { } np ? ":" + np : "")}/{Json.Str(p["protocol"]) ?? "TCP"}").DefaultIfEmpty("<none>").Aggregate((a, b) => a + "," + b)),
            AgeColumn,
            new("Selector", "string", (o, _) => Selector(o["spec"]?["selector"]), 1),
        ],
        ["Namespace"] = [NameColumn, new("Status", "string", (o, _) => Json.Str(o["status"]?["phase"]) ?? "Active"), AgeColumn],
        ["PodDisruptionBudget"] =
        [
            NameColumn,
            new("Min Available", "string", (o, _) => o["spec"]?["minAvailable"] is { } min ? min.ToJsonString().Trim('"') : "N/A"),
            new("Max Unavailable", "string", (o, _) => o["spec"]?["maxUnavailable"] is { } max ? max.ToJsonString().Trim('"') : "N/A"),
            new("Allowed Disruptions", "integer", (o, _) => Int(o["status"]?["disruptionsAllowed"])),
            AgeColumn,
        ],
        ["Node"] =
        [
            NameColumn,
            new("Status", "string", (o, _) => NodeStatus(o)),
            new("Roles", "string", (o, _) => (o["metadata"]?["labels"] as JsonObject)?.Select(l => l.Key).Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal))
                .Select(k => k["node-role.kubernetes.io/".Length..]).DefaultIfEmpty("<none>").Aggregate((a, b) => a + "," + b) ?? "<none>"),
            AgeColumn,
            new("Version", "string", (o, _) => Json.Str(o["status"]?["nodeInfo"]?["kubeletVersion"]) ?? ""),
            new("Internal-IP", "string", (o, _) => Address(o, "InternalIP"), 1),
            new("External-IP", "string", (o, _) => Address(o, "ExternalIP"), 1),
            new("OS-Image", "string", (o, _) => Json.Str(o["status"]?["nodeInfo"]?["osImage"]) ?? "<unknown>", 1),
            new("Kernel-Version", "string", (o, _) => Json.Str(o["status"]?["nodeInfo"]?["kernelVersion"]) ?? "<unknown>", 1),
            new("Container-Runtime", "string", (o, _) => Json.Str(o["status"]?["nodeInfo"]?["containerRuntimeVersion"]) ?? "<unknown>", 1),
        ],
        // core/v1 and events.k8s.io/v1 events (the latter name their fields note, regarding, deprecated…), as kubectl
        // shows them: the name only with -o wide.
        ["Event"] =
        [
            new("Last Seen", "string", (o, now) => Since(o["lastTimestamp"] ?? o["deprecatedLastTimestamp"] ?? o["eventTime"] ?? o["metadata"]?["creationTimestamp"], now, "<unknown>")),
            new("Type", "string", (o, _) => Json.Str(o["type"])),
            new("Reason", "string", (o, _) => Json.Str(o["reason"])),
            new("Object", "string", (o, _) => (o["involvedObject"] ?? o["regarding"]) is { } about ? $"{Json.Str(about["kind"])?.ToLowerInvariant()}/{Json.Str(about["name"])}" : ""),
            new("Subobject", "string", (o, _) => Json.Str((o["involvedObject"] ?? o["regarding"])?["fieldPath"]) ?? "", 1),
            new("Source", "string", (o, _) => Json.Str(o["source"]?["component"]) ?? Json.Str(o["reportingController"]) ?? Json.Str(o["reportingComponent"]) ?? "", 1),
            new("Message", "string", (o, _) => Json.Str(o["message"]) ?? Json.Str(o["note"])),
            new("First Seen", "string", (o, now) => Since(o["firstTimestamp"] ?? o["deprecatedFirstTimestamp"] ?? o["eventTime"], now, "<unknown>"), 1),
            new("Count", "integer", (o, _) => Math.Max(1, Int(o["count"] ?? o["deprecatedCount"] ?? o["series"]?["count"])), 1),
            new("Name", "string", (o, _) => Json.Str(o["metadata"]?["name"]), 1, "name"),
        ],
        ["ConfigMap"] = [NameColumn, new("Data", "integer", (o, _) => (o["data"] as JsonObject)?.Count + (o["binaryData"] as JsonObject)?.Count ?? (o["data"] as JsonObject)?.Count ?? 0), AgeColumn],
        ["Secret"] = [NameColumn, new("Type", "string", (o, _) => Json.Str(o["type"]) ?? "Opaque"), new("Data", "integer", (o, _) => (o["data"] as JsonObject)?.Count ?? 0), AgeColumn],
        ["ServiceAccount"] = [NameColumn, new("Secrets", "integer", (o, _) => (o["secrets"] as JsonArray)?.Count ?? 0), AgeColumn],
        ["Job"] =
        [
            NameColumn,
            new("Status", "string", (o, _) => Int(o["status"]?["succeeded"]) >= Int(o["spec"]?["completions"]) ? "Complete" : "Running"),
            new("Completions", "string", (o, _) => $"{Int(o["status"]?["succeeded"])}/{Int(o["spec"]?["completions"])}"),
            new("Duration", "string", (o, _) => ""),
            AgeColumn,
        ],
        ["CronJob"] =
        [
            NameColumn,
            new("Schedule", "string", (o, _) => Json.Str(o["spec"]?["schedule"])),
            new("Timezone", "string", (o, _) => Json.Str(o["spec"]?["timeZone"]) ?? "<none>"),
            // A boolean column whose cells are "True"/"False", as the API server prints them.
            new("Suspend", "boolean", (o, _) => o["spec"]?["suspend"] is JsonValue v && v.TryGetValue<bool>(out var suspended) && suspended ? "True" : "False"),
            new("Active", "integer", (o, _) => (o["status"]?["active"] as JsonArray)?.Count ?? 0),
            new("Last Schedule", "string", (o, now) => Since(o["status"]?["lastScheduleTime"], now)),
            AgeColumn,
        ],
        ["HorizontalPodAutoscaler"] =
        [
            NameColumn,
            new("Reference", "string", (o, _) => $"{Json.Str(o["spec"]?["scaleTargetRef"]?["kind"])}/{Json.Str(o["spec"]?["scaleTargetRef"]?["name"])}"),
            new("Targets", "string", (o, _) => HpaTargets(o)),
            new("MinPods", "string", (o, _) => o["spec"]?["minReplicas"] is { } min ? min.ToJsonString() : "<unset>"),
            new("MaxPods", "integer", (o, _) => Int(o["spec"]?["maxReplicas"])),
            new("Replicas", "integer", (o, _) => Int(o["status"]?["currentReplicas"])),
            AgeColumn,
        ],
        ["ResourceQuota"] =
        [
            NameColumn,
            AgeColumn,
            new("Request", "string", (o, _) => QuotaCell(o, limits: false)),
            new("Limit", "string", (o, _) => QuotaCell(o, limits: true)),
        ],
        ["LimitRange"] =
        [
            NameColumn,
            new("Created At", "date", (o, _) => Json.Str(o["metadata"]?["creationTimestamp"]) ?? ""),
        ],
        ["PersistentVolumeClaim"] =
        [
            NameColumn,
            new("Status", "string", (o, _) => o["metadata"]?["deletionTimestamp"] is not null ? "Terminating" : Json.Str(o["status"]?["phase"]) ?? "Pending"),
            new("Volume", "string", (o, _) => Json.Str(o["spec"]?["volumeName"]) ?? ""),
            new("Capacity", "string", (o, _) => Json.Str(o["status"]?["capacity"]?["storage"]) ?? ""),
            new("Access Modes", "string", (o, _) => AccessModes(o["status"]?["accessModes"])),
            new("StorageClass", "string", (o, _) => Json.Str(o["spec"]?["storageClassName"]) ?? "<unset>"),
            new("VolumeAttributesClass", "string", (o, _) => Json.Str(o["spec"]?["volumeAttributesClassName"]) ?? "<unset>"),
            AgeColumn,
            new("VolumeMode", "string", (o, _) => Json.Str(o["spec"]?["volumeMode"]) ?? "Filesystem", 1),
        ],
        ["PersistentVolume"] =
        [
            NameColumn,
            new("Capacity", "string", (o, _) => Json.Str(o["spec"]?["capacity"]?["storage"]) ?? ""),
            new("Access Modes", "string", (o, _) => AccessModes(o["spec"]?["accessModes"])),
            new("Reclaim Policy", "string", (o, _) => Json.Str(o["spec"]?["persistentVolumeReclaimPolicy"]) ?? ""),
            new("Status", "string", (o, _) => o["metadata"]?["deletionTimestamp"] is not null ? "Terminating" : Json.Str(o["status"]?["phase"]) ?? ""),
            new("Claim", "string", (o, _) => o["spec"]?["claimRef"] is JsonObject r ? $"{Json.Str(r["namespace"])}/{Json.Str(r["name"])}" : ""),
            new("StorageClass", "string", (o, _) => Json.Str(o["spec"]?["storageClassName"]) ?? ""),
            new("VolumeAttributesClass", "string", (o, _) => Json.Str(o["spec"]?["volumeAttributesClassName"]) ?? "<unset>"),
            new("Reason", "string", (o, _) => Json.Str(o["status"]?["reason"]) ?? ""),
            AgeColumn,
            new("VolumeMode", "string", (o, _) => Json.Str(o["spec"]?["volumeMode"]) ?? "Filesystem", 1),
        ],
        ["StorageClass"] =
        [
            new("Name", "string", (o, _) => Json.Str(o["metadata"]?["name"]) + (Storage.IsDefault(o) ? " (default)" : ""), Format: "name"),
            new("Provisioner", "string", (o, _) => Json.Str(o["provisioner"])),
            new("ReclaimPolicy", "string", (o, _) => Json.Str(o["reclaimPolicy"]) ?? "Delete"),
            new("VolumeBindingMode", "string", (o, _) => Json.Str(o["volumeBindingMode"]) ?? "Immediate"),
            new("AllowVolumeExpansion", "string", (o, _) => o["allowVolumeExpansion"] is JsonValue v && v.TryGetValue<bool>(out var b) && b ? "true" : "false"),
            AgeColumn,
        ],
        ["Ingress"] =
        [
            NameColumn,
            new("Class", "string", (o, _) => Json.Str(o["spec"]?["ingressClassName"]) ?? "<none>"),
            new("Hosts", "string", (o, _) => (o["spec"]?["rules"] as JsonArray)?.OfType<JsonObject>().Select(r => Json.Str(r["host"]) ?? "*")
                .DefaultIfEmpty("*").Aggregate((a, b) => a + "," + b)),
            new("Address", "string", (o, _) => (o["status"]?["loadBalancer"]?["ingress"] as JsonArray)?.OfType<JsonObject>()
                .Select(i => Json.Str(i["ip"]) ?? Json.Str(i["hostname"])).OfType<string>().DefaultIfEmpty("").Aggregate((a, b) => a + "," + b) ?? ""),
            new("Ports", "string", (o, _) => o["spec"]?["tls"] is JsonArray { Count: > 0 } ? "80, 443" : "80"),
            AgeColumn,
        ],
        ["IngressClass"] = [NameColumn, new("Controller", "string", (o, _) => Json.Str(o["spec"]?["controller"])), new("Parameters", "string", (o, _) => "<none>"), AgeColumn],
        ["PriorityClass"] =
        [
            NameColumn,
            new("Value", "integer", (o, _) => o["value"]?.GetValue<long>() ?? 0),
            new("Global-Default", "boolean", (o, _) => o["globalDefault"]?.GetValue<bool>() == true),
            AgeColumn,
            new("PreemptionPolicy", "string", (o, _) => Json.Str(o["preemptionPolicy"]) ?? "PreemptLowerPriority"),
        ],
        ["Role"] = [NameColumn, new("Created At", "string", (o, _) => Json.Str(o["metadata"]?["creationTimestamp"]))],
        ["ClusterRole"] = [NameColumn, new("Created At", "string", (o, _) => Json.Str(o["metadata"]?["creationTimestamp"]))],
        ["RoleBinding"] = [NameColumn, new("Role", "string", (o, _) => $"{Json.Str(o["roleRef"]?["kind"])}/{Json.Str(o["roleRef"]?["name"])}"), AgeColumn],
        ["ClusterRoleBinding"] = [NameColumn, new("Role", "string", (o, _) => $"{Json.Str(o["roleRef"]?["kind"])}/{Json.Str(o["roleRef"]?["name"])}"), AgeColumn],
    };

    /// <summary>The printer's TARGETS: "cpu: 20%/50%" per resource metric (current "<unknown>" until measured), at most
    /// two, then "+ N more...".</summary>
    private static string HpaTargets(JsonObject hpa)
    {
        var metrics = (hpa["spec"]?["metrics"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        if (metrics.Count == 0) return "<none>";
        var current = (hpa["status"]?["currentMetrics"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var shown = metrics.Take(2).Select(m =>
        {
            var type = Json.Str(m["type"]);
            if (type is not ("Resource" or "ContainerResource")) return $"{type}: <unknown>";
            var key = type == "Resource" ? "resource" : "containerResource";
            var name = Json.Str(m[key]?["name"]);
            var target = m[key]?["target"];
            var now = current.FirstOrDefault(c => Json.Str(c["type"]) == type && Json.Str(c[key]?["name"]) == name)?[key]?["current"];
            return target?["averageUtilization"] is { } percent
                ? $"{name}: {(now?["averageUtilization"] is { } u ? u.ToJsonString() + "%" : "<unknown>")}/{percent.ToJsonString()}%"
                : $"{name}: {Json.Str(now?["averageValue"]) ?? "<unknown>"}/{Json.Str(target?["averageValue"]) ?? Json.Str(target?["value"])}";
        });
        var text = string.Join(", ", shown);
        return metrics.Count > 2 ? $"{text} + {metrics.Count - 2} more..." : text;
    }

    /// <summary>kubectl's short access modes: RWO, ROX, RWX, RWOP.</summary>
    private static string AccessModes(JsonNode? modes) =>
        string.Join(",", (modes as JsonArray)?.Select(m => Json.Str(m) switch
        {
            "ReadWriteOnce" => "RWO", "ReadOnlyMany" => "ROX", "ReadWriteMany" => "RWX", "ReadWriteOncePod" => "RWOP", var other => other,
        }) ?? []);

    /// <summary>kubectl's quota cell: "RESOURCE: USED/HARD, …" over the hard resources, sorted, limits.* in their own column.</summary>
    private static string QuotaCell(JsonObject quota, bool limits)
    {
        var hard = (quota["spec"]?["hard"] as JsonObject ?? []).Select(kv => kv.Key)
            .Where(r => r.StartsWith("limits.", StringComparison.Ordinal) == limits).OrderBy(r => r, StringComparer.Ordinal);
        string Amount(string field, string resource) => Json.Scalar(quota["status"]?[field]?[resource]) ?? "0";
        return string.Join(", ", hard.Select(r => $"{r}: {Amount("used", r)}/{Amount("hard", r)}"));
    }

    private static Column[] ColumnsFor(ResourceKind kind) => ByKind.GetValueOrDefault(kind.Kind) ?? [NameColumn, AgeColumn];

    /// <summary>A Table of <paramref name="objects"/>; rows carry the object itself or, by default, its metadata
    /// (includeObject=Object|Metadata|None).</summary>
    public static JsonObject Build(ResourceKind kind, IEnumerable<JsonObject> objects, string? resourceVersion, string? continueToken, string includeObject, bool withColumns, DateTimeOffset now)
    {
        var columns = ColumnsFor(kind);
        var definitions = new JsonArray();
        if (withColumns)
            foreach (var c in columns)
                definitions.Add((JsonNode)new JsonObject
                {
                    ["name"] = c.Name, ["type"] = c.Type, ["format"] = c.Format, ["description"] = c.Name, ["priority"] = c.Priority,
                });
        var rows = new JsonArray();
        foreach (var o in objects)
        {
            var cells = new JsonArray();
            foreach (var c in columns) cells.Add(c.Cell(o, now)?.DeepClone());
            var row = new JsonObject { ["cells"] = cells };
            row["object"] = includeObject switch
            {
                "None" => null,
                "Object" => o.DeepClone(),
                _ => new JsonObject { ["kind"] = "PartialObjectMetadata", ["apiVersion"] = "meta.k8s.io/v1", ["metadata"] = o["metadata"]?.DeepClone() },
            };
            rows.Add((JsonNode)row);
        }
        var metadata = new JsonObject();
        if (resourceVersion is not null) metadata["resourceVersion"] = resourceVersion;
        if (continueToken is not null) metadata["continue"] = continueToken;
        return new JsonObject
        {
            ["kind"] = "Table", ["apiVersion"] = "meta.k8s.io/v1", ["metadata"] = metadata,
            ["columnDefinitions"] = withColumns ? definitions : null, ["rows"] = rows,
        };
    }

    /// <summary>kubectl's node STATUS: the Ready condition (Unknown when absent), and SchedulingDisabled when cordoned.</summary>
    private static string NodeStatus(JsonObject node)
    {
        var ready = (node["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => Json.Str(c["type"]) == "Ready");
        var status = Json.Str(ready?["status"]) switch { "True" => "Ready", "False" => "NotReady", _ => "Unknown" };
        return node["spec"]?["unschedulable"]?.GetValue<bool>() == true ? status + ",SchedulingDisabled" : status;
    }

    private static string Address(JsonObject node, string type) =>
        Json.Str((node["status"]?["addresses"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(a => Json.Str(a["type"]) == type)?["address"]) ?? "<none>";

    private static long Int(JsonNode? n) => n is JsonValue v && v.TryGetValue<long>(out var x) ? x : 0;

    private static string Join(JsonNode? list, string field) =>
        (list as JsonArray)?.Select(c => Json.Str(c?[field])).OfType<string>().DefaultIfEmpty("<none>").Aggregate((a, b) => a + "," + b) ?? "<none>";

    private static string Selector(JsonNode? labels) =>
        labels is JsonObject { Count: > 0 } o ? string.Join(",", o.Select(kv => $"{kv.Key}={Json.Str(kv.Value)}")) : "<none>";

    private static string Age(JsonObject o, DateTimeOffset now) => Since(o["metadata"]?["creationTimestamp"], now, "<unknown>");

    private static string Since(JsonNode? timestamp, DateTimeOffset now, string absent = "<none>") =>
        DateTimeOffset.TryParse(Json.Str(timestamp), System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var then) ? HumanDuration(now - then) : absent;

    /// <summary>kubectl's short duration: 45s, 3m20s, 15m, 5h3m, 20h, 3d4h, 40d, 2y30d.</summary>
    public static string HumanDuration(TimeSpan d)
    {
        var s = (long)Math.Max(0, d.TotalSeconds);
        if (s < 120) return $"{s}s";
        var m = s / 60;
        if (m < 10) return s % 60 == 0 ? $"{m}m" : $"{m}m{s % 60}s";
        if (m < 180) return $"{m}m";
        var h = m / 60;
        if (h < 8) return m % 60 == 0 ? $"{h}h" : $"{h}h{m % 60}m";
        if (h < 48) return $"{h}h";
        var days = h / 24;
        if (h < 192) return h % 24 == 0 ? $"{days}d" : $"{days}d{h % 24}h";
        if (days < 730) return $"{days}d";
        var y = days / 365;
        return days % 365 == 0 ? $"{y}y" : $"{y}y{days % 365}d";
    }
}
