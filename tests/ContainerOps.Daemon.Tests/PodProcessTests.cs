using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>How a pod's containers end and see each other: termination messages (the file at terminationMessagePath,
/// FallbackToLogsOnError, the 4096-byte limit, lastState after a restart) read with kubectl, and shareProcessNamespace
/// (one pid namespace whose pid 1 is the sandbox's holder, gone with the pod). One private daemon for the class.</summary>
public sealed class PodProcessTests(ClusterDaemonFixture node) : IClassFixture<ClusterDaemonFixture>
{
    private ClusterDaemon Cluster => node.Cluster;

    private static string? Str(JsonNode? n) => n?.GetValue<string>();

    private static JsonObject StatusOf(JsonObject pod, string container) =>
        pod["status"]!["containerStatuses"]!.AsArray().First(c => Str(c!["name"]) == container)!.AsObject();

    [Fact]
    public async Task TerminationMessagesComeFromTheFileOrTheLogOfAFailureAndAreLimited()
    {
        Cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: farewell}
            spec:
              restartPolicy: Never
              containers:
              - name: writes
                image: pod-tests/busybox:1
                securityContext: {runAsUser: 1000}
                command: [sh, -c, 'printf "bye from farewell" > /dev/termination-log; exit 1']
              - name: long
                image: pod-tests/busybox:1
                command: [sh, -c, 'head -c 5000 /dev/zero | tr "\0" a > /dev/termination-log; printf b >> /dev/termination-log']
              - name: fallback
                image: pod-tests/busybox:1
                terminationMessagePolicy: FallbackToLogsOnError
                command: [sh, -c, 'i=1; while [ $i -le 100 ]; do echo "line $i"; i=$((i+1)); done; exit 2']
              - name: quiet
                image: pod-tests/busybox:1
                terminationMessagePolicy: FallbackToLogsOnError
                command: [sh, -c, 'echo only a log line']
            """);
        var pod = await Cluster.WaitForAsync("pod", "farewell", p => Str(p["status"]?["phase"]) == "Failed"
            && p["status"]?["containerStatuses"] is JsonArray s && s.All(c => c?["state"]?["terminated"] is not null));
        Assert.Equal("bye from farewell", Cluster.Ok("get", "pod", "farewell", "-o", "jsonpath={.status.containerStatuses[?(@.name==\"writes\")].state.terminated.message}"));
        Assert.Equal(1, StatusOf(pod, "writes")["state"]!["terminated"]!["exitCode"]!.GetValue<int>());

        // The file's last 4096 bytes.
        var longMessage = Str(StatusOf(pod, "long")["state"]!["terminated"]!["message"])!;
        Assert.Equal(4096, longMessage.Length);
        Assert.EndsWith("aab", longMessage);

        // An empty file and a failure: the log's last 80 lines.
        var fallback = Str(StatusOf(pod, "fallback")["state"]!["terminated"]!["message"])!;
        Assert.StartsWith("line 21\n", fallback);
        Assert.EndsWith("line 100\n", fallback);
        Assert.Equal(80, fallback.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        // A success keeps its log to itself.
        Assert.Null(StatusOf(pod, "quiet")["state"]!["terminated"]!["message"]);
    }

    [Fact]
    public async Task TheLastRunsMessageIsInLastStateAfterARestart()
    {
        Cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: again}
            spec:
              containers:
              - name: c
                image: pod-tests/busybox:1
                terminationMessagePath: /tmp/why
                command: [sh, -c, 'echo "run $(cat /proc/sys/kernel/random/uuid)" > /tmp/why; exit 3']
            """);
        var pod = await Cluster.WaitForAsync("pod", "again", p => p["status"]?["containerStatuses"]?[0]?["restartCount"]?.GetValue<int>() >= 1
            && p["status"]?["containerStatuses"]?[0]?["lastState"]?["terminated"] is not null, seconds: 90);
        var last = StatusOf(pod, "c")["lastState"]!["terminated"]!;
        Assert.Equal(3, last["exitCode"]!.GetValue<int>());
        Assert.Matches("^run [0-9a-f-]{36}\n$", Str(last["message"])!);
    }

    [Fact]
    public async Task ContainersOfAPodThatSharesItsProcessNamespaceSeeEachOtherAndPid1IsTheSandboxs()
    {
        Cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: shared}
            spec:
              shareProcessNamespace: true
              terminationGracePeriodSeconds: 1
              containers:
              - {name: app, image: pod-tests/busybox:1, command: [sleep, "3601"]}
              - {name: looker, image: pod-tests/busybox:1, command: [sleep, "3602"]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: apart}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - {name: app, image: pod-tests/busybox:1, command: [sleep, "3603"]}
            """);
        var shared = await Cluster.WaitForAsync("pod", "shared", ClusterDaemon.IsReady);
        await Cluster.WaitForAsync("pod", "apart", ClusterDaemon.IsReady);

        var seen = Cluster.Ok("exec", "shared", "-c", "looker", "--", "ps", "-o", "pid,args");
        Assert.Contains("sleep 3601", seen);
        Assert.Contains("sleep 3602", seen);
        var pid1 = Cluster.Ok("exec", "shared", "-c", "app", "--", "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline");
        Assert.Contains("pause", pid1);
        Assert.DoesNotContain("sleep", pid1);

        // Without sharing, a container sees its own processes only, and its command is pid 1.
        var alone = Cluster.Ok("exec", "apart", "-c", "app", "--", "ps", "-o", "pid,args");
        Assert.DoesNotContain("sleep 3601", alone);
        Assert.Matches(@"(?m)^\s*1\s+sleep 3603", alone);

        // The holder goes with the pod, and its namespace's mount.
        var uid = Str(shared["metadata"]!["uid"])!;
        var sandbox = Path.Combine(Cluster.Daemon.RunRoot, "pods", uid);
        var holder = int.Parse(File.ReadAllText(Path.Combine(sandbox, "pause.pid")));
        Assert.Contains("pause", File.ReadAllText($"/proc/{holder}/cmdline"));
        Cluster.Ok("delete", "pod", "shared", "--timeout=60s");
        Assert.False(Directory.Exists(sandbox));
        Assert.True(!File.Exists($"/proc/{holder}/status") || File.ReadAllText($"/proc/{holder}/status").Contains("State:\tZ"), "the pid namespace holder still runs");
        Assert.DoesNotContain(Path.Combine(sandbox, "pid"), File.ReadAllText("/proc/self/mountinfo"));
    }
}
