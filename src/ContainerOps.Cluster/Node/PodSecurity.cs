using System.Globalization;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// A container's securityContext as the kubelet applies it: the pod's securityContext with the container's over it
/// (runAsUser, runAsGroup, runAsNonRoot, seccompProfile), the pod's supplementalGroups and fsGroup as more groups,
/// and the container's own capabilities, privileged, readOnlyRootFilesystem and allowPrivilegeEscalation, turned into
/// the engine's options (<see cref="ContainerSecurity"/>). The pod's sysctls are checked against the kubelet's safe set
/// before anything runs (<see cref="SysctlRejection"/>), and fsGroup is given to the pod's volumes
/// (<see cref="WithFsGroup"/>).
/// </summary>
public static class PodSecurity
{
    /// <summary>The sysctls the kubelet allows without --allowed-unsafe-sysctls (Kubernetes 1.32's safe set).</summary>
    public static readonly IReadOnlySet<string> SafeSysctls = new HashSet<string>(StringComparer.Ordinal)
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    };

    /// <summary>The engine options for <paramref name="container"/> of <paramref name="pod"/>. Throws a configuration
    /// error (CreateContainerConfigError) when runAsNonRoot cannot be kept, and a <see cref="ContainerConfigException"/>
    /// when a Localhost seccomp profile is not on the node.</summary>
    /// <param name="imageUser">The image config's User ("" or null: root).</param>
    public static ContainerSecurity For(JsonObject pod, JsonObject container, string? imageUser, NodeAgentOptions node)
    {
        var podContext = pod["spec"]?["securityContext"] as JsonObject;
        var context = container["securityContext"] as JsonObject;
        JsonNode? Effective(string field) => context?[field] ?? podContext?[field];
        var runAsUser = Number(Effective("runAsUser"));
        var runAsGroup = Number(Effective("runAsGroup"));
        VerifyRunAsNonRoot(pod, container, Effective("runAsNonRoot")?.GetValue<bool>() == true, runAsUser, imageUser);

        string? user = null;
        if (runAsUser is { } uid) user = runAsGroup is { } gid ? $"{uid}:{gid}" : Invariant(uid);
        else if (runAsGroup is { } onlyGroup)
        {
            // The image's user with the group asked for.
            var imageUserPart = (imageUser ?? "").Split(':')[0];
            user = $"{(imageUserPart.Length > 0 ? imageUserPart : "0")}:{onlyGroup}";
        }

        var groups = ((podContext?["supplementalGroups"] as JsonArray)?.Select(Number).OfType<long>() ?? []).ToList();
        if (Number(podContext?["fsGroup"]) is { } fsGroup && !groups.Contains(fsGroup)) groups.Add(fsGroup);

        var privileged = context?["privileged"]?.GetValue<bool>() == true;
        List<string> Capabilities(string list) =>
            (context?["capabilities"]?[list] as JsonArray)?.Select(c => Json.Str(c)).OfType<string>().ToList() ?? [];
        if (Json.Str(context?["procMount"]) is "Unmasked")
            throw new ContainerConfigException("procMount Unmasked needs a user namespace (hostUsers: false), which this node does not give pods");

        return new ContainerSecurity
        {
            User = user,
            GroupAdd = groups.Select(Invariant).ToList(),
            Privileged = privileged,
            ReadOnlyRootfs = context?["readOnlyRootFilesystem"]?.GetValue<bool>() == true,
            // As the kubelet: no_new_privs only when allowPrivilegeEscalation is false (unset allows escalation).
            NoNewPrivileges = context?["allowPrivilegeEscalation"]?.GetValue<bool>() == false,
            CapAdd = Capabilities("add"),
            CapDrop = Capabilities("drop"),
            Seccomp = Seccomp(Effective("seccompProfile") as JsonObject, node),
            Sysctls = (podContext?["sysctls"] as JsonArray)?.OfType<JsonObject>()
                .ToDictionary(s => (Json.Str(s["name"]) ?? "").Replace('/', '.'), s => Json.Str(s["value"]) ?? "", StringComparer.Ordinal) ?? [],
        };
    }

    /// <summary>The kubelet's check: with runAsNonRoot, a runAsUser of 0, or an image whose user is root (or a name the
    /// kubelet cannot tell is not root), refuses the container in the kubelet's words.</summary>
    private static void VerifyRunAsNonRoot(JsonObject pod, JsonObject container, bool runAsNonRoot, long? runAsUser, string? imageUser)
    {
        if (!runAsNonRoot) return;
        var meta = pod["metadata"];
        var where = $"(pod: \"{Json.Str(meta?["name"])}_{Json.Str(meta?["namespace"])}({Json.Str(meta?["uid"])})\", container: {Json.Str(container["name"])})";
        if (runAsUser is { } uid)
        {
            if (uid == 0) throw new ContainerConfigException($"container's runAsUser breaks non-root policy {where}", configError: true);
            return;
        }
        var userPart = (imageUser ?? "").Split(':')[0];
        if (userPart.Length == 0 || (long.TryParse(userPart, NumberStyles.None, CultureInfo.InvariantCulture, out var imageUid) && imageUid == 0))
            throw new ContainerConfigException($"container has runAsNonRoot and image will run as root {where}", configError: true);
        if (!long.TryParse(userPart, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            throw new ContainerConfigException($"container has runAsNonRoot and image has non-numeric user ({userPart}), cannot verify user is non-root {where}", configError: true);
    }

    /// <summary>RuntimeDefault: the engine's default profile; Unconfined: none; Localhost: the profile file under the
    /// node's seccomp directory; unset: the node's default (the engine's profile unless --seccomp-default false, then Unconfined).</summary>
    private static string Seccomp(JsonObject? profile, NodeAgentOptions node)
    {
        var type = Json.Str(profile?["type"]);
        if (type is null) return node.SeccompDefault ? "builtin" : "unconfined";
        if (type == "RuntimeDefault") return "builtin";
        if (type == "Unconfined") return "unconfined";
        var relative = Json.Str(profile?["localhostProfile"]) ?? "";
        var path = Path.Combine(node.SeccompProfileRoot, relative);
        if (relative.Length == 0 || Path.IsPathRooted(relative) || relative.Split('/').Contains("..") || !File.Exists(path))
            throw new ContainerConfigException($"cannot load seccomp profile \"{path}\": no such file on this node (Localhost profiles are read from {node.SeccompProfileRoot})");
        return File.ReadAllText(path);
    }

    /// <summary>Why the kubelet would reject the pod for its sysctls (SysctlForbidden), or null: a sysctl outside the
    /// safe set, or a network one with hostNetwork, or an IPC one with hostIPC.</summary>
    public static string? SysctlRejection(JsonObject spec)
    {
        var hostNetwork = spec["hostNetwork"]?.GetValue<bool>() == true;
        var hostIpc = spec["hostIPC"]?.GetValue<bool>() == true;
        foreach (var sysctl in (spec["securityContext"]?["sysctls"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            // Kubernetes accepts slashes for dots in sysctl names (net/ipv4/tcp_rmem).
            var name = (Json.Str(sysctl["name"]) ?? "").Replace('/', '.');
            if (!SafeSysctls.Contains(name)) return $"forbidden sysctl: \"{name}\" not allowlisted";
            if (hostNetwork && name.StartsWith("net.", StringComparison.Ordinal)) return $"forbidden sysctl: \"{name}\" not allowed with host net enabled";
            if (hostIpc && (name.StartsWith("kernel.shm", StringComparison.Ordinal) || name.StartsWith("kernel.msg", StringComparison.Ordinal)
                || name == "kernel.sem" || name.StartsWith("fs.mqueue.", StringComparison.Ordinal)))
                return $"forbidden sysctl: \"{name}\" not allowed with host ipc enabled";
        }
        return null;
    }

    /// <summary>With the pod's fsGroup, the volumes whose ownership the kubelet manages (emptyDir and the file volumes:
    /// configMap, secret, downwardAPI, projected) are to be given to it, as fsGroupChangePolicy says.</summary>
    public static PodVolume WithFsGroup(JsonObject pod, PodVolume volume)
    {
        var podContext = pod["spec"]?["securityContext"] as JsonObject;
        if (Number(podContext?["fsGroup"]) is not { } fsGroup || volume.Kind is not (PodVolumeKind.EmptyDir or PodVolumeKind.Files)) return volume;
        return volume with { FsGroup = fsGroup, FsGroupOnRootMismatch = Json.Str(podContext?["fsGroupChangePolicy"]) == "OnRootMismatch" };
    }

    private static long? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var n) ? n : null;

    private static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A pod container's security options, in the engine's terms (Docker's create options).</summary>
public sealed record ContainerSecurity
{
    /// <summary>uid[:gid]; null: the image's user.</summary>
    public string? User { get; init; }
    /// <summary>Supplementary groups (numbers): the pod's supplementalGroups and fsGroup.</summary>
    public IReadOnlyList<string> GroupAdd { get; init; } = [];
    public bool Privileged { get; init; }
    public bool ReadOnlyRootfs { get; init; }
    public bool NoNewPrivileges { get; init; }
    /// <summary>Capability names with or without CAP_, or ALL.</summary>
    public IReadOnlyList<string> CapAdd { get; init; } = [];
    public IReadOnlyList<string> CapDrop { get; init; } = [];
    /// <summary>"builtin" (the engine's default profile), "unconfined", or a profile's JSON.</summary>
    public string Seccomp { get; init; } = "builtin";
    public IReadOnlyDictionary<string, string> Sysctls { get; init; } = new Dictionary<string, string>();
}
