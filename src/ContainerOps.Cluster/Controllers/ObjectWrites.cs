using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>The writes controllers share: create or bring up to date (endpoints, slices), change an object if it is
/// still the one meant, and delete if there.</summary>
internal static class ObjectWrites
{
    /// <summary>Creates the object, or brings the stored one to <paramref name="update"/>'s form (unchanged ones are not written).</summary>
    public static void Write(ClusterObjects objects, ResourceKind kind, string ns, string name, JsonObject desired, Func<JsonObject, JsonObject> update)
    {
        try
        {
            objects.Update(kind, ns, name, null, update, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404)
        {
            try { objects.Create(kind, ns, desired, FieldValidation.Strict, dryRun: false, out _); }
            catch (StatusException c) when (c.Code == 409) { throw StatusException.Conflict(kind, name); } // made meanwhile: retried
        }
    }

    /// <summary>Changes the object if it is still the one with <paramref name="uid"/>; one already gone is fine.</summary>
    public static void ChangeIfSame(ClusterObjects objects, ResourceKind kind, string? ns, string name, string? uid, Action<JsonObject> change)
    {
        try
        {
            objects.Update(kind, ns, name, null, fresh =>
            {
                if (OwnerReferences.Uid(fresh) == uid) change(fresh);
                return fresh;
            }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404) { }
    }

    public static void Delete(ClusterObjects objects, ResourceKind kind, string? ns, string name)
    {
        try { objects.Delete(kind, ns, name, null, null, dryRun: false); }
        catch (StatusException e) when (e.Code == 404) { }
    }
}
