using System.Text.Json.Nodes;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>PersistentVolumeClaims with real pods on a private daemon, driven by kubectl 1.32: the default local-path
/// class provisions a named volume on the node when the claim's first pod is placed, data outlives pods (a bare pod and
/// a StatefulSet's ordinals), reclaim Delete removes it, and a hand-made hostPath volume binds statically. The data
/// lives under the private daemon's state root.</summary>
public sealed class PersistentVolumeTests : IAsyncLifetime
{
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ClusterDaemon.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static string Pod(string name, string claim, string script, bool readOnly = false) => $$$"""
        apiVersion: v1
        kind: Pod
        metadata: {name: {{{name}}}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: c
            image: {{{ClusterDaemon.Image}}}
            imagePullPolicy: IfNotPresent
            command: [sh, -c, '{{{script}}}']
            volumeMounts: [{name: data, mountPath: /data}]
          volumes:
          - name: data
            persistentVolumeClaim: {claimName: {{{claim}}}, readOnly: {{{(readOnly ? "true" : "false")}}}}
        """;

    private const string Claim = """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        """;

    private static string Str(JsonNode? n) => n?.GetValue<string>() ?? "";

    private static string SchedulingMessage(JsonObject pod) =>
        Str(pod["status"]!["conditions"]!.AsArray().First(c => Str(c!["type"]) == "PodScheduled")!["message"]);

    [Fact]
    public async Task AClaimIsProvisionedForItsFirstPodAndItsDataOutlivesThePodUntilTheClaimGoes()
    {
        _cluster.Apply(Claim);
        // WaitForFirstConsumer: Pending, no volume, until a pod uses it.
        await Task.Delay(1000);
        Assert.Equal("Pending", Str(_cluster.Get("pvc", "data")["status"]!["phase"]));
        Assert.Empty(_cluster.Items("get", "pv"));

        _cluster.Apply(Pod("writer", "data", "echo kept > /data/file && echo written && sleep 3600"));
        await _cluster.LogsAsync("writer", "written");
        var claim = _cluster.Get("pvc", "data");
        Assert.Equal("Bound", Str(claim["status"]!["phase"]));
        Assert.Equal("local-path", Str(claim["spec"]!["storageClassName"]));
        var pvName = Str(claim["spec"]!["volumeName"]);
        Assert.Equal("pvc-" + Str(claim["metadata"]!["uid"]), pvName);
        var pv = _cluster.Get("pv", pvName);
        var path = Str(pv["spec"]!["local"]!["path"]);
        Assert.StartsWith(_cluster.Daemon.Root, path); // under the daemon's state root
        Assert.Equal("kept\n", File.ReadAllText(Path.Combine(path, "file")));
        // The node keeps it as a named volume, which only the claim's reclaim policy removes.
        Assert.Contains(await _cluster.Daemon.Client.ListVolumesAsync(), v => v.Name == pvName);
        var refused = await Assert.ThrowsAsync<ContainerOpsException>(() => _cluster.Daemon.Client.RemoveVolumeAsync(pvName, force: true));
        Assert.Contains("PersistentVolume", refused.Message);

        // kubectl's columns.
        var table = _cluster.Ok("get", "pv,pvc,sc");
        Assert.Matches($@"persistentvolume/{pvName}\s+1Gi\s+RWO\s+Delete\s+Bound\s+default/data\s+local-path", table);
        Assert.Matches(@"persistentvolumeclaim/data\s+Bound\s+pvc-\S+\s+1Gi\s+RWO\s+local-path", table);
        Assert.Matches(@"storageclass.storage.k8s.io/local-path \(default\)\s+containerops.io/local\s+Delete\s+WaitForFirstConsumer\s+false", table);

        // A claim in use is not removed; the pod goes, a new one reads what the first wrote, read-only.
        _cluster.Ok("delete", "pod", "writer", "--wait=true");
        _cluster.Apply(Pod("reader", "data", "cat /data/file; touch /data/other 2>/dev/null || echo read-only; sleep 3600", readOnly: true));
        var log = await _cluster.LogsAsync("reader", "read-only");
        Assert.Contains("kept", log);

        _cluster.Ok("delete", "pvc", "data", "--wait=false");
        await Task.Delay(1000);
        Assert.NotNull(_cluster.Get("pvc", "data")["metadata"]!["deletionTimestamp"]); // pvc-protection while the reader runs
        Assert.True(Directory.Exists(path));
        _cluster.Ok("delete", "pod", "reader", "--wait=true");
        await _cluster.EventuallyAsync(() => _cluster.Kubectl("get", "pv", pvName).Exit, e => e != 0, "volume deleted with its claim", 60);
        Assert.False(Directory.Exists(path));
        Assert.DoesNotContain(await _cluster.Daemon.Client.ListVolumesAsync(), v => v.Name == pvName);
    }

    [Fact]
    public async Task EachStatefulSetOrdinalKeepsItsOwnClaimAndDataAcrossItsPodsDeletion()
    {
        _cluster.Apply($$$"""
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: db}
            spec:
              serviceName: db
              replicas: 2
              selector: {matchLabels: {app: db}}
              template:
                metadata: {labels: {app: db}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: c
                    image: {{{ClusterDaemon.Image}}}
                    imagePullPolicy: IfNotPresent
                    command: [sh, -c, '[ -f /data/token ] || cat /proc/sys/kernel/random/uuid > /data/token; echo token=$(cat /data/token); sleep 3600']
                    volumeMounts: [{name: data, mountPath: /data}]
              volumeClaimTemplates:
              - metadata: {name: data}
                spec:
                  accessModes: [ReadWriteOnce]
                  resources: {requests: {storage: 64Mi}}
            """);
        var first = await _cluster.LogsAsync("db-0", "token=");
        await _cluster.LogsAsync("db-1", "token=");
        var claims = _cluster.Items("get", "pvc", "-l", "app=db");
        Assert.Equal(["data-db-0", "data-db-1"], claims.Select(c => Str(c["metadata"]!["name"])).Order().ToArray());
        Assert.All(claims, c => Assert.Equal("Bound", Str(c["status"]!["phase"])));
        Assert.NotEqual(Str(claims[0]["spec"]!["volumeName"]), Str(claims[1]["spec"]!["volumeName"]));
        var token = first.Split("token=")[1].Trim();

        var uid = Str(_cluster.Get("pod", "db-0")["metadata"]!["uid"]);
        _cluster.Ok("delete", "pod", "db-0", "--wait=true");
        await _cluster.WaitForAsync("pod", "db-0", p => Str(p["metadata"]!["uid"]) != uid && ClusterDaemon.IsReady(p), 90);
        var again = await _cluster.LogsAsync("db-0", "token=");
        Assert.Equal(token, again.Split("token=")[1].Trim());
        Assert.Equal("data-db-0", Str(_cluster.Get("pod", "db-0")["spec"]!["volumes"]![0]!["persistentVolumeClaim"]!["claimName"]));
    }

    [Fact]
    public async Task AHandMadeHostPathVolumeBindsStaticallyAndAClaimWithoutOneWaitsUnschedulable()
    {
        var dir = Path.Combine(_cluster.Directory, "static");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "hello"), "from the host");
        _cluster.Apply($$$"""
            apiVersion: v1
            kind: PersistentVolume
            metadata: {name: static-pv}
            spec:
              capacity: {storage: 2Gi}
              accessModes: [ReadWriteOnce]
              hostPath: {path: {{{dir}}}, type: Directory}
              nodeAffinity:
                required:
                  nodeSelectorTerms:
                  - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [{{{_cluster.Node}}}]}]
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: fixed}
            spec:
              storageClassName: ""
              volumeName: static-pv
              accessModes: [ReadWriteOnce]
              resources: {requests: {storage: 1Gi}}
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: nothing}
            spec:
              storageClassName: ""
              accessModes: [ReadWriteMany]
              resources: {requests: {storage: 1Gi}}
            """);
        _cluster.Apply(Pod("static", "fixed", "cat /data/hello; echo; echo done; sleep 3600"));
        Assert.Contains("from the host", await _cluster.LogsAsync("static", "done"));
        Assert.Equal("Bound", Str(_cluster.Get("pv", "static-pv")["status"]!["phase"]));

        // No volume can satisfy this claim: its pod is not placed, and says why.
        _cluster.Apply(Pod("waiting", "nothing", "sleep 3600"));
        var pod = await _cluster.WaitForAsync("pod", "waiting", p => (p["status"]?["conditions"] as JsonArray)?.Any(c => Str(c?["reason"]) == "Unschedulable") == true);
        Assert.Contains("pod has unbound immediate PersistentVolumeClaims", SchedulingMessage(pod));
        Assert.Null(pod["spec"]!["nodeName"]);
        // A pod whose claim does not exist is not placed either.
        _cluster.Apply(Pod("orphan", "missing", "sleep 3600"));
        pod = await _cluster.WaitForAsync("pod", "orphan", p => (p["status"]?["conditions"] as JsonArray)?.Any(c => Str(c?["reason"]) == "Unschedulable") == true);
        Assert.Contains("persistentvolumeclaim \"missing\" not found", SchedulingMessage(pod));
    }
}
