using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace ContainerOps.Cluster.Api;

/// <summary>One kind the API serves: where it lives in the API (group, version, resource), whether it is namespaced,
/// and how its objects go through the client library's model (to find fields the model does not have).</summary>
public sealed class ResourceKind
{
    public required string Group { get; init; }
    public required string Version { get; init; }
    public required string Resource { get; init; }
    public required string Kind { get; init; }
    public required bool Namespaced { get; init; }
    public string[] ShortNames { get; init; } = [];
    /// <summary>The main resource ignores status and the status subresource writes only status (as the API does).</summary>
    public bool HasStatus { get; init; }
    /// <summary>Deserialises into the model and serialises back: what the model did not keep is unknown to it.</summary>
    public required Func<JsonNode, JsonNode> RoundTrip { get; init; }
    /// <summary>A version served over another version's stored objects (autoscaling/v1 over v2): the kind they are
    /// stored as, and how an object converts each way. Null for the kinds stored as served.</summary>
    public ResourceKind? StoredAs { get; init; }
    public Func<JsonObject, JsonObject> FromStored { get; init; } = o => o;
    public Func<JsonObject, JsonObject> ToStored { get; init; } = o => o;

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public string GroupVersion => ApiVersion;
    public string ListKind => Kind + "List";
    public string Singular => Kind.ToLowerInvariant();
    /// <summary>"pods", "deployments.apps": the store's first key segment, unique across groups.</summary>
    public string GroupResource => Group.Length == 0 ? Resource : $"{Resource}.{Group}";

    /// <summary>The store key of an object, or the prefix of a namespace's (name null) or of all (both null).</summary>
    public string Key(string? ns, string? name) =>
        !Namespaced ? (name is null ? $"{GroupResource}/" : $"{GroupResource}/{name}")
        : ns is null ? $"{GroupResource}/"
        : name is null ? $"{GroupResource}/{ns}/" : $"{GroupResource}/{ns}/{name}";
}

/// <summary>The kinds served, one line each.</summary>
public static class ResourceKinds
{
    private static ResourceKind K<T>(JsonTypeInfo<T> model, string group, string version, string resource, string kind, bool namespaced, bool status, params string[] shortNames) => new()
    {
        Group = group, Version = version, Resource = resource, Kind = kind, Namespaced = namespaced, HasStatus = status, ShortNames = shortNames,
        RoundTrip = node => JsonSerializer.SerializeToNode(node.Deserialize(model)!, model)!,
    };

    public static readonly IReadOnlyList<ResourceKind> All =
    [
        K(ModelsContext.Default.V1Namespace, "", "v1", "namespaces", "Namespace", false, true, "ns"),
        K(ModelsContext.Default.V1Pod, "", "v1", "pods", "Pod", true, true, "po"),
        K(ModelsContext.Default.V1Service, "", "v1", "services", "Service", true, true, "svc"),
        K(ModelsContext.Default.V1Endpoints, "", "v1", "endpoints", "Endpoints", true, false, "ep"),
        K(ModelsContext.Default.V1ConfigMap, "", "v1", "configmaps", "ConfigMap", true, false, "cm"),
        K(ModelsContext.Default.V1Secret, "", "v1", "secrets", "Secret", true, false),
        K(ModelsContext.Default.V1ServiceAccount, "", "v1", "serviceaccounts", "ServiceAccount", true, false, "sa"),
        K(ModelsContext.Default.Corev1Event, "", "v1", "events", "Event", true, false, "ev"),
        K(ModelsContext.Default.V1Node, "", "v1", "nodes", "Node", false, true, "no"),
        K(ModelsContext.Default.V1PersistentVolumeClaim, "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, true, "pvc"),
        K(ModelsContext.Default.V1PersistentVolume, "", "v1", "persistentvolumes", "PersistentVolume", false, true, "pv"),
        K(ModelsContext.Default.V1LimitRange, "", "v1", "limitranges", "LimitRange", true, false, "limits"),
        K(ModelsContext.Default.V1ResourceQuota, "", "v1", "resourcequotas", "ResourceQuota", true, true, "quota"),
        // The ReplicaSet's forerunner, still in the core API (and in kubectl apply --prune's default list).
        K(ModelsContext.Default.V1ReplicationController, "", "v1", "replicationcontrollers", "ReplicationController", true, true, "rc"),
        K(ModelsContext.Default.V1Deployment, "apps", "v1", "deployments", "Deployment", true, true, "deploy"),
        K(ModelsContext.Default.V1ReplicaSet, "apps", "v1", "replicasets", "ReplicaSet", true, true, "rs"),
        K(ModelsContext.Default.V1DaemonSet, "apps", "v1", "daemonsets", "DaemonSet", true, true, "ds"),
        K(ModelsContext.Default.V1StatefulSet, "apps", "v1", "statefulsets", "StatefulSet", true, true, "sts"),
        K(ModelsContext.Default.V1ControllerRevision, "apps", "v1", "controllerrevisions", "ControllerRevision", true, false),
        K(ModelsContext.Default.V1Job, "batch", "v1", "jobs", "Job", true, true),
        K(ModelsContext.Default.V1CronJob, "batch", "v1", "cronjobs", "CronJob", true, true, "cj"),
        K(ModelsContext.Default.V2HorizontalPodAutoscaler, "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, true, "hpa"),
        K(ModelsContext.Default.V1Lease, "coordination.k8s.io", "v1", "leases", "Lease", true, false),
        K(ModelsContext.Default.V1EndpointSlice, "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, false),
        K(ModelsContext.Default.Eventsv1Event, "events.k8s.io", "v1", "events", "Event", true, false, "ev"),
        K(ModelsContext.Default.V1StorageClass, "storage.k8s.io", "v1", "storageclasses", "StorageClass", false, false, "sc"),
        // Budgets the eviction subresource (kubectl drain) honours; DisruptionController keeps their status.
        K(ModelsContext.Default.V1PodDisruptionBudget, "policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, true, "pdb"),
        // Roles and bindings are enforced (Rbac); Ingresses are stored so that manifests and charts apply: no ingress
        // controller runs yet.
        K(ModelsContext.Default.V1Role, "rbac.authorization.k8s.io", "v1", "roles", "Role", true, false),
        K(ModelsContext.Default.V1RoleBinding, "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, false),
        K(ModelsContext.Default.V1ClusterRole, "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, false),
        K(ModelsContext.Default.V1ClusterRoleBinding, "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, false),
        K(ModelsContext.Default.V1Ingress, "networking.k8s.io", "v1", "ingresses", "Ingress", true, true, "ing"),
        K(ModelsContext.Default.V1IngressClass, "networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, false),
        K(ModelsContext.Default.V1PriorityClass, "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false, false, "pc"),
    ];

    /// <summary>autoscaling/v1 HorizontalPodAutoscalers, converted to and from the stored autoscaling/v2 ones; listed
    /// after v2, so v2 stays the group's preferred version.</summary>
    private static readonly ResourceKind HorizontalPodAutoscalerV1 = new()
    {
        Group = "autoscaling", Version = "v1", Resource = "horizontalpodautoscalers", Kind = "HorizontalPodAutoscaler", Namespaced = true, HasStatus = true, ShortNames = ["hpa"],
        RoundTrip = node => JsonSerializer.SerializeToNode(node.Deserialize(ModelsContext.Default.V1HorizontalPodAutoscaler)!, ModelsContext.Default.V1HorizontalPodAutoscaler)!,
        StoredAs = All.First(k => k.Kind == "HorizontalPodAutoscaler"),
        FromStored = Api.HorizontalPodAutoscalerV1.FromStored, ToStored = Api.HorizontalPodAutoscalerV1.ToStored,
    };

    /// <summary>Every kind at every version served: <see cref="All"/> and the versions converted from them.</summary>
    public static readonly IReadOnlyList<ResourceKind> Served = [.. All, HorizontalPodAutoscalerV1];

    public static ResourceKind? Find(string group, string version, string resource) =>
        Served.FirstOrDefault(k => k.Group == group && k.Version == version && k.Resource == resource);

    public static ResourceKind Namespace => All[0];
    public static ResourceKind ServiceAccount => All.First(k => k.Kind == "ServiceAccount");
    public static ResourceKind Pod => All[1];
    public static ResourceKind Node => All.First(k => k.Kind == "Node");
    public static ResourceKind Lease => All.First(k => k.Kind == "Lease");
    public static ResourceKind Event => All.First(k => k.Kind == "Event" && k.Group.Length == 0);
    public static ResourceKind ConfigMap => All.First(k => k.Kind == "ConfigMap");
    public static ResourceKind Secret => All.First(k => k.Kind == "Secret");
    public static ResourceKind ReplicaSet { get; } = All.First(k => k.Kind == "ReplicaSet");
    public static ResourceKind Deployment { get; } = All.First(k => k.Kind == "Deployment");
    public static ResourceKind Job { get; } = All.First(k => k.Kind == "Job");
    public static ResourceKind CronJob { get; } = All.First(k => k.Kind == "CronJob");
    public static ResourceKind HorizontalPodAutoscaler { get; } = All.First(k => k.Kind == "HorizontalPodAutoscaler");
    public static ResourceKind StatefulSet { get; } = All.First(k => k.Kind == "StatefulSet");
    public static ResourceKind DaemonSet { get; } = All.First(k => k.Kind == "DaemonSet");
    public static ResourceKind ControllerRevision { get; } = All.First(k => k.Kind == "ControllerRevision");
    public static ResourceKind PersistentVolumeClaim { get; } = All.First(k => k.Kind == "PersistentVolumeClaim");
    public static ResourceKind PriorityClass { get; } = All.First(k => k.Kind == "PriorityClass");
    public static ResourceKind PersistentVolume { get; } = All.First(k => k.Kind == "PersistentVolume");
    public static ResourceKind StorageClass { get; } = All.First(k => k.Kind == "StorageClass");
    public static ResourceKind LimitRange { get; } = All.First(k => k.Kind == "LimitRange");
    public static ResourceKind ResourceQuota { get; } = All.First(k => k.Kind == "ResourceQuota");
    public static ResourceKind Service { get; } = All.First(k => k.Kind == "Service");
    public static ResourceKind ReplicationController { get; } = All.First(k => k.Kind == "ReplicationController");
    public static ResourceKind Role { get; } = All.First(k => k.Kind == "Role");
    public static ResourceKind RoleBinding { get; } = All.First(k => k.Kind == "RoleBinding");
    public static ResourceKind ClusterRole { get; } = All.First(k => k.Kind == "ClusterRole");
    public static ResourceKind ClusterRoleBinding { get; } = All.First(k => k.Kind == "ClusterRoleBinding");

    /// <summary>The API groups (besides the core one at /api), each with its versions.</summary>
    public static IEnumerable<IGrouping<string, ResourceKind>> Groups => Served.Where(k => k.Group.Length > 0).GroupBy(k => k.Group);
}
