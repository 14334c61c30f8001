using System.Globalization;
using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Core.Text;

namespace ContainerOps.PowerShell;

/// <summary>Kubernetes manifests as people write them, YAML (block or flow, several documents) or JSON, read into the
/// API's JSON (<see cref="YamlJson"/>): each document must be an object; empty ones are skipped.</summary>
internal static class ManifestReader
{
    /// <summary>Every document of <paramref name="text"/>; a syntax error names the file, line and column.</summary>
    public static List<JsonObject> Read(string text, string source)
    {
        var documents = new List<JsonObject>();
        var nodes = YamlJson.Read(text, source);
        for (var i = 0; i < nodes.Count; i++)
        {
            if (nodes[i] is null) continue;
            documents.Add(nodes[i] as JsonObject ?? throw new FormatException($"{source}: document {i + 1} is not an object"));
        }
        return documents;
    }
}

/// <summary>-Path of the Set- cmdlets of cluster objects: every object of one kind in manifest files, created, or
/// replaced in place when it exists (its labels and annotations merged into the stored ones).</summary>
internal static class ManifestApplier
{
    /// <summary>Applies each <paramref name="kind"/> of the file through <paramref name="apply"/> (namespace, name,
    /// document → the object as written), asking ShouldProcess first; unreadable files and nameless objects are
    /// errors ("{kind}ManifestUnreadable", "…Empty", "…Invalid"), as are the API's answers.</summary>
    public static IEnumerable<JsonObject> Apply(Cmdlet cmdlet, string path, string kind, string defaultNamespace, Func<string, string, JsonObject, JsonObject> apply)
    {
        List<JsonObject> documents;
        try { documents = ManifestReader.Read(File.ReadAllText(path), path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            cmdlet.WriteError(new ErrorRecord(ex, kind + "ManifestUnreadable", ErrorCategory.InvalidData, path));
            yield break;
        }
        var objects = documents.Where(d => Str(d["kind"]) == kind).ToList();
        if (objects.Count == 0)
            cmdlet.WriteError(new ErrorRecord(new FormatException($"{path} holds no {kind}"), kind + "ManifestEmpty", ErrorCategory.InvalidData, path));
        foreach (var o in objects)
        {
            var meta = o["metadata"] as JsonObject;
            var name = Str(meta?["name"]);
            var ns = Str(meta?["namespace"]) ?? defaultNamespace;
            if (name is null)
            {
                cmdlet.WriteError(new ErrorRecord(new FormatException($"{path}: a {kind} without metadata.name"), kind + "ManifestInvalid", ErrorCategory.InvalidData, path));
                continue;
            }
            if (!cmdlet.ShouldProcess($"{ns}/{name}", $"Apply {kind.ToLowerInvariant()} from {path}")) continue;
            JsonObject? result = null;
            try { result = apply(ns, name, o); }
            catch (ContainerOpsException ex) { cmdlet.WriteError(ErrorRecords.From(ex)); }
            if (result is not null) yield return result;
        }
    }

    /// <summary>The labels and annotations of <paramref name="given"/> metadata merged into <paramref name="current"/>'s.</summary>
    public static void MergeMetadata(JsonObject current, JsonObject? given)
    {
        var currentMeta = current["metadata"]!.AsObject();
        foreach (var field in new[] { "labels", "annotations" })
            if (given?[field] is JsonObject fromFile)
            {
                var merged = currentMeta[field] as JsonObject;
                if (merged is null) { merged = []; currentMeta[field] = merged; }
                foreach (var (k, v) in fromFile) merged[k] = v?.DeepClone();
            }
    }

    private static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
