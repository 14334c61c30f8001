using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>A label selector as the API takes it in `labelSelector`: equality (`a=b`, `a==b`, `a!=b`) and set-based
/// (`a in (x,y)`, `a notin (x)`, `a`, `!a`) requirements, all of which must hold.</summary>
public sealed class LabelSelector
{
    private readonly List<Func<IReadOnlyDictionary<string, string>, bool>> _requirements = [];

    public static readonly LabelSelector Everything = new();
    public bool IsEmpty => _requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels) => _requirements.All(r => r(labels));

    /// <exception cref="StatusException">BadRequest naming the requirement that does not parse.</exception>
    public static LabelSelector Parse(string? text)
    {
        var selector = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        foreach (var raw in SplitTopLevel(text))
        {
            var req = raw.Trim();
            if (req.Length == 0) throw Bad(text, "empty requirement");
            if (req.StartsWith('!'))
            {
                var key = CheckKey(text, req[1..].Trim());
                selector._requirements.Add(l => !l.ContainsKey(key));
                continue;
            }
            var words = req.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (words.Length == 2 && (words[1].StartsWith("in ", StringComparison.Ordinal) || words[1].StartsWith("in(", StringComparison.Ordinal)
                || words[1].StartsWith("notin", StringComparison.Ordinal)))
            {
                var key = CheckKey(text, words[0]);
                var negate = words[1].StartsWith("notin", StringComparison.Ordinal);
                var set = words[1][(negate ? 5 : 2)..].Trim();
                if (!set.StartsWith('(') || !set.EndsWith(')')) throw Bad(text, $"the values of {key} must be in parentheses");
                var values = set[1..^1].Split(',', StringSplitOptions.TrimEntries).ToHashSet();
                foreach (var v in values) CheckValue(text, v);
                selector._requirements.Add(negate
                    ? l => !l.TryGetValue(key, out var v) || !values.Contains(v)
                    : l => l.TryGetValue(key, out var v) && values.Contains(v));
                continue;
            }
            var (op, at) = req.IndexOf("!=", StringComparison.Ordinal) is var ne and > 0 ? ("!=", ne)
                : req.IndexOf("==", StringComparison.Ordinal) is var ee and > 0 ? ("==", ee)
                : req.IndexOf('=') is var eq and > 0 ? ("=", eq) : ("", -1);
            if (at < 0)
            {
                var key = CheckKey(text, req);
                selector._requirements.Add(l => l.ContainsKey(key));
                continue;
            }
            var k = CheckKey(text, req[..at].Trim());
            var value = CheckValue(text, req[(at + op.Length)..].Trim());
            selector._requirements.Add(op == "!=" ? l => !l.TryGetValue(k, out var v) || v != value : l => l.TryGetValue(k, out var v) && v == value);
        }
        return selector;
    }

    /// <summary>A selector object (matchLabels, matchExpressions) as in a Deployment's spec.selector.</summary>
    public static LabelSelector FromObject(JsonObject selector)
    {
        var s = new LabelSelector();
        if (selector["matchLabels"] is JsonObject ml)
            foreach (var (k, v) in ml)
            {
                var key = k; var value = Json.Str(v) ?? "";
                s._requirements.Add(l => l.TryGetValue(key, out var x) && x == value);
            }
        if (selector["matchExpressions"] is JsonArray me)
            foreach (var e in me.OfType<JsonObject>())
            {
                var key = Json.Str(e["key"]) ?? "";
                var values = (e["values"] as JsonArray)?.Select(Json.Str).OfType<string>().ToHashSet() ?? [];
                Func<IReadOnlyDictionary<string, string>, bool> r = Json.Str(e["operator"]) switch
                {
                    "In" => l => l.TryGetValue(key, out var v) && values.Contains(v),
                    "NotIn" => l => !l.TryGetValue(key, out var v) || !values.Contains(v),
                    "Exists" => l => l.ContainsKey(key),
                    "DoesNotExist" => l => !l.ContainsKey(key),
                    _ => _ => false,
                };
                s._requirements.Add(r);
            }
        return s;
    }

    public static Dictionary<string, string> LabelsOf(JsonNode? labels)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (labels is JsonObject o) foreach (var (k, v) in o) d[k] = Json.Str(v) ?? "";
        return d;
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0; var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')') depth--;
            else if (text[i] == ',' && depth == 0) { yield return text[start..i]; start = i + 1; }
        }
        yield return text[start..];
    }

    private static string CheckKey(string text, string key)
    {
        if (Validation.LabelKeyError(key) is { } why) throw Bad(text, $"invalid label key \"{key}\": {why}");
        return key;
    }

    private static string CheckValue(string text, string value)
    {
        if (Validation.LabelValueError(value) is { } why) throw Bad(text, $"invalid label value: \"{value}\": {why}");
        return value;
    }

    private static StatusException Bad(string text, string why) => StatusException.BadRequest($"unable to parse requirement: {why} (labelSelector \"{text}\")");
}

/// <summary>A field selector: `metadata.name`, `metadata.namespace`, `status.phase`, `spec.nodeName` with `=`, `==`, `!=`.</summary>
public sealed class FieldSelector
{
    // Events' fields are what `kubectl describe` and `kubectl get events --field-selector` ask for.
    private static readonly string[] Supported = ["metadata.name", "metadata.namespace", "status.phase", "spec.nodeName", "status.podIP",
        "reason", "type", "reportingComponent", "involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.fieldPath", "involvedObject.resourceVersion"];
    private readonly List<(string Field, bool Equal, string Value)> _terms = [];

    public bool IsEmpty => _terms.Count == 0;

    /// <summary>The name an equality on metadata.name selects, if any (lets a list read one key).</summary>
    public string? Name => _terms.FirstOrDefault(t => t.Field == "metadata.name" && t.Equal).Value;

    public static FieldSelector Parse(string? text)
    {
        var s = new FieldSelector();
        if (string.IsNullOrWhiteSpace(text)) return s;
        foreach (var raw in text.Split(','))
        {
            var t = raw.Trim();
            var (op, at) = t.IndexOf("!=", StringComparison.Ordinal) is var ne and > 0 ? ("!=", ne)
                : t.IndexOf("==", StringComparison.Ordinal) is var ee and > 0 ? ("==", ee)
                : t.IndexOf('=') is var eq and > 0 ? ("=", eq) : ("", -1);
            if (at < 0) throw StatusException.BadRequest($"invalid selector: '{text}'; can't understand '{t}'");
            var field = t[..at].Trim();
            if (!Supported.Contains(field)) throw StatusException.BadRequest($"field label not supported: {field}");
            s._terms.Add((field, op != "!=", t[(at + op.Length)..].Trim()));
        }
        return s;
    }

    public bool Matches(JsonObject o)
    {
        foreach (var (field, equal, value) in _terms)
        {
            // Any depth: "reason" on events, "spec.nodeName" and "status.phase" on pods.
            JsonNode? node = o;
            foreach (var part in field.Split('.')) node = node is JsonObject parent ? parent[part] : null;
            var actual = node is JsonValue v && v.TryGetValue<bool>(out var b) ? (b ? "true" : "false") : Json.Str(node) ?? node?.ToString() ?? "";
            if ((actual == value) != equal) return false;
        }
        return true;
    }
}
