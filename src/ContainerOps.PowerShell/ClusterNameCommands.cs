using System.Management.Automation;
using System.Net;
using ContainerOps.Client;
using ContainerOps.Core.Api;
using DnsClient;
using DnsClient.Protocol;

namespace ContainerOps.PowerShell;

/// <summary>One record of a cluster DNS answer.</summary>
public sealed class ClusterNameRecord
{
    /// <summary>The name as it was asked.</summary>
    public string Query { get; init; } = "";
    /// <summary>The full name that answered (after the search list).</summary>
    public string Name { get; init; } = "";
    /// <summary>A, AAAA, CNAME, SRV, PTR…</summary>
    public string Type { get; init; } = "";
    /// <summary>The address, the target name, or for SRV "priority weight port target".</summary>
    public string Data { get; init; } = "";
    public int TTL { get; init; }
    /// <summary>The DNS server that answered.</summary>
    public string Server { get; init; } = "";
}

/// <summary>
/// Resolves a name the way a pod of -Namespace sees it (dnsPolicy ClusterFirst): asks the cluster DNS itself (the
/// kube-dns service's address, or -Server), trying the pod's search list (NAMESPACE.svc.DOMAIN, svc.DOMAIN, DOMAIN)
/// with ndots:5 as a pod's resolver does, and writes the records of the first name that has any. A name beginning
/// with _ asks for SRV records, an IP address for its PTR record, anything else for A records, unless -Type says.
/// </summary>
/// <example><code>Resolve-ClusterName web</code>web.default.svc.cluster.local's cluster IP, as a pod in default resolves "web".</example>
/// <example><code>Resolve-ClusterName web.shop -Namespace default</code>A service of namespace shop, from a pod in default.</example>
/// <example><code>Resolve-ClusterName _http._tcp.web</code>The SRV record of web's port named http.</example>
/// <example><code>Get-ClusterService | Resolve-ClusterName</code>Every service of the namespace, by name.</example>
[Cmdlet(VerbsDiagnostic.Resolve, "ClusterName")]
[OutputType(typeof(ClusterNameRecord))]
public sealed class ResolveClusterNameCommand : ContainerOpsCmdlet
{
    /// <summary>The name (web, web.ns, web.ns.svc.cluster.local, _http._tcp.web, an IP address for its PTR).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The namespace of the pod whose view is taken (its search list).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "default";

    [Parameter]
    [ValidateSet("A", "AAAA", "CNAME", "SRV", "PTR", "TXT")]
    public string? Type { get; set; }

    /// <summary>The DNS server (IP or IP:PORT) instead of the kube-dns service's cluster IP.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Server { get; set; }

    /// <summary>The cluster's DNS domain (the daemon's --cluster-domain).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>Ask over TCP instead of UDP.</summary>
    [Parameter]
    public SwitchParameter Tcp { get; set; }

    [Parameter]
    [ValidateRange(1, 60)]
    public int TimeoutSec { get; set; } = 2;

    private IPEndPoint? _server;

    protected override void ProcessRecord()
    {
        try { _server ??= ServerEndpoint(); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }
        catch (FormatException ex) { ThrowTerminatingError(new ErrorRecord(ex, "ClusterDnsServerInvalid", ErrorCategory.InvalidArgument, Server)); return; }

        var reverse = IPAddress.TryParse(Name, out var address);
        var type = Enum.Parse<QueryType>(Type ?? (reverse ? "PTR" : Name.StartsWith('_') ? "SRV" : "A"));
        var candidates = reverse ? [address!.GetArpaName().TrimEnd('.')] : ClusterNameSearch.Candidates(Name, Namespace, ClusterDomain);
        var client = new LookupClient(new LookupClientOptions(_server)
        {
            UseCache = false, Timeout = TimeSpan.FromSeconds(TimeoutSec), Retries = 1, UseTcpOnly = Tcp, UseTcpFallback = true,
            ThrowDnsErrors = false, ContinueOnDnsError = false, ContinueOnEmptyResponse = false, Recursion = true,
        });
        foreach (var candidate in candidates)
        {
            IDnsQueryResponse response;
            try { response = Run(ct => client.QueryAsync(candidate, type, QueryClass.IN, ct)); }
            catch (DnsResponseException ex)
            {
                WriteError(new ErrorRecord(new IOException($"the cluster DNS at {_server} did not answer {candidate} ({type}): {ex.Message}", ex), "ClusterDnsUnreachable", ErrorCategory.ResourceUnavailable, Name));
                return;
            }
            WriteVerbose($"{candidate} {type}: {response.Header.ResponseCode}, {response.Answers.Count} answers");
            if (response.Header.ResponseCode is not (DnsHeaderResponseCode.NoError or DnsHeaderResponseCode.NotExistentDomain))
            {
                WriteError(new ErrorRecord(new IOException($"the cluster DNS at {_server} answered {candidate} ({type}) with {response.Header.ResponseCode}"), "ClusterDnsFailed", ErrorCategory.InvalidResult, Name));
                return;
            }
            if (response.Answers.Count == 0) continue; // NXDOMAIN or no data: the next name of the search list, as resolvers go on
            foreach (var r in response.Answers) WriteObject(Record(r));
            return;
        }
        WriteError(new ErrorRecord(new ItemNotFoundException($"no {type} record for {Name} as a pod in namespace {Namespace} resolves it (asked {_server} for {string.Join(", ", candidates)})"),
            "ClusterNameNotFound", ErrorCategory.ObjectNotFound, Name));
    }

    private ClusterNameRecord Record(DnsResourceRecord r) => new()
    {
        Query = Name, Name = r.DomainName.Value.TrimEnd('.'), Type = r.RecordType.ToString(), TTL = r.TimeToLive, Server = _server!.ToString(),
        Data = r switch
        {
            ARecord a => a.Address.ToString(),
            AaaaRecord a => a.Address.ToString(),
            CNameRecord c => c.CanonicalName.Value.TrimEnd('.'),
            PtrRecord p => p.PtrDomainName.Value.TrimEnd('.'),
            SrvRecord s => $"{s.Priority} {s.Weight} {s.Port} {s.Target.Value.TrimEnd('.')}",
            TxtRecord t => string.Join(" ", t.Text),
            _ => r.ToString(),
        },
    };

    /// <summary>-Server, or the cluster IP of kube-system/kube-dns on port 53, as a pod's resolv.conf names it.</summary>
    private IPEndPoint ServerEndpoint()
    {
        if (Server is not null)
            return IPEndPoint.TryParse(Server, out var given) ? (given.Port == 0 ? new IPEndPoint(given.Address, 53) : given)
                : throw new FormatException($"-Server {Server} is not IP or IP:PORT");
        var dns = Run(ct => Client.GetServiceAsync("kube-system", "kube-dns", ct));
        return ServiceInfo.S(dns["spec"]?["clusterIP"]) is { } ip && IPAddress.TryParse(ip, out var address)
            ? new IPEndPoint(address, 53)
            : throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "ClusterDnsUnavailable", "service kube-system/kube-dns has no cluster IP: give -Server");
    }
}

/// <summary>How a pod's resolver (ClusterFirst: search NAMESPACE.svc.DOMAIN svc.DOMAIN DOMAIN, options ndots:5) turns a
/// name into the names it asks for, in order.</summary>
internal static class ClusterNameSearch
{
    public const int Ndots = 5;

    public static List<string> Candidates(string name, string ns, string domain)
    {
        if (name.EndsWith('.')) return [name.TrimEnd('.')];
        string[] search = [$"{ns}.svc.{domain}", $"svc.{domain}", domain];
        var expanded = search.Select(s => $"{name}.{s}").ToList();
        // A name with at least ndots dots is tried as it is first; any other after the search list.
        return name.Count(c => c == '.') >= Ndots ? [name, .. expanded] : [.. expanded, name];
    }
}
