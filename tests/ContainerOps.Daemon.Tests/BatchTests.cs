using System.Text.Json.Nodes;

namespace ContainerOps.Daemon.Tests;

/// <summary>Jobs and CronJobs with real pods, driven by kubectl 1.32: an Indexed job whose pods see their index, a
/// CronJob made with `kubectl create cronjob` that fires on its own, and `kubectl create job --from=cronjob/…`.</summary>
public sealed class BatchTests : IAsyncLifetime
{
    private const string Image = "batch-tests/busybox:1";
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ClusterDaemon.StartAsync(Image);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static bool Has(JsonObject job, string type) =>
        (job["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().Any(c => c["type"]?.GetValue<string>() == type && c["status"]?.GetValue<string>() == "True") == true;

    private List<JsonObject> PodsOf(string job) => _cluster.Items("get", "pods", "-l", $"batch.kubernetes.io/job-name={job}");

    [Fact]
    public async Task AnIndexedJobRunsEachIndexOnceAndItsPodsSeeTheirIndex()
    {
        _cluster.Apply($$"""
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: indexed
            spec:
              completions: 3
              parallelism: 2
              completionMode: Indexed
              template:
                spec:
                  restartPolicy: Never
                  containers:
                  - {name: c, image: "{{Image}}", command: [sh, -c, 'echo "index=$JOB_COMPLETION_INDEX host=$(hostname)"']}
            """);
        var job = await _cluster.WaitForAsync("job", "indexed", j => Has(j, "Complete") || Has(j, "Failed"), 120);
        Assert.True(Has(job, "Complete"), job.ToJsonString());
        Assert.Equal("0-2", job["status"]!["completedIndexes"]!.GetValue<string>());
        var pods = PodsOf("indexed");
        Assert.Equal(3, pods.Count);
        var seen = new List<string>();
        foreach (var pod in pods)
        {
            var index = pod["metadata"]!["annotations"]!["batch.kubernetes.io/job-completion-index"]!.GetValue<string>();
            var log = await _cluster.LogsAsync(pod["metadata"]!["name"]!.GetValue<string>(), "index=");
            Assert.Contains($"index={index} host=indexed-{index}", log);
            seen.Add(index);
        }
        Assert.Equal(["0", "1", "2"], seen.Order().ToArray());
        _cluster.Ok("wait", "--for=condition=complete", "job/indexed", "--timeout=5s");
    }

    [Fact]
    public async Task ACronJobFromKubectlFiresOnItsScheduleAndRunsNowWithCreateJobFrom()
    {
        _cluster.Ok("create", "cronjob", "tick", $"--image={Image}", "--schedule=* * * * *", "--", "sh", "-c", "echo tick");
        var table = _cluster.Ok("get", "cronjob", "tick");
        Assert.Contains("* * * * *", table);
        Assert.Contains("SCHEDULE", table);

        // Run now: kubectl builds the Job from the CronJob's template and names the CronJob its owner.
        _cluster.Ok("create", "job", "tick-now", "--from=cronjob/tick");
        var manual = await _cluster.WaitForAsync("job", "tick-now", j => Has(j, "Complete") || Has(j, "Failed"), 120);
        Assert.True(Has(manual, "Complete"), manual.ToJsonString());
        Assert.Equal("manual", manual["metadata"]!["annotations"]!["cronjob.kubernetes.io/instantiate"]!.GetValue<string>());
        var cron = _cluster.Get("cronjob", "tick");
        Assert.Equal(cron["metadata"]!["uid"]!.GetValue<string>(), manual["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());

        // Its own firing, within the minute: a Job named tick-<minute>, run to completion, seen by the CronJob.
        var fired = await _cluster.EventuallyAsync(() => _cluster.Items("get", "jobs").Where(j => j["metadata"]!["name"]!.GetValue<string>() != "tick-now").ToList(),
            jobs => jobs.Count >= 1 && jobs.All(j => Has(j, "Complete")), "a scheduled run of tick, complete", 150);
        var name = fired[0]["metadata"]!["name"]!.GetValue<string>();
        Assert.Matches("^tick-[0-9]+$", name);
        var scheduled = DateTimeOffset.FromUnixTimeSeconds(long.Parse(name["tick-".Length..]) * 60);
        cron = await _cluster.WaitForAsync("cronjob", "tick", c => c["status"]?["lastSuccessfulTime"] is not null);
        Assert.Equal(scheduled, DateTimeOffset.Parse(cron["status"]!["lastScheduleTime"]!.GetValue<string>()));
        Assert.Contains("tick", await _cluster.LogsAsync(PodsOf(name)[0]["metadata"]!["name"]!.GetValue<string>(), "tick"));

        var (exit, _, err) = _cluster.Kubectl("create", "cronjob", "bad", $"--image={Image}", "--schedule=61 * * * *");
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.schedule", err);
    }
}
