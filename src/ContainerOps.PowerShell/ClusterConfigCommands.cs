using System.Collections;
using System.Management.Automation;
using System.Net;
using System.Security;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>What New-ClusterConfigMap and New-ClusterSecret share: the object's keys from -Data and -Path, its labels,
/// and create-or-replace with -Force.</summary>
public abstract class ClusterDataCmdlet : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    /// <summary>Files; each becomes a key named after the file (kubectl create … --from-file).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    [Parameter]
    public Hashtable? Label { get; set; }

    /// <summary>Replace the object if it exists (else that is an error).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected abstract ResourceRequests Requests { get; }
    protected abstract string Kind { get; }

    /// <summary>The object's keys and values as text or bytes; false when something was refused (written as an error).</summary>
    protected bool TryReadFiles(Dictionary<string, byte[]> into)
    {
        foreach (var path in Path ?? [])
        {
            var file = GetUnresolvedProviderPathFromPSPath(path);
            try { into[System.IO.Path.GetFileName(file)] = File.ReadAllBytes(file); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                WriteError(new ErrorRecord(ex, Kind + "FileUnreadable", ErrorCategory.ReadError, file));
                return false;
            }
        }
        return true;
    }

    protected void Write(JsonObject body)
    {
        var meta = new JsonObject { ["name"] = Name, ["namespace"] = Namespace };
        if (Label is { Count: > 0 }) meta["labels"] = ClusterLabels.ToJson(Label);
        body["metadata"] = meta;
        if (!ShouldProcess($"{Namespace}/{Name}", Force ? $"Create or replace {Kind}" : $"Create {Kind}")) return;
        try
        {
            JsonObject written;
            try { written = Run(ct => Requests.CreateAsync(Client, Namespace, body, ct)); }
            catch (ContainerOpsException ex) when (Force && ex.Error.Kind == ErrorKind.Conflict)
            {
                written = Run(ct => Requests.UpdateAsync(Client, Namespace, Name, current =>
                {
                    foreach (var field in new[] { "data", "binaryData", "stringData", "type" }) current.Remove(field);
                    foreach (var (k, v) in body) if (k != "metadata") current[k] = v?.DeepClone();
                    if (meta["labels"] is { } labels && current["metadata"] is JsonObject currentMeta) currentMeta["labels"] = labels.DeepClone();
                }, ct));
            }
            written["kind"] ??= Kind;
            written["apiVersion"] ??= "v1";
            WriteObject(ClusterResource.From(written));
        }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }
}

/// <summary>Creates a config map (`kubectl create configmap`) from a hashtable and from files; a file that is not
/// UTF-8 text goes to binaryData, as kubectl puts it.</summary>
/// <example><code>New-ClusterConfigMap settings -Data @{ mode = 'fast'; level = 3 }</code>Two keys.</example>
/// <example><code>New-ClusterConfigMap nginx-conf -Path ./nginx.conf -Namespace web -Force</code>A key nginx.conf with the file's text, replacing the map if it exists.</example>
[Cmdlet(VerbsCommon.New, "ClusterConfigMap", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ClusterResource))]
public sealed class NewClusterConfigMapCommand : ClusterDataCmdlet
{
    [Parameter]
    public Hashtable? Data { get; set; }

    protected override ResourceRequests Requests { get; } = new("api/v1", "configmaps");
    protected override string Kind => "ConfigMap";

    protected override void ProcessRecord()
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (!TryReadFiles(files)) return;
        var data = new JsonObject();
        var binary = new JsonObject();
        foreach (DictionaryEntry e in Data ?? []) data[e.Key.ToString()!] = e.Value?.ToString() ?? "";
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var (key, bytes) in files)
        {
            try { data[key] = strict.GetString(bytes); }
            catch (DecoderFallbackException) { binary[key] = Convert.ToBase64String(bytes); }
        }
        var body = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["data"] = data };
        if (binary.Count > 0) body["binaryData"] = binary;
        Write(body);
    }
}

/// <summary>Creates a secret (`kubectl create secret generic`): values from a hashtable (SecureStrings, or text), and
/// files; -Type for the other kinds of secret (kubernetes.io/tls with keys tls.crt and tls.key, kubernetes.io/dockerconfigjson…).
/// Values travel to the daemon on its socket only; what is written back shows names, not values.</summary>
/// <example><code>New-ClusterSecret db -Data @{ password = Read-Host -AsSecureString }</code>A secret whose value is never shown.</example>
/// <example><code>New-ClusterSecret web-tls -Type kubernetes.io/tls -Path ./tls.crt, ./tls.key</code>A TLS secret from two files.</example>
[Cmdlet(VerbsCommon.New, "ClusterSecret", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ClusterResource))]
public sealed class NewClusterSecretCommand : ClusterDataCmdlet
{
    /// <summary>Keys and values; SecureString values are read only to be sent.</summary>
    [Parameter]
    public Hashtable? Data { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(SecretTypeCompleter))]
    public string Type { get; set; } = "Opaque";

    protected override ResourceRequests Requests { get; } = new("api/v1", "secrets");
    protected override string Kind => "Secret";

    protected override void ProcessRecord()
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (!TryReadFiles(files)) return;
        var data = new JsonObject();
        foreach (DictionaryEntry e in Data ?? [])
        {
            var value = (e.Value is PSObject p ? p.BaseObject : e.Value) switch
            {
                SecureString secure => new NetworkCredential("", secure).Password,
                null => "",
                var other => other.ToString() ?? "",
            };
            data[e.Key.ToString()!] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value));
        }
        foreach (var (key, bytes) in files) data[key] = Convert.ToBase64String(bytes);
        Write(new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = Type, ["data"] = data });
    }

    private sealed class SecretTypeCompleter : IArgumentCompleter
    {
        private static readonly string[] Types =
        [
            "Opaque", "kubernetes.io/tls", "kubernetes.io/dockerconfigjson", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth",
            "kubernetes.io/service-account-token", "bootstrap.kubernetes.io/token",
        ];

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            System.Management.Automation.Language.CommandAst commandAst, IDictionary fakeBoundParameters) =>
            Types.Where(t => t.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase)).Select(t => new CompletionResult(t));
    }
}

/// <summary>An event as `kubectl get events` shows it.</summary>
public sealed class ClusterEventInfo
{
    public string Namespace { get; init; } = "";
    public DateTime LastSeen { get; init; }
    /// <summary>Normal or Warning.</summary>
    public string Type { get; init; } = "";
    public string Reason { get; init; } = "";
    /// <summary>The object it is about, as kind/name.</summary>
    public string Object { get; init; } = "";
    public string Message { get; init; } = "";
    public int Count { get; init; }
    public string Source { get; init; } = "";

    public static ClusterEventInfo From(JsonObject e)
    {
        string S(JsonNode? n) => DeploymentInfo.S(n) ?? "";
        DateTime T(JsonNode? n) => DateTime.TryParse(S(n), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : DateTime.MinValue;
        var involved = e["involvedObject"];
        var last = T(e["lastTimestamp"]);
        if (last == DateTime.MinValue) last = T(e["eventTime"]);
        if (last == DateTime.MinValue) last = T(e["metadata"]?["creationTimestamp"]);
        return new ClusterEventInfo
        {
            Namespace = S(e["metadata"]?["namespace"]),
            LastSeen = last,
            Type = S(e["type"]),
            Reason = S(e["reason"]),
            Object = $"{S(involved?["kind"]).ToLowerInvariant()}/{S(involved?["name"])}",
            Message = S(e["message"]),
            Count = e["count"] is JsonValue c && c.TryGetValue<int>(out var n) ? n : 1,
            Source = S(e["source"]?["component"]) is { Length: > 0 } component ? component : S(e["reportingComponent"]),
        };
    }
}

/// <summary>Lists cluster events (`kubectl get events`), oldest first: of a namespace or all, about one object
/// (-Object kind/name or name), Warnings only with -Type Warning, newer than -Since.</summary>
/// <example><code>Get-ClusterEvent -Type Warning -Since (Get-Date).AddMinutes(-10)</code>The warnings of the last ten minutes.</example>
/// <example><code>Get-ClusterEvent -Object pod/web-0</code>What happened to one pod.</example>
[Cmdlet(VerbsCommon.Get, "ClusterEvent", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(ClusterEventInfo))]
public sealed class GetClusterEventCommand : ContainerOpsCmdlet
{
    [Parameter(ParameterSetName = "Namespace", ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    [Parameter(ParameterSetName = "All")]
    public SwitchParameter AllNamespaces { get; set; }

    /// <summary>The object: kind/name (pod/web-0) or a name; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    public string? Object { get; set; }

    [Parameter]
    [ValidateSet("Normal", "Warning")]
    public string? Type { get; set; }

    [Parameter]
    public DateTime? Since { get; set; }

    private static readonly ResourceRequests EventRequests = new("api/v1", "events");

    protected override void ProcessRecord()
    {
        List<JsonObject> items;
        try { items = Run(ct => EventRequests.ListAsync(Client, AllNamespaces ? null : Namespace, null, ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }
        var pattern = Object is null ? null : new WildcardPattern(Object, WildcardOptions.IgnoreCase);
        var since = Since?.ToUniversalTime();
        foreach (var e in items.Select(ClusterEventInfo.From).OrderBy(e => e.LastSeen))
        {
            if (pattern is not null && !pattern.IsMatch(e.Object) && !pattern.IsMatch(e.Object[(e.Object.IndexOf('/') + 1)..])) continue;
            if (Type is not null && !string.Equals(e.Type, Type, StringComparison.OrdinalIgnoreCase)) continue;
            if (since is not null && e.LastSeen < since) continue;
            WriteObject(e);
        }
    }
}

/// <summary>A namespace as `kubectl get namespaces` shows it.</summary>
public sealed class ClusterNamespaceInfo
{
    public string Name { get; init; } = "";
    /// <summary>Active, or Terminating while what it holds is removed.</summary>
    public string Status { get; init; } = "";
    public Hashtable Labels { get; init; } = [];
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    public string Json { get; init; } = "";

    public static ClusterNamespaceInfo From(JsonObject o)
    {
        var r = ClusterResource.From(o);
        return new ClusterNamespaceInfo
        {
            Name = r.Name, Labels = r.Labels, Created = r.Created, Json = r.Json,
            Status = o["status"]?["phase"] is JsonValue v && v.TryGetValue<string>(out var phase) ? phase : "Active",
        };
    }
}

/// <summary>Creates a namespace (`kubectl create namespace`).</summary>
/// <example><code>New-ClusterNamespace team-a -Label @{ owner = 'ops' }</code>A namespace with a label.</example>
[Cmdlet(VerbsCommon.New, "ClusterNamespace", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ClusterNamespaceInfo))]
public sealed class NewClusterNamespaceCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    [Parameter]
    public Hashtable? Label { get; set; }

    internal static readonly ResourceRequests Namespaces = new("api/v1", "namespaces");

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            if (!ShouldProcess(name, "Create namespace")) continue;
            var meta = new JsonObject { ["name"] = name };
            if (Label is { Count: > 0 }) meta["labels"] = ClusterLabels.ToJson(Label);
            var body = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = meta };
            try { WriteObject(ClusterNamespaceInfo.From(Run(ct => Namespaces.CreateAsync(Client, null, body, ct)))); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Lists namespaces (`kubectl get namespaces`): NAME, STATUS, AGE.</summary>
/// <example><code>Get-ClusterNamespace team-*</code>The team namespaces.</example>
[Cmdlet(VerbsCommon.Get, "ClusterNamespace")]
[OutputType(typeof(ClusterNamespaceInfo))]
public sealed class GetClusterNamespaceCommand : ContainerOpsCmdlet
{
    /// <summary>Names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    [Parameter]
    public string? Selector { get; set; }

    protected override void ProcessRecord()
    {
        List<JsonObject> items;
        try { items = Run(ct => NewClusterNamespaceCommand.Namespaces.ListAsync(Client, null, Selector, ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }
        var shown = items.Select(ClusterNamespaceInfo.From).OrderBy(n => n.Name, StringComparer.Ordinal);
        foreach (var n in NameFilter.Select(this, Name, shown, n => n.Name, "Namespace", "in the cluster")) WriteObject(n);
    }
}

/// <summary>Removes namespaces and everything in them (`kubectl delete namespace`): each is Terminating until what it
/// holds is gone. It asks (Medium impact, as every removal) unless -Force.</summary>
/// <example><code>Remove-ClusterNamespace team-a -Force</code>Removes team-a and all its objects without asking.</example>
[Cmdlet(VerbsCommon.Remove, "ClusterNamespace", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveClusterNamespaceCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            if (!(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf") || ShouldProcess(name, "Remove namespace and everything in it"))) continue;
            try { Run(ct => NewClusterNamespaceCommand.Namespaces.DeleteAsync(Client, null, name, "Background", ct)); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}
