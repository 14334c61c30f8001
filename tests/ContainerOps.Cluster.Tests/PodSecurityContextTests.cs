using System.Text.Json.Nodes;
using ContainerOps.Cluster.Node;

namespace ContainerOps.Cluster.Tests;

/// <summary>How a pod's and a container's securityContext become the engine's options, and what the node refuses.</summary>
public sealed class PodSecurityContextTests
{
    private static JsonObject Pod(string podContext, string containerContext = "null") => JsonNode.Parse($$$"""
        {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"},
         "spec": {"securityContext": {{{podContext}}}, "containers": [{"name": "c", "image": "i", "securityContext": {{{containerContext}}} }]}}
        """)!.AsObject();

    private static JsonObject Container(JsonObject pod) => pod["spec"]!["containers"]![0]!.AsObject();

    private static ContainerSecurity For(JsonObject pod, string? imageUser = "", NodeAgentOptions? node = null) =>
        PodSecurity.For(pod, Container(pod), imageUser, node ?? new NodeAgentOptions());

    [Fact]
    public void TheContainersFieldsOverrideThePodsAndGroupsCollectTheSupplementalOnesAndFsGroup()
    {
        var pod = Pod("""{"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000, 5000], "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}}""",
            """{"runAsUser": 1001, "seccompProfile": {"type": "Unconfined"}, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true}""");
        var s = For(pod);
        Assert.Equal("1001:3000", s.User);
        Assert.Equal(["4000", "5000", "2000"], s.GroupAdd);
        Assert.Equal("unconfined", s.Seccomp);
        Assert.Equal(["NET_ADMIN"], s.CapAdd);
        Assert.Equal(["ALL"], s.CapDrop);
        Assert.True(s.NoNewPrivileges);
        Assert.True(s.ReadOnlyRootfs);
        Assert.False(s.Privileged);
    }

    [Fact]
    public void UnsetFieldsKeepTheImagesUserAndKubernetesDefaults()
    {
        var s = For(Pod("null"), imageUser: "app");
        Assert.Null(s.User);
        Assert.Empty(s.GroupAdd);
        Assert.False(s.NoNewPrivileges); // allowPrivilegeEscalation unset allows escalation
        Assert.Equal("builtin", s.Seccomp); // the engine's profile unless the node says otherwise
        Assert.Equal("unconfined", For(Pod("null"), node: new NodeAgentOptions { SeccompDefault = false }).Seccomp);
        // runAsGroup alone: the image's user with that group.
        Assert.Equal("app:7", For(Pod("""{"runAsGroup": 7}"""), imageUser: "app:app").User);
        Assert.Equal("0:7", For(Pod("""{"runAsGroup": 7}"""), imageUser: "").User);
    }

    [Theory]
    [InlineData("", "container has runAsNonRoot and image will run as root")]
    [InlineData("0:0", "container has runAsNonRoot and image will run as root")]
    [InlineData("app", "container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root")]
    [InlineData("1000", null)]
    [InlineData("1000:0", null)]
    public void RunAsNonRootIsJudgedByTheImagesUser(string imageUser, string? refusal)
    {
        var pod = Pod("""{"runAsNonRoot": true}""");
        if (refusal is null) { Assert.Null(For(pod, imageUser).User); return; }
        var e = Assert.Throws<ContainerConfigException>(() => For(pod, imageUser));
        Assert.True(e.ConfigError);
        Assert.Equal($"{refusal} (pod: \"p_ns(u-1)\", container: c)", e.Message);
    }

    [Fact]
    public void RunAsNonRootWithRunAsUserIsJudgedByItAlone()
    {
        Assert.Equal("1000", For(Pod("""{"runAsNonRoot": true, "runAsUser": 1000}"""), "0").User);
        var e = Assert.Throws<ContainerConfigException>(() => For(Pod("""{"runAsNonRoot": true}""", """{"runAsUser": 0}"""), "1000"));
        Assert.Equal("container's runAsUser breaks non-root policy (pod: \"p_ns(u-1)\", container: c)", e.Message);
        // A container may turn the pod's runAsNonRoot off.
        Assert.Null(For(Pod("""{"runAsNonRoot": true}""", """{"runAsNonRoot": false}"""), "").User);
    }

    [Fact]
    public void ALocalhostProfileIsReadFromTheNodesDirectoryAndAMissingOneIsNamed()
    {
        var root = Path.Combine(Path.GetTempPath(), "seccomp-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            File.WriteAllText(Path.Combine(root, "p.json"), """{"defaultAction": "SCMP_ACT_ALLOW"}""");
            var node = new NodeAgentOptions { SeccompProfileRoot = root };
            Assert.Equal("""{"defaultAction": "SCMP_ACT_ALLOW"}""", For(Pod("""{"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}"""), node: node).Seccomp);
            var e = Assert.Throws<ContainerConfigException>(() => For(Pod("""{"seccompProfile": {"type": "Localhost", "localhostProfile": "q.json"}}"""), node: node));
            Assert.Contains($"cannot load seccomp profile \"{Path.Combine(root, "q.json")}\"", e.Message);
            Assert.False(e.ConfigError);
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void OnlyTheSafeSysctlsPassAdmissionAndNetworkOnesNotWithHostNetwork()
    {
        JsonObject Spec(string sysctl, bool hostNetwork = false) =>
            JsonNode.Parse($$$"""{"hostNetwork": {{{(hostNetwork ? "true" : "false")}}}, "securityContext": {"sysctls": [{"name": "{{{sysctl}}}", "value": "1"}] } }""")!.AsObject();
        Assert.Null(PodSecurity.SysctlRejection(Spec("kernel.shm_rmid_forced")));
        Assert.Null(PodSecurity.SysctlRejection(Spec("net/ipv4/tcp_syncookies")));
        Assert.Equal("forbidden sysctl: \"kernel.msgmax\" not allowlisted", PodSecurity.SysctlRejection(Spec("kernel.msgmax")));
        Assert.Equal("forbidden sysctl: \"net.ipv4.tcp_syncookies\" not allowed with host net enabled", PodSecurity.SysctlRejection(Spec("net.ipv4.tcp_syncookies", hostNetwork: true)));
    }

    [Fact]
    public void FsGroupGoesToEmptyDirAndFileVolumesOnly()
    {
        var pod = Pod("""{"fsGroup": 2000, "fsGroupChangePolicy": "OnRootMismatch"}""");
        var empty = PodSecurity.WithFsGroup(pod, new PodVolume("data", PodVolumeKind.EmptyDir));
        Assert.Equal(2000, empty.FsGroup);
        Assert.True(empty.FsGroupOnRootMismatch);
        Assert.Equal(2000, PodSecurity.WithFsGroup(pod, new PodVolume("cm", PodVolumeKind.Files)).FsGroup);
        Assert.Null(PodSecurity.WithFsGroup(pod, new PodVolume("host", PodVolumeKind.HostPath, Path: "/srv")).FsGroup);
        Assert.Null(PodSecurity.WithFsGroup(Pod("null"), new PodVolume("data", PodVolumeKind.EmptyDir)).FsGroup);
    }
}
