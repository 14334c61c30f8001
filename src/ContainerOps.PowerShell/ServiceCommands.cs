using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>A service as the cmdlets show it: kubectl's TYPE, CLUSTER-IP, EXTERNAL-IP and PORT(S), and how many ready
/// endpoints it has.</summary>
public sealed class ServiceInfo : IClusterObjectInfo
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>ClusterIP, NodePort, LoadBalancer or ExternalName.</summary>
    public string Type { get; init; } = "";
    /// <summary>The cluster IP, "None" for a headless service, empty for ExternalName.</summary>
    public string ClusterIP { get; init; } = "";
    /// <summary>kubectl's EXTERNAL-IP: the external IPs, the ExternalName's target, &lt;pending&gt; for a LoadBalancer without one, else &lt;none&gt;.</summary>
    public string ExternalIP { get; init; } = "";
    /// <summary>kubectl's PORT(S): port[:nodePort]/protocol, comma-separated.</summary>
    public string Ports { get; init; } = "";
    /// <summary>Ready endpoint addresses (pods, or the addresses written for a service without a selector).</summary>
    public int Endpoints { get; init; }
    public string Selector { get; init; } = "";
    public string SessionAffinity { get; init; } = "None";
    public DateTime Created { get; init; }
    public TimeSpan Age => DateTime.UtcNow - Created;
    /// <summary>The service as the API has it (JSON).</summary>
    public string Json { get; init; } = "";

    public static ServiceInfo From(JsonObject service, IEnumerable<JsonObject> slices)
    {
        var meta = service["metadata"];
        var spec = service["spec"] as JsonObject ?? [];
        var type = S(spec["type"]) ?? "ClusterIP";
        var externalIps = (spec["externalIPs"] as JsonArray ?? []).Select(S).OfType<string>().ToList();
        var ingress = (service["status"]?["loadBalancer"]?["ingress"] as JsonArray ?? []).Select(i => S(i?["ip"]) ?? S(i?["hostname"])).OfType<string>();
        var external = type == "ExternalName" ? S(spec["externalName"]) ?? ""
            : externalIps.Concat(ingress).ToList() is { Count: > 0 } shown ? string.Join(",", shown)
            : type == "LoadBalancer" ? "<pending>" : "<none>";
        var ports = (spec["ports"] as JsonArray ?? []).OfType<JsonObject>().Select(p =>
            $"{p["port"]}{(p["nodePort"] is { } np && type is "NodePort" or "LoadBalancer" ? ":" + np : "")}/{S(p["protocol"]) ?? "TCP"}").ToList();
        var selector = spec["selector"] as JsonObject ?? [];
        return new ServiceInfo
        {
            Name = S(meta?["name"]) ?? "", Namespace = S(meta?["namespace"]) ?? "", Type = type,
            ClusterIP = S(spec["clusterIP"]) ?? "", ExternalIP = external,
            Ports = ports.Count > 0 ? string.Join(",", ports) : "<none>",
            Endpoints = EndpointInfo.FromSlices(slices).Where(e => e.Ready).Select(e => e.Address).Distinct().Count(),
            Selector = string.Join(",", selector.Select(kv => $"{kv.Key}={S(kv.Value)}")),
            SessionAffinity = S(spec["sessionAffinity"]) ?? "None",
            Created = DateTime.TryParse(S(meta?["creationTimestamp"]), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : DateTime.UtcNow,
            Json = service.ToJsonString(),
        };
    }

    internal static string? S(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}

/// <summary>One address behind a service (an endpoint of its EndpointSlices), with the pod it is and its ports.</summary>
public sealed class EndpointInfo
{
    /// <summary>The service's name.</summary>
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    public string Address { get; init; } = "";
    /// <summary>The ports traffic goes to on this address, as name:port/protocol (or port/protocol).</summary>
    public string[] Ports { get; init; } = [];
    /// <summary>Receives new traffic.</summary>
    public bool Ready { get; init; }
    /// <summary>Answers (ready, or terminating but still serving).</summary>
    public bool Serving { get; init; }
    public bool Terminating { get; init; }
    /// <summary>The pod (targetRef) behind the address, if it is one.</summary>
    public string? Pod { get; init; }
    public string? Node { get; init; }
    /// <summary>The address's own DNS name under a headless service (hostname.service.namespace.svc…).</summary>
    public string? Hostname { get; init; }

    /// <summary>Every endpoint of the slices, one per address and slice (the same address may serve several port lists).</summary>
    public static IEnumerable<EndpointInfo> FromSlices(IEnumerable<JsonObject> slices)
    {
        foreach (var slice in slices)
        {
            var ports = (slice["ports"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(p => $"{(ServiceInfo.S(p["name"]) is { Length: > 0 } n ? n + ":" : "")}{p["port"]}/{ServiceInfo.S(p["protocol"]) ?? "TCP"}").ToArray();
            var service = ServiceInfo.S(slice["metadata"]?["labels"]?["kubernetes.io/service-name"]) ?? "";
            foreach (var e in (slice["endpoints"] as JsonArray ?? []).OfType<JsonObject>())
            {
                bool? Flag(string name) => e["conditions"]?[name] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;
                // An absent ready condition means ready, and serving follows ready (the API's rules for slices).
                var ready = Flag("ready") ?? true;
                foreach (var address in (e["addresses"] as JsonArray ?? []).Select(ServiceInfo.S).OfType<string>())
                    yield return new EndpointInfo
                    {
                        Name = service, Namespace = ServiceInfo.S(slice["metadata"]?["namespace"]) ?? "", Address = address, Ports = ports,
                        Ready = ready, Serving = Flag("serving") ?? ready, Terminating = Flag("terminating") ?? false,
                        Pod = ServiceInfo.S(e["targetRef"]?["kind"]) == "Pod" ? ServiceInfo.S(e["targetRef"]?["name"]) : null,
                        Node = ServiceInfo.S(e["nodeName"]), Hostname = ServiceInfo.S(e["hostname"]),
                    };
            }
        }
    }
}

/// <summary>Lists services (`kubectl get services`) with how many ready endpoints each has: of a namespace or all, by
/// name (wildcards) or label selector.</summary>
/// <example><code>Get-ClusterService</code>The services of the default namespace: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S), ENDPOINTS, AGE.</example>
/// <example><code>Get-ClusterService -AllNamespaces | Where-Object Endpoints -eq 0</code>Services nothing answers behind.</example>
/// <example><code>Get-ClusterService web | Get-ClusterEndpoint</code>The pods behind web.</example>
[Cmdlet(VerbsCommon.Get, "ClusterService", DefaultParameterSetName = "Namespace")]
[OutputType(typeof(ServiceInfo))]
public sealed class GetClusterServiceCommand : GetClusterObjectsCommand<ServiceInfo>
{
    /// <summary>Service names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Each service with the endpoint slices that name it.</summary>
    private static IEnumerable<ServiceInfo> ShowAll(List<JsonObject> services, List<JsonObject> slices)
    {
        var slicesByService = slices.ToLookup(s => $"{ServiceInfo.S(s["metadata"]?["namespace"])}/{ServiceInfo.S(s["metadata"]?["labels"]?["kubernetes.io/service-name"])}");
        return services.Select(s => ServiceInfo.From(s, slicesByService[$"{ServiceInfo.S(s["metadata"]?["namespace"])}/{ServiceInfo.S(s["metadata"]?["name"])}"]));
    }

    private protected override string[]? Names => Name;
    private protected override string KindName => "Service";
    private protected override async Task<IEnumerable<ServiceInfo>> ListAsync(string? ns, CancellationToken ct) =>
        ShowAll(await Client.ListServicesAsync(ns, Selector, ct), await Client.ListEndpointSlicesAsync(ns, null, ct));
}

/// <summary>
/// Creates or changes a service. From parameters: a missing service is made; an existing one changes only in what is
/// given. -Deployment exposes a deployment as `kubectl expose deployment` does: the service takes its selector, its
/// name (unless -Name is given) and, without -Port, its containers' ports. From -Path: each Service in a manifest file
/// (YAML or JSON, several documents) is created or replaced.
/// -Port takes `PORT`, `PORT:TARGET` (a number or a container port's name), `/udp` or `/sctp` after either, and
/// `NAME=` before (a named port gets SRV records; a port whose target is a name is named after it).
/// </summary>
/// <example><code>Set-ClusterService -Name web -Selector @{app='web'} -Port 80:8080</code>A cluster IP for the pods labelled app=web, port 80 to their 8080.</example>
/// <example><code>Set-ClusterService -Deployment web -Port 80:http -Type NodePort</code>Exposes deployment web on a node port (`kubectl expose deployment web --port 80 --target-port http --type NodePort`).</example>
/// <example><code>Get-Deployment api | Set-ClusterService -Port 8080</code>Exposes the deployments on the pipeline.</example>
/// <example><code>Set-ClusterService -Name db -Selector @{app='db'} -Port pg=5432 -ClusterIP None</code>A headless service: its name resolves to the ready pods.</example>
/// <example><code>Set-ClusterService -Name search -ExternalName search.example.com</code>A DNS alias (CNAME) inside the cluster.</example>
/// <example><code>Set-ClusterService -Path ./web-service.yaml</code>Creates or updates the services the file describes.</example>
[Cmdlet(VerbsCommon.Set, "ClusterService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(ServiceInfo))]
public sealed class SetClusterServiceCommand : ContainerOpsCmdlet
{
    private const string ParametersSet = "Parameters", DeploymentSet = "Deployment", DeploymentObjectSet = "DeploymentObject", PathSet = "Path";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    [ValidatePattern("^[a-z]([-a-z0-9]*[a-z0-9])?$")]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The deployment to expose: its pod selector becomes the service's.</summary>
    [Parameter(Mandatory = true, ParameterSetName = DeploymentSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(DeploymentNameCompleter))]
    public string Deployment { get; set; } = "";

    /// <summary>Deployments from Get-Deployment, exposed one service each.</summary>
    // Not mandatory: a mandatory by-value parameter in one set keeps the other sets from binding by property name.
    [Parameter(ValueFromPipeline = true, ParameterSetName = DeploymentObjectSet)]
    public DeploymentInfo? InputObject { get; set; }

    /// <summary>The pods the service sends traffic to, by label.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    public Hashtable? Selector { get; set; }

    /// <summary>Ports: 80, 80:8080, 80:http, 53/udp, dns=53:5353/udp.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    [ValidateNotNullOrEmpty]
    public string[]? Port { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    [ValidateSet("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")]
    public string? Type { get; set; }

    /// <summary>The cluster IP to take (from the service range), or None for a headless service.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    [ValidateNotNullOrEmpty]
    public string? ClusterIP { get; set; }

    /// <summary>Node ports for the ports, in order (30000-32767); without it NodePort services get free ones.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    [ValidateRange(1, 65535)]
    public int[]? NodePort { get; set; }

    /// <summary>The DNS name an ExternalName service is an alias of.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateNotNullOrEmpty]
    public string? ExternalName { get; set; }

    /// <summary>Addresses of this node that also answer for the service's ports.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    public string[]? ExternalIP { get; set; }

    /// <summary>ClientIP keeps each client on one endpoint (for 3 hours of silence); None spreads every connection.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    [ValidateSet("None", "ClientIP")]
    public string? SessionAffinity { get; set; }

    /// <summary>Local keeps the client's address on node port traffic (and sends it only to this node's endpoints).</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    [ValidateSet("Cluster", "Local")]
    public string? ExternalTrafficPolicy { get; set; }

    /// <summary>Labels of the service itself.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = DeploymentObjectSet)]
    public Hashtable? Label { get; set; }

    /// <summary>Manifest files (YAML or JSON) holding Services.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    protected override void ProcessRecord()
    {
        if (ParameterSetName == PathSet)
        {
            foreach (var path in Path) ApplyFile(GetUnresolvedProviderPathFromPSPath(path));
            return;
        }
        try
        {
            List<JsonObject> ports;
            try { ports = (Port ?? []).Select(ServicePorts.Parse).ToList(); }
            catch (FormatException ex)
            {
                WriteError(new ErrorRecord(new ArgumentException(ex.Message, nameof(Port), ex), "ServicePortInvalid", ErrorCategory.InvalidArgument, Port));
                return;
            }
            Dictionary<string, string>? selector = Selector is null ? null : Selector.Keys.Cast<object>().ToDictionary(k => k.ToString()!, k => Selector[k]?.ToString() ?? "");
            var name = Name;
            var ns = Namespace;
            if (ParameterSetName is DeploymentSet or DeploymentObjectSet)
            {
                var deploymentName = InputObject?.Name ?? Deployment;
                if (InputObject is not null) ns = InputObject.Namespace is { Length: > 0 } dns ? dns : ns;
                var deployment = Run(ct => Client.GetDeploymentAsync(ns, deploymentName, ct));
                selector = ServicePorts.SelectorOf(deployment, ns, deploymentName);
                if (name.Length == 0) name = deploymentName;
                if (ports.Count == 0) ports = ServicePorts.ContainerPorts(deployment);
                if (ports.Count == 0)
                {
                    WriteError(new ErrorRecord(new ArgumentException($"deployment {ns}/{deploymentName} declares no container port: give -Port"), "ServicePortRequired", ErrorCategory.InvalidArgument, deploymentName));
                    return;
                }
            }
            ServicePorts.NameUnnamed(ports);
            if (NodePort is { } nodePorts)
            {
                if (nodePorts.Length > ports.Count)
                {
                    WriteError(new ErrorRecord(new ArgumentException($"-NodePort has {nodePorts.Length} ports for {ports.Count} service ports (give -Port for each)"), "ServiceNodePortInvalid", ErrorCategory.InvalidArgument, NodePort));
                    return;
                }
            }

            JsonObject? current;
            try { current = Run(ct => Client.GetServiceAsync(ns, name, ct)); }
            catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound) { current = null; }
            if (current is null) Create(ns, name, selector, ports);
            else Change(ns, name, selector, ports);
        }
        catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
    }

    private void Create(string ns, string name, Dictionary<string, string>? selector, List<JsonObject> ports)
    {
        var type = Type ?? (ExternalName is not null ? "ExternalName" : "ClusterIP");
        if (ports.Count == 0 && type != "ExternalName" && ClusterIP != "None")
        {
            WriteError(new ErrorRecord(new ArgumentException($"service {ns}/{name} does not exist: -Port is needed to create it (or -ExternalName, or -ClusterIP None)"), "ServicePortRequired", ErrorCategory.InvalidArgument, name));
            return;
        }
        var spec = new JsonObject();
        var service = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = spec,
        };
        if (Label is { Count: > 0 }) service["metadata"]!["labels"] = ClusterLabels.ToJson(Label);
        if (selector is { Count: > 0 }) spec["selector"] = new JsonObject(selector.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        if (ports.Count > 0) spec["ports"] = new JsonArray(ports.Select(p => (JsonNode?)p).ToArray());
        Apply(spec, type);
        if (!ShouldProcess($"{ns}/{name}", $"Create service ({type}{(ports.Count > 0 ? ", " + string.Join(",", Port ?? ports.Select(p => p["port"]!.ToString())) : "")})")) return;
        WriteObject(Info(Run(ct => Client.CreateServiceAsync(ns, service, ct))));
    }

    private void Change(string ns, string name, Dictionary<string, string>? selector, List<JsonObject> ports)
    {
        if (!ShouldProcess($"{ns}/{name}", "Update service")) return;
        var updated = Run(ct => Client.UpdateServiceAsync(ns, name, s =>
        {
            var spec = s["spec"] as JsonObject ?? [];
            s["spec"] = spec;
            if (selector is not null)
                spec["selector"] = selector.Count == 0 ? null : new JsonObject(selector.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
            if (ports.Count > 0)
            {
                // Ports keep the node ports they had (matched by port and protocol), as `kubectl apply` leaves them.
                var old = (spec["ports"] as JsonArray ?? []).OfType<JsonObject>().ToList();
                foreach (var p in ports)
                    if (old.FirstOrDefault(o => o["port"]?.ToString() == p["port"]?.ToString() && (ServiceInfo.S(o["protocol"]) ?? "TCP") == ServiceInfo.S(p["protocol"])) is { } was
                        && was["nodePort"] is { } np)
                        p["nodePort"] = np.DeepClone();
                spec["ports"] = new JsonArray(ports.Select(p => (JsonNode?)p.DeepClone()).ToArray());
            }
            if (Label is { Count: > 0 })
            {
                var meta = s["metadata"]!.AsObject();
                var labels = meta["labels"] as JsonObject;
                if (labels is null) { labels = []; meta["labels"] = labels; }
                foreach (var (k, v) in ClusterLabels.ToJson(Label)) labels[k] = v?.DeepClone();
            }
            Apply(spec, Type ?? (ExternalName is not null ? "ExternalName" : ServiceInfo.S(spec["type"]) ?? "ClusterIP"));
        }, ct));
        WriteObject(Info(updated));
    }

    /// <summary>The parameters that map onto the spec one to one, and what a type change takes away.</summary>
    private void Apply(JsonObject spec, string type)
    {
        spec["type"] = type;
        if (type == "ExternalName")
        {
            if (ExternalName is not null) spec["externalName"] = ExternalName;
            // An alias has no address of its own.
            spec.Remove("clusterIP");
            spec.Remove("clusterIPs");
        }
        else spec.Remove("externalName");
        if (type is not ("NodePort" or "LoadBalancer"))
        {
            foreach (var p in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>()) p.Remove("nodePort");
            spec.Remove("externalTrafficPolicy");
        }
        if (ClusterIP is not null)
        {
            spec["clusterIP"] = ClusterIP;
            spec["clusterIPs"] = new JsonArray((JsonNode)ClusterIP);
        }
        if (NodePort is { } nodePorts)
            for (var i = 0; i < nodePorts.Length && spec["ports"] is JsonArray ports && i < ports.Count; i++) ports[i]!["nodePort"] = nodePorts[i];
        if (ExternalIP is not null) spec["externalIPs"] = new JsonArray(ExternalIP.Select(a => (JsonNode?)a).ToArray());
        if (SessionAffinity is not null)
        {
            spec["sessionAffinity"] = SessionAffinity;
            if (SessionAffinity == "None") spec.Remove("sessionAffinityConfig");
        }
        if (ExternalTrafficPolicy is not null) spec["externalTrafficPolicy"] = ExternalTrafficPolicy;
    }

    /// <summary>The service as written, with its endpoints as they are now.</summary>
    private ServiceInfo Info(JsonObject service)
    {
        var ns = ServiceInfo.S(service["metadata"]?["namespace"]) ?? Namespace;
        var name = ServiceInfo.S(service["metadata"]?["name"]) ?? "";
        return ServiceInfo.From(service, Run(ct => Client.ListEndpointSlicesAsync(ns, name, ct)));
    }

    private void ApplyFile(string path)
    {
        var applied = ManifestApplier.Apply(this, path, "Service", Namespace, (ns, name, s) =>
        {
            try
            {
                return Run(ct => Client.UpdateServiceAsync(ns, name, current =>
                {
                    // The spec as written, keeping the cluster IP the cluster allocated where the file leaves it out.
                    var given = s["spec"]?.DeepClone() as JsonObject ?? [];
                    var was = current["spec"] as JsonObject ?? [];
                    foreach (var field in new[] { "clusterIP", "clusterIPs" })
                        if (given[field] is null && was[field] is { } value && ServiceInfo.S(given["type"]) != "ExternalName") given[field] = value.DeepClone();
                    current["spec"] = given;
                    ManifestApplier.MergeMetadata(current, s["metadata"] as JsonObject);
                }, ct));
            }
            catch (ContainerOpsException ex) when (ex.Error.Kind == ErrorKind.NotFound)
            {
                return Run(ct => Client.CreateServiceAsync(ns, s, ct));
            }
        });
        foreach (var s in applied) WriteObject(Info(s));
    }
}

/// <summary>-Port of Set-ClusterService, and what `kubectl expose` takes from a deployment.</summary>
internal static partial class ServicePorts
{
    [GeneratedRegex("^(?:(?<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)=)?(?<port>[0-9]{1,5})(?::(?<target>[0-9]{1,5}|[a-z0-9]([-a-z0-9]*[a-z0-9])?))?(?:/(?<protocol>tcp|udp|sctp))?$", RegexOptions.IgnoreCase)]
    private static partial Regex PortPattern();

    /// <summary>80, 80:8080, 80:http, 53/udp, dns=53:5353/udp → a service port.</summary>
    public static JsonObject Parse(string text)
    {
        var m = PortPattern().Match(text.Trim());
        if (!m.Success)
            throw new FormatException($"port \"{text}\" is not PORT, PORT:TARGET or NAME=PORT[:TARGET], with an optional /tcp, /udp or /sctp");
        var port = int.Parse(m.Groups["port"].Value);
        if (port is < 1 or > 65535) throw new FormatException($"port \"{text}\": {port} is not between 1 and 65535");
        var target = m.Groups["target"].Success ? m.Groups["target"].Value.ToLowerInvariant() : port.ToString();
        var targetNumber = int.TryParse(target, out var n) ? n : (int?)null;
        if (targetNumber is < 1 or > 65535) throw new FormatException($"port \"{text}\": target {targetNumber} is not between 1 and 65535");
        var p = new JsonObject();
        // A port that targets a container port's name is known by that name (SRV: _http._tcp.web…).
        if (m.Groups["name"].Success) p["name"] = m.Groups["name"].Value.ToLowerInvariant();
        else if (targetNumber is null) p["name"] = target;
        p["port"] = port;
        p["protocol"] = m.Groups["protocol"].Success ? m.Groups["protocol"].Value.ToUpperInvariant() : "TCP";
        p["targetPort"] = targetNumber is { } number ? number : target;
        return p;
    }

    /// <summary>Several ports must all be named: the unnamed ones become port-1, port-2… as with `kubectl expose`.</summary>
    public static void NameUnnamed(List<JsonObject> ports)
    {
        if (ports.Count < 2) return;
        for (var i = 0; i < ports.Count; i++)
            if (ports[i]["name"] is null) ports[i]["name"] = $"port-{i + 1}";
    }

    /// <summary>The deployment's pod selector (its matchLabels), which the service takes as its own.</summary>
    public static Dictionary<string, string> SelectorOf(JsonObject deployment, string ns, string name)
    {
        var selector = deployment["spec"]?["selector"];
        if (selector?["matchExpressions"] is JsonArray { Count: > 0 } || selector?["matchLabels"] is not JsonObject { Count: > 0 } labels)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "ServiceSelectorUnsupported",
                $"deployment {ns}/{name} selects its pods with match expressions, which a service selector cannot say: give -Selector");
        return labels.ToDictionary(kv => kv.Key, kv => ServiceInfo.S(kv.Value) ?? "");
    }

    /// <summary>Every container port of the deployment's pods, as `kubectl expose` takes them when no port is given.</summary>
    public static List<JsonObject> ContainerPorts(JsonObject deployment) =>
        (deployment["spec"]?["template"]?["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(c => (c["ports"] as JsonArray ?? []).OfType<JsonObject>())
            .Select(cp =>
            {
                var p = new JsonObject { ["port"] = cp["containerPort"]?.DeepClone(), ["protocol"] = ServiceInfo.S(cp["protocol"]) ?? "TCP", ["targetPort"] = cp["containerPort"]?.DeepClone() };
                if (ServiceInfo.S(cp["name"]) is { } n) p["name"] = n;
                return p;
            }).ToList();
}

/// <summary>Removes services: their cluster IP and node ports are freed and their rules leave every node.</summary>
/// <example><code>Remove-ClusterService web</code>Removes service web of the default namespace.</example>
/// <example><code>Get-ClusterService -Selector tier=test | Remove-ClusterService -Force</code>Removes them without asking.</example>
[Cmdlet(VerbsCommon.Remove, "ClusterService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveClusterServiceCommand : ServiceTargetCmdlet
{
    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            var confirmed = Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf")
                || ShouldProcess($"{Namespace}/{name}", "Remove service");
            if (!confirmed) continue;
            try { Run(ct => Client.DeleteServiceAsync(Namespace, name, ct)); }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Lists the addresses behind services (their EndpointSlices): ready, not ready and terminating ones, each
/// with the pod it is, its node and its ports (`kubectl get endpointslices -l kubernetes.io/service-name=NAME`).</summary>
/// <example><code>Get-ClusterEndpoint web</code>The pods behind web, ready ones first.</example>
/// <example><code>Get-ClusterService | Get-ClusterEndpoint | Where-Object -Not Ready</code>Every address that gets no traffic now.</example>
[Cmdlet(VerbsCommon.Get, "ClusterEndpoint")]
[OutputType(typeof(EndpointInfo))]
public sealed class GetClusterEndpointCommand : ServiceTargetCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            try
            {
                // The service first, so that a wrong name is an error rather than an empty answer.
                Run(ct => Client.GetServiceAsync(Namespace, name, ct));
                var endpoints = EndpointInfo.FromSlices(Run(ct => Client.ListEndpointSlicesAsync(Namespace, name, ct)))
                    .OrderByDescending(e => e.Ready).ThenBy(e => e.Pod ?? e.Address, StringComparer.Ordinal);
                foreach (var e in endpoints) WriteObject(e);
            }
            catch (ContainerOpsException ex) { WriteError(ErrorRecords.From(ex)); }
        }
    }
}

/// <summary>Cmdlets that act on named services of a namespace, taken from the pipeline by property name (Get-ClusterService's objects).</summary>
public abstract class ServiceTargetCmdlet : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";
}

/// <summary>Completes service names of the default namespace (or the one bound).</summary>
public sealed class ServiceNameCompleter : ClusterNameCompleter
{
    private protected override Task<List<JsonObject>> ListAsync(IContainerOpsClient client, string ns, CancellationToken ct) => client.ListServicesAsync(ns, null, ct);
    private protected override string Tip(JsonObject o) => $"{ServiceInfo.S(o["spec"]?["type"]) ?? "ClusterIP"} {ServiceInfo.S(o["spec"]?["clusterIP"])}";
}
