using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api.Protobuf;

namespace ContainerOps.Cluster.Api;

/// <summary>The three patch types of the API: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge
/// patch (lists merged by their merge keys, with the `$patch`, `$setElementOrder`, `$deleteFromPrimitiveList` and
/// `$retainKeys` directives kubectl sends). Each returns a new document; the target is not changed.
/// A strategic merge follows the Go types of the kinds in the message table: each list is merged by the merge key its
/// field declares (`patchStrategy:"merge"`, `patchMergeKey`), or replaced whole when it declares none, as the API
/// server does. Where the type is not known (fields the table does not reach) and for server-side apply, lists are
/// keyed by their field's name (<see cref="MergeKeys"/>).</summary>
public static class Patches
{
    /// <summary>The merge key of each list that is merged rather than replaced, by field name, where no Go type says:
    /// the keys the API types declare under these names (`ports` is keyed by containerPort in a container and by
    /// port in a Service).</summary>
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name", ["initContainers"] = "name", ["ephemeralContainers"] = "name",
        ["env"] = "name", ["volumes"] = "name", ["volumeMounts"] = "mountPath", ["volumeDevices"] = "devicePath",
        ["imagePullSecrets"] = "name", ["hostAliases"] = "ip", ["conditions"] = "type", ["ownerReferences"] = "uid",
        ["topologySpreadConstraints"] = "topologyKey", ["resourceClaims"] = "name", ["ports"] = "port",
    };

    /// <summary>Lists of scalars that are merged as sets (patchStrategy merge).</summary>
    private static readonly HashSet<string> MergedScalarLists = ["finalizers"];

    public static JsonNode MergePatch(JsonNode target, JsonNode patch)
    {
        if (patch is not JsonObject p) return patch.DeepClone();
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in p)
        {
            if (value is null) result.Remove(key);
            else if (value is JsonObject) result[key] = MergePatch(result[key] ?? new JsonObject(), value);
            else result[key] = value.DeepClone();
        }
        return result;
    }

    public static JsonNode JsonPatch(JsonNode target, JsonArray operations)
    {
        var doc = target.DeepClone();
        for (var i = 0; i < operations.Count; i++)
        {
            if (operations[i] is not JsonObject op) throw StatusException.BadRequest($"json patch operation {i} is not an object");
            var kind = Json.Str(op["op"]) ?? throw StatusException.BadRequest($"json patch operation {i} has no \"op\"");
            var path = Json.Str(op["path"]) ?? throw StatusException.BadRequest($"json patch operation {i} has no \"path\"");
            switch (kind)
            {
                case "add": doc = Add(doc, path, Value(op, i).DeepClone(), i); break;
                case "remove": doc = Remove(doc, path, i, out _); break;
                case "replace": doc = Remove(doc, path, i, out _); doc = Add(doc, path, Value(op, i).DeepClone(), i); break;
                case "move":
                {
                    var from = Json.Str(op["from"]) ?? throw StatusException.BadRequest($"json patch operation {i} has no \"from\"");
                    doc = Remove(doc, from, i, out var moved);
                    doc = Add(doc, path, moved, i);
                    break;
                }
                case "copy":
                {
                    var from = Json.Str(op["from"]) ?? throw StatusException.BadRequest($"json patch operation {i} has no \"from\"");
                    doc = Add(doc, path, Resolve(doc, from, i).DeepClone(), i);
                    break;
                }
                case "test":
                    if (!JsonNode.DeepEquals(Resolve(doc, path, i), op["value"]))
                        throw new StatusException(422, "Invalid", $"the server rejected our request due to an error in our request: testing value {path} failed");
                    break;
                default: throw StatusException.BadRequest($"json patch operation {i}: unknown op \"{kind}\"");
            }
        }
        return doc;
    }

    private static JsonNode Value(JsonObject op, int i) =>
        op.TryGetPropertyValue("value", out var v) ? v ?? JsonValue.Create((string?)null)! : throw StatusException.BadRequest($"json patch operation {i} has no \"value\"");

    private static string[] Pointer(string path, int i)
    {
        if (path.Length == 0) return [];
        if (path[0] != '/') throw StatusException.BadRequest($"json patch operation {i}: path \"{path}\" does not start with /");
        return path[1..].Split('/').Select(s => s.Replace("~1", "/").Replace("~0", "~")).ToArray();
    }

    private static JsonNode Resolve(JsonNode doc, string path, int i)
    {
        JsonNode? node = doc;
        foreach (var part in Pointer(path, i))
            node = node switch
            {
                JsonObject o when o.ContainsKey(part) => o[part],
                JsonArray a when int.TryParse(part, out var idx) && idx >= 0 && idx < a.Count => a[idx],
                _ => throw new StatusException(422, "Invalid", $"the server rejected our request due to an error in our request: path {path} does not exist (operation {i})"),
            } ?? JsonValue.Create((string?)null);
        return node!;
    }

    private static JsonNode Add(JsonNode doc, string path, JsonNode value, int i)
    {
        var parts = Pointer(path, i);
        if (parts.Length == 0) return value;
        var parent = Resolve(doc, "/" + string.Join('/', parts[..^1].Select(Escape)), i);
        var last = parts[^1];
        switch (parent)
        {
            case JsonObject o: o[last] = value; break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(last, out var idx) && idx >= 0 && idx <= a.Count: a.Insert(idx, value); break;
            default: throw new StatusException(422, "Invalid", $"the server rejected our request due to an error in our request: cannot add at {path} (operation {i})");
        }
        return doc;
    }

    private static JsonNode Remove(JsonNode doc, string path, int i, out JsonNode removed)
    {
        var parts = Pointer(path, i);
        removed = Resolve(doc, path, i);
        var parent = Resolve(doc, "/" + string.Join('/', parts[..^1].Select(Escape)), i);
        switch (parent)
        {
            case JsonObject o: o.Remove(parts[^1]); break;
            case JsonArray a: a.RemoveAt(int.Parse(parts[^1])); break;
        }
        removed = removed.Parent is null ? removed : removed.DeepClone();
        return doc;
    }

    private static string Escape(string s) => s.Replace("~", "~0").Replace("/", "~1");

    public static JsonNode StrategicMergePatch(JsonNode target, JsonNode patch) => Merge(target, patch, apply: false, RootOf(target));

    /// <summary>The Go type of an object, when the message table has its kind.</summary>
    internal static Message? RootOf(JsonNode? o) =>
        o is JsonObject t && Json.Str(t["apiVersion"]) is { } apiVersion && Json.Str(t["kind"]) is { } kind ? Schema.Root(apiVersion, kind) : null;

    /// <summary>How a list is merged: replaced whole, merged as a set of scalars, or item by item by its keys.</summary>
    internal enum ListKind { Atomic, Set, Map }

    /// <summary>How server-side apply treats the list <paramref name="field"/>: by its Go field's +listType and
    /// +listMapKey when the type is known (a list with a merge strategy but no marker is keyed by its merge key, or a
    /// set without one; any other is atomic), else by the field-name table (read from <paramref name="current"/> too
    /// when the applied items do not tell).</summary>
    internal static (ListKind Kind, string[]? Keys) ApplyList(string field, JsonArray list, Field? typed, JsonArray? current = null)
    {
        if (typed is not null)
            return typed.ListType switch
            {
                "map" when typed.ListMapKeys is { Length: > 0 } keys => (ListKind.Map, keys),
                "set" => (ListKind.Set, null),
                null when Merged(typed) => typed.MergeKey is { } key ? (ListKind.Map, [key]) : (ListKind.Set, null),
                _ => (ListKind.Atomic, null),
            };
        if (IsSetList(field)) return (ListKind.Set, null);
        return (ApplyKeys(field, list) ?? (current is null ? null : ApplyKeys(field, current))) is { } byName ? (ListKind.Map, byName) : (ListKind.Atomic, null);
    }

    /// <summary>How a strategic merge patch treats the list <paramref name="field"/>: by its Go field's patch strategy
    /// and merge key when the type is known (merged without a key: a set), else by the field-name table.</summary>
    private static (ListKind Kind, string[]? Keys) PatchList(string field, JsonArray patch, Field? typed, JsonArray? current)
    {
        if (typed is not null)
            return !Merged(typed) ? (ListKind.Atomic, null) : typed.MergeKey is { } key ? (ListKind.Map, [key]) : (ListKind.Set, null);
        if (IsSetList(field)) return (ListKind.Set, null);
        return (MergeKeyOf(field, patch) ?? (current is null ? null : MergeKeyOf(field, current))) is { } byName ? (ListKind.Map, [byName]) : (ListKind.Atomic, null);
    }

    /// <summary>The message of a field's value (an object, or a list's items), or null for a map or an unknown type.</summary>
    internal static Message? MessageOf(Field? field) => field is { Message: { } m } && !field.Has(FieldFlags.Map) ? Schema.Get(m) : null;

    /// <summary>Server-side apply's merge: strategic merge, but with lists keyed as apply keys them
    /// (<see cref="ApplyKeys"/>), so 53/TCP and 53/UDP stay two ports.</summary>
    internal static JsonNode ApplyMerge(JsonNode target, JsonNode patch) => Merge(target, patch, apply: true, RootOf(target));

    /// <param name="message">The Go type of the object merged, when the table has it.</param>
    private static JsonNode Merge(JsonNode target, JsonNode patch, bool apply, Message? message = null)
    {
        if (patch is not JsonObject p) return patch.DeepClone();
        if (Json.Str(p["$patch"]) == "replace")
        {
            var replaced = (JsonObject)p.DeepClone();
            replaced.Remove("$patch");
            return replaced;
        }
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        List<string>? retain = null;
        foreach (var (key, value) in p)
        {
            if (key == "$retainKeys") { retain = (value as JsonArray)?.Select(Json.Str).OfType<string>().ToList(); continue; }
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) || key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal) || key == "$patch")
                continue;
            if (value is null) { result.Remove(key); continue; }
            if (value is JsonObject vo && Json.Str(vo["$patch"]) == "delete") { result.Remove(key); continue; }
            var current = result[key];
            var field = message is null ? null : Schema.FieldByJson(message, key);
            result[key] = value switch
            {
                // A map's keys are its own, not fields: merged as an object of unknown type.
                JsonObject => Merge(current ?? new JsonObject(), value, apply, MessageOf(field)),
                JsonArray list => MergeList(key, current as JsonArray, list, apply, field),
                _ => value.DeepClone(),
            };
        }
        foreach (var (key, value) in p)
        {
            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal) && value is JsonArray gone && result[key[25..]] is JsonArray prim)
                for (var i = prim.Count - 1; i >= 0; i--)
                    if (gone.Any(g => JsonNode.DeepEquals(g, prim[i]))) prim.RemoveAt(i);
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) && value is JsonArray order && result[key[17..]] is JsonArray list)
                Reorder(list, order, message is not null && Schema.FieldByJson(message, key[17..]) is { } f ? f.MergeKey : MergeKeyOf(key[17..], list));
        }
        if (retain is not null)
            foreach (var key in result.Select(kv => kv.Key).ToList())
                if (!retain.Contains(key)) result.Remove(key);
        return result;
    }

    /// <summary>Whether a list of scalars is merged as a set.</summary>
    internal static bool IsSetList(string field) => MergedScalarLists.Contains(field);

    /// <summary>The key a list of objects is merged by, or null for a list replaced whole.</summary>
    private static string? MergeKeyOf(string field, JsonArray list) =>
        field == "ports" && list.OfType<JsonObject>().Any(e => e.ContainsKey("containerPort")) ? "containerPort"
        : MergeKeys.GetValueOrDefault(field);

    /// <summary>The keys server-side apply identifies a list's items by (the API types' listMapKeys): those of
    /// strategic merge, but two for ports (with the protocol, TCP when unset) and topology spread constraints.</summary>
    internal static string[]? ApplyKeys(string field, JsonArray list) => MergeKeyOf(field, list) switch
    {
        null => null,
        "containerPort" => ["containerPort", "protocol"],
        "port" when field == "ports" => ["port", "protocol"],
        "topologyKey" => ["topologyKey", "whenUnsatisfiable"],
        var key => [key],
    };

    /// <summary>An item's value of an apply key, with the default the API gives a key field that is left out.</summary>
    internal static JsonNode? KeyValue(JsonObject item, string key) => item[key] ?? (key == "protocol" ? JsonValue.Create("TCP") : null);

    private static bool SameItem(JsonObject a, JsonObject b, string[] keys) => keys.All(k => JsonNode.DeepEquals(KeyValue(a, k), KeyValue(b, k)));

    /// <summary>Whether a field's Go type says its list is merged (patchStrategy "merge", perhaps with "retainKeys").</summary>
    private static bool Merged(Field field) => field.PatchStrategy?.Split(',').Contains("merge") == true;

    /// <summary>Merges a list as strategic merge (<paramref name="apply"/> false) or server-side apply identifies its
    /// items. Strategic merge's directives apply only there: an element `{"$patch": "replace"}` replaces the list with
    /// the other elements, and an item with `"$patch": "delete"` removes the item with its keys.</summary>
    private static JsonArray MergeList(string field, JsonArray? current, JsonArray patch, bool apply, Field? typed)
    {
        var (kind, keys) = apply ? ApplyList(field, patch, typed, current) : PatchList(field, patch, typed, current);
        string? DirectiveOf(JsonNode? e) => !apply && e is JsonObject o ? Json.Str(o["$patch"]) : null;
        if (kind == ListKind.Atomic || patch.Any(e => DirectiveOf(e) == "replace"))
            return new JsonArray(patch.Where(e => DirectiveOf(e) is null).Select(e => e?.DeepClone()).ToArray());
        var result = current is null ? new JsonArray() : (JsonArray)current.DeepClone();
        if (kind == ListKind.Set)
        {
            foreach (var v in patch)
                if (!result.Any(x => JsonNode.DeepEquals(x, v))) result.Add(v?.DeepClone());
            return result;
        }
        var item = MessageOf(typed);
        foreach (var element in patch)
        {
            if (element is not JsonObject pe) { result.Add(element?.DeepClone()); continue; }
            var index = result.Select((e, i) => (e, i)).FirstOrDefault(x => x.e is JsonObject eo && SameItem(eo, pe, keys!), (null!, -1)).Item2;
            if (DirectiveOf(pe) == "delete") { if (index >= 0) result.RemoveAt(index); continue; }
            if (index >= 0) result[index] = Merge(result[index]!, pe, apply, item);
            else result.Add(Merge(new JsonObject(), pe, apply, item));
        }
        return result;
    }

    private static void Reorder(JsonArray list, JsonArray order, string? mergeKey)
    {
        var items = list.Select(e => e?.DeepClone()).ToList();
        int Rank(JsonNode? e)
        {
            for (var i = 0; i < order.Count; i++)
                if (mergeKey is null ? JsonNode.DeepEquals(order[i], e) : e is JsonObject eo && JsonNode.DeepEquals(order[i]?[mergeKey], eo[mergeKey])) return i;
            return int.MaxValue;
        }
        var sorted = items.Select((e, i) => (e, i)).OrderBy(x => Rank(x.e)).ThenBy(x => x.i).Select(x => x.e).ToList();
        list.Clear();
        foreach (var e in sorted) list.Add(e);
    }
}
