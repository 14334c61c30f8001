using System.Text;
using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>The defaults the API server fills in, so that objects read back as Kubernetes shows them. Only absent
/// fields are set, so applying them again changes nothing.</summary>
internal static class Defaults
{
    public static void Apply(ResourceKind kind, JsonObject o, bool creating)
    {
        Storage.ApplyDefaults(kind, o, creating);
        PriorityClasses.ApplyDefaults(kind, o);
        var spec = o["spec"] as JsonObject;
        switch (kind.Kind)
        {
            case "Namespace":
                var meta = Json.Metadata(o);
                var labels = meta["labels"] as JsonObject ?? new JsonObject();
                labels["kubernetes.io/metadata.name"] = Json.Str(meta["name"]);
                meta["labels"] = labels;
                spec = Ensure(o, "spec");
                spec["finalizers"] ??= new JsonArray((JsonNode)"kubernetes");
                if (creating || o["status"] is null) o["status"] = new JsonObject { ["phase"] = "Active" };
                break;
            case "LimitRange":
                LimitRanges.ApplyDefaults(spec);
                break;
            case "Pod":
                if (spec is not null)
                {
                    PodSpec(spec);
                    RequestsFromLimits(spec);
                }
                if (creating) o["status"] = new JsonObject { ["phase"] = "Pending" };
                break;
            case "Deployment":
                if (spec is null) break;
                spec["replicas"] ??= 1;
                spec["revisionHistoryLimit"] ??= 10;
                spec["progressDeadlineSeconds"] ??= 600;
                spec["strategy"] ??= new JsonObject { ["type"] = "RollingUpdate" };
                if (Json.Str(spec["strategy"]!["type"]) == "RollingUpdate")
                    spec["strategy"]!["rollingUpdate"] ??= new JsonObject { ["maxSurge"] = "25%", ["maxUnavailable"] = "25%" };
                Template(spec);
                if (creating) o.Remove("status");
                break;
            case "ReplicationController":
                if (spec is null) break;
                spec["replicas"] ??= 1;
                // An empty selector is the template's labels, and so are the controller's own labels when it has none.
                if (spec["template"]?["metadata"]?["labels"] is JsonObject { Count: > 0 } templateLabels)
                {
                    if (spec["selector"] is not JsonObject { Count: > 0 }) spec["selector"] = templateLabels.DeepClone();
                    if (o["metadata"]?["labels"] is not JsonObject { Count: > 0 } && o["metadata"] is JsonObject rcMeta) rcMeta["labels"] = templateLabels.DeepClone();
                }
                Template(spec);
                if (creating) o.Remove("status");
                break;
            case "ReplicaSet" or "StatefulSet" or "DaemonSet":
                if (spec is null) break;
                if (kind.Kind != "DaemonSet") spec["replicas"] ??= 1;
                if (kind.Kind == "StatefulSet") StatefulSetSpec(spec);
                if (kind.Kind == "DaemonSet") DaemonSetSpec(spec);
                Template(spec);
                if (creating) o.Remove("status");
                break;
            case "Job":
                if (spec is null) break;
                // With a limit per index, only an explicit backoffLimit bounds the job's failures as a whole.
                spec["backoffLimit"] ??= spec["backoffLimitPerIndex"] is null ? 6 : int.MaxValue;
                spec["completions"] ??= 1;
                spec["parallelism"] ??= 1;
                spec["completionMode"] ??= "NonIndexed";
                spec["suspend"] ??= false;
                if (creating) JobSelector(o, spec);
                Template(spec);
                if (creating) o.Remove("status");
                break;
            case "CronJob":
                if (spec is null) break;
                spec["concurrencyPolicy"] ??= "Allow";
                spec["suspend"] ??= false;
                spec["successfulJobsHistoryLimit"] ??= 3;
                spec["failedJobsHistoryLimit"] ??= 1;
                if (spec["jobTemplate"]?["spec"] is JsonObject jobSpec) Template(jobSpec);
                if (creating) o.Remove("status");
                break;
            case "HorizontalPodAutoscaler":
                if (spec is null) break;
                spec["minReplicas"] ??= 1;
                if (creating) o.Remove("status");
                break;
            case "Service":
                spec = Ensure(o, "spec");
                ServiceSpec(spec);
                if (spec["ports"] is JsonArray ports)
                    foreach (var port in ports.OfType<JsonObject>())
                    {
                        port["protocol"] ??= "TCP";
                        // Absent, 0 or "" (a protobuf body carries the zero value): the port itself, as the API server does.
                        var target = port["targetPort"];
                        var unset = target is null || (target is JsonValue tv && (tv.TryGetValue<long>(out var n) ? n == 0 : Json.Str(tv) is ""));
                        if (unset && port["port"] is { } p) port["targetPort"] = p.DeepClone();
                    }
                if (creating) o["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() };
                break;
            case "Secret":
                o["type"] ??= "Opaque";
                // stringData is write-only: merged into data, base64 as the API keeps it.
                if (o["stringData"] is JsonObject stringData)
                {
                    var data = o["data"] as JsonObject ?? new JsonObject();
                    foreach (var (k, v) in stringData) data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(Json.Str(v) ?? ""));
                    o["data"] = data;
                    o.Remove("stringData");
                }
                break;
        }
    }

    /// <summary>The API server's StatefulSet defaults: OrderedReady, RollingUpdate from partition 0, PVCs retained.</summary>
    private static void StatefulSetSpec(JsonObject spec)
    {
        spec["podManagementPolicy"] ??= "OrderedReady";
        spec["revisionHistoryLimit"] ??= 10;
        spec["updateStrategy"] ??= new JsonObject { ["type"] = "RollingUpdate" };
        if (Json.Str(spec["updateStrategy"]!["type"]) == "RollingUpdate")
            Ensure((JsonObject)spec["updateStrategy"]!, "rollingUpdate")["partition"] ??= 0;
        var retention = Ensure(spec, "persistentVolumeClaimRetentionPolicy");
        retention["whenDeleted"] ??= "Retain";
        retention["whenScaled"] ??= "Retain";
        foreach (var claim in (spec["volumeClaimTemplates"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var claimSpec = Ensure(claim, "spec");
            claimSpec["volumeMode"] ??= "Filesystem";
            claim["status"] ??= new JsonObject { ["phase"] = "Pending" };
        }
    }

    /// <summary>The API server's DaemonSet defaults: RollingUpdate with maxUnavailable 1 and no surge.</summary>
    private static void DaemonSetSpec(JsonObject spec)
    {
        spec["revisionHistoryLimit"] ??= 10;
        spec["updateStrategy"] ??= new JsonObject { ["type"] = "RollingUpdate" };
        if (Json.Str(spec["updateStrategy"]!["type"]) == "RollingUpdate")
        {
            var rolling = Ensure((JsonObject)spec["updateStrategy"]!, "rollingUpdate");
            rolling["maxUnavailable"] ??= 1;
            rolling["maxSurge"] ??= 0;
        }
    }

    /// <summary>The API server's service defaults; the cluster IP and node ports are the allocator's.</summary>
    private static void ServiceSpec(JsonObject spec)
    {
        var type = Json.Str(spec["type"]) ?? "ClusterIP";
        spec["type"] = type;
        spec["sessionAffinity"] ??= "None";
        if (Json.Str(spec["sessionAffinity"]) == "ClientIP")
            spec["sessionAffinityConfig"] ??= new JsonObject { ["clientIP"] = new JsonObject { ["timeoutSeconds"] = 10800 } };
        if (type == "ExternalName") return;
        spec["ipFamilies"] ??= new JsonArray("IPv4");
        spec["ipFamilyPolicy"] ??= "SingleStack";
        spec["internalTrafficPolicy"] ??= "Cluster";
        if (type is "NodePort" or "LoadBalancer") spec["externalTrafficPolicy"] ??= "Cluster";
        if (type == "LoadBalancer") spec["allocateLoadBalancerNodePorts"] ??= true;
    }

    /// <summary>The selector the API server gives a Job (unless spec.manualSelector): its own uid, also set on the pod
    /// template with the job's name, so that its pods are its alone.</summary>
    private static void JobSelector(JsonObject job, JsonObject spec)
    {
        if (spec["manualSelector"] is JsonValue manual && manual.TryGetValue<bool>(out var m) && m) return;
        var uid = Json.Str(job["metadata"]?["uid"]);
        var name = Json.Str(job["metadata"]?["name"]);
        if (uid is null || name is null) return;
        spec["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["batch.kubernetes.io/controller-uid"] = uid } };
        var template = Ensure(spec, "template");
        var labels = Ensure(Ensure(template, "metadata"), "labels");
        labels["batch.kubernetes.io/controller-uid"] = uid;
        labels["batch.kubernetes.io/job-name"] = name;
        labels["controller-uid"] = uid;
        labels["job-name"] = name;
    }

    private static JsonObject Ensure(JsonObject o, string field)
    {
        if (o[field] is JsonObject x) return x;
        x = new JsonObject();
        o[field] = x;
        return x;
    }

    /// <summary>A pod's container with a limit and no request for a resource requests its limit (pods only, not
    /// templates: as the API server defaults them).</summary>
    private static void RequestsFromLimits(JsonObject spec)
    {
        foreach (var list in new[] { "containers", "initContainers" })
            foreach (var c in (spec[list] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (c["resources"] is not JsonObject resources || resources["limits"] is not JsonObject { Count: > 0 } limits) continue;
                var requests = resources["requests"] as JsonObject ?? [];
                foreach (var (resource, value) in limits) if (!requests.ContainsKey(resource)) requests[resource] = value?.DeepClone();
                resources["requests"] = requests;
            }
    }

    private static void Template(JsonObject spec)
    {
        if (spec["template"]?["spec"] is JsonObject podSpec) PodSpec(podSpec);
    }

    private static void PodSpec(JsonObject spec)
    {
        spec["restartPolicy"] ??= "Always";
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["securityContext"] ??= new JsonObject();
        foreach (var list in new[] { "containers", "initContainers" })
            if (spec[list] is JsonArray containers)
                foreach (var c in containers.OfType<JsonObject>())
                {
                    var image = Json.Str(c["image"]) ?? "";
                    var lastSlash = image.LastIndexOf('/');
                    var tagged = image.IndexOf(':', lastSlash + 1) >= 0 || image.Contains('@');
                    c["imagePullPolicy"] ??= !tagged || image.EndsWith(":latest", StringComparison.Ordinal) ? "Always" : "IfNotPresent";
                    c["terminationMessagePath"] ??= "/dev/termination-log";
                    c["terminationMessagePolicy"] ??= "File";
                    c["resources"] ??= new JsonObject();
                    if (c["ports"] is JsonArray ports)
                        foreach (var p in ports.OfType<JsonObject>()) p["protocol"] ??= "TCP";
                }
    }
}
