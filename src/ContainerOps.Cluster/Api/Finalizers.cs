using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>An object's metadata.finalizers, asked, added to and removed from in one way by the API and the controllers
/// (an emptied list is dropped, as the API server omits it).</summary>
public static class Finalizers
{
    public static bool Has(JsonObject o, string finalizer) =>
        o["metadata"]?["finalizers"] is JsonArray f && f.Any(x => Json.Str(x) == finalizer);

    /// <summary>Adds <paramref name="finalizer"/> unless the object has it.</summary>
    public static void Add(JsonObject o, string finalizer)
    {
        var finalizers = Json.ChildArray(Json.Metadata(o), "finalizers");
        if (!finalizers.Any(f => Json.Str(f) == finalizer)) finalizers.Add((JsonNode)finalizer);
    }

    public static void Remove(JsonObject o, string finalizer)
    {
        if (o["metadata"]?["finalizers"] is not JsonArray f) return;
        foreach (var x in f.Where(x => Json.Str(x) == finalizer).ToList()) f.Remove(x);
        if (f.Count == 0) Json.Metadata(o).Remove("finalizers");
    }
}
