namespace ContainerOps.Daemon.Tests;

/// <summary>How the node stops a pod's containers: on deletion the app containers first, then the sidecars one at a time
/// in reverse order, each running its preStop hook; a liveness-probe kill runs preStop too. The containers write what
/// happens to a hostPath directory of the test. One private daemon for the class.</summary>
public sealed class PodStopTests(ClusterDaemonFixture node) : IClassFixture<ClusterDaemonFixture>
{
    private ClusterDaemon Cluster => node.Cluster;

    [Fact]
    public async Task ADeletedPodStopsItsAppThenItsSidecarsInReverseOrderAndALivenessKillRunsPreStop()
    {
        var output = Path.Combine(Cluster.Directory, "stops-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(output);
        static string Noting(string name, string pause = "") =>
            $"trap '{pause}echo {name} >> /out/order; exit 0' TERM; while true; do sleep 0.1; done";
        Cluster.Apply($$$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: ordered}
            spec:
              terminationGracePeriodSeconds: 20
              volumes: [{name: out, hostPath: {path: {{{output}}}, type: Directory}}]
              initContainers:
              - {name: first-sidecar, image: pod-tests/busybox:1, restartPolicy: Always, volumeMounts: [{name: out, mountPath: /out}], command: [sh, -c, "{{{Noting("first-sidecar")}}}"]}
              - {name: second-sidecar, image: pod-tests/busybox:1, restartPolicy: Always, volumeMounts: [{name: out, mountPath: /out}], command: [sh, -c, "{{{Noting("second-sidecar")}}}"]}
              containers:
              - {name: app, image: pod-tests/busybox:1, volumeMounts: [{name: out, mountPath: /out}], command: [sh, -c, "{{{Noting("app", "sleep 1; ")}}}"]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: unhealthy}
            spec:
              terminationGracePeriodSeconds: 2
              volumes: [{name: out, hostPath: {path: {{{output}}}, type: Directory}}]
              containers:
              - name: c
                image: pod-tests/busybox:1
                volumeMounts: [{name: out, mountPath: /out}]
                command: [sh, -c, 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600']
                livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 1}
                lifecycle:
                  preStop: {exec: {command: [sh, -c, 'echo prestop >> /out/prestop']} }
            """);
        await Cluster.WaitForAsync("pod", "ordered", ClusterDaemon.IsReady);
        Cluster.Ok("delete", "pod", "ordered", "--timeout=60s");
        Assert.Equal("app\nsecond-sidecar\nfirst-sidecar\n", File.ReadAllText(Path.Combine(output, "order")));

        await Cluster.WaitForAsync("pod", "unhealthy", p => p["status"]?["containerStatuses"]?[0]?["restartCount"]?.GetValue<int>() >= 1, seconds: 90);
        Assert.StartsWith("prestop\n", File.ReadAllText(Path.Combine(output, "prestop")));
    }
}
