using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ContainerOps.Core.Text;

/// <summary>
/// YAML as the JSON the APIs work on, both ways: Kubernetes manifests (block or flow, several documents, or JSON,
/// which is YAML) read into JSON nodes, and JSON written as block YAML. Plain scalars are typed as YAML 1.2's core
/// schema types them (numbers, true/false, null); quoted ones stay strings; a string is written quoted wherever a
/// reader would take it for something else, so <see cref="Read"/> gives back exactly what <see cref="Write"/> wrote.
/// </summary>
public static class YamlJson
{
    /// <summary>Every document of <paramref name="text"/> (an empty one as null); a syntax error is a
    /// <see cref="FormatException"/> naming <paramref name="source"/>, the line and the column.</summary>
    public static List<JsonNode?> Read(string text, string source)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new FormatException($"{source}:{e.Start.Line}:{e.Start.Column}: {e.InnerException?.Message ?? e.Message}", e); }
        return stream.Documents.Select(d => ToJson(d.RootNode)).ToList();
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", ToJson(kv.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => null,
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain) return JsonValue.Create(text);
        if (text is "" or "~" or "null" or "Null" or "NULL") return null;
        if (text is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (text is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)) return JsonValue.Create(n);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && text.Any(char.IsDigit) && !text.Contains(':')) return JsonValue.Create(d);
        return JsonValue.Create(text);
    }

    /// <summary><paramref name="node"/> as one block YAML document, without the "..." end marker.</summary>
    public static string Write(JsonNode? node)
    {
        var stream = new YamlStream(new YamlDocument(ToYaml(node)));
        using var text = new StringWriter();
        stream.Save(text, assignAnchors: false);
        var yaml = text.ToString();
        return yaml.EndsWith("...\n", StringComparison.Ordinal) ? yaml[..^4] : yaml.EndsWith("...\r\n", StringComparison.Ordinal) ? yaml[..^5] : yaml;
    }

    private static YamlNode ToYaml(JsonNode? node) => node switch
    {
        JsonObject o => new YamlMappingNode(o.Select(kv => new KeyValuePair<YamlNode, YamlNode>(Scalar(kv.Key), ToYaml(kv.Value)))),
        JsonArray a => new YamlSequenceNode(a.Select(ToYaml)),
        JsonValue v when v.TryGetValue<string>(out var s) => Scalar(s),
        JsonValue v when v.TryGetValue<bool>(out var b) => new YamlScalarNode(b ? "true" : "false"),
        JsonValue v => new YamlScalarNode(v.ToJsonString()),
        _ => new YamlScalarNode("null"),
    };

    /// <summary>A string as a plain scalar when it reads back as that string, else double-quoted.</summary>
    private static YamlScalarNode Scalar(string s)
    {
        var plain = new YamlScalarNode(s);
        bool reread;
        try { reread = Read("v: " + s, "check") is [JsonObject doc] && doc["v"] is JsonValue v && v.TryGetValue<string>(out var back) && back == s; }
        catch (FormatException) { reread = false; }
        if (!reread || s.Length == 0 || s.Contains('\n') || s.Trim() != s) plain.Style = ScalarStyle.DoubleQuoted;
        return plain;
    }
}
