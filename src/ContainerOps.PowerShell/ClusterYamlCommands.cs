using System.Management.Automation;
using System.Text.Json.Nodes;
using ContainerOps.Core.Text;

namespace ContainerOps.PowerShell;

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
        WriteObject((_first ? "" : "---\n") + YamlJson.Write(o));
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
