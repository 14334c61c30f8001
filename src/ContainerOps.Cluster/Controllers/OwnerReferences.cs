using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>ownerReferences as controllers use them: the controllerRef (the one owner with controller: true), making
/// one for what a controller creates, and claiming objects by selector (adopt matching orphans, release owned ones
/// that no longer match), as kube-controller-manager's ControllerRefManager does.</summary>
public static class OwnerReferences
{
    public static JsonArray? Of(JsonObject o) => o["metadata"]?["ownerReferences"] as JsonArray;

    /// <summary>The reference with controller: true, if any.</summary>
    public static JsonObject? ControllerOf(JsonObject o) =>
        Of(o)?.OfType<JsonObject>().FirstOrDefault(r => r["controller"] is JsonValue v && v.TryGetValue<bool>(out var b) && b);

    public static bool IsControlledBy(JsonObject o, string ownerUid) => ControllerOf(o) is { } r && Json.Str(r["uid"]) == ownerUid;

    public static string? Uid(JsonObject o) => Json.Str(o["metadata"]?["uid"]);

    public static bool IsBeingDeleted(JsonObject o) => o["metadata"]?["deletionTimestamp"] is not null;

    /// <summary>The controllerRef a controller puts on what it creates: it blocks the owner's foreground deletion
    /// until the dependent is gone.</summary>
    public static JsonObject ControllerRefTo(JsonObject owner) => new()
    {
        ["apiVersion"] = Json.Str(owner["apiVersion"]), ["kind"] = Json.Str(owner["kind"]),
        ["name"] = Json.Str(owner["metadata"]?["name"]), ["uid"] = Uid(owner),
        ["controller"] = true, ["blockOwnerDeletion"] = true,
    };

    /// <summary>
    /// The objects <paramref name="owner"/> controls after claiming: those it controls and its selector still matches,
    /// plus orphans the selector matches, adopted now (unless the owner is going: a fresh read of the owner decides,
    /// once, as a stale cache must not adopt for a deleted owner). Owned objects the selector no longer matches are
    /// released. Objects being deleted are neither adopted nor released.
    /// </summary>
    public static List<JsonObject> Claim(ClusterObjects objects, ResourceKind ownerKind, ResourceKind kind, JsonObject owner,
        LabelSelector selector, IEnumerable<JsonObject> candidates)
    {
        var ownerUid = Uid(owner)!;
        var ns = Json.Str(owner["metadata"]?["namespace"]);
        bool? canAdopt = null;
        bool CanAdopt()
        {
            canAdopt ??= objects.Store.Get(ownerKind.Key(ns, Json.Str(owner["metadata"]?["name"]))) is { } stored
                && ClusterObjects.Parse(stored.Value) is var fresh && Uid(fresh) == ownerUid && !IsBeingDeleted(fresh);
            return canAdopt.Value;
        }
        var claimed = new List<JsonObject>();
        foreach (var candidate in candidates)
        {
            var matches = selector.Matches(LabelSelector.LabelsOf(candidate["metadata"]?["labels"]));
            var controller = ControllerOf(candidate);
            if (controller is not null)
            {
                if (Json.Str(controller["uid"]) != ownerUid) continue;
                if (matches) { claimed.Add(candidate); continue; }
                if (IsBeingDeleted(candidate)) continue;
                Release(objects, kind, candidate, ownerUid);
                continue;
            }
            if (!matches || IsBeingDeleted(candidate) || IsBeingDeleted(owner) || !CanAdopt()) continue;
            if (Adopt(objects, kind, candidate, owner) is { } adopted) claimed.Add(adopted);
        }
        return claimed;
    }

    /// <summary>Adds the owner's controllerRef, if the object (read fresh) still has no controller; the adopted object,
    /// or null when someone else got it first or it is gone.</summary>
    public static JsonObject? Adopt(ClusterObjects objects, ResourceKind kind, JsonObject o, JsonObject owner)
    {
        var ownerUid = Uid(owner);
        try
        {
            var result = objects.Update(kind, Json.Str(o["metadata"]?["namespace"]), Json.Str(o["metadata"]?["name"])!, null, fresh =>
            {
                if (Uid(fresh) != Uid(o) || ControllerOf(fresh) is not null || IsBeingDeleted(fresh)) return fresh;
                Json.ChildArray(Json.Metadata(fresh), "ownerReferences").Add((JsonNode)ControllerRefTo(owner));
                return fresh;
            }, statusOnly: false, dryRun: false);
            return IsControlledBy(result, ownerUid!) ? result : null;
        }
        catch (StatusException e) when (e.Code == 404) { return null; }
    }

    /// <summary>Removes the reference to <paramref name="ownerUid"/> (the object is orphaned, as --cascade=orphan and a
    /// changed label do).</summary>
    public static void Release(ClusterObjects objects, ResourceKind kind, JsonObject o, string ownerUid)
    {
        try
        {
            objects.Update(kind, Json.Str(o["metadata"]?["namespace"]), Json.Str(o["metadata"]?["name"])!, null, fresh =>
            {
                if (Uid(fresh) == Uid(o)) RemoveReference(fresh, ownerUid);
                return fresh;
            }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
    }

    /// <summary>Drops the reference to <paramref name="ownerUid"/> from <paramref name="o"/> (the ownerReferences
    /// field goes when it is left empty).</summary>
    public static bool RemoveReference(JsonObject o, string ownerUid)
    {
        if (Of(o) is not { } refs) return false;
        var removed = false;
        for (var i = refs.Count - 1; i >= 0; i--)
            if (Json.Str(refs[i]?["uid"]) == ownerUid) { refs.RemoveAt(i); removed = true; }
        if (refs.Count == 0) Json.Metadata(o).Remove("ownerReferences");
        return removed;
    }
}
