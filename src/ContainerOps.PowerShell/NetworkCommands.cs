using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Lists networks (`docker network ls`), or inspects them by name.</summary>
/// <example><code>Get-ContainerNetwork</code>Every network: `docker network ls`.</example>
/// <example><code>Get-ContainerNetwork app* | Select-Object Name, Subnet, @{ n = 'Containers'; e = { $_.Containers.Count } }</code>The networks whose names start with app, with their subnets and how many containers they hold.</example>
[Cmdlet(VerbsCommon.Get, "ContainerNetwork")]
[OutputType(typeof(NetworkResource))]
public sealed class GetContainerNetworkCommand : ContainerOpsCmdlet
{
    /// <summary>Network names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(NetworkNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Network ids or id prefixes.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("NetworkId")]
    public string[]? Id { get; set; }

    /// <summary>Daemon-side filters, docker's names: @{ driver = 'bridge'; label = 'team=web'; type = 'custom' }.</summary>
    [Parameter]
    public Hashtable? Filter { get; set; }

    protected override void ProcessRecord()
    {
        Dictionary<string, string>? filters = null;
        if (Filter is { Count: > 0 })
        {
            filters = new(StringComparer.Ordinal);
            foreach (DictionaryEntry de in Filter) filters[de.Key.ToString()!] = (de.Value is PSObject p ? p.BaseObject : de.Value)?.ToString() ?? "";
        }
        IReadOnlyList<NetworkResource> list;
        try { list = Run(ct => Client.ListNetworksAsync(filters, ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }

        IEnumerable<NetworkResource> selected = list;
        if (Name is not null)
        {
            var patterns = Name.Select(n => (Text: n, Pattern: new WildcardPattern(n, WildcardOptions.IgnoreCase))).ToList();
            var matched = selected.Where(n => patterns.Any(p => p.Pattern.IsMatch(n.Name))).ToList();
            foreach (var p in patterns.Where(p => !WildcardPattern.ContainsWildcardCharacters(p.Text)))
                if (!matched.Any(n => p.Pattern.IsMatch(n.Name))) WriteError(ErrorRecords.NotFound("network", "NetworkNotFound", p.Text));
            selected = matched;
        }
        if (Id is not null)
        {
            var matched = selected.Where(n => Id.Any(i => n.Id.StartsWith(i, StringComparison.OrdinalIgnoreCase))).ToList();
            foreach (var i in Id.Where(i => !matched.Any(n => n.Id.StartsWith(i, StringComparison.OrdinalIgnoreCase))))
                WriteError(ErrorRecords.NotFound("network", "NetworkNotFound", i));
            selected = matched;
        }
        foreach (var n in selected) WriteObject(n);
    }
}

/// <summary>Creates a bridge network (`docker network create`).</summary>
/// <example><code>New-ContainerNetwork app</code>A user-defined network with a free subnet; its containers find each other by name.</example>
/// <example><code>New-ContainerNetwork backend -Subnet 10.30.0.0/24 -Gateway 10.30.0.254 -IPRange 10.30.0.128/25 -Internal</code>A network with its own addressing and no way out: `docker network create --subnet … --gateway … --ip-range … --internal backend`.</example>
[Cmdlet(VerbsCommon.New, "ContainerNetwork", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(NetworkResource))]
public sealed class NewContainerNetworkCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>bridge (the default and only driver).</summary>
    [Parameter]
    [ValidateSet("bridge")]
    public string? Driver { get; set; }

    /// <summary>IPv4 subnet in CIDR notation (default: a free one of 172.17-31.0.0/16 and 192.168.0.0/16).</summary>
    [Parameter]
    public string? Subnet { get; set; }

    /// <summary>The bridge's address (default: the first of the subnet).</summary>
    [Parameter]
    public string? Gateway { get; set; }

    /// <summary>The part of the subnet containers' addresses are taken from.</summary>
    [Parameter]
    public string? IPRange { get; set; }

    /// <summary>No traffic to or from outside the network.</summary>
    [Parameter]
    public SwitchParameter Internal { get; set; }

    [Parameter]
    public Hashtable? Label { get; set; }

    /// <summary>Driver options, e.g. @{ 'com.docker.network.bridge.name' = 'br-app'; 'com.docker.network.driver.mtu' = 1400 }.</summary>
    [Parameter]
    [Alias("Opt")]
    public Hashtable? Option { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(Name, "Create network")) return;
        var request = new NetworkCreateRequest
        {
            Name = Name, Driver = Driver, Internal = Internal,
            Labels = ToDictionary(Label is null ? null : [Label]), Options = ToDictionary(Option is null ? null : [Option]),
        };
        if (Subnet is not null || Gateway is not null || IPRange is not null)
            request.IPAM = new IPAM { Config = [new IPAMConfig { Subnet = Subnet, Gateway = Gateway, IPRange = IPRange }] };
        TryStep(() =>
        {
            var created = Run(ct => Client.CreateNetworkAsync(request, ct));
            if (created.Warning is { Length: > 0 } w) WriteWarning(w);
            WriteObject(Run(ct => Client.InspectNetworkAsync(created.Id, ct)));
        });
    }
}

/// <summary>Removes networks (`docker network rm`); one that still has containers stays (NetworkInUse).</summary>
/// <example><code>Get-ContainerNetwork app* | Remove-ContainerNetwork</code>Removes the networks whose names start with app.</example>
/// <example><code>Remove-ContainerNetwork -Unused -Confirm:$false</code>Removes every user-defined network no container uses: `docker network prune -f`.</example>
[Cmdlet(VerbsCommon.Remove, "ContainerNetwork", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "ByName")]
[OutputType(typeof(void), typeof(string))]
public sealed class RemoveContainerNetworkCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "ByName")]
    [Alias("Id", "NetworkId")]
    [ArgumentCompleter(typeof(NetworkNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Every user-defined network without containers (`docker network prune`); writes the removed names.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Unused")]
    public SwitchParameter Unused { get; set; }

    /// <summary>No error for a network that does not exist (`docker network rm -f`).</summary>
    [Parameter(ParameterSetName = "ByName")]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        if (Unused)
        {
            if (!ShouldProcess("every user-defined network without containers", "Remove")) return;
            TryStep(() => WriteObject(Run(ct => Client.PruneNetworksAsync(ct)).NetworksDeleted, enumerateCollection: true));
            return;
        }
        foreach (var n in Name)
        {
            if (!ShouldProcess(n, "Remove network")) continue;
            TryStep(() =>
            {
                try { Run(ct => Client.RemoveNetworkAsync(n, ct)); }
                catch (ContainerOpsException e) when (Force && e.Error.Kind == ErrorKind.NotFound) { }
            });
        }
    }
}

/// <summary>Connects containers to a network (`docker network connect`), running or not.</summary>
/// <example><code>Connect-ContainerNetwork app -Container web -Alias www</code>web joins app and answers to www there as well.</example>
/// <example><code>Get-Container api* | Connect-ContainerNetwork -Network backend</code>Every api container joins backend.</example>
[Cmdlet(VerbsCommunications.Connect, "ContainerNetwork", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class ConnectContainerNetworkCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(NetworkNameCompleter))]
    public string Network { get; set; } = "";

    /// <summary>The container: id, id prefix or name.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "ContainerId", "Name")]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string Container { get; set; } = "";

    /// <summary>A fixed IPv4 address on this network (`--ip`).</summary>
    [Parameter]
    [Alias("IP")]
    public string? IPv4Address { get; set; }

    /// <summary>More names the container answers to on this network (`--alias`).</summary>
    [Parameter]
    public string[]? Alias { get; set; }

    protected override void ProcessRecord()
    {
        var container = TrimSlash(Container);
        if (!ShouldProcess(container, $"Connect to network {Network}")) return;
        var settings = new EndpointSettings
        {
            Aliases = Alias?.ToList(),
            IPAMConfig = IPv4Address is null ? null : new EndpointIPAMConfig { IPv4Address = IPv4Address },
        };
        TryStep(() => Run(ct => Client.ConnectNetworkAsync(Network, container, settings, ct)));
    }
}

/// <summary>Disconnects containers from a network (`docker network disconnect`).</summary>
/// <example><code>Disconnect-ContainerNetwork app -Container web</code>web leaves app: its address there is freed and its name no longer resolves.</example>
[Cmdlet(VerbsCommunications.Disconnect, "ContainerNetwork", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class DisconnectContainerNetworkCommand : ContainerOpsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(NetworkNameCompleter))]
    public string Network { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "ContainerId", "Name")]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string Container { get; set; } = "";

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var container = TrimSlash(Container);
        if (!ShouldProcess(container, $"Disconnect from network {Network}")) return;
        TryStep(() => Run(ct => Client.DisconnectNetworkAsync(Network, container, Force, ct)));
    }
}

/// <summary>Completes network names.</summary>
public sealed class NetworkNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Query((client, ct) => client.ListNetworksAsync(null, ct), n => [(n.Name, $"{n.Driver} {n.IPAM.Config.FirstOrDefault()?.Subnet}")], wordToComplete);
}
