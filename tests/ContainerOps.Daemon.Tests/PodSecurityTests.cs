using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>Pods' securityContext on the node, seen from inside the containers (their ids, capabilities, no_new_privs,
/// seccomp mode, root file system, volume groups, sysctls) and in the refusals Kubernetes gives: validation errors from
/// the API, CreateContainerConfigError for runAsNonRoot, SysctlForbidden for an unsafe sysctl. One private daemon for
/// the class; every pod has its own name.</summary>
public sealed class PodSecurityTests(PodSecurityTests.Node node) : IClassFixture<PodSecurityTests.Node>
{
    private const string Image = "pod-tests/busybox:1";

    /// <summary>The daemon, with busybox as root, as a named user (app) and as a numeric one (1000).</summary>
    public sealed class Node : ClusterDaemonFixture
    {
        protected override async Task PrepareAsync()
        {
            await Cluster.Daemon.ImportBusyboxAsync("pod-tests/named-user:1", "CMD [\"sh\"]", "USER app");
            await Cluster.Daemon.ImportBusyboxAsync("pod-tests/numeric-user:1", "CMD [\"sh\"]", "USER 1000");
        }
    }

    private ClusterDaemon Cluster => node.Cluster;

    /// <summary>A container's log once it has printed "done".</summary>
    private Task<string> LogAsync(string pod, string container) =>
        Cluster.EventuallyAsync(() => Cluster.Kubectl("logs", pod, "-c", container).Out, log => log.Contains("done\n"), $"pod {pod} container {container} finishing its checks");

    private static string? Str(JsonNode? n) => n?.GetValue<string>();

    private static string Field(string log, string name) =>
        log.Split('\n').First(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();

    [Fact]
    public async Task ContainersRunAsTheUserAndGroupsAskedWithTheContainerOverThePodAndFsGroupOwnsTheVolumes()
    {
        Cluster.Apply("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: ids-config}
            data: {key: value}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: ids}
            spec:
              securityContext: {runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], fsGroup: 2000}
              volumes:
              - {name: data, emptyDir: {}}
              - {name: config, configMap: {name: ids-config, defaultMode: 0400}}
              containers:
              - name: pod-level
                image: pod-tests/busybox:1
                volumeMounts: [{name: data, mountPath: /data}, {name: config, mountPath: /config}]
                command: [sh, -c, 'echo "uid: $(id -u)"; echo "gid: $(id -g)"; echo "groups: $(id -G)"; touch /data/made && echo "data: $(stat -c "%g %A" /data)" && echo "made: $(stat -c "%g" /data/made)"; echo "config: $(stat -L -c "%g %a" /config/key)"; echo done; exec sleep 3600']
              - name: own
                image: pod-tests/busybox:1
                securityContext: {runAsUser: 1001}
                command: [sh, -c, 'echo "uid: $(id -u)"; echo "gid: $(id -g)"; echo done; exec sleep 3600']
            """);
        var log = await LogAsync("ids", "pod-level");
        Assert.Equal("1000", Field(log, "uid"));
        Assert.Equal("3000", Field(log, "gid"));
        Assert.Equal(["2000", "3000", "4000"], Field(log, "groups").Split(' ').Order());
        // The emptyDir is the group's, group-writable and set-gid, so what is made in it is the group's too.
        Assert.Equal("2000 drwxrwsrwx", Field(log, "data"));
        Assert.Equal("2000", Field(log, "made"));
        // A configMap file gets the group with read access only (0400 → 0440).
        Assert.Equal("2000 440", Field(log, "config"));
        var own = await LogAsync("ids", "own");
        Assert.Equal("1001", Field(own, "uid"));
        Assert.Equal("3000", Field(own, "gid"));
    }

    [Fact]
    public async Task CapabilitiesNoNewPrivsSeccompReadOnlyRootAndPrivilegedShowInTheContainersProcessStatus()
    {
        const string status = """sh, -c, 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; touch /rootfs-write 2>/dev/null && echo "root: writable" || echo "root: read-only"; echo "sys: $(grep " /sys " /proc/mounts | cut -d" " -f4 | cut -d, -f1)"; echo "shm_rmid_forced: $(cat /proc/sys/kernel/shm_rmid_forced)"; echo done; exec sleep 3600'""";
        Cluster.Apply($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: caps}
            spec:
              securityContext:
                sysctls: [{name: kernel.shm_rmid_forced, value: "1"}]
              containers:
              - name: plain
                image: pod-tests/busybox:1
                command: [{{status}}]
              - name: hardened
                image: pod-tests/busybox:1
                securityContext:
                  capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
                  allowPrivilegeEscalation: false
                  readOnlyRootFilesystem: true
                  seccompProfile: {type: RuntimeDefault}
                command: [{{status}}]
              - name: privileged
                image: pod-tests/busybox:1
                securityContext: {privileged: true}
                command: [{{status}}]
              - name: unconfined
                image: pod-tests/busybox:1
                securityContext:
                  seccompProfile: {type: Unconfined}
                command: [{{status}}]
            """);
        var plain = await LogAsync("caps", "plain");
        Assert.Equal("00000000a80425fb", Field(plain, "CapEff")); // the 14 default capabilities
        Assert.Equal("0", Field(plain, "NoNewPrivs"));
        Assert.Equal("2", Field(plain, "Seccomp")); // unset: the engine's default profile (this node's --seccomp-default)
        Assert.Equal("writable", Field(plain, "root"));
        Assert.Equal("ro", Field(plain, "sys"));
        Assert.Equal("1", Field(plain, "shm_rmid_forced"));

        var hardened = await LogAsync("caps", "hardened");
        Assert.Equal("0000000000000400", Field(hardened, "CapEff")); // NET_BIND_SERVICE alone
        Assert.Equal("1", Field(hardened, "NoNewPrivs"));
        Assert.Equal("2", Field(hardened, "Seccomp")); // filter mode: the default profile
        Assert.Equal("read-only", Field(hardened, "root"));

        var privileged = await LogAsync("caps", "privileged");
        var hostBounding = File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapBnd:", StringComparison.Ordinal))[7..].Trim();
        Assert.Equal(hostBounding, Field(privileged, "CapEff"));
        Assert.Equal("0", Field(privileged, "Seccomp"));
        Assert.Equal("rw", Field(privileged, "sys"));
        Assert.Equal("0", Field(await LogAsync("caps", "unconfined"), "Seccomp")); // asked for: no filter
    }

    [Fact]
    public async Task ALocalhostSeccompProfileIsReadFromTheNodeAndAMissingOneIsAClearError()
    {
        var profiles = Path.Combine(Cluster.Daemon.Root, "seccomp", "profiles");
        Directory.CreateDirectory(profiles);
        // Everything allowed but mkdir, which fails with EPERM.
        File.WriteAllText(Path.Combine(profiles, "no-mkdir.json"),
            """{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}""");
        Cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: localhost-profile}
            spec:
              securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/no-mkdir.json}}
              containers:
              - name: c
                image: pod-tests/busybox:1
                command: [sh, -c, 'grep "^Seccomp:" /proc/self/status; mkdir /tmp/d 2>/dev/null && echo "mkdir: made" || echo "mkdir: refused"; echo done; exec sleep 3600']
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: missing-profile}
            spec:
              containers:
              - name: c
                image: pod-tests/busybox:1
                securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/absent.json}}
                command: [sleep, "3600"]
            """);
        var log = await LogAsync("localhost-profile", "c");
        Assert.Equal("2", Field(log, "Seccomp"));
        Assert.Equal("refused", Field(log, "mkdir"));

        var missing = await Cluster.WaitForAsync("pod", "missing-profile", p => Str(p["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]) == "CreateContainerError");
        var message = Str(missing["status"]!["containerStatuses"]![0]!["state"]!["waiting"]!["message"])!;
        Assert.Contains($"cannot load seccomp profile \"{Path.Combine(profiles, "absent.json")}\"", message);
    }

    [Fact]
    public async Task RunAsNonRootIsRefusedInTheKubeletsWordsUnlessTheUserIsANonRootNumber()
    {
        Cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: nonroot-root-image}
            spec:
              securityContext: {runAsNonRoot: true}
              containers: [{name: c, image: pod-tests/busybox:1, command: [sleep, "3600"]}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: nonroot-named-user}
            spec:
              securityContext: {runAsNonRoot: true}
              containers: [{name: c, image: pod-tests/named-user:1, command: [sleep, "3600"]}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: nonroot-numeric-user}
            spec:
              securityContext: {runAsNonRoot: true}
              containers: [{name: c, image: pod-tests/numeric-user:1, command: [sh, -c, 'echo "uid: $(id -u)"; echo done; exec sleep 3600']}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: nonroot-run-as-user}
            spec:
              securityContext: {runAsNonRoot: true}
              containers: [{name: c, image: pod-tests/busybox:1, securityContext: {runAsUser: 0}, command: [sleep, "3600"]}]
            """);
        async Task<string> RefusalAsync(string pod)
        {
            var o = await Cluster.WaitForAsync("pod", pod, p => Str(p["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]) == "CreateContainerConfigError");
            var where = $"(pod: \"{pod}_default({Str(o["metadata"]!["uid"])})\", container: c)";
            return Str(o["status"]!["containerStatuses"]![0]!["state"]!["waiting"]!["message"])!.Replace(where, "(WHERE)", StringComparison.Ordinal);
        }
        Assert.Equal("container has runAsNonRoot and image will run as root (WHERE)", await RefusalAsync("nonroot-root-image"));
        Assert.Equal("container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (WHERE)", await RefusalAsync("nonroot-named-user"));
        Assert.Equal("container's runAsUser breaks non-root policy (WHERE)", await RefusalAsync("nonroot-run-as-user"));
        Assert.Equal("1000", Field(await LogAsync("nonroot-numeric-user", "c"), "uid"));
        var events = Cluster.Items("events");
        Assert.Contains(events, e => Str(e["involvedObject"]?["name"]) == "nonroot-root-image" && Str(e["reason"]) == "Failed" && Str(e["message"])!.StartsWith("Error: container has runAsNonRoot and image will run as root", StringComparison.Ordinal));
        // Nothing was made for the refused containers.
        var containers = await Cluster.Daemon.Client.ListContainersAsync(all: true);
        Assert.DoesNotContain(containers, c => c.Labels.TryGetValue("io.kubernetes.pod.name", out var n) && n is "nonroot-root-image" or "nonroot-named-user");
    }

    [Fact]
    public async Task AnUnsafeSysctlFailsThePodAtAdmissionAndInvalidContextsAreRefusedByTheApi()
    {
        Cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: unsafe-sysctl}
            spec:
              securityContext: {sysctls: [{name: kernel.msgmax, value: "65536"}]}
              containers: [{name: c, image: pod-tests/busybox:1, command: [sleep, "3600"]}]
            """);
        var pod = await Cluster.WaitForAsync("pod", "unsafe-sysctl", p => Str(p["status"]?["phase"]) == "Failed");
        Assert.Equal("SysctlForbidden", Str(pod["status"]!["reason"]));
        Assert.Equal("Pod was rejected: forbidden sysctl: \"kernel.msgmax\" not allowlisted", Str(pod["status"]!["message"]));
        Assert.DoesNotContain(await Cluster.Daemon.Client.ListContainersAsync(all: true), c => c.Labels.TryGetValue("io.kubernetes.pod.name", out var n) && n == "unsafe-sysctl");

        var (exit, _, err) = Cluster.KubectlWithInput("""
            apiVersion: v1
            kind: Pod
            metadata: {name: contradictory}
            spec:
              securityContext: {runAsUser: -1, seccompProfile: {type: Localhost}, sysctls: [{name: "Bad Name", value: "1"}]}
              containers:
              - name: c
                image: pod-tests/busybox:1
                securityContext: {privileged: true, allowPrivilegeEscalation: false, seccompProfile: {type: Sometimes}}
            """, "apply", "-f", "-");
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.containers[0].securityContext: Invalid value: ", err);
        Assert.Contains("cannot set `allowPrivilegeEscalation` to false and `privileged` to true", err);
        Assert.Contains("spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive", err);
        Assert.Contains("spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost", err);
        Assert.Contains("spec.containers[0].securityContext.seccompProfile.type: Unsupported value: \"Sometimes\"", err);
        Assert.Contains("spec.securityContext.sysctls[0].name: Invalid value: \"Bad Name\"", err);
        Assert.Equal(1, Cluster.Kubectl("get", "pod", "contradictory").Exit);
    }
}
