using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ContainerOps.Cluster.Tests;

/// <summary>kubectl 1.32's generators (`create deployment|job|cronjob|service`, `run`, `expose`) send
/// their objects as protobuf; each object is read back as JSON and its fields checked.</summary>
public sealed class ProtobufKubectlTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private JsonNode Get(params string[] what) => JsonNode.Parse(_server.Ok(["get", .. what, "-o", "json"]))!;

    private static string Text(JsonNode? node) => node?.GetValue<string>() ?? "(absent)";

    [Fact]
    public void DeploymentsJobsCronJobsAndPodsFromKubectlCreateAndRun()
    {
        Assert.Equal("deployment.apps/web created", _server.Ok("create", "deployment", "web", "--image=busybox", "--replicas=0", "--port=80").Trim());
        var deployment = Get("deployment", "web");
        var spec = deployment["spec"]!;
        Assert.True(spec["replicas"] is JsonValue r && r.GetValue<int>() == 0, spec.ToJsonString());
        Assert.Equal("web", Text(spec["selector"]!["matchLabels"]!["app"]));
        Assert.Equal("web", Text(deployment["metadata"]!["labels"]!["app"]));
        var container = spec["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("busybox", Text(container["image"]));
        Assert.Equal(80, container["ports"]![0]!["containerPort"]!.GetValue<int>());
        Assert.Equal("TCP", Text(container["ports"]![0]!["protocol"]));

        Assert.Equal("job.batch/j created", _server.Ok("create", "job", "j", "--image=busybox", "--", "true").Trim());
        var job = Get("job", "j")["spec"]!["template"]!["spec"]!;
        Assert.Equal("""["true"]""", job["containers"]![0]!["command"]!.ToJsonString());
        Assert.Equal("Never", Text(job["restartPolicy"]));

        Assert.Equal("cronjob.batch/c created", _server.Ok("create", "cronjob", "c", "--image=busybox", "--schedule=*/5 * * * *", "--", "true").Trim());
        var cronJob = Get("cronjob", "c");
        Assert.Equal("*/5 * * * *", Text(cronJob["spec"]!["schedule"]));
        var cronPod = cronJob["spec"]!["jobTemplate"]!["spec"]!["template"]!["spec"]!;
        Assert.Equal("""["true"]""", cronPod["containers"]![0]!["command"]!.ToJsonString());
        Assert.Equal("OnFailure", Text(cronPod["restartPolicy"]));
        // kubectl's columns (ACTIVE and LAST SCHEDULE change if a five-minute mark passes during the test).
        var table = _server.Ok("get", "cronjob", "c").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"], Regex.Split(table[0].Trim(), @"\s{2,}"));
        Assert.Equal(["c", "*/5 * * * *", "<none>", "False"], Regex.Split(table[1].Trim(), @"\s{2,}")[..4]);

        // The job carries the CronJob's whole template as the API defaulted it, sent back as protobuf.
        Assert.Equal("job.batch/manual created", _server.Ok("create", "job", "manual", "--from=cronjob/c").Trim());
        var manual = Get("job", "manual");
        Assert.Equal("manual", Text(manual["metadata"]!["annotations"]!["cronjob.kubernetes.io/instantiate"]));
        Assert.Equal("c", Text(manual["metadata"]!["ownerReferences"]![0]!["name"]));
        Assert.Equal("CronJob", Text(manual["metadata"]!["ownerReferences"]![0]!["kind"]));
        var manualPod = manual["spec"]!["template"]!["spec"]!;
        Assert.True(JsonNode.DeepEquals(cronPod, manualPod), $"cronjob: {cronPod.ToJsonString()}\njob: {manualPod.ToJsonString()}");
        var manualContainer = manualPod["containers"]![0]!;
        Assert.Equal("/dev/termination-log", Text(manualContainer["terminationMessagePath"]));
        Assert.Equal("Always", Text(manualContainer["imagePullPolicy"]));
        Assert.Equal("{}", manualContainer["resources"]!.ToJsonString());
        Assert.Equal("ClusterFirst", Text(manualPod["dnsPolicy"]));
        Assert.Equal(30, manualPod["terminationGracePeriodSeconds"]!.GetValue<long>());

        Assert.Equal("pod/p created", _server.Ok("run", "p", "--image=busybox", "--", "sleep", "1").Trim());
        var pod = Get("pod", "p");
        Assert.Equal("""["sleep","1"]""", pod["spec"]!["containers"]![0]!["args"]!.ToJsonString());
        Assert.Equal("p", Text(pod["metadata"]!["labels"]!["run"]));
    }

    [Fact]
    public void ServicesFromKubectlCreateServiceAndExpose()
    {
        Assert.Equal("service/s created", _server.Ok("create", "service", "clusterip", "s", "--tcp=80:8080").Trim());
        var s = Get("service", "s")["spec"]!;
        Assert.Equal("ClusterIP", Text(s["type"]));
        Assert.Equal("s", Text(s["selector"]!["app"]));
        var port = s["ports"]![0]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}"""), port), port.ToJsonString());
        Assert.Matches(@"^\d+\.\d+\.\d+\.\d+$", Text(s["clusterIP"]));

        Assert.Equal("service/n created", _server.Ok("create", "service", "nodeport", "n", "--tcp=80:8080").Trim());
        var n = Get("service", "n")["spec"]!;
        Assert.Equal("NodePort", Text(n["type"]));
        Assert.Equal(8080, n["ports"]![0]!["targetPort"]!.GetValue<int>());
        Assert.InRange(n["ports"]![0]!["nodePort"]!.GetValue<int>(), 30000, 32767);

        _server.Ok("create", "deployment", "web", "--image=busybox", "--port=80");
        Assert.Equal("service/web exposed", _server.Ok("expose", "deployment", "web", "--port=80", "--target-port=8080").Trim());
        var web = Get("service", "web")["spec"]!;
        Assert.Equal("""{"app":"web"}""", web["selector"]!.ToJsonString());
        Assert.Equal(80, web["ports"]![0]!["port"]!.GetValue<int>());
        Assert.Equal(8080, web["ports"]![0]!["targetPort"]!.GetValue<int>());
        Assert.Equal("TCP", Text(web["ports"]![0]!["protocol"]));
    }
}
