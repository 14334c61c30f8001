using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.IO;

namespace ContainerOps.Images.References;

/// <summary>
/// Names → manifest digests, plus the set of images (manifest digests) the store holds whether tagged or not.
/// A name is a tag (<c>repo:tag</c>) or, as Docker records where an image was pulled from or pushed to, a digest
/// reference (<c>repo@sha256:…</c>, the digest the registry serves it under: an index's when the pull chose from one).
/// Persisted as one JSON document (<c>references.json</c>) replaced atomically on every change.
/// Not thread-safe by itself: the image service serialises access.
/// </summary>
public sealed class ReferenceStore
{
    private readonly string _file;
    private readonly SortedDictionary<string, string> _tags = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _images = new(StringComparer.Ordinal);

    public ReferenceStore(string file)
    {
        _file = file;
        if (File.Exists(file)) Load();
    }

    public IReadOnlyDictionary<string, string> Tags => _tags;
    public IReadOnlySet<string> Images => _images;

    private void Load()
    {
        var doc = JsonNode.Parse(File.ReadAllText(_file))!.AsObject();
        if (doc["tags"] is JsonObject tags)
            foreach (var (k, v) in tags) if (v != null) _tags[k] = v.GetValue<string>();
        if (doc["images"] is JsonArray images)
            foreach (var v in images) if (v != null) _images.Add(v.GetValue<string>());
    }

    private void Save()
    {
        var tags = new JsonObject();
        foreach (var (k, v) in _tags) tags[k] = v;
        var images = new JsonArray();
        foreach (var i in _images) images.Add((JsonNode)i);
        var doc = new JsonObject { ["tags"] = tags, ["images"] = images };
        AtomicFile.WriteAllText(_file, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public string? Resolve(string canonicalName) => _tags.GetValueOrDefault(canonicalName);

    /// <summary>Every name of the image: tags and digest references.</summary>
    public IEnumerable<string> ReferencesOf(string manifestDigest) => _tags.Where(kv => kv.Value == manifestDigest).Select(kv => kv.Key);

    public IEnumerable<string> TagsOf(string manifestDigest) => ReferencesOf(manifestDigest).Where(n => !IsDigestReference(n));

    public IEnumerable<string> DigestReferencesOf(string manifestDigest) => ReferencesOf(manifestDigest).Where(IsDigestReference);

    public static bool IsDigestReference(string canonicalName) => canonicalName.Contains('@');

    /// <summary>Records an image and points the given names at it (moving a name from another image if needed).</summary>
    public void Add(string manifestDigest, IEnumerable<string> canonicalNames)
    {
        _images.Add(manifestDigest);
        foreach (var n in canonicalNames) _tags[n] = manifestDigest;
        Save();
    }

    public bool Untag(string canonicalName)
    {
        if (!_tags.Remove(canonicalName)) return false;
        Save();
        return true;
    }

    public void RemoveImage(string manifestDigest)
    {
        foreach (var n in ReferencesOf(manifestDigest).ToList()) _tags.Remove(n);
        _images.Remove(manifestDigest);
        Save();
    }
}
