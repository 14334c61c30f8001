using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The API's object logic over the store, the part of the API server that is not HTTP: server-set metadata,
/// defaulting, validation, unknown-field detection, compare-and-swap updates, namespace lifecycle. Works on JSON
/// objects (the store holds each object's JSON with its resourceVersion inside); the client library's models are
/// used to learn which fields a kind has.
/// </summary>
public sealed class ClusterObjects(IClusterStore store, TimeProvider? clock = null)
{
    /// <summary>How long a deleted namespace stays Terminating before what is in it is removed (the namespace
    /// controller's work; clients deleting a namespace's objects along with it find them still there).</summary>
    public TimeSpan NamespaceCleanupDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>etcd's default request limit: the largest object the store takes.</summary>
    public const int MaxObjectBytes = 1536 * 1024;
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    public IClusterStore Store { get; } = store;

    /// <summary>Where services' cluster IPs and node ports come from.</summary>
    public ServiceNetworkOptions ServiceNetwork { get; init; } = new();

    /// <summary>Whether pods get their service account's token mounted (kube-api-access-*), as Kubernetes' admission
    /// gives them: true where the server issues tokens and a node writes them.</summary>
    public bool MountServiceAccountTokens { get; init; }
    private ServiceAllocator? _services;
    public ServiceAllocator Services => _services ??= new ServiceAllocator(Store, ServiceNetwork);

    public static readonly string[] InitialNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

    /// <summary>The namespaces a cluster starts with, each with its `default` ServiceAccount (idempotent).</summary>
    public void EnsureInitialObjects()
    {
        // Namespaces a crash left Terminating are finished first.
        foreach (var ns in Store.List(ResourceKinds.Namespace.Key(null, null)).Items)
            if (Parse(ns.Value)["metadata"]?["deletionTimestamp"] is not null) FinishNamespace(Json.Str(Parse(ns.Value)["metadata"]?["name"])!);
        foreach (var ns in InitialNamespaces)
        {
            if (Store.Get(ResourceKinds.Namespace.Key(null, ns)) is not null) continue;
            try { Create(ResourceKinds.Namespace, null, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = ns } }, FieldValidation.Strict, dryRun: false, out _); }
            catch (StatusException e) when (e.Code == 409) { }
        }
        EnsureKubernetesService();
        Storage.EnsureDefaultClass(this);
        PriorityClasses.EnsureSystemClasses(this);
        RbacDefaults.Ensure(this);
    }

    /// <summary>The API server's own service, default/kubernetes, at the service range's first address (HTTPS on 443).</summary>
    private void EnsureKubernetesService()
    {
        var services = ResourceKinds.All.First(k => k.Kind == "Service");
        if (Store.Get(services.Key("default", "kubernetes")) is not null) return;
        var service = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "kubernetes", ["labels"] = new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" } },
            ["spec"] = new JsonObject
            {
                ["clusterIP"] = ServiceNetwork.KubernetesServiceIp.ToString(),
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443L, ["protocol"] = "TCP", ["targetPort"] = 6443L }),
            },
        };
        try { Create(services, "default", service, FieldValidation.Strict, dryRun: false, out _); }
        catch (StatusException e) when (e.Code is 409 or 422) { } // there, or its address taken by a service made before this existed
    }

    public JsonObject Get(ResourceKind kind, string? ns, string name) =>
        Store.Get(kind.Key(ns, name)) is { } o ? Parse(o.Value) : throw StatusException.NotFound(kind, name);

    public static JsonObject Parse(byte[] value) => (JsonObject)JsonNode.Parse(value)!;

    /// <param name="managedFields">Set by a server-side apply that creates the object; other creates record none.</param>
    public JsonObject Create(ResourceKind kind, string? ns, JsonObject obj, FieldValidation validation, bool dryRun, out List<string> warnings, JsonArray? managedFields = null)
    {
        warnings = CheckShape(kind, ns, obj, validation, creating: true);
        var meta = Json.Metadata(obj);
        if (kind.Namespaced) meta["namespace"] = ns;
        else meta.Remove("namespace");
        if (string.IsNullOrEmpty(Json.Str(meta["name"])) && Json.Str(meta["generateName"]) is { Length: > 0 } prefix)
            meta["name"] = prefix + RandomSuffix();
        var name = Json.Str(meta["name"]);
        if (kind.Namespaced && ns is not null) RequireNamespace(ns, kind, name);
        meta["uid"] = Guid.NewGuid().ToString();
        meta["creationTimestamp"] = Timestamp();
        foreach (var serverSet in new[] { "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink" }) meta.Remove(serverSet);
        if (managedFields is not null) meta["managedFields"] = managedFields.DeepClone();
        if (obj["spec"] is not null) meta["generation"] = 1;
        else meta.Remove("generation");
        Defaults.Apply(kind, obj, creating: true);
        Storage.Admit(Store, kind, obj);
        PriorityClasses.Admit(Store, kind, obj);
        ServiceAccounts.Admit(Store, kind, ns, obj, MountServiceAccountTokens);
        LimitRanges.Admit(Store, kind, ns, obj);
        if (Validation.Validate(kind, obj, null) is { Count: > 0 } errors) throw StatusException.Invalid(kind, name, errors);
        using var quota = ResourceQuotas.Admit(Store, kind, ns, obj); // held until the object is stored
        var admission = Admit(kind, obj, null);
        if (dryRun) { admission.Rollback(); return obj; }
        JsonObject stored;
        try { stored = Write(kind, name!, () => Store.Create(kind.Key(ns, name), Encode(obj))); }
        catch { admission.Rollback(); throw; }
        admission.Commit();
        if (kind == ResourceKinds.Namespace)
        {
            var sa = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = new JsonObject { ["name"] = "default" } };
            try { Create(ResourceKinds.ServiceAccount, name, sa, FieldValidation.Strict, false, out _); }
            catch (StatusException e) when (e.Code == 409) { }
        }
        return stored;
    }

    /// <summary>A PUT: the object replaces the stored one if its resourceVersion (when it has one) is still current.
    /// The main resource keeps the stored status; the status subresource changes only the status.</summary>
    public JsonObject Replace(ResourceKind kind, string? ns, string name, JsonObject obj, bool statusOnly, FieldValidation validation, bool dryRun, out List<string> warnings, string? manager = null)
    {
        warnings = CheckShape(kind, ns, obj, validation, creating: false);
        var meta = Json.Metadata(obj);
        var bodyName = Json.Str(meta["name"]);
        if (bodyName != name)
            throw StatusException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        long? expected = long.TryParse(Json.Str(meta["resourceVersion"]), out var rv) ? rv : null;
        return Update(kind, ns, name, expected, _ => obj, statusOnly, dryRun, manager);
    }

    /// <summary>The field manager of the daemon's own writers (controllers, node agent).</summary>
    public const string DaemonManager = "containerops-daemon";

    /// <summary>Read, change, compare-and-swap, retried while others write in between (unless the caller named the
    /// revision it changes, which then must still be current).</summary>
    /// <param name="manager">Who writes, for an object whose fields are managed (<see cref="ServerSideApply"/>).</param>
    /// <param name="applying">The change is a server-side apply and writes metadata.managedFields itself.</param>
    /// <param name="subresource">The subresource written through besides status ("scale"), recorded with the manager.</param>
    public JsonObject Update(ResourceKind kind, string? ns, string name, long? expectedRevision, Func<JsonObject, JsonObject> change, bool statusOnly, bool dryRun,
        string? manager = null, bool applying = false, string? subresource = null)
    {
        var key = kind.Key(ns, name);
        for (var attempt = 0; ; attempt++)
        {
            var stored = Store.Get(key) ?? throw StatusException.NotFound(kind, name);
            if (expectedRevision is { } e && e != stored.Revision) throw StatusException.Conflict(kind, name);
            var current = Parse(stored.Value);
            var updated = change((JsonObject)current.DeepClone());
            var meta = Json.Metadata(updated);
            var oldMeta = Json.Metadata(current);
            if (Json.Str(meta["uid"]) is { Length: > 0 } uid && uid != Json.Str(oldMeta["uid"]))
                throw StatusException.Conflict(kind, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {Json.Str(oldMeta["uid"])}");
            foreach (var kept in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation" })
                if (oldMeta[kept] is { } v) meta[kept] = v.DeepClone(); else meta.Remove(kept);
            meta["name"] = name;
            if (kind.Namespaced) meta["namespace"] = ns; else meta.Remove("namespace");
            meta.Remove("resourceVersion");
            // Who owns which field is the server's to record: kept as stored, unless this write is an apply.
            if (!applying)
            {
                if (oldMeta["managedFields"] is { } managed) meta["managedFields"] = managed.DeepClone();
                else meta.Remove("managedFields");
            }
            // The main resource does not change status, the status subresource changes nothing else.
            if (kind.HasStatus && statusOnly)
            {
                var status = updated["status"]?.DeepClone();
                updated = (JsonObject)current.DeepClone();
                updated["status"] = status;
                meta = Json.Metadata(updated);
                meta.Remove("resourceVersion");
            }
            else if (kind.HasStatus)
            {
                // An object that has no status yet keeps none (not "status": null, which clients do not expect).
                if (current["status"] is { } kept) updated["status"] = kept.DeepClone();
                else updated.Remove("status");
            }
            Defaults.Apply(kind, updated, creating: false);
            if (Validation.Validate(kind, updated, current) is { Count: > 0 } errors) throw StatusException.Invalid(kind, name, errors);
            if (!applying && oldMeta["managedFields"] is JsonArray { Count: > 0 })
                ServerSideApply.RecordUpdate(kind, current, updated, manager ?? DaemonManager, statusOnly ? "status" : subresource, Timestamp());
            // Service allocations, kept from the stored object where the new one leaves them out.
            var admission = statusOnly ? ServiceAllocator.Admission.None : Admit(kind, updated, current);
            if (updated["spec"] is not null && !JsonNode.DeepEquals(updated["spec"], current["spec"]))
                meta["generation"] = (oldMeta["generation"]?.GetValue<long>() ?? 0) + 1;
            // An unchanged object is not written: no new revision, no watch event (as the API server does).
            var unchangedCopy = (JsonObject)current.DeepClone();
            Json.Metadata(unchangedCopy).Remove("resourceVersion");
            var unchanged = JsonNode.DeepEquals(unchangedCopy, updated);
            if (unchanged || dryRun) admission.Rollback();
            if (unchanged) return current;
            if (dryRun) { meta["resourceVersion"] = stored.Revision.ToString(); return updated; }
            try
            {
                var written = Store.Update(key, stored.Revision, Encode(updated));
                admission.Commit();
                return Finalized(kind, updated) ? RemoveFinalized(key, written) : Parse(written.Value);
            }
            catch (StoreConflictException c) when (c.Kind == ConflictKind.Stale && expectedRevision is null && attempt < 100) { admission.Rollback(); }
            catch (StoreConflictException c) when (c.Kind == ConflictKind.Stale) { admission.Rollback(); throw StatusException.Conflict(kind, name); }
            catch (StoreConflictException) { admission.Rollback(); throw StatusException.NotFound(kind, name); }
        }
    }

    /// <summary>An object marked for deletion with no finalizer left is done, whoever writes it so: the writer that
    /// removed the last finalizer, or one that changed it (its status) just before that writer could delete it — else it
    /// would stay, marked and unfinalized, for ever. A pod its node still has to stop waits for the node's zero-grace
    /// delete; a namespace for its own cleanup.</summary>
    private static bool Finalized(ResourceKind kind, JsonObject after) =>
        kind != ResourceKinds.Namespace
        && after["metadata"]?["deletionTimestamp"] is not null
        && after["metadata"]?["finalizers"] is not JsonArray { Count: > 0 }
        && (kind != ResourceKinds.Pod || !NeedsGracefulDeletion(after) || after["metadata"]?["deletionGracePeriodSeconds"]?.GetValue<long>() == 0);

    private JsonObject RemoveFinalized(string key, StoredObject written)
    {
        try
        {
            var deleted = Store.Delete(key, written.Revision);
            var result = Parse(deleted.Value);
            if (Json.Str(result["kind"]) == "Service") Services.Released(result);
            Json.Metadata(result)["resourceVersion"] = deleted.Revision.ToString();
            return result;
        }
        // Changed again in between: whoever changed it sees the same state and finishes it.
        catch (StoreConflictException) { return Parse(written.Value); }
    }

    /// <summary>The finalizer the garbage collector removes once an owner's dependents are gone (Foreground).</summary>
    public const string ForegroundFinalizer = "foregroundDeletion";
    /// <summary>The finalizer the garbage collector removes once an owner's dependents no longer name it (Orphan).</summary>
    public const string OrphanFinalizer = "orphan";

    /// <summary>Removes an object; one with finalizers is only marked (deletionTimestamp) until they are gone; a
    /// namespace takes everything in it along. <paramref name="propagation"/> Foreground or Orphan marks it with the
    /// garbage collector's finalizer (dependents first, or dependents kept); Background (the default) removes it now
    /// and leaves its dependents to the garbage collector.</summary>
    /// <param name="gracePeriodSeconds">For a pod bound to a node and not finished: how long its containers get to stop
    /// (null: its spec's terminationGracePeriodSeconds). Such a pod is only marked (deletionTimestamp,
    /// deletionGracePeriodSeconds); the node agent stops it and then removes it. 0 removes it at once (--force).</param>
    public JsonObject Delete(ResourceKind kind, string? ns, string name, long? expectedRevision, string? expectedUid, bool dryRun, long? gracePeriodSeconds = null, string? propagation = null) =>
        DeleteAttempt(kind, ns, name, expectedRevision, expectedUid, dryRun, gracePeriodSeconds, propagation, 0);

    /// <summary>One try of <see cref="Delete"/>: an object changed between its read and its removal (a controller writing
    /// its status) is read again and tried again, unless the caller named the revision it meant.</summary>
    private JsonObject DeleteAttempt(ResourceKind kind, string? ns, string name, long? expectedRevision, string? expectedUid, bool dryRun, long? gracePeriodSeconds,
        string? propagation, int attempt)
    {
        var finalizer = propagation switch
        {
            null or "" or "Background" => null,
            "Foreground" => ForegroundFinalizer,
            "Orphan" => OrphanFinalizer,
            _ => throw StatusException.Invalid(kind, name, [FieldError.Unsupported("propagationPolicy", propagation, ["Foreground", "Background", "Orphan"])]),
        };
        var key = kind.Key(ns, name);
        var stored = Store.Get(key) ?? throw StatusException.NotFound(kind, name);
        var current = Parse(stored.Value);
        if (expectedUid is not null && expectedUid != Json.Str(current["metadata"]?["uid"]))
            throw StatusException.Conflict(kind, name, $"Precondition failed: UID in precondition: {expectedUid}, UID in object meta: {Json.Str(current["metadata"]?["uid"])}");
        if (expectedRevision is { } rv && rv != stored.Revision)
            throw StatusException.Conflict(kind, name, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {stored.Revision}");
        if (dryRun) return current;
        if (finalizer is not null && kind != ResourceKinds.Namespace)
            return MarkDeleted(kind, ns, name, Json.Str(current["metadata"]?["deletionTimestamp"]) ?? Timestamp(), o =>
            {
                var meta = Json.Metadata(o);
                // One propagation at a time: the newer request's wins, as the API server does.
                Finalizers.Remove(o, finalizer == ForegroundFinalizer ? OrphanFinalizer : ForegroundFinalizer);
                Finalizers.Add(o, finalizer);
                if (kind == ResourceKinds.Pod && meta["deletionGracePeriodSeconds"] is null)
                    meta["deletionGracePeriodSeconds"] = !NeedsGracefulDeletion(o) ? 0 : gracePeriodSeconds ?? o["spec"]?["terminationGracePeriodSeconds"]?.GetValue<long>() ?? 30;
            });
        if (kind.Kind == "Pod" && gracePeriodSeconds is not 0 && NeedsGracefulDeletion(current))
        {
            if (current["metadata"]?["deletionTimestamp"] is not null) return current;
            var grace = gracePeriodSeconds ?? current["spec"]?["terminationGracePeriodSeconds"]?.GetValue<long>() ?? 30;
            return MarkDeleted(kind, ns, name, Timestamp(), o => Json.Metadata(o)["deletionGracePeriodSeconds"] = grace);
        }
        if (current["metadata"]?["finalizers"] is JsonArray { Count: > 0 })
        {
            // A node's final zero-grace delete of a pod that finalizers hold: the pod goes once they are gone.
            if (kind == ResourceKinds.Pod && gracePeriodSeconds is 0 && current["metadata"]?["deletionGracePeriodSeconds"]?.GetValue<long>() != 0)
                return MarkDeleted(kind, ns, name, Json.Str(current["metadata"]?["deletionTimestamp"]) ?? Timestamp(), o => Json.Metadata(o)["deletionGracePeriodSeconds"] = 0);
            if (current["metadata"]?["deletionTimestamp"] is not null) return current;
            var timestamp = Timestamp();
            return MarkDeleted(kind, ns, name, timestamp);
        }
        if (kind == ResourceKinds.Namespace)
        {
            // Terminating now, emptied and removed shortly (and on the next start if a crash comes first).
            if (current["metadata"]?["deletionTimestamp"] is not null) return current;
            var terminating = MarkDeleted(kind, ns, name, Timestamp(), o => o["status"] = new JsonObject { ["phase"] = "Terminating" });
            _ = Task.Run(async () =>
            {
                await Task.Delay(NamespaceCleanupDelay);
                try { FinishNamespace(name); } catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException) { }
            });
            return terminating;
        }
        try
        {
            var deleted = Store.Delete(key, stored.Revision);
            var result = Parse(deleted.Value);
            if (kind.Kind == "Service") Services.Released(result);
            Json.Metadata(result)["resourceVersion"] = deleted.Revision.ToString();
            return result;
        }
        catch (StoreConflictException c) when (c.Kind == ConflictKind.Stale && expectedRevision is null && attempt < 100)
        {
            return DeleteAttempt(kind, ns, name, expectedRevision, expectedUid, dryRun, gracePeriodSeconds, propagation, attempt + 1);
        }
        catch (StoreConflictException c) when (c.Kind == ConflictKind.Stale) { throw StatusException.Conflict(kind, name); }
        catch (StoreConflictException) { throw StatusException.NotFound(kind, name); }
    }

    /// <summary>Service admission: cluster IP and node ports allocated (nothing for other kinds).</summary>
    private ServiceAllocator.Admission Admit(ResourceKind kind, JsonObject obj, JsonObject? old) =>
        kind.Kind == "Service" ? Services.Admit(obj, old) : ServiceAllocator.Admission.None;

    /// <summary>A pod a node runs (bound, not Succeeded or Failed) is stopped by that node before it goes, as the API
    /// server's graceful deletion has it; an unbound or finished one goes at once.</summary>
    private static bool NeedsGracefulDeletion(JsonObject pod) =>
        Json.Str(pod["spec"]?["nodeName"]) is { Length: > 0 } && Json.Str(pod["status"]?["phase"]) is not ("Succeeded" or "Failed");

    /// <summary>Removes everything in a Terminating namespace, then the namespace.</summary>
    internal void FinishNamespace(string name)
    {
        foreach (var k in ResourceKinds.All.Where(k => k.Namespaced))
            foreach (var item in Store.List(k.Key(name, null)).Items)
                try
                {
                    Store.Delete(item.Key);
                    if (k.Kind == "Service") Services.Released(Parse(item.Value));
                }
                catch (StoreConflictException) { }
        try { Store.Delete(ResourceKinds.Namespace.Key(null, name)); } catch (StoreConflictException) { }
    }

    /// <summary>Sets deletionTimestamp, which <see cref="Update"/> otherwise keeps as stored.</summary>
    private JsonObject MarkDeleted(ResourceKind kind, string? ns, string name, string timestamp, Action<JsonObject>? also = null)
    {
        var key = kind.Key(ns, name);
        while (true)
        {
            var stored = Store.Get(key) ?? throw StatusException.NotFound(kind, name);
            var o = Parse(stored.Value);
            Json.Metadata(o)["deletionTimestamp"] = timestamp;
            also?.Invoke(o);
            try
            {
                var written = Store.Update(key, stored.Revision, Encode(o));
                // Written by someone else since the caller decided to mark it, so that it may go now (its last finalizer
                // removed, the pod finished): marked, nothing would ever finish it.
                return Finalized(kind, o) ? RemoveFinalized(key, written) : Parse(written.Value);
            }
            catch (StoreConflictException c) when (c.Kind == ConflictKind.Stale) { }
        }
    }

    private void RequireNamespace(string ns, ResourceKind kind, string? name)
    {
        var stored = Store.Get(ResourceKinds.Namespace.Key(null, ns)) ?? throw StatusException.NotFound(ResourceKinds.Namespace, ns);
        if (Parse(stored.Value)["metadata"]?["deletionTimestamp"] is not null)
            throw new StatusException(403, "Forbidden", $"{kind.GroupResource} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated");
    }

    /// <summary>apiVersion and kind must be the endpoint's, the namespace the URL's, the size within the store's
    /// limit; fields the kind does not have are refused, reported or dropped as <paramref name="validation"/> says.</summary>
    /// <summary>The checks of a written body applied to a patched object: warnings are added to <paramref name="warnings"/>.</summary>
    internal void CheckFields(ResourceKind kind, string? ns, JsonObject patched, FieldValidation validation, List<string> warnings) =>
        warnings.AddRange(CheckShape(kind, ns, patched, validation, creating: false));

    private static List<string> CheckShape(ResourceKind kind, string? ns, JsonObject obj, FieldValidation validation, bool creating)
    {
        var apiVersion = Json.Str(obj["apiVersion"]);
        var objKind = Json.Str(obj["kind"]);
        if (apiVersion is not null && apiVersion != kind.ApiVersion)
            throw StatusException.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({kind.ApiVersion})");
        if (objKind is not null && objKind != kind.Kind)
            throw StatusException.BadRequest($"the kind in the data ({objKind}) does not match the expected kind ({kind.Kind})");
        obj["apiVersion"] = kind.ApiVersion;
        obj["kind"] = kind.Kind;
        var meta = Json.Metadata(obj);
        var bodyNs = Json.Str(meta["namespace"]);
        if (kind.Namespaced && !string.IsNullOrEmpty(bodyNs) && bodyNs != ns)
            throw StatusException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        JsonNode modelView;
        try { modelView = kind.RoundTrip(obj); }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException or ArgumentException or OverflowException)
        {
            throw StatusException.BadRequest($"{kind.Kind} in version \"{kind.Version}\" cannot be handled as a {kind.Kind}: {e.Message}");
        }
        var unknown = new List<string>();
        UnknownFields(obj, modelView, "", unknown);
        var warnings = new List<string>();
        if (unknown.Count > 0)
            switch (validation)
            {
                case FieldValidation.Strict:
                    throw StatusException.BadRequest($"{kind.Kind} in version \"{kind.Version}\" cannot be handled as a {kind.Kind}: strict decoding error: "
                        + string.Join(", ", unknown.Select(u => $"unknown field \"{u}\"")));
                case FieldValidation.Warn:
                    warnings.AddRange(unknown.Select(u => $"unknown field \"{u}\""));
                    RemovePaths(obj, modelView);
                    break;
                default:
                    RemovePaths(obj, modelView);
                    break;
            }
        if (Encoding.UTF8.GetByteCount(obj.ToJsonString()) > MaxObjectBytes)
            throw StatusException.TooLarge($"{kind.Kind} \"{Json.Str(meta["name"])}\" is too large: {MaxObjectBytes} bytes is the most an object may take");
        return warnings;
    }

    /// <summary>Paths in <paramref name="input"/> that the model's view lacks (null values do not count: the model
    /// writes none).</summary>
    internal static void UnknownFields(JsonNode? input, JsonNode? known, string path, List<string> unknown)
    {
        switch (input)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    if (value is null) continue;
                    var p = path.Length == 0 ? key : $"{path}.{key}";
                    if (known is JsonObject ko && ko.TryGetPropertyValue(key, out var kv)) UnknownFields(value, kv, p, unknown);
                    else if (known is JsonObject) unknown.Add(p);
                }
                break;
            case JsonArray a when known is JsonArray ka:
                for (var i = 0; i < a.Count && i < ka.Count; i++) UnknownFields(a[i], ka[i], $"{path}[{i}]", unknown);
                break;
        }
    }

    private static void RemovePaths(JsonNode? input, JsonNode? known)
    {
        switch (input)
        {
            case JsonObject o:
                foreach (var key in o.Select(kv => kv.Key).ToList())
                {
                    if (o[key] is null) continue;
                    if (known is JsonObject ko && ko.TryGetPropertyValue(key, out var kv)) RemovePaths(o[key], kv);
                    else if (known is JsonObject) o.Remove(key);
                }
                break;
            case JsonArray a when known is JsonArray ka:
                for (var i = 0; i < a.Count && i < ka.Count; i++) RemovePaths(a[i], ka[i]);
                break;
        }
    }

    private static JsonObject Write(ResourceKind kind, string name, Func<StoredObject> write)
    {
        try { return Parse(write().Value); }
        catch (StoreConflictException c) when (c.Kind == ConflictKind.AlreadyExists) { throw StatusException.AlreadyExists(kind, name); }
    }

    private static Func<long, byte[]> Encode(JsonObject obj) => revision =>
    {
        Json.Metadata(obj)["resourceVersion"] = revision.ToString();
        return Json.Bytes(obj);
    };

    internal string Timestamp() => _clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");

    /// <summary>Five characters from the API server's alphabet (no vowels, no look-alikes).</summary>
    internal static string RandomSuffix()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Create(5, 0, (span, _) => { for (var i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)]; });
    }
}

public enum FieldValidation { Ignore, Warn, Strict }
