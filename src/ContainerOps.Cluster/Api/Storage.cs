using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The API server's storage rules for PersistentVolumeClaims, PersistentVolumes and StorageClasses: their defaults,
/// their validation, and two admission plugins — DefaultStorageClass (a claim that names no class gets the default
/// one) and StorageObjectInUseProtection (the kubernetes.io/pvc-protection and pv-protection finalizers, which the
/// protection controller removes once nothing uses the object).
/// </summary>
public static class Storage
{
    public const string DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class";
    public const string ClaimProtectionFinalizer = "kubernetes.io/pvc-protection";
    public const string VolumeProtectionFinalizer = "kubernetes.io/pv-protection";

    /// <summary>The class the control plane makes at start when none is the default: directories on the node that runs
    /// the claim's first pod (as k3s' local-path).</summary>
    public const string LocalClassName = "local-path";
    public const string LocalProvisioner = "containerops.io/local";

    private static readonly string[] AccessModes = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];

    internal static void ApplyDefaults(ResourceKind kind, JsonObject o, bool creating)
    {
        var spec = o["spec"] as JsonObject;
        switch (kind.Kind)
        {
            case "PersistentVolumeClaim":
                if (spec is not null) spec["volumeMode"] ??= "Filesystem";
                if (creating) o["status"] = new JsonObject { ["phase"] = "Pending" };
                break;
            case "PersistentVolume":
                if (spec is not null)
                {
                    spec["volumeMode"] ??= "Filesystem";
                    spec["persistentVolumeReclaimPolicy"] ??= "Retain";
                }
                if (creating) o["status"] = new JsonObject { ["phase"] = "Pending" };
                break;
            case "StorageClass":
                o["reclaimPolicy"] ??= "Delete";
                o["volumeBindingMode"] ??= "Immediate";
                break;
        }
    }

    /// <summary>DefaultStorageClass and StorageObjectInUseProtection, on create.</summary>
    internal static void Admit(IClusterStore store, ResourceKind kind, JsonObject o)
    {
        if (kind == ResourceKinds.PersistentVolumeClaim)
        {
            // Absent (not ""): the default class, as the admission plugin does; "" asks for a PV without a class.
            if (o["spec"] is JsonObject spec && spec["storageClassName"] is null && DefaultClass(store) is { } name) spec["storageClassName"] = name;
            Finalizers.Add(o, ClaimProtectionFinalizer);
        }
        else if (kind == ResourceKinds.PersistentVolume) Finalizers.Add(o, VolumeProtectionFinalizer);
    }

    /// <summary>The default class's name: of several, the newest (as Kubernetes 1.28 and later choose).</summary>
    public static string? DefaultClass(IClusterStore store) =>
        store.List(ResourceKinds.StorageClass.Key(null, null)).Items.Select(i => ClusterObjects.Parse(i.Value))
            .Where(IsDefault)
            .OrderByDescending(c => Json.Str(c["metadata"]?["creationTimestamp"]), StringComparer.Ordinal)
            .Select(c => Json.Str(c["metadata"]?["name"])).FirstOrDefault();

    public static bool IsDefault(JsonObject storageClass) =>
        Json.Str(storageClass["metadata"]?["annotations"]?[DefaultClassAnnotation]) == "true";

    /// <summary>The local class, unless a class of that name or another default class exists (so an administrator's
    /// choice is kept across restarts).</summary>
    internal static void EnsureDefaultClass(ClusterObjects objects)
    {
        if (objects.Store.Get(ResourceKinds.StorageClass.Key(null, LocalClassName)) is not null || DefaultClass(objects.Store) is not null) return;
        var local = new JsonObject
        {
            ["apiVersion"] = "storage.k8s.io/v1", ["kind"] = "StorageClass",
            ["metadata"] = new JsonObject { ["name"] = LocalClassName, ["annotations"] = new JsonObject { [DefaultClassAnnotation] = "true" } },
            ["provisioner"] = LocalProvisioner, ["reclaimPolicy"] = "Delete", ["volumeBindingMode"] = "WaitForFirstConsumer",
        };
        try { objects.Create(ResourceKinds.StorageClass, null, local, FieldValidation.Strict, dryRun: false, out _); }
        catch (StatusException e) when (e.Code == 409) { }
    }

    internal static void Validate(ResourceKind kind, JsonObject o, JsonObject? old, List<FieldError> errors)
    {
        var spec = o["spec"] as JsonObject;
        switch (kind.Kind)
        {
            case "PersistentVolumeClaim":
                if (spec is null) { errors.Add(FieldError.Required("spec")); return; }
                Modes(spec, "spec.accessModes", errors);
                if (Json.Str(spec["resources"]?["requests"]?["storage"]) is not { } request) errors.Add(FieldError.Required("spec.resources.requests[storage]"));
                else Quantity("spec.resources.requests[storage]", request, errors);
                if (old?["spec"] is JsonObject oldSpec)
                {
                    // Immutable once made, but for the requests and the volume the binder fills in.
                    var a = (JsonObject)spec.DeepClone();
                    var b = (JsonObject)oldSpec.DeepClone();
                    foreach (var x in new[] { a, b }) { x.Remove("resources"); if (Json.Str(b["volumeName"]) is null or "") x.Remove("volumeName"); }
                    if (!JsonNode.DeepEquals(a, b))
                        errors.Add(FieldError.Forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
                }
                break;
            case "PersistentVolume":
                if (spec is null) { errors.Add(FieldError.Required("spec")); return; }
                Modes(spec, "spec.accessModes", errors);
                if (Json.Str(spec["capacity"]?["storage"]) is not { } capacity) errors.Add(FieldError.Required("spec.capacity", "must specify a capacity"));
                else Quantity("spec.capacity[storage]", capacity, errors);
                var sources = new[] { "hostPath", "local", "nfs", "csi", "iscsi", "fc" }.Where(s => spec[s] is not null).ToList();
                if (sources.Count == 0) errors.Add(FieldError.Required("spec", "must specify a volume type"));
                else if (sources.Count > 1) errors.Add(FieldError.Forbidden($"spec.{sources[1]}", "may not specify more than 1 volume type"));
                foreach (var source in new[] { "hostPath", "local" })
                    if (spec[source] is JsonObject s && Json.Str(s["path"]) is not { Length: > 0 }) errors.Add(FieldError.Required($"spec.{source}.path"));
                    else if (spec[source] is JsonObject s2 && Json.Str(s2["path"]) is { } p && !p.StartsWith('/')) errors.Add(FieldError.Invalid($"spec.{source}.path", p, "must be an absolute path"));
                if (spec["local"] is not null && spec["nodeAffinity"]?["required"] is null)
                    errors.Add(FieldError.Required("spec.nodeAffinity", "Local volume requires node affinity"));
                if (Json.Str(spec["persistentVolumeReclaimPolicy"]) is { } policy && policy is not ("Retain" or "Delete" or "Recycle"))
                    errors.Add(FieldError.Unsupported("spec.persistentVolumeReclaimPolicy", policy, ["Delete", "Recycle", "Retain"]));
                if (old?["spec"] is JsonObject oldPv && Source(oldPv) is { } was && !JsonNode.DeepEquals(oldPv[was], spec[was]))
                    errors.Add(FieldError.Forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"));
                break;
            case "StorageClass":
                if (Json.Str(o["provisioner"]) is not { Length: > 0 }) errors.Add(FieldError.Required("provisioner"));
                if (Json.Str(o["reclaimPolicy"]) is { } reclaim && reclaim is not ("Retain" or "Delete"))
                    errors.Add(FieldError.Unsupported("reclaimPolicy", reclaim, ["Delete", "Retain"]));
                if (Json.Str(o["volumeBindingMode"]) is { } mode && mode is not ("Immediate" or "WaitForFirstConsumer"))
                    errors.Add(FieldError.Unsupported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]));
                if (old is not null)
                    foreach (var field in new[] { "provisioner", "parameters", "reclaimPolicy", "volumeBindingMode" })
                        if (!JsonNode.DeepEquals(old[field], o[field])) errors.Add(FieldError.Forbidden(field, "updates to " + field + " are forbidden."));
                break;
        }
    }

    private static string? Source(JsonObject spec) => new[] { "hostPath", "local", "nfs", "csi", "iscsi", "fc" }.FirstOrDefault(s => spec[s] is not null);

    private static void Modes(JsonObject spec, string field, List<FieldError> errors)
    {
        if (spec["accessModes"] is not JsonArray { Count: > 0 } modes) { errors.Add(FieldError.Required(field, "at least 1 access mode is required")); return; }
        foreach (var m in modes)
            if (Json.Str(m) is not { } mode || !AccessModes.Contains(mode)) errors.Add(FieldError.Unsupported(field, Json.Str(m), AccessModes));
    }

    private static void Quantity(string field, string text, List<FieldError> errors)
    {
        if (!Node.Quantity.TryValue(text, out var value))
            errors.Add(FieldError.Invalid(field, text, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
        else if (value <= 0) errors.Add(FieldError.Invalid(field, text, "must be greater than zero"));
    }
}
