using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A cluster object as a Get- cmdlet shows it: what listing sorts and filters by.</summary>
public interface IClusterObjectInfo
{
    /// <summary>Null for kinds that belong to no namespace.</summary>
    string? Namespace { get; }
    string Name { get; }
}

/// <summary>
/// What the Get- cmdlets of namespaced cluster kinds share: one namespace or all, a label selector, names with
/// wildcards (a plain name that matches nothing is an ObjectNotFound error), sorted by namespace and name. A kind's
/// cmdlet declares its -Name (with its own completer) and says how to list and show.
/// </summary>
public abstract class GetClusterObjectsCommand<T> : ContainerOpsCmdlet where T : IClusterObjectInfo
{
    /// <summary>The namespace listed.</summary>
    [Parameter(ParameterSetName = "Namespace", ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>Objects of every namespace.</summary>
    [Parameter(ParameterSetName = "All")]
    public SwitchParameter AllNamespaces { get; set; }

    /// <summary>A label selector on the objects' own labels: app=web,tier!=cache.</summary>
    [Parameter]
    public string? Selector { get; set; }

    private protected abstract string[]? Names { get; }
    /// <summary>The kind, as a name that matches nothing names it.</summary>
    private protected abstract string KindName { get; }
    /// <summary>Where a name was looked for, as a name that matches nothing says.</summary>
    private protected virtual string Scope => AllNamespaces ? "in any namespace" : $"in namespace {Namespace}";
    /// <summary>Whether a failed list stops the pipeline (true) or is one error among its inputs.</summary>
    private protected virtual bool ListFailureTerminates => true;

    /// <summary>The objects of a namespace (null: of all), as shown.</summary>
    private protected abstract Task<IEnumerable<T>> ListAsync(string? ns, CancellationToken ct);

    protected override void ProcessRecord()
    {
        IEnumerable<T> items;
        try { items = Run(ct => ListAsync(AllNamespaces ? null : Namespace, ct)); }
        catch (ContainerOpsException ex)
        {
            if (ListFailureTerminates) ThrowTerminatingError(ErrorRecords.From(ex));
            else WriteError(ErrorRecords.From(ex));
            return;
        }
        var shown = items.OrderBy(i => i.Namespace, StringComparer.Ordinal).ThenBy(i => i.Name, StringComparer.Ordinal);
        foreach (var item in NameFilter.Select(this, Names, shown, i => i.Name, KindName, Scope))
            WriteObject(item);
    }
}

/// <summary>Completes the names of one cluster kind in the namespace bound (default: "default"), with a tip from
/// each object; a kind's completer says how to list and what the tip shows.</summary>
public abstract class ClusterNameCompleter : IArgumentCompleter
{
    private protected abstract Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct);
    private protected abstract string Tip(JsonObject o);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Query<JsonObject>(async (client, ct) => await ListAsync(client, fakeBoundParameters["Namespace"] as string ?? "default", ct),
            o => [(o["metadata"]?["name"]?.GetValue<string>() ?? "", Tip(o))], wordToComplete);
}
