using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Any cluster object, as Get-ClusterResource lists it: its kind, name, namespace and labels, and the whole
/// object as the API has it (<see cref="Json"/>), which Set-ClusterResource takes back.</summary>
public sealed class ClusterResource : IClusterObjectInfo
{
    public string Kind { get; init; } = "";
    public string ApiVersion { get; init; } = "";
    public string Name { get; init; } = "";
    /// <summary>Null for kinds that belong to no namespace (nodes, namespaces, persistent volumes…).</summary>
    public string? Namespace { get; init; }
    public Hashtable Labels { get; init; } = [];
    public string ResourceVersion { get; init; } = "";
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The object as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    public static ClusterResource From(JsonObject o)
    {
        var meta = o["metadata"];
        var labels = new Hashtable(StringComparer.Ordinal);
        foreach (var (k, v) in meta?["labels"] as JsonObject ?? []) labels[k] = v?.ToString();
        return new ClusterResource
        {
            Kind = Str(o["kind"]) ?? "",
            ApiVersion = Str(o["apiVersion"]) ?? "",
            Name = Str(meta?["name"]) ?? "",
            Namespace = Str(meta?["namespace"]),
            Labels = labels,
            ResourceVersion = Str(meta?["resourceVersion"]) ?? "",
            Created = DateTime.TryParse(Str(meta?["creationTimestamp"]), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : DateTime.UtcNow,
            Json = o.ToJsonString(),
        };
    }

    private static string? Str(JsonNode? n) => DeploymentInfo.S(n);
}

/// <summary>The kinds the cluster serves, for -Kind: asked of the API's discovery, which a cmdlet does once.</summary>
public abstract class ClusterResourceCmdlet : ContainerOpsCmdlet
{
    private List<ClusterResourceType>? _types;

    protected IReadOnlyList<ClusterResourceType> Types => _types ??= Run(ct => ClusterResources.DiscoverAsync(Client, ct));

    protected ClusterResourceType TypeOf(string kind, string? apiVersion = null) => ClusterResources.Resolve(Types, kind, apiVersion);
}

internal sealed class ClusterKindCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Query<ClusterResourceType>(async (c, ct) => await ClusterResources.DiscoverAsync(c, ct), t => [(t.Kind, $"{t.ApiVersion} {t.Resource}")], wordToComplete);
}

/// <summary>Lists cluster objects of any kind (`kubectl get KIND`): by name (wildcards), label selector, in a
/// namespace or all of them. The kind is its name, plural, singular or short name (Deployment, deployments, deploy),
/// with its group where two groups serve one (events.events.k8s.io).</summary>
/// <example><code>Get-ClusterResource ConfigMap -Namespace kube-system</code>The config maps of kube-system.</example>
/// <example><code>Get-ClusterResource deploy web | Set-ClusterResource -ServerSide</code>Applies web back as it is, server-side.</example>
[Cmdlet(VerbsCommon.Get, "ClusterResource", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(ClusterResource))]
public sealed class GetClusterResourceCommand : GetClusterObjectsCommand<ClusterResource>
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterKindCompleter))]
    public string Kind { get; set; } = "";

    /// <summary>Object names; wildcards allowed.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    private List<ClusterResourceType>? _types; // discovered once for all the kinds a pipeline brings
    private ClusterResourceType? _type;

    private protected override string[]? Names => Name;
    private protected override string KindName => _type?.Kind ?? Kind;
    private protected override string Scope => _type is { Namespaced: false } ? "in the cluster" : base.Scope;
    private protected override bool ListFailureTerminates => false; // an unknown kind is one bad input

    private protected override async Task<IEnumerable<ClusterResource>> ListAsync(string? ns, CancellationToken ct)
    {
        _types ??= await ClusterResources.DiscoverAsync(Client, ct);
        var type = _type = ClusterResources.Resolve(_types, Kind);
        var items = await ClusterResources.ListAsync(Client, type, type.Namespaced ? ns : null, Selector, ct);
        return items.Select(i =>
        {
            // Lists leave kind and apiVersion out of their items.
            i["kind"] ??= type.Kind;
            i["apiVersion"] ??= type.ApiVersion;
            return ClusterResource.From(i);
        });
    }
}

/// <summary>
/// Applies cluster objects of any kind (`kubectl apply`): every document of manifest files (YAML or JSON, several per
/// file), or objects from the pipeline (anything with a Json property: Get-ClusterResource, Get-Deployment…). Each
/// object is created, or replaced when it exists; with -ServerSide it is applied server-side under -FieldManager,
/// which owns the fields it sets, and a field another manager owns is a conflict unless -ForceConflicts. Every object
/// is first checked by the API (a dry run): if one is refused, none is applied, unless -ContinueOnError.
/// -WhatIf shows what each would change.
/// </summary>
/// <example><code>Set-ClusterResource -Path ./app.yaml</code>Creates or updates every object in the file.</example>
/// <example><code>Get-ChildItem ./manifests -Filter *.yaml | Set-ClusterResource -ServerSide -WhatIf</code>Shows what a server-side apply of each file would change.</example>
[Cmdlet(VerbsCommon.Set, "ClusterResource", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Path")]
[OutputType(typeof(ClusterResource))]
public sealed class SetClusterResourceCommand : ClusterResourceCmdlet
{
    /// <summary>Manifest files.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>An object as JSON (the Json property of what the Get- cmdlets write).</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Json", ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Json { get; set; } = "";

    /// <summary>The namespace of objects that name none.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>Apply server-side: the API merges and records which fields this manager owns.</summary>
    [Parameter]
    public SwitchParameter ServerSide { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string FieldManager { get; set; } = "containerops";

    /// <summary>With -ServerSide: take the fields other managers own.</summary>
    [Parameter]
    public SwitchParameter ForceConflicts { get; set; }

    /// <summary>Apply the objects the API accepts even when it refuses others.</summary>
    [Parameter]
    public SwitchParameter ContinueOnError { get; set; }

    private readonly List<(JsonObject Manifest, string Source)> _documents = [];

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Json")
        {
            try { _documents.Add((JsonNode.Parse(Json) as JsonObject ?? throw new FormatException("not a JSON object"), "the pipeline")); }
            catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException)
            {
                WriteError(new ErrorRecord(new FormatException($"-Json: {ex.Message}", ex), "ClusterResourceJsonInvalid", ErrorCategory.InvalidData, Json));
            }
            return;
        }
        foreach (var path in Path)
        {
            var file = GetUnresolvedProviderPathFromPSPath(path);
            try
            {
                var documents = ManifestReader.Read(File.ReadAllText(file), file);
                for (var i = 0; i < documents.Count; i++) _documents.Add((documents[i], documents.Count > 1 ? $"{file} (document {i + 1})" : file));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                WriteError(new ErrorRecord(ex, "ClusterResourceManifestUnreadable", ErrorCategory.InvalidData, file));
            }
        }
    }

    /// <summary>All documents are read first, so that one refused document stops the others before any is applied.</summary>
    protected override void EndProcessing()
    {
        var prepared = new List<(JsonObject Manifest, string Source, ClusterResourceType Type, string? Ns, string Name)>();
        var failed = false;
        foreach (var (manifest, source) in _documents)
        {
            try
            {
                var kind = Str(manifest["kind"]) ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "ClusterResourceKindMissing", $"{source}: an object without kind");
                var apiVersion = Str(manifest["apiVersion"]) ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "ClusterResourceApiVersionMissing", $"{source}: a {kind} without apiVersion");
                var type = TypeOf(kind, apiVersion);
                var name = Str(manifest["metadata"]?["name"]) ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "ClusterResourceNameMissing", $"{source}: a {kind} without metadata.name");
                prepared.Add((AsConfiguration(manifest), source, type, type.Namespaced ? Str(manifest["metadata"]?["namespace"]) ?? Namespace : null, name));
            }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); failed = true; }
        }
        // The API checks each object first; objects in a namespace the same batch makes cannot be checked before it exists.
        var made = prepared.Where(p => p.Type.Kind == "Namespace" && p.Type.Group.Length == 0 && TryGet(p.Type, null, p.Name) is null)
            .Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var changes = new Dictionary<int, string>();
        for (var i = 0; i < prepared.Count; i++)
        {
            var p = prepared[i];
            if (p.Ns is not null && made.Contains(p.Ns)) continue;
            try
            {
                var current = TryGet(p.Type, p.Ns, p.Name);
                var (after, _) = Run(ct => ClusterResources.ApplyAsync(Client, p.Type, p.Ns, p.Manifest, ServerSide, FieldManager, ForceConflicts, dryRun: true, ct));
                changes[i] = Changes(current, after);
            }
            catch (ContainerOpsException ex)
            {
                WriteError(new ErrorRecord(new ContainerOpsException(ex.Error.Kind, ex.Error.Id, $"{p.Source}: {p.Type.Kind} {p.Name}: {ex.Message}", inner: ex), ex.Error.Id, ErrorRecords.CategoryFor(ex.Error), p.Name));
                failed = true;
                prepared[i] = default;
            }
        }
        if (failed && !ContinueOnError)
        {
            WriteError(new ErrorRecord(new InvalidOperationException("nothing was applied: the API refused at least one object (see the errors above; -ContinueOnError applies the others)"),
                "ClusterResourceApplyRefused", ErrorCategory.InvalidData, null));
            return;
        }
        for (var i = 0; i < prepared.Count; i++)
        {
            var p = prepared[i];
            if (p.Manifest is null) continue;
            var target = p.Ns is null ? $"{p.Type.Kind} {p.Name}" : $"{p.Type.Kind} {p.Ns}/{p.Name}";
            var action = (ServerSide ? "Apply server-side" : "Apply") + (changes.TryGetValue(i, out var c) ? $" ({c})" : "");
            if (!ShouldProcess(target, action)) continue;
            try
            {
                var (result, _) = Run(ct => ClusterResources.ApplyAsync(Client, p.Type, p.Ns, p.Manifest, ServerSide, FieldManager, ForceConflicts, dryRun: false, ct));
                WriteObject(ClusterResource.From(result));
            }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }

    private JsonObject? TryGet(ClusterResourceType type, string? ns, string name)
    {
        try { return Run(ct => ClusterResources.GetAsync(Client, type, ns, name, ct)); }
        catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound) { return null; }
    }

    /// <summary>The object as a configuration: without what the server sets (so an object read from the API applies
    /// back as it is).</summary>
    internal static JsonObject AsConfiguration(JsonObject manifest)
    {
        var o = (JsonObject)manifest.DeepClone();
        o.Remove("status");
        if (o["metadata"] is JsonObject meta)
            foreach (var serverSet in new[] { "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds" })
                meta.Remove(serverSet);
        return o;
    }

    /// <summary>What an apply would change, as the fields that differ: "create", "no change", or "spec.replicas: 1 → 3, …".</summary>
    internal static string Changes(JsonObject? before, JsonObject after)
    {
        if (before is null) return "create";
        var diffs = new List<string>();
        Compare("", Comparable(before), Comparable(after), diffs);
        return diffs.Count == 0 ? "no change" : diffs.Count <= 8 ? string.Join(", ", diffs) : string.Join(", ", diffs.Take(8)) + $", and {diffs.Count - 8} more";

        static JsonNode Comparable(JsonObject o)
        {
            var copy = (JsonObject)o.DeepClone();
            copy.Remove("status");
            if (copy["metadata"] is JsonObject meta)
                foreach (var f in new[] { "resourceVersion", "generation", "managedFields" }) meta.Remove(f);
            return copy;
        }

        static void Compare(string path, JsonNode? a, JsonNode? b, List<string> diffs)
        {
            if (JsonNode.DeepEquals(a, b)) return;
            if (a is JsonObject oa && b is JsonObject ob)
            {
                foreach (var key in oa.Select(kv => kv.Key).Union(ob.Select(kv => kv.Key)))
                    Compare(path.Length == 0 ? key : $"{path}.{key}", oa[key], ob[key], diffs);
                return;
            }
            diffs.Add($"{path}: {Show(a)} → {Show(b)}");
        }

        static string Show(JsonNode? n) => n is null ? "(none)" : n.ToJsonString() is { Length: <= 40 } s ? s : n.ToJsonString()[..37] + "...";
    }

    private static string? Str(JsonNode? n) => DeploymentInfo.S(n);
}

/// <summary>Removes cluster objects of any kind (`kubectl delete KIND NAME`). Dependents go after their owner
/// (-Propagation Background, the default), before it (Foreground) or stay (Orphan).</summary>
/// <example><code>Remove-ClusterResource ConfigMap settings -Force</code>Removes a config map without asking.</example>
/// <example><code>Get-ClusterResource deploy -Selector tier=test | Remove-ClusterResource -Propagation Foreground</code>Removes test deployments, their pods first.</example>
[Cmdlet(VerbsCommon.Remove, "ClusterResource", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveClusterResourceCommand : ClusterResourceCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterKindCompleter))]
    public string Kind { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Namespace { get; set; }

    [Parameter]
    [ValidateSet("Background", "Foreground", "Orphan")]
    public string Propagation { get; set; } = "Background";

    /// <summary>Seconds the object (a pod) is given to stop; 0: at once. Default: its own.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? GracePeriod { get; set; }

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        ClusterResourceType type;
        try { type = TypeOf(Kind); }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); return; }
        var ns = type.Namespaced ? (string.IsNullOrEmpty(Namespace) ? "default" : Namespace) : null;
        foreach (var name in Name)
        {
            var target = ns is null ? $"{type.Kind} {name}" : $"{type.Kind} {ns}/{name}";
            if (!(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf") || ShouldProcess(target, $"Remove ({Propagation})"))) continue;
            try { Run(ct => ClusterResources.DeleteAsync(Client, type, ns, name, Propagation, GracePeriod, ct)); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}
