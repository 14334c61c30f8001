using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// A set of field paths in the API's FieldsV1 shape: "f:NAME" a field of a map, "k:{KEY}" an item of a list merged
/// by its key (the merge keys strategic merge patch uses), "v:VALUE" a value of a list kept as a set, "." the node
/// itself. Any other list, and any scalar, is one field (atomic).
/// </summary>
public sealed class FieldSet
{
    private readonly SortedDictionary<string, FieldSet> _children = new(StringComparer.Ordinal);

    public bool IsEmpty => _children.Count == 0;

    // The metadata the server sets; nobody owns it.
    private static readonly HashSet<string> ServerMetadata =
        ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"];

    /// <summary>The fields an object sets: of the main resource (no status, no server-set metadata), or of its
    /// status only.</summary>
    public static FieldSet Of(JsonObject obj, bool status)
    {
        var set = new FieldSet();
        var root = Patches.RootOf(obj);
        foreach (var (name, value) in obj)
        {
            if (name is "apiVersion" or "kind" || (name == "status") != status) continue;
            var typed = FieldOf(root, name);
            if (name == "metadata" && value is JsonObject meta)
            {
                var fields = new FieldSet();
                var metaType = Patches.MessageOf(typed);
                foreach (var (field, v) in meta)
                    if (!ServerMetadata.Contains(field)) Walk(fields.Child("f:" + field), v, field, FieldOf(metaType, field));
                if (!fields.IsEmpty) set._children["f:metadata"] = fields;
                continue;
            }
            Walk(set.Child("f:" + name), value, name, typed);
        }
        return set;
    }

    private static Api.Protobuf.Field? FieldOf(Api.Protobuf.Message? message, string name) =>
        message is null ? null : Api.Protobuf.Schema.FieldByJson(message, name);

    /// <param name="typed">The Go field of the value, when its type is known: its lists are identified as its
    /// markers say; else by the field-name table.</param>
    private static void Walk(FieldSet set, JsonNode? value, string field, Api.Protobuf.Field? typed = null)
    {
        switch (value)
        {
            case JsonObject o:
                var message = Patches.MessageOf(typed);
                foreach (var (name, v) in o) Walk(set.Child("f:" + name), v, name, FieldOf(message, name));
                break;
            case JsonArray a:
                var (kind, keys) = Patches.ApplyList(field, a, typed);
                if (kind == Patches.ListKind.Set)
                    foreach (var item in a) set.Child("v:" + (item?.ToJsonString(Segments) ?? "null"));
                else if (kind == Patches.ListKind.Map && a.All(i => i is JsonObject io && Patches.KeyValue(io, keys![0]) is JsonValue))
                {
                    var itemType = Patches.MessageOf(typed);
                    foreach (var item in a.Cast<JsonObject>())
                    {
                        var key = new JsonObject();
                        foreach (var k in keys!)
                            if (Patches.KeyValue(item, k) is { } v) key[k] = v.DeepClone();
                        var element = set.Child("k:" + key.ToJsonString(Segments));
                        element.Child(".");
                        foreach (var (name, v) in item) Walk(element.Child("f:" + name), v, name, FieldOf(itemType, name));
                    }
                }
                break;
        }
    }

    // Keys and values in segments are written as Go writes JSON: quotes escaped, other characters as they are.
    private static readonly System.Text.Json.JsonSerializerOptions Segments = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private FieldSet Child(string segment)
    {
        if (!_children.TryGetValue(segment, out var child)) _children[segment] = child = new FieldSet();
        return child;
    }

    public static FieldSet FromJson(JsonNode? fieldsV1, string? field = null)
    {
        var set = new FieldSet();
        if (fieldsV1 is JsonObject o)
            foreach (var (segment, child) in o) set._children[Upgraded(segment, field)] = FromJson(child, segment.StartsWith("f:", StringComparison.Ordinal) ? segment[2..] : null);
        return set;
    }

    /// <summary>A port's key as this server wrote it before ports were keyed by their protocol too: TCP, the default.</summary>
    private static string Upgraded(string segment, string? field)
    {
        if (field != "ports" || !segment.StartsWith("k:", StringComparison.Ordinal) || segment.Contains("\"protocol\"", StringComparison.Ordinal)) return segment;
        try
        {
            if (JsonNode.Parse(segment[2..]) is not JsonObject key || key.Count != 1) return segment;
            key["protocol"] = "TCP";
            return "k:" + key.ToJsonString(Segments);
        }
        catch (System.Text.Json.JsonException) { return segment; }
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject();
        foreach (var (segment, child) in _children) o[segment] = child.ToJson();
        return o;
    }

    /// <summary>Every path that ends in a node without children.</summary>
    public IEnumerable<string[]> Leaves() => Leaves([]);

    private IEnumerable<string[]> Leaves(string[] prefix)
    {
        foreach (var (segment, child) in _children)
        {
            string[] path = [.. prefix, segment];
            if (child.IsEmpty) yield return path;
            else foreach (var leaf in child.Leaves(path)) yield return leaf;
        }
    }

    /// <summary>Whether the set holds this path or anything under it.</summary>
    public bool Covers(IReadOnlyList<string> path)
    {
        var node = this;
        foreach (var segment in path)
            if (!node._children.TryGetValue(segment, out node!)) return false;
        return true;
    }

    public void Add(IReadOnlyList<string> path)
    {
        var node = this;
        foreach (var segment in path) node = node.Child(segment);
    }

    /// <summary>Removes the path and whatever is under it, and the nodes left empty above it.</summary>
    public void Remove(IReadOnlyList<string> path)
    {
        if (path.Count == 0) return;
        if (path.Count == 1) { _children.Remove(path[0]); return; }
        if (!_children.TryGetValue(path[0], out var child)) return;
        child.Remove(path.Skip(1).ToList());
        if (child.IsEmpty) _children.Remove(path[0]);
    }

    /// <summary>The value a path names in an object; false when the object does not have it.</summary>
    public static bool TryResolve(JsonNode? node, IEnumerable<string> path, out JsonNode? value)
    {
        value = node;
        foreach (var segment in path)
        {
            if (segment == ".") continue;
            var (parent, index, name) = Step(value, segment);
            if (parent is JsonObject o) { if (!o.TryGetPropertyValue(name!, out value)) return false; }
            else if (parent is JsonArray a && index >= 0) value = a[index];
            else return false;
        }
        return true;
    }

    /// <summary>Removes what a path names from an object (a field, or an item of a list).</summary>
    public static void Delete(JsonNode root, IReadOnlyList<string> path)
    {
        var meaningful = path[^1] == "." ? path.Take(path.Count - 1).ToList() : path.ToList();
        if (meaningful.Count == 0 || !TryResolve(root, meaningful.Take(meaningful.Count - 1), out var container)) return;
        var (parent, index, name) = Step(container, meaningful[^1]);
        if (parent is JsonObject o) o.Remove(name!);
        else if (parent is JsonArray a && index >= 0) a.RemoveAt(index);
    }

    private static (JsonNode? Parent, int Index, string? Name) Step(JsonNode? node, string segment)
    {
        if (segment.StartsWith("f:", StringComparison.Ordinal)) return (node as JsonObject, -1, segment[2..]);
        if (node is not JsonArray a) return (null, -1, null);
        JsonNode? wanted;
        try { wanted = JsonNode.Parse(segment[2..]); }
        catch (System.Text.Json.JsonException) { return (null, -1, null); }
        for (var i = 0; i < a.Count; i++)
        {
            var match = segment[0] switch
            {
                'k' => wanted is JsonObject keys && a[i] is JsonObject item && keys.All(k => JsonNode.DeepEquals(Patches.KeyValue(item, k.Key), k.Value)),
                'v' => JsonNode.DeepEquals(a[i], wanted),
                _ => false,
            };
            if (match) return (a, i, null);
        }
        return (a, -1, null);
    }

    /// <summary>A path as the API server writes it in a conflict: `.spec.containers[name="web"].image`.</summary>
    public static string Describe(IEnumerable<string> path)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var segment in path)
        {
            if (segment == ".") continue;
            if (segment.StartsWith("f:", StringComparison.Ordinal)) sb.Append('.').Append(segment[2..]);
            else if (segment.StartsWith("k:", StringComparison.Ordinal) && JsonNode.Parse(segment[2..]) is JsonObject keys)
                sb.Append('[').AppendJoin(",", keys.Select(k => $"{k.Key}={k.Value?.ToJsonString()}")).Append(']');
            else sb.Append('[').Append(segment[2..]).Append(']');
        }
        return sb.ToString();
    }
}

/// <summary>One entry of metadata.managedFields: who set which fields, by which operation.</summary>
public sealed class ManagedFieldsEntry
{
    public required string Manager { get; init; }
    public required string Operation { get; init; }
    public required string ApiVersion { get; set; }
    public string? Time { get; set; }
    public string? Subresource { get; init; }
    public required FieldSet Fields { get; set; }

    public static List<ManagedFieldsEntry> Read(JsonObject obj) =>
        (obj["metadata"]?["managedFields"] as JsonArray ?? []).OfType<JsonObject>().Select(e => new ManagedFieldsEntry
        {
            Manager = Json.Str(e["manager"]) ?? "",
            Operation = Json.Str(e["operation"]) ?? "Update",
            ApiVersion = Json.Str(e["apiVersion"]) ?? "",
            Time = Json.Str(e["time"]),
            Subresource = Json.Str(e["subresource"]),
            Fields = FieldSet.FromJson(e["fieldsV1"]),
        }).ToList();

    public static void Write(JsonObject obj, IEnumerable<ManagedFieldsEntry> entries)
    {
        var list = new JsonArray();
        foreach (var e in entries.Where(e => !e.Fields.IsEmpty))
        {
            var o = new JsonObject { ["manager"] = e.Manager, ["operation"] = e.Operation, ["apiVersion"] = e.ApiVersion };
            if (e.Time is not null) o["time"] = e.Time;
            o["fieldsType"] = "FieldsV1";
            o["fieldsV1"] = e.Fields.ToJson();
            if (e.Subresource is not null) o["subresource"] = e.Subresource;
            list.Add((JsonNode)o);
        }
        if (list.Count > 0) Json.Metadata(obj)["managedFields"] = list;
        else Json.Metadata(obj).Remove("managedFields");
    }
}

/// <summary>
/// Server-side apply (`PATCH` with `application/apply-patch+yaml`), as the API server does it with field managers:
/// the applied configuration is merged into the object (maps field by field, keyed lists item by item, set lists as
/// sets, other lists whole); a field the manager applied before and leaves out now is removed unless another manager
/// owns it; changing a field another manager owns is a 409 conflict naming the fields, unless forced, which moves
/// them to the applier. Ownership is recorded in metadata.managedFields from an object's first apply on (objects
/// never applied carry none, which the API allows); the fields such an object already had go to "before-first-apply",
/// whose fields an apply may change without a conflict. Writes that are not applies then take the fields they change
/// (operation Update). Lists are keyed as the API types' listMapKeys key them: the merge keys of strategic merge patch,
/// and two for ports (port and protocol, TCP when unset) and topology spread constraints.
/// </summary>
public static class ServerSideApply
{
    public const string BeforeFirstApply = "before-first-apply";

    /// <summary>The object after <paramref name="manager"/> applies <paramref name="applied"/> to
    /// <paramref name="current"/> (null: the object does not exist yet).</summary>
    public static JsonObject Apply(ResourceKind kind, string name, JsonObject? current, JsonObject applied, string manager, bool force, string time)
    {
        var apiVersion = Json.Str(applied["apiVersion"]) ?? kind.ApiVersion;
        var entries = current is null ? [] : ManagedFieldsEntry.Read(current);
        if (current is not null && entries.Count == 0)
            entries.Add(new ManagedFieldsEntry { Manager = BeforeFirstApply, Operation = "Update", ApiVersion = kind.ApiVersion, Time = time, Fields = FieldSet.Of(current, status: false) });
        var mine = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Apply" && e.Subresource is null);
        var others = entries.Where(e => e != mine).ToList();
        var appliedFields = FieldSet.Of(applied, status: false);

        (JsonObject Fields, string? Time)? previous = mine is null ? null : (mine.Fields.ToJson(), mine.Time);
        var taken = false;
        var conflicts = new List<(string Path, ManagedFieldsEntry Owner)>();
        foreach (var leaf in appliedFields.Leaves().Where(l => l[^1] != "."))
        {
            FieldSet.TryResolve(applied, leaf, out var wanted);
            var same = current is not null && FieldSet.TryResolve(current, leaf, out var now) && JsonNode.DeepEquals(now, wanted);
            foreach (var owner in others.Where(o => o.Fields.Covers(leaf)))
            {
                if (same) continue; // the same value: both own it
                if (force || owner.Manager == BeforeFirstApply) { owner.Fields.Remove(leaf); taken = true; }
                else conflicts.Add((FieldSet.Describe(leaf), owner));
            }
        }
        if (conflicts.Count > 0) throw Conflict(kind, name, conflicts);

        var merged = current is null ? (JsonObject)applied.DeepClone() : (JsonObject)Patches.ApplyMerge(current, WithoutNulls(applied));
        // What this manager applied last time and leaves out now goes, unless someone else also owns it.
        if (mine is not null && current is not null)
            foreach (var leaf in mine.Fields.Leaves())
            {
                var node = leaf[^1] == "." ? leaf[..^1] : leaf;
                if (appliedFields.Covers(leaf) || others.Any(o => o.Fields.Covers(node)) || IsKeyOfItsItem(leaf)) continue;
                FieldSet.Delete(merged, leaf);
            }

        if (mine is null) entries.Insert(0, mine = new ManagedFieldsEntry { Manager = manager, Operation = "Apply", ApiVersion = apiVersion, Fields = appliedFields });
        // The same configuration applied again changes nothing, not even the time (so it makes no new revision).
        var again = previous is not null && !taken && JsonNode.DeepEquals(previous.Value.Fields, appliedFields.ToJson()) && SameBesidesManagedFields(merged, current!);
        mine.Fields = appliedFields;
        mine.ApiVersion = apiVersion;
        mine.Time = again ? previous!.Value.Time : time;
        ManagedFieldsEntry.Write(merged, entries);
        return merged;
    }

    /// <summary>Records a write that is not an apply on an object whose fields are managed: the writer takes the
    /// fields it changed, which the others lose. Nothing changes when the object has no managed fields.</summary>
    /// <param name="subresource">"status" (only the status changes), "scale", or null for the object itself.</param>
    public static void RecordUpdate(ResourceKind kind, JsonObject before, JsonObject after, string manager, string? subresource, string time)
    {
        var statusOnly = subresource == "status";
        var entries = ManagedFieldsEntry.Read(before);
        if (entries.Count == 0) { Json.Metadata(after).Remove("managedFields"); return; }
        var old = FieldSet.Of(before, statusOnly);
        var now = FieldSet.Of(after, statusOnly);
        var changed = now.Leaves().Where(l => l[^1] == "." ? !old.Covers(l) : !FieldSet.TryResolve(before, l, out var was) || !FieldSet.TryResolve(after, l, out var @is) || !JsonNode.DeepEquals(was, @is))
            .Concat(old.Leaves().Where(l => !now.Covers(l))).ToList();
        if (changed.Count > 0)
        {
            foreach (var entry in entries.Where(e => e.Subresource == subresource || !statusOnly))
                foreach (var leaf in changed) entry.Fields.Remove(leaf);
            var writer = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Update" && e.Subresource == subresource);
            if (writer is null) entries.Add(writer = new ManagedFieldsEntry { Manager = manager, Operation = "Update", ApiVersion = kind.ApiVersion, Subresource = subresource, Fields = new FieldSet() });
            foreach (var leaf in changed.Where(now.Covers)) writer.Fields.Add(leaf);
            writer.Time = time;
        }
        ManagedFieldsEntry.Write(after, entries);
    }

    /// <summary>The field manager of a request: its fieldManager, else the client's name from its User-Agent (as the
    /// API server does).</summary>
    public static string ManagerOf(string? fieldManager, string? userAgent) =>
        fieldManager is { Length: > 0 } ? fieldManager : (userAgent ?? "").Split('/')[0] is { Length: > 0 } client ? client : "unknown";

    private static bool SameBesidesManagedFields(JsonObject a, JsonObject b)
    {
        JsonObject Strip(JsonObject o)
        {
            var copy = (JsonObject)o.DeepClone();
            Json.Metadata(copy).Remove("managedFields");
            return copy;
        }
        return JsonNode.DeepEquals(Strip(a), Strip(b));
    }

    private static bool IsKeyOfItsItem(string[] leaf) =>
        leaf.Length >= 2 && leaf[^2].StartsWith("k:", StringComparison.Ordinal) && leaf[^1].StartsWith("f:", StringComparison.Ordinal)
        && JsonNode.Parse(leaf[^2][2..]) is JsonObject keys && keys.ContainsKey(leaf[^1][2..]);

    /// <summary>An explicit null in an applied configuration means "no opinion" here; it is dropped before merging
    /// (strategic merge would read it as "remove").</summary>
    private static JsonNode WithoutNulls(JsonNode node)
    {
        var copy = node.DeepClone();
        Strip(copy);
        return copy;
        static void Strip(JsonNode? n)
        {
            if (n is JsonObject o)
            {
                foreach (var key in o.Where(kv => kv.Value is null || kv.Key.StartsWith('$')).Select(kv => kv.Key).ToList()) o.Remove(key);
                foreach (var (_, v) in o) Strip(v);
            }
            else if (n is JsonArray a) foreach (var v in a) Strip(v);
        }
    }

    private static StatusException Conflict(ResourceKind kind, string name, List<(string Path, ManagedFieldsEntry Owner)> conflicts)
    {
        string Who(ManagedFieldsEntry e) => $"conflict with \"{e.Manager}\"{(e.Subresource is { } sub ? $" with subresource \"{sub}\"" : "")} using {e.ApiVersion}";
        var causes = new JsonArray();
        foreach (var (path, owner) in conflicts)
            causes.Add((JsonNode)new JsonObject { ["reason"] = "FieldManagerConflict", ["message"] = Who(owner), ["field"] = path });
        var text = conflicts.Count == 1
            ? $"Apply failed with 1 conflict: {Who(conflicts[0].Owner)}: {conflicts[0].Path}"
            : $"Apply failed with {conflicts.Count} conflicts: " + string.Join("\n", conflicts.GroupBy(c => c.Owner).Select(g => Who(g.Key) + ":\n" + string.Join("\n", g.Select(c => "- " + c.Path))));
        return new StatusException(409, "Conflict", text, new JsonObject
        {
            ["name"] = name, ["group"] = kind.Group.Length > 0 ? kind.Group : null, ["kind"] = kind.Resource, ["causes"] = causes,
        });
    }
}
