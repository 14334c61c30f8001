using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// This daemon's Node object (what the host has, its labels and conditions, as the kubelet registers it) and its
/// Lease in kube-node-lease, which <see cref="RenewLease"/> keeps fresh: the heartbeat others read.
/// </summary>
public sealed class NodeRegistration(ClusterObjects objects, NodeAgentOptions options)
{
    public string NodeName => options.NodeName;

    /// <summary>The address pods see as their host's (status.hostIP): the one of the default route's interface.</summary>
    public string HostIp { get; } = DefaultRouteAddress() ?? "127.0.0.1";

    public string Arch { get; } = RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64", Architecture.Arm64 => "arm64", Architecture.Arm => "arm", var a => a.ToString().ToLowerInvariant(),
    };

    /// <summary>Creates the Node, or brings its labels and status up to date (a restarted daemon: same node).</summary>
    public JsonObject Register()
    {
        var labels = new JsonObject
        {
            ["kubernetes.io/hostname"] = NodeName,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = Arch,
            ["beta.kubernetes.io/os"] = "linux",
            ["beta.kubernetes.io/arch"] = Arch,
        };
        try
        {
            objects.Create(ResourceKinds.Node, null, new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Node",
                ["metadata"] = new JsonObject { ["name"] = NodeName, ["labels"] = labels },
                ["spec"] = new JsonObject(),
            }, FieldValidation.Strict, dryRun: false, out _);
        }
        catch (StatusException e) when (e.Code == 409)
        {
            // Labels users added stay; ours are put back.
            objects.Update(ResourceKinds.Node, null, NodeName, null, o =>
            {
                var current = Json.Metadata(o)["labels"] as JsonObject ?? new JsonObject();
                foreach (var (k, v) in labels) current[k] = v?.DeepClone();
                Json.Metadata(o)["labels"] = current;
                return o;
            }, statusOnly: false, dryRun: false);
        }
        return objects.Update(ResourceKinds.Node, null, NodeName, null, o => { o["status"] = Status(o["status"] as JsonObject); return o; }, statusOnly: true, dryRun: false);
    }

    private JsonObject Status(JsonObject? previous)
    {
        var now = Now();
        var resources = new JsonObject
        {
            ["cpu"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["memory"] = MemoryKi() + "Ki",
            ["pods"] = options.MaxPods.ToString(CultureInfo.InvariantCulture),
            ["ephemeral-storage"] = StorageKi(options.StateRoot) + "Ki",
        };
        JsonObject Condition(string type, string status, string reason, string message) => new()
        {
            ["type"] = type, ["status"] = status, ["lastHeartbeatTime"] = now,
            // The transition time stays while the status does.
            ["lastTransitionTime"] = (previous?["conditions"] as JsonArray)?.OfType<JsonObject>()
                .FirstOrDefault(c => Json.Str(c["type"]) == type && Json.Str(c["status"]) == status)?["lastTransitionTime"]?.DeepClone() ?? now,
            ["reason"] = reason, ["message"] = message,
        };
        return new JsonObject
        {
            ["capacity"] = resources.DeepClone(),
            ["allocatable"] = resources,
            ["conditions"] = new JsonArray(
                Condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "node agent has sufficient memory available"),
                Condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "node agent has no disk pressure"),
                Condition("PIDPressure", "False", "KubeletHasSufficientPID", "node agent has sufficient PID available"),
                Condition("Ready", "True", "KubeletReady", "node agent is posting ready status")),
            ["addresses"] = new JsonArray(
                new JsonObject { ["type"] = "InternalIP", ["address"] = HostIp },
                new JsonObject { ["type"] = "Hostname", ["address"] = NodeName }),
            ["daemonEndpoints"] = new JsonObject { ["kubeletEndpoint"] = new JsonObject { ["Port"] = 0 } },
            ["nodeInfo"] = new JsonObject
            {
                ["machineID"] = ReadTrimmed("/etc/machine-id"),
                ["systemUUID"] = ReadTrimmed("/sys/class/dmi/id/product_uuid"),
                ["bootID"] = ReadTrimmed("/proc/sys/kernel/random/boot_id"),
                ["kernelVersion"] = ReadTrimmed("/proc/sys/kernel/osrelease"),
                ["osImage"] = OsImage(),
                ["containerRuntimeVersion"] = "containerops://" + (typeof(NodeRegistration).Assembly.GetName().Version?.ToString(3) ?? "0.0.0"),
                ["kubeletVersion"] = options.KubeletVersion,
                ["kubeProxyVersion"] = "",
                ["operatingSystem"] = "linux",
                ["architecture"] = Arch,
            },
        };
    }

    /// <summary>Creates or renews kube-node-lease/NODE (holder: this node, 40 s as the kubelet has it).</summary>
    public void RenewLease()
    {
        var renew = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        try
        {
            objects.Update(ResourceKinds.Lease, "kube-node-lease", NodeName, null, o =>
            {
                o["spec"] = LeaseSpec(renew);
                return o;
            }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404)
        {
            objects.Create(ResourceKinds.Lease, "kube-node-lease", new JsonObject
            {
                ["apiVersion"] = "coordination.k8s.io/v1", ["kind"] = "Lease",
                ["metadata"] = new JsonObject
                {
                    ["name"] = NodeName,
                    ["ownerReferences"] = new JsonArray(new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["name"] = NodeName, ["uid"] = NodeUid() }),
                },
                ["spec"] = LeaseSpec(renew),
            }, FieldValidation.Strict, dryRun: false, out _);
        }
    }

    private JsonObject LeaseSpec(string renew) => new()
    {
        ["holderIdentity"] = NodeName, ["leaseDurationSeconds"] = 40, ["renewTime"] = renew,
    };

    private string NodeUid() => Json.Str(objects.Get(ResourceKinds.Node, null, NodeName)["metadata"]?["uid"]) ?? "";

    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string ReadTrimmed(string path)
    {
        try { return File.ReadAllText(path).Trim(); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    private static long MemoryKi()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return 0;
    }

    private static long StorageKi(string path)
    {
        try { return new DriveInfo(path).TotalSize / 1024; } catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { return 0; }
    }

    private static string OsImage()
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/os-release"))
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) return line["PRETTY_NAME=".Length..].Trim('"');
        }
        catch (IOException) { }
        return "Linux";
    }

    /// <summary>The IPv4 address of the interface the default route leaves by (/proc/net/route), if any.</summary>
    public static string? DefaultRouteAddress()
    {
        try
        {
            var iface = File.ReadLines("/proc/net/route").Skip(1).Select(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries))
                .FirstOrDefault(f => f.Length > 2 && f[1] == "00000000")?[0];
            if (iface is null) return null;
            return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == iface)?
                .GetIPProperties().UnicastAddresses.Select(a => a.Address).FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)?.ToString();
        }
        catch (Exception e) when (e is IOException or System.Net.NetworkInformation.NetworkInformationException) { return null; }
    }
}
