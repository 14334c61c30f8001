using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Cluster.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Cluster.Tests;

/// <summary>The Job controller over the API in process, with a stand-in for the node that finishes each new pod by its
/// image: "ok" succeeds, "fail" fails, anything else keeps running (Ready). Real pods and kubectl are in
/// ContainerOps.Daemon.Tests.</summary>
public sealed class JobControllerTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness;
    private ApiServer _api => _harness.Api;
    private int _mostActive;

    // Failed pods are replaced after 50 ms here; one test makes its own harness with Kubernetes' 10 s halved.
    public JobControllerTests() => _harness = new ControllerHarness(FinishPodAsync, options: new ControllerOptions { JobBackoff = TimeSpan.FromMilliseconds(50) });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private async Task<JsonObject?> FinishPodAsync(JsonObject pod)
    {
        var running = _api.Store.List(ResourceKinds.Pod.Key("default", null)).Items
            .Count(i => ClusterObjects.Parse(i.Value)["metadata"]!["deletionTimestamp"] is null && Json.Str(ClusterObjects.Parse(i.Value)["status"]?["phase"]) is "Pending" or "Running");
        _mostActive = Math.Max(_mostActive, running);
        await Task.Delay(30);
        var image = Json.Str(pod["spec"]!["containers"]![0]!["image"]);
        if (image!.StartsWith("exit-", StringComparison.Ordinal)) return Exited(int.Parse(image["exit-".Length..]));
        // "by-index:0,1,42": the pod of index i exits with the i-th code.
        if (image.StartsWith("by-index:", StringComparison.Ordinal))
        {
            var code = int.Parse(image["by-index:".Length..].Split(',')[int.Parse(Json.Str(pod["metadata"]!["annotations"]![JobController.IndexAnnotation])!)]);
            return code == 0 ? new JsonObject { ["phase"] = "Succeeded" } : Exited(code);
        }
        return image switch
        {
            "ok" => new JsonObject { ["phase"] = "Succeeded" },
            "fail" => new JsonObject { ["phase"] = "Failed" },
            // Its first pod is evicted (DisruptionTarget), the next succeed.
            "evicted-once" => Interlocked.Increment(ref _evictions) == 1
                ? new JsonObject
                {
                    ["phase"] = "Failed",
                    ["conditions"] = new JsonArray(new JsonObject { ["type"] = "DisruptionTarget", ["status"] = "True", ["reason"] = "EvictionByEvictionAPI" }),
                }
                : new JsonObject { ["phase"] = "Succeeded" },
            _ => ControllerHarness.RunningAndReady(),
        };
    }

    private int _evictions;

    /// <summary>A failed pod whose container "c" ended with <paramref name="code"/>.</summary>
    private static JsonObject Exited(int code) => new()
    {
        ["phase"] = "Failed",
        ["containerStatuses"] = new JsonArray(new JsonObject
        {
            ["name"] = "c", ["state"] = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = code, ["reason"] = "Error" } },
        }),
    };

    private static string Job(string name, string image, string extra = "") => """
        {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"NAME"},
         "spec":{EXTRA"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"IMAGE"}]}}}}
        """.Replace("NAME", name).Replace("IMAGE", image).Replace("EXTRA", extra);

    private async Task<JsonObject> GetJobAsync(string name) => (await _api.GetAsync($"/apis/batch/v1/namespaces/default/jobs/{name}")).Body;

    private async Task<List<JsonObject>> PodsAsync(string job) =>
        (await _api.GetAsync($"/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3D{job}")).Body["items"]!.AsArray().Select(i => i!.AsObject()).ToList();

    private static bool Has(JsonObject job, string type, string? reason = null) =>
        job["status"]?["conditions"]?.AsArray().OfType<JsonObject>().Any(c => Json.Str(c["type"]) == type && Json.Str(c["status"]) == "True" && (reason is null || Json.Str(c["reason"]) == reason)) == true;

    private static Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, int seconds = 15) =>
        ControllerHarness.EventuallyAsync(read, done, what, seconds);

    [Fact]
    public async Task AJobRunsItsCompletionsAtMostParallelismAtATimeAndCompletes()
    {
        var (code, created) = await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("batch", "ok", "\"completions\":6,\"parallelism\":2,"));
        Assert.Equal(201, code);
        Assert.Equal(Json.Str(created["metadata"]!["uid"]), Json.Str(created["spec"]!["selector"]!["matchLabels"]!["batch.kubernetes.io/controller-uid"]));
        var job = await EventuallyAsync(() => GetJobAsync("batch"), j => Has(j, "Complete"), "complete");
        Assert.True(Has(job, "SuccessCriteriaMet"));
        Assert.Equal(6, job["status"]!["succeeded"]!.GetValue<int>());
        Assert.NotNull(job["status"]!["completionTime"]);
        Assert.Equal(6, (await PodsAsync("batch")).Count);
        Assert.InRange(_mostActive, 1, 2);
        var (_, events) = await _api.GetAsync("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dbatch,reason%3DCompleted");
        Assert.Single(events["items"]!.AsArray());
    }

    [Fact]
    public async Task FailuresPastTheBackoffLimitFailTheJob()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("broken", "fail", "\"backoffLimit\":2,"))).Code);
        var job = await EventuallyAsync(() => GetJobAsync("broken"), j => Has(j, "Failed"), "failed");
        Assert.True(Has(job, "Failed", "BackoffLimitExceeded"));
        Assert.True(Has(job, "FailureTarget"));
        Assert.Equal(3, job["status"]!["failed"]!.GetValue<int>());
        Assert.Equal(3, (await PodsAsync("broken")).Count);
    }

    [Fact]
    public async Task AFailedPodIsReplacedOnlyAfterADelayThatDoublesPerFailure()
    {
        var seen = new List<DateTimeOffset>();
        await using var harness = new ControllerHarness(pod =>
        {
            lock (seen) seen.Add(DateTimeOffset.UtcNow);
            return Task.FromResult<JsonObject?>(new JsonObject { ["phase"] = "Failed" });
        }, options: new ControllerOptions { JobBackoff = TimeSpan.FromSeconds(2) });
        Assert.Equal(201, (await harness.Api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("patient", "fail", "\"backoffLimit\":2,"))).Code);
        var job = await EventuallyAsync(async () => (await harness.Api.GetAsync("/apis/batch/v1/namespaces/default/jobs/patient")).Body,
            j => Has(j, "Failed"), "failed at its backoff limit", 30);
        Assert.Equal(3, job["status"]!["failed"]!.GetValue<int>());
        Assert.Equal(3, seen.Count);
        // 2 s, then 4 s. The stand-in kubelet writes no container state, so a pod's failure counts from its creation,
        // known to the second: each replacement was created at least the delay after the pod before it, in whole
        // seconds of the pods' own timestamps (the times the stand-in saw the pods would add its own lag under load).
        var created = (await harness.Api.GetAsync("/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dpatient")).Body["items"]!
            .AsArray().Select(p => DateTimeOffset.Parse(Json.Str(p!["metadata"]!["creationTimestamp"])!, System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
        Assert.Equal(3, created.Count);
        var (first, second) = (created[1] - created[0], created[2] - created[1]);
        Assert.True(first >= TimeSpan.FromSeconds(2), $"replaced after {first}");
        Assert.True(second >= TimeSpan.FromSeconds(4), $"replaced after {first}, then {second}");
    }

    [Fact]
    public async Task AnIndexedJobGivesEachIndexItsPodAndListsCompletedIndexes()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("idx", "ok", "\"completions\":3,\"parallelism\":3,\"completionMode\":\"Indexed\","))).Code);
        var job = await EventuallyAsync(() => GetJobAsync("idx"), j => Has(j, "Complete"), "complete");
        Assert.Equal("0-2", Json.Str(job["status"]!["completedIndexes"]));
        var pods = await PodsAsync("idx");
        Assert.Equal(["0", "1", "2"], pods.Select(p => Json.Str(p["metadata"]!["annotations"]![JobController.IndexAnnotation])!).Order().ToArray());
        Assert.All(pods, p =>
        {
            var index = Json.Str(p["metadata"]!["annotations"]![JobController.IndexAnnotation]);
            Assert.Equal($"idx-{index}", Json.Str(p["spec"]!["hostname"]));
            Assert.Contains(p["spec"]!["containers"]![0]!["env"]!.AsArray(), e => Json.Str(e!["name"]) == "JOB_COMPLETION_INDEX");
        });
    }

    [Fact]
    public async Task ADeadlineFailsARunningJobAndSuspendStopsItsPods()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("slow", "run", "\"activeDeadlineSeconds\":1,"))).Code);
        var job = await EventuallyAsync(() => GetJobAsync("slow"), j => Has(j, "Failed"), "deadline exceeded");
        Assert.True(Has(job, "Failed", "DeadlineExceeded"));
        await EventuallyAsync(() => PodsAsync("slow"), p => p.Count == 0, "its running pod stopped");

        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("held", "run", "\"parallelism\":2,\"completions\":4,"))).Code);
        await EventuallyAsync(() => GetJobAsync("held"), j => j["status"]?["active"]?.GetValue<int>() == 2, "two active");
        await _api.PatchAsync("/apis/batch/v1/namespaces/default/jobs/held", """{"spec":{"suspend":true}}""", "application/merge-patch+json");
        job = await EventuallyAsync(() => GetJobAsync("held"), j => Has(j, "Suspended"), "suspended");
        await EventuallyAsync(() => PodsAsync("held"), p => p.Count == 0, "pods stopped while suspended");
        Assert.Null((await GetJobAsync("held"))["status"]!["failed"]); // stopped by the controller: no failure
        await _api.PatchAsync("/apis/batch/v1/namespaces/default/jobs/held", """{"spec":{"suspend":false}}""", "application/merge-patch+json");
        await EventuallyAsync(() => PodsAsync("held"), p => p.Count == 2, "pods back when resumed");
    }

    [Fact]
    public async Task APodFailurePolicyFailsTheJobAtAMatchingExitCodeAndLeavesOthersToTheBackoffLimit()
    {
        const string failOn42 = "\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":{\"containerName\":\"c\",\"operator\":\"In\",\"values\":[42]}}]},";
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("fatal", "exit-42", failOn42))).Code);
        var job = await EventuallyAsync(() => GetJobAsync("fatal"), j => Has(j, "Failed"), "failed by the policy");
        Assert.True(Has(job, "FailureTarget", "PodFailurePolicy"));
        var failedCondition = job["status"]!["conditions"]!.AsArray().OfType<JsonObject>().Single(c => Json.Str(c["type"]) == "Failed");
        Assert.Equal("PodFailurePolicy", Json.Str(failedCondition["reason"]));
        Assert.Matches(@"^Container c for pod default/fatal-\w+ failed with exit code 42 matching FailJob rule at index 0$", Json.Str(failedCondition["message"]));
        Assert.Equal(1, job["status"]!["failed"]!.GetValue<int>());
        Assert.Single(await PodsAsync("fatal")); // at once: the default backoff limit (6) would have made seven

        // Another exit code matches no rule (NotIn 1, 2 does not hold for 1): counted, up to the backoff limit.
        const string failUnlessKnown = "\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"NotIn\",\"values\":[1,2]}}]},";
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("known", "exit-1", "\"backoffLimit\":1," + failUnlessKnown))).Code);
        job = await EventuallyAsync(() => GetJobAsync("known"), j => Has(j, "Failed"), "failed at the backoff limit");
        Assert.True(Has(job, "Failed", "BackoffLimitExceeded"));
        Assert.Equal(2, job["status"]!["failed"]!.GetValue<int>());
    }

    [Fact]
    public async Task AFailureThePolicyIgnoresIsNotCountedAndThePodIsReplaced()
    {
        const string ignoreDisruption = "\"podFailurePolicy\":{\"rules\":[{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]}]},";
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("sturdy", "evicted-once", "\"backoffLimit\":0," + ignoreDisruption))).Code);
        var job = await EventuallyAsync(() => GetJobAsync("sturdy"), j => Has(j, "Complete") || Has(j, "Failed"), "finished");
        Assert.True(Has(job, "Complete"), job.ToJsonString());
        Assert.Null(job["status"]!["failed"]);
        Assert.Equal(2, (await PodsAsync("sturdy")).Count);
    }

    [Theory]
    [InlineData("\"restartPolicy\":\"OnFailure\"", "{\"action\":\"Ignore\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[3]}}", "spec.template.spec.restartPolicy", "only \"Never\" is supported when podFailurePolicy is specified")]
    [InlineData("\"restartPolicy\":\"Never\"", "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[0]}}", "spec.podFailurePolicy.rules[0].onExitCodes.values[0]", "must not be 0 for the In operator")]
    [InlineData("\"restartPolicy\":\"Never\"", "{\"action\":\"FailJob\",\"onExitCodes\":{\"containerName\":\"other\",\"operator\":\"In\",\"values\":[3]}}", "spec.podFailurePolicy.rules[0].onExitCodes.containerName", "must be one of the container or initContainer names")]
    [InlineData("\"restartPolicy\":\"Never\"", "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[3]},\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]}", "spec.podFailurePolicy.rules[0]", "specifying both OnExitCodes and OnPodConditions is not supported")]
    [InlineData("\"restartPolicy\":\"Never\"", "{\"action\":\"Retry\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]}", "spec.podFailurePolicy.rules[0].action", "supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"")]
    [InlineData("\"restartPolicy\":\"Never\"", "{\"action\":\"FailIndex\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]}", "spec.podFailurePolicy.rules[0].action", "requires the backoffLimitPerIndex to be set")]
    public async Task AWrongPodFailurePolicyIsRefusedNamingTheField(string restartPolicy, string rule, string field, string message)
    {
        var body = "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"wrong\"},\"spec\":{\"podFailurePolicy\":{\"rules\":[RULE]},"
            .Replace("RULE", rule) + "\"template\":{\"spec\":{RESTART,\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}".Replace("RESTART", restartPolicy);
        var (code, status) = await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", body);
        Assert.Equal(422, code);
        var cause = status["details"]!["causes"]!.AsArray().OfType<JsonObject>().Single(c => Json.Str(c["field"]) == field);
        Assert.Contains(message, Json.Str(cause["message"]));
        Assert.Equal(404, (await _api.GetAsync("/apis/batch/v1/namespaces/default/jobs/wrong")).Code);
    }

    private static string Indexed(int completions, string extra) =>
        $"\"completions\":{completions},\"parallelism\":{completions},\"completionMode\":\"Indexed\",{extra}";

    private static List<JsonObject> OfIndex(List<JsonObject> pods, int index) =>
        pods.Where(p => Json.Str(p["metadata"]!["annotations"]![JobController.IndexAnnotation]) == index.ToString())
            .OrderBy(p => int.Parse(Json.Str(p["metadata"]!["annotations"]![JobController.IndexFailureCountAnnotation])!)).ToList();

    [Fact]
    public async Task ABackoffLimitPerIndexGivesUpOnlyTheIndexThatKeepsFailing()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("suites", "by-index:0,1,0,0", Indexed(4, "\"backoffLimitPerIndex\":1,")))).Code);
        var job = await EventuallyAsync(() => GetJobAsync("suites"), j => Has(j, "Failed"), "failed with a failed index");
        Assert.True(Has(job, "Failed", "FailedIndexes"), job.ToJsonString());
        Assert.Equal("1", Json.Str(job["status"]!["failedIndexes"]));
        Assert.Equal("0,2-3", Json.Str(job["status"]!["completedIndexes"]));
        Assert.Equal(2, job["status"]!["failed"]!.GetValue<int>());
        Assert.Equal(int.MaxValue, job["spec"]!["backoffLimit"]!.GetValue<int>());
        // Index 1 was tried twice, its replacement knowing the failure before it; the others once.
        var pods = await PodsAsync("suites");
        Assert.Equal(["0", "1"], OfIndex(pods, 1).Select(p => Json.Str(p["metadata"]!["annotations"]![JobController.IndexFailureCountAnnotation])!));
        Assert.All([0, 2, 3], i => Assert.Single(OfIndex(pods, i)));
    }

    [Fact]
    public async Task AFailIndexRuleGivesTheIndexUpAtOnceAndMaxFailedIndexesEndsTheJob()
    {
        const string failIndexOn42 = "\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailIndex\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[42]}}]},";
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs",
            Job("shards", "by-index:0,42,0", Indexed(3, "\"backoffLimitPerIndex\":3," + failIndexOn42)))).Code);
        var job = await EventuallyAsync(() => GetJobAsync("shards"), j => Has(j, "Failed"), "failed with a failed index");
        Assert.True(Has(job, "Failed", "FailedIndexes"), job.ToJsonString());
        Assert.Equal("1", Json.Str(job["status"]!["failedIndexes"]));
        Assert.Equal("0,2", Json.Str(job["status"]!["completedIndexes"]));
        Assert.Single(OfIndex(await PodsAsync("shards"), 1)); // not retried, though three retries were allowed

        // Two indexes fail for good where one may: the job ends at once, its running index stopped.
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs",
            Job("strict", "by-index:1,1,0,0", Indexed(4, "\"backoffLimitPerIndex\":0,\"maxFailedIndexes\":1,")))).Code);
        job = await EventuallyAsync(() => GetJobAsync("strict"), j => Has(j, "Failed"), "failed past maxFailedIndexes");
        Assert.True(Has(job, "Failed", "MaxFailedIndexesExceeded"), job.ToJsonString());
        Assert.Equal("0-1", Json.Str(job["status"]!["failedIndexes"]));
    }

    [Theory]
    [InlineData("\"backoffLimitPerIndex\":1,", "spec.backoffLimitPerIndex", "requires indexed completion mode")]
    [InlineData("\"completionMode\":\"Indexed\",\"completions\":2,\"backoffLimitPerIndex\":1,\"maxFailedIndexes\":3,", "spec.maxFailedIndexes", "must be less than or equal to completions")]
    [InlineData("\"completionMode\":\"Indexed\",\"completions\":2,\"maxFailedIndexes\":1,", "spec.backoffLimitPerIndex", "when maxFailedIndexes is specified")]
    [InlineData("\"completionMode\":\"Indexed\",\"completions\":2,\"backoffLimitPerIndex\":-1,", "spec.backoffLimitPerIndex", "must be greater than or equal to 0")]
    public async Task AWrongBackoffPerIndexIsRefusedNamingTheField(string extra, string field, string message)
    {
        var (code, status) = await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("wrong", "ok", extra));
        Assert.Equal(422, code);
        var cause = status["details"]!["causes"]!.AsArray().OfType<JsonObject>().Single(c => Json.Str(c["field"]) == field);
        Assert.Contains(message, Json.Str(cause["message"]));
    }

    [Fact]
    public async Task ACronJobsTemplateIsHeldToTheSameChecks()
    {
        var (code, status) = await _api.PostAsync("/apis/batch/v1/namespaces/default/cronjobs", """
            {"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"nightly"},
             "spec":{"schedule":"0 2 * * *","jobTemplate":{"spec":{"backoffLimitPerIndex":1,
               "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"ok"}]}}}}}}
            """);
        Assert.Equal(422, code);
        var cause = status["details"]!["causes"]!.AsArray().OfType<JsonObject>().Single(c => Json.Str(c["field"]) == "spec.jobTemplate.spec.backoffLimitPerIndex");
        Assert.Contains("requires indexed completion mode", Json.Str(cause["message"]));
    }

    private static bool IsTracked(JsonObject pod) =>
        pod["metadata"]!["finalizers"]?.AsArray().Any(f => Json.Str(f) == JobController.TrackingFinalizer) == true;

    [Fact]
    public async Task CountsDoNotComeFromKeptPodsSoRemovingFinishedPodsLosesNone()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("tidy", "fail", "\"backoffLimit\":2,"))).Code);
        // Someone (a user, a pod garbage collector) removes each failed pod as soon as the job has let it go.
        var job = await EventuallyAsync(async () =>
        {
            foreach (var pod in await PodsAsync("tidy"))
            {
                if (Json.Str(pod["status"]?["phase"]) == "Pending") Assert.True(IsTracked(pod), "a new job pod carries the tracking finalizer");
                if (Json.Str(pod["status"]?["phase"]) == "Failed" && !IsTracked(pod))
                    await _api.DeleteAsync($"/api/v1/namespaces/default/pods/{Json.Str(pod["metadata"]!["name"])}");
            }
            return await GetJobAsync("tidy");
        }, j => Has(j, "Failed"), "failed at its backoff limit although its failed pods were removed");
        Assert.True(Has(job, "Failed", "BackoffLimitExceeded"));
        Assert.Equal(3, job["status"]!["failed"]!.GetValue<int>());
        Assert.Empty(job["status"]!["uncountedTerminatedPods"]!.AsObject());
    }

    [Fact]
    public async Task ARunningPodDeletedCountsAsFailedAndIsReplacedUntilTheBackoffLimit()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("fragile", "run", "\"backoffLimit\":1,"))).Code);
        var first = (await EventuallyAsync(() => PodsAsync("fragile"), p => p.Count == 1 && Json.Str(p[0]["status"]?["phase"]) == "Running", "running")).Single();
        Assert.True(IsTracked(first));
        Assert.Equal(200, (await _api.DeleteAsync($"/api/v1/namespaces/default/pods/{Json.Str(first["metadata"]!["name"])}")).Code);
        var job = await EventuallyAsync(() => GetJobAsync("fragile"), j => j["status"]?["failed"]?.GetValue<int>() == 1 && j["status"]?["active"]?.GetValue<int>() == 1,
            "the deleted pod counted as failed and replaced");
        Assert.False(Has(job, "Failed"));
        var pods = await EventuallyAsync(() => PodsAsync("fragile"), p => p.Count == 1 && Json.Str(p[0]["metadata"]!["name"]) != Json.Str(first["metadata"]!["name"]),
            "the deleted pod gone once counted, its replacement there");
        Assert.Equal(200, (await _api.DeleteAsync($"/api/v1/namespaces/default/pods/{Json.Str(pods[0]["metadata"]!["name"])}")).Code);
        job = await EventuallyAsync(() => GetJobAsync("fragile"), j => Has(j, "Failed"), "failed past its backoff limit");
        Assert.True(Has(job, "Failed", "BackoffLimitExceeded"));
        Assert.Equal(2, job["status"]!["failed"]!.GetValue<int>());
        await EventuallyAsync(() => PodsAsync("fragile"), p => p.Count == 0, "no pod left held");
    }

    [Fact]
    public async Task PodsOfADeletedOrOrphaningJobAreLetGo()
    {
        foreach (var (name, propagation) in new[] { ("dropped", "Background"), ("kept", "Orphan") })
        {
            Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job(name, "run", "\"parallelism\":2,\"completions\":2,"))).Code);
            await EventuallyAsync(() => PodsAsync(name), p => p.Count == 2 && p.All(IsTracked), "two tracked pods");
            Assert.Equal(200, (await _api.SendAsync(HttpMethod.Delete, $"/apis/batch/v1/namespaces/default/jobs/{name}",
                $$"""{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"{{propagation}}"}""")).Code);
            if (propagation == "Background") await EventuallyAsync(() => PodsAsync(name), p => p.Count == 0, "its pods let go and removed");
            else
            {
                var pods = await EventuallyAsync(() => PodsAsync(name), p => p.Count == 2 && p.All(x => !IsTracked(x) && x["metadata"]!["ownerReferences"] is null),
                    "its pods kept, no longer owned, let go");
                Assert.All(pods, p => Assert.Null(p["metadata"]!["deletionTimestamp"]));
            }
        }
    }

    [Fact]
    public async Task AFinishedJobGoesWithItsPodsAfterItsTtl()
    {
        Assert.Equal(201, (await _api.PostAsync("/apis/batch/v1/namespaces/default/jobs", Job("brief", "ok", "\"ttlSecondsAfterFinished\":1,"))).Code);
        await EventuallyAsync(() => GetJobAsync("brief"), j => Has(j, "Complete"), "complete");
        await EventuallyAsync(async () => (await _api.GetAsync("/apis/batch/v1/namespaces/default/jobs/brief")).Code, c => c == 404, "removed after its ttl", 10);
        await EventuallyAsync(() => PodsAsync("brief"), p => p.Count == 0, "its pods removed with it");
    }
}
