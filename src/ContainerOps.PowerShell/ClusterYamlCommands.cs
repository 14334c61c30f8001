using System.Management.Automation;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ContainerOps.PowerShell;

/// <summary>The API's JSON as block YAML, strings quoted where a reader would take them for something else (so
/// <see cref="ManifestReader"/> reads back exactly what was written).</summary>
internal static class ManifestWriter
{
    public static string Write(JsonObject o)
    {
        var stream = new YamlStream(new YamlDocument(ToYaml(o)));
        using var text = new StringWriter();
        stream.Save(text, assignAnchors: false);
        // YamlDotNet closes each document with "...", which manifests do not carry.
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
        try { reread = ManifestReader.Read("v: " + s, "check") is [var doc] && doc["v"] is JsonValue v && v.TryGetValue<string>(out var back) && back == s; }
        catch (FormatException) { reread = false; }
        if (!reread || s.Length == 0 || s.Contains('\n') || s.Trim() != s) plain.Style = ScalarStyle.DoubleQuoted;
        return plain;
    }
}

/// <summary>Cluster objects as YAML manifests (`kubectl get -o yaml`): anything with a Json property (the Get-
/// cmdlets of cluster objects) or JSON text. Several objects make one multi-document stream. -AsConfiguration leaves
/// out what the server sets (status, uid, resourceVersion, managedFields…), for a manifest to keep.</summary>
/// <example><code>Get-ClusterResource deploy web | ConvertTo-ClusterYaml -AsConfiguration | Set-Content web.yaml</code>Saves web as a manifest.</example>
[Cmdlet(VerbsData.ConvertTo, "ClusterYaml")]
[OutputType(typeof(string))]
public sealed class ConvertToClusterYamlCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public PSObject InputObject { get; set; } = null!;

    [Parameter]
    public SwitchParameter AsConfiguration { get; set; }

    private bool _first = true;

    protected override void ProcessRecord()
    {
        var json = InputObject.BaseObject as string ?? InputObject.Properties["Json"]?.Value as string;
        JsonObject? o = null;
        try { if (json is not null) o = JsonNode.Parse(json) as JsonObject; }
        catch (System.Text.Json.JsonException) { }
        if (o is null)
        {
            WriteError(new ErrorRecord(new ArgumentException("ConvertTo-ClusterYaml takes cluster objects (with a Json property) or a JSON object as text"),
                "ClusterYamlInputInvalid", ErrorCategory.InvalidArgument, InputObject));
            return;
        }
        if (AsConfiguration) o = SetClusterResourceCommand.AsConfiguration(o);
        WriteObject((_first ? "" : "---\n") + ManifestWriter.Write(o));
        _first = false;
    }
}

/// <summary>YAML or JSON manifests (one or many documents, as people write them) as cluster objects, without applying
/// them: each document a ClusterResource with its kind, name, namespace, labels and Json, which Set-ClusterResource
/// takes. A syntax error names the file, line and column.</summary>
/// <example><code>Get-Content -Raw app.yaml | ConvertFrom-ClusterYaml | Where-Object Kind -eq Deployment | Set-ClusterResource</code>Applies only the deployments of a file.</example>
[Cmdlet(VerbsData.ConvertFrom, "ClusterYaml")]
[OutputType(typeof(ClusterResource))]
public sealed class ConvertFromClusterYamlCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [AllowEmptyString]
    public string Yaml { get; set; } = "";

    protected override void ProcessRecord()
    {
        List<JsonObject> documents;
        try { documents = ManifestReader.Read(Yaml, "input"); }
        catch (FormatException ex)
        {
            WriteError(new ErrorRecord(ex, "ClusterYamlInvalid", ErrorCategory.InvalidData, Yaml));
            return;
        }
        foreach (var d in documents) WriteObject(ClusterResource.From(d));
    }
}
