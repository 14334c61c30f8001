using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ContainerOps.PowerShell;

/// <summary>Kubernetes manifests as people write them, YAML (block or flow, several documents) or JSON, read into the
/// API's JSON. Plain scalars are typed as YAML 1.2's core schema types them (numbers, true/false, null); quoted ones
/// stay strings.</summary>
internal static class ManifestReader
{
    /// <summary>Every document of <paramref name="text"/>; a syntax error names the file, line and column.</summary>
    public static List<JsonObject> Read(string text, string source)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new FormatException($"{source}:{e.Start.Line}:{e.Start.Column}: {e.InnerException?.Message ?? e.Message}", e); }
        var documents = new List<JsonObject>();
        for (var i = 0; i < stream.Documents.Count; i++)
        {
            var node = ToJson(stream.Documents[i].RootNode);
            if (node is null) continue;
            documents.Add(node as JsonObject ?? throw new FormatException($"{source}: document {i + 1} is not an object"));
        }
        return documents;
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
}
