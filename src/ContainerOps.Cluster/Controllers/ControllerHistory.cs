using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// The ControllerRevisions of a StatefulSet or DaemonSet, as Kubernetes' controller history keeps them: each distinct
/// pod template is one revision named OWNER-HASH, whose data is the patch that puts the template back
/// (`{"spec":{"template":{…,"$patch":"replace"}}}`, what `kubectl rollout undo` applies) and whose number grows with
/// each change; going back to an old template renumbers its revision instead of making a copy. The pods of a revision
/// carry its hash in the controller-revision-hash label.
/// </summary>
public sealed class ControllerHistory(ClusterObjects objects, ResourceKind ownerKind)
{
    public const string HashLabel = "controller-revision-hash";

    /// <summary>The revision data for the owner's current template.</summary>
    public static JsonObject DataOf(JsonObject owner)
    {
        var template = DeploymentMath.WithoutNulls(owner["spec"]?["template"]?.DeepClone()) as JsonObject ?? [];
        template["$patch"] = "replace";
        return new JsonObject { ["spec"] = new JsonObject { ["template"] = template } };
    }

    /// <summary>The pod template a revision holds.</summary>
    public static JsonObject TemplateOf(JsonObject revision)
    {
        var template = revision["data"]?["spec"]?["template"]?.DeepClone() as JsonObject ?? [];
        template.Remove("$patch");
        return template;
    }

    public static long Number(JsonObject revision) => revision["revision"]?.GetValue<long>() ?? 0;

    public static string NameOf(JsonObject o) => Json.Str(o["metadata"]?["name"]) ?? "";

    /// <summary>The hash part of a revision's name (OWNER-HASH).</summary>
    public static string HashOf(JsonObject revision) => Json.Str(revision["metadata"]?["labels"]?[HashLabel]) ?? NameOf(revision)[(NameOf(revision).LastIndexOf('-') + 1)..];

    /// <summary>The owner's revisions (claimed by its selector), oldest number first.</summary>
    public List<JsonObject> Claim(JsonObject owner, LabelSelector selector, IEnumerable<JsonObject> cached) =>
        OwnerReferences.Claim(objects, ownerKind, ResourceKinds.ControllerRevision, owner, selector, cached.Where(r => !OwnerReferences.IsBeingDeleted(r)))
            .OrderBy(Number).ThenBy(NameOf, StringComparer.Ordinal).ToList();

    /// <summary>
    /// The revision of the owner's current template: an existing one with the same data (renumbered to come last if it
    /// is not, as a rollback does), or a new one numbered after the others. Null when a revision of the name exists with
    /// other data (a hash collision): the caller bumps status.collisionCount and tries again.
    /// </summary>
    public JsonObject? FindOrCreate(JsonObject owner, List<JsonObject> revisions)
    {
        var data = DataOf(owner);
        var last = revisions.Count == 0 ? 0 : revisions.Max(Number);
        if (revisions.LastOrDefault(r => JsonNode.DeepEquals(r["data"], data)) is { } equal)
        {
            if (Number(equal) == last) return equal;
            var renumbered = objects.Update(ResourceKinds.ControllerRevision, Json.Str(owner["metadata"]?["namespace"]), NameOf(equal), null, fresh =>
            {
                fresh["revision"] = last + 1;
                return fresh;
            }, statusOnly: false, dryRun: false);
            revisions[revisions.IndexOf(equal)] = renumbered;
            return renumbered;
        }
        var collisions = owner["status"]?["collisionCount"]?.GetValue<int>();
        var text = data.ToJsonString();
        var hash = DeploymentMath.SafeHash(collisions is { } c ? text + c : text);
        var labels = owner["spec"]?["template"]?["metadata"]?["labels"]?.DeepClone() as JsonObject ?? [];
        labels[HashLabel] = hash;
        var revision = new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "ControllerRevision",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{NameOf(owner)}-{hash}", ["labels"] = labels,
                ["ownerReferences"] = new JsonArray(OwnerReferences.ControllerRefTo(owner)),
            },
            ["data"] = data, ["revision"] = last + 1,
        };
        var ns = Json.Str(owner["metadata"]?["namespace"]);
        try
        {
            var created = objects.Create(ResourceKinds.ControllerRevision, ns, revision, FieldValidation.Ignore, dryRun: false, out _);
            revisions.Add(created);
            return created;
        }
        catch (StatusException e) when (e.Code == 409)
        {
            // Ours from a stale cache (same data) is the one; a stranger's or other data is a collision.
            var existing = objects.Store.Get(ResourceKinds.ControllerRevision.Key(ns, $"{NameOf(owner)}-{hash}")) is { } s ? ClusterObjects.Parse(s.Value) : null;
            if (existing is not null && OwnerReferences.IsControlledBy(existing, OwnerReferences.Uid(owner)!) && JsonNode.DeepEquals(existing["data"], data))
            {
                revisions.Add(existing);
                return existing;
            }
            return null;
        }
    }

    /// <summary>Deletes the oldest revisions beyond revisionHistoryLimit, never one in <paramref name="live"/> (the
    /// current and update revisions and those pods still run).</summary>
    public void Truncate(JsonObject owner, List<JsonObject> revisions, ISet<string> live)
    {
        var limit = owner["spec"]?["revisionHistoryLimit"]?.GetValue<int>() ?? 10;
        var history = revisions.Where(r => !live.Contains(NameOf(r))).ToList();
        foreach (var old in history.Take(Math.Max(0, history.Count - limit)))
        {
            try { objects.Delete(ResourceKinds.ControllerRevision, Json.Str(old["metadata"]?["namespace"]), NameOf(old), null, OwnerReferences.Uid(old), dryRun: false); }
            catch (StatusException e) when (e.Code is 404 or 409) { }
            revisions.Remove(old);
        }
    }
}
