using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Store;
using ContainerOps.Network.Ipam;

namespace ContainerOps.Cluster.Api;

/// <summary>The service network: where cluster IPs and node ports come from (`--service-cidr`, `--service-node-ports`).</summary>
public sealed class ServiceNetworkOptions
{
    public const string DefaultCidr = "10.96.0.0/12";
    public Ipv4Subnet Cidr { get; init; } = Ipv4Subnet.Parse(DefaultCidr, "--service-cidr");
    public int NodePortFirst { get; init; } = 30000;
    public int NodePortLast { get; init; } = 32767;

    /// <summary>The API server's own `kubernetes` service takes the range's first address, as in Kubernetes.</summary>
    public IPAddress KubernetesServiceIp => Ipv4Subnet.ToAddress(Cidr.First + 1);

    /// <summary>The cluster DNS service's address: the range's tenth (10.96.0.10 by default).</summary>
    public IPAddress DnsServiceIp => Ipv4Subnet.ToAddress(Cidr.First + 10);

    public static ServiceNetworkOptions Parse(string cidr)
    {
        var subnet = Ipv4Subnet.Parse(cidr, "--service-cidr");
        if (subnet.PrefixLength > 28) throw new ArgumentException($"--service-cidr {cidr} is too small: at most /28", "--service-cidr");
        return new ServiceNetworkOptions { Cidr = subnet };
    }
}

/// <summary>
/// Cluster IPs and node ports, as the API server allocates them at admission. Each address or port in use is a key of
/// its own in the cluster store (`serviceips/ADDRESS`, `servicenodeports/PORT`) naming the service that holds it, made
/// with the store's create (which fails when the key exists): two concurrent creates can never take the same one, and
/// the allocations survive restarts with the services. A key whose service is gone (a crash between allocation and
/// write, a namespace removed wholesale) is taken over once it is a minute old, which is the repair loop's job in
/// Kubernetes.
/// </summary>
public sealed class ServiceAllocator(IClusterStore store, ServiceNetworkOptions network)
{
    private const string IpPrefix = "serviceips/", PortPrefix = "servicenodeports/";
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(1);
    public ServiceNetworkOptions Network { get; } = network;

    /// <summary>What one admission took: released again if the write does not happen, and what the service held
    /// before and holds no more, released once the write did.</summary>
    public sealed class Admission
    {
        internal readonly List<string> Taken = [], Superseded = [];
        internal ServiceAllocator? Owner;
        public void Commit() { foreach (var k in Superseded) Owner?.Release(k); }
        public void Rollback() { foreach (var k in Taken) Owner?.Release(k); }
        public static readonly Admission None = new();
    }

    /// <summary>Fills in and allocates the service's cluster IP and node ports (keeping those of <paramref name="old"/>
    /// where the new spec leaves them out, as the API server does), or throws Invalid with the field that cannot be
    /// had. Allocates nothing for a headless or ExternalName service, and no node port for a ClusterIP one.</summary>
    public Admission Admit(JsonObject service, JsonObject? old)
    {
        var spec = service["spec"] as JsonObject ?? [];
        var oldSpec = old?["spec"] as JsonObject;
        var meta = Json.Metadata(service);
        var owner = new JsonObject { ["namespace"] = Json.Str(meta["namespace"]), ["name"] = Json.Str(meta["name"]), ["uid"] = Json.Str(meta["uid"]) };
        var type = Json.Str(spec["type"]) ?? "ClusterIP";
        var admission = new Admission { Owner = this };
        try
        {
            AdmitClusterIp(spec, oldSpec, type, owner, admission);
            AdmitNodePorts(spec, oldSpec, type, owner, admission);
        }
        catch
        {
            admission.Rollback();
            throw;
        }
        return admission;
    }

    private void AdmitClusterIp(JsonObject spec, JsonObject? oldSpec, string type, JsonObject owner, Admission admission)
    {
        var oldIp = Json.Str(oldSpec?["clusterIP"]);
        if (type == "ExternalName")
        {
            // An ExternalName service has no address; one it had before goes.
            spec.Remove("clusterIP");
            spec.Remove("clusterIPs");
            if (IsAddress(oldIp)) admission.Superseded.Add(IpPrefix + oldIp);
            return;
        }
        var ip = Json.Str(spec["clusterIP"]) ?? Json.Str((spec["clusterIPs"] as JsonArray)?.FirstOrDefault());
        if (string.IsNullOrEmpty(ip) && !string.IsNullOrEmpty(oldIp) && Json.Str(oldSpec?["type"]) != "ExternalName") ip = oldIp;
        if (ip == "None")
        {
            if (IsAddress(oldIp)) admission.Superseded.Add(IpPrefix + oldIp);
            spec["clusterIP"] = "None";
            spec["clusterIPs"] = new JsonArray("None");
            return;
        }
        if (string.IsNullOrEmpty(ip)) ip = AllocateIp(owner, admission);
        else if (ip != oldIp) TakeIp(ip, owner, admission);
        if (IsAddress(oldIp) && ip != oldIp) admission.Superseded.Add(IpPrefix + oldIp);
        spec["clusterIP"] = ip;
        spec["clusterIPs"] = new JsonArray(ip);
    }

    private static bool IsAddress(string? s) => s is { Length: > 0 } && s != "None";

    private void TakeIp(string ip, JsonObject owner, Admission admission)
    {
        FieldError Refused(string why) => FieldError.InvalidRaw("spec.clusterIPs", $"[]string{{\"{ip}\"}}", $"failed to allocate IP {ip}: {why}");
        if (!IPAddress.TryParse(ip, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw Invalid(owner, Refused("not a valid IPv4 address"));
        var n = Ipv4Subnet.ToUInt(address);
        if (!Network.Cidr.Contains(n) || n == Network.Cidr.First || n == Network.Cidr.Last)
            throw Invalid(owner, Refused($"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {Network.Cidr}"));
        if (!TryTake(IpPrefix + ip, owner, reclaimStale: true)) throw Invalid(owner, Refused("provided IP is already allocated"));
        admission.Taken.Add(IpPrefix + ip);
    }

    private string AllocateIp(JsonObject owner, Admission admission)
    {
        var taken = Store.List(IpPrefix).Items.Select(i => i.Key[IpPrefix.Length..]).ToHashSet();
        // Random, then onwards: addresses are not handed out in order, so a deleted service's address is not at once
        // the next one's (clients may still have it cached). The first 16 are left for addresses users choose
        // (10.96.0.10 for the cluster DNS), as Kubernetes reserves the bottom of the range.
        var first = Network.Cidr.First + 16;
        var count = (uint)(Network.Cidr.Size - 17);
        if (Network.Cidr.Size <= 32) { first = Network.Cidr.First + 1; count = (uint)(Network.Cidr.Size - 2); }
        var start = (uint)RandomNumberGenerator.GetInt32((int)Math.Min(count, int.MaxValue));
        for (uint i = 0; i < count; i++)
        {
            var ip = Ipv4Subnet.ToAddress(first + (start + i) % count).ToString();
            if (taken.Contains(ip) || !TryTake(IpPrefix + ip, owner, reclaimStale: false)) continue;
            admission.Taken.Add(IpPrefix + ip);
            return ip;
        }
        throw new StatusException(500, "InternalError", $"Internal error occurred: failed to allocate a serviceIP: range is full ({Network.Cidr})");
    }

    private void AdmitNodePorts(JsonObject spec, JsonObject? oldSpec, string type, JsonObject owner, Admission admission)
    {
        var wantsNodePorts = type is "NodePort" or "LoadBalancer";
        var oldPorts = (oldSpec?["ports"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(p => (Port: Number(p["port"]), Protocol: Json.Str(p["protocol"]) ?? "TCP", NodePort: NodePortOf(p)))
            .Where(p => p.NodePort > 0).ToList();
        var held = new HashSet<long>();
        var ports = spec["ports"] as JsonArray ?? [];
        if (!wantsNodePorts)
        {
            foreach (var p in ports.OfType<JsonObject>()) p.Remove("nodePort");
        }
        else
        {
            var oldNodePorts = oldPorts.Select(p => p.NodePort).ToHashSet();
            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i] is not JsonObject p) continue;
                var nodePort = NodePortOf(p);
                var port = Number(p["port"]);
                var protocol = Json.Str(p["protocol"]) ?? "TCP";
                if (nodePort == 0)
                {
                    // Kept from the old spec for the same port, else a new one.
                    nodePort = oldPorts.FirstOrDefault(o => o.Port == port && o.Protocol == protocol).NodePort;
                    if (nodePort == 0) nodePort = oldPorts.FirstOrDefault(o => o.Port == port).NodePort;
                }
                if (nodePort == 0) nodePort = AllocatePort(owner, admission, held);
                else if (!oldNodePorts.Contains(nodePort) && !held.Contains(nodePort))
                {
                    FieldError Refused(string why) => FieldError.InvalidRaw($"spec.ports[{i}].nodePort", nodePort.ToString(), why);
                    if (nodePort < Network.NodePortFirst || nodePort > Network.NodePortLast)
                        throw Invalid(owner, Refused($"provided port is not in the valid range. The range of valid ports is {Network.NodePortFirst}-{Network.NodePortLast}"));
                    if (!TryTake(PortPrefix + nodePort, owner, reclaimStale: true)) throw Invalid(owner, Refused("provided port is already allocated"));
                    admission.Taken.Add(PortPrefix + nodePort);
                }
                held.Add(nodePort);
                p["nodePort"] = nodePort;
            }
        }
        foreach (var old in oldPorts.Select(p => p.NodePort).Distinct())
            if (!held.Contains(old)) admission.Superseded.Add(PortPrefix + old);
    }

    private static long NodePortOf(JsonObject p) => Number(p["nodePort"]);

    /// <summary>A whole number however the node holds it (parsed, or set in code as an int); 0 when it is none.</summary>
    internal static long Number(JsonNode? node) =>
        node is JsonValue v ? (v.TryGetValue<long>(out var l) ? l : v.TryGetValue<int>(out var i) ? i : 0) : 0;

    private long AllocatePort(JsonObject owner, Admission admission, HashSet<long> held)
    {
        var taken = Store.List(PortPrefix).Items.Select(i => long.Parse(i.Key[PortPrefix.Length..])).ToHashSet();
        var count = Network.NodePortLast - Network.NodePortFirst + 1;
        var start = RandomNumberGenerator.GetInt32(count);
        for (var i = 0; i < count; i++)
        {
            long port = Network.NodePortFirst + (start + i) % count;
            if (taken.Contains(port) || held.Contains(port) || !TryTake(PortPrefix + port, owner, reclaimStale: false)) continue;
            admission.Taken.Add(PortPrefix + port);
            return port;
        }
        throw new StatusException(500, "InternalError", $"Internal error occurred: failed to allocate a nodePort: range is full ({Network.NodePortFirst}-{Network.NodePortLast})");
    }

    private IClusterStore Store => store;

    /// <summary>Creates the allocation key; when it exists and its service is gone (and it is old enough not to be
    /// a create still under way), takes it over with a compare-and-swap.</summary>
    private bool TryTake(string key, JsonObject owner, bool reclaimStale)
    {
        var value = (JsonObject)owner.DeepClone();
        value["since"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var bytes = Json.Bytes(value);
        try
        {
            store.Create(key, _ => bytes);
            return true;
        }
        catch (StoreConflictException) { }
        if (!reclaimStale || store.Get(key) is not { } existing) return false;
        var holder = ClusterObjects.Parse(existing.Value);
        if (!IsStale(holder, key)) return false;
        try
        {
            store.Update(key, existing.Revision, _ => bytes);
            return true;
        }
        catch (StoreConflictException) { return false; }
    }

    private bool IsStale(JsonObject holder, string key)
    {
        var since = Number(holder["since"]);
        if (DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(since) < StaleAfter) return false;
        var ns = Json.Str(holder["namespace"]);
        var name = Json.Str(holder["name"]);
        if (ns is null || name is null || store.Get($"services/{ns}/{name}") is not { } svc) return true;
        var o = ClusterObjects.Parse(svc.Value);
        if (Json.Str(o["metadata"]?["uid"]) != Json.Str(holder["uid"])) return true;
        var value = key[(key.IndexOf('/') + 1)..];
        return key.StartsWith(IpPrefix, StringComparison.Ordinal)
            ? Json.Str(o["spec"]?["clusterIP"]) != value
            : !(o["spec"]?["ports"] as JsonArray ?? []).OfType<JsonObject>().Any(p => NodePortOf(p).ToString() == value);
    }

    /// <summary>Frees what a removed service held.</summary>
    public void Released(JsonObject service)
    {
        var spec = service["spec"] as JsonObject;
        if (IsAddress(Json.Str(spec?["clusterIP"]))) Release(IpPrefix + Json.Str(spec!["clusterIP"]), Json.Str(service["metadata"]?["uid"]));
        foreach (var p in (spec?["ports"] as JsonArray ?? []).OfType<JsonObject>())
            if (NodePortOf(p) is > 0 and var port) Release(PortPrefix + port, Json.Str(service["metadata"]?["uid"]));
    }

    /// <summary>Removes an allocation key (only if it is still <paramref name="uid"/>'s, when given).</summary>
    private void Release(string key, string? uid = null)
    {
        if (store.Get(key) is not { } existing) return;
        if (uid is not null && Json.Str(ClusterObjects.Parse(existing.Value)["uid"]) != uid) return;
        try { store.Delete(key, existing.Revision); }
        catch (StoreConflictException) { }
    }

    /// <summary>Addresses and ports currently allocated (for tests and diagnostics).</summary>
    public (IReadOnlyList<string> Ips, IReadOnlyList<long> NodePorts) Allocated() =>
        (Store.List(IpPrefix).Items.Select(i => i.Key[IpPrefix.Length..]).ToList(),
         Store.List(PortPrefix).Items.Select(i => long.Parse(i.Key[PortPrefix.Length..])).ToList());

    private static StatusException Invalid(JsonObject owner, FieldError error) =>
        StatusException.Invalid(ResourceKinds.All.First(k => k.Kind == "Service"), Json.Str(owner["name"]), [error]);
}
