using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Cluster.Store;
using ContainerOps.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContainerOps.Cluster.Tests;

/// <summary>The CronJob controller over the real store on a clock the test moves: firings, the one catch-up run after
/// an outage, startingDeadlineSeconds, concurrency policies, history limits, time zones. The test plays the Job
/// controller by writing Jobs' Complete/Failed conditions itself. Admission of schedules is at the end.</summary>
public sealed class CronJobControllerTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 10, 0, 30, TimeSpan.Zero);
    private readonly TempDir _dir = new("ccron");
    private readonly SqliteClusterStore _store;
    private readonly FakeTimeProvider _clock = new(Start);
    private readonly ClusterObjects _objects;
    private ControllerManager? _controllers;

    public CronJobControllerTests()
    {
        _store = new SqliteClusterStore(Path.Combine(_dir.Path, "cluster.db"));
        _objects = new ClusterObjects(_store, _clock);
        _objects.EnsureInitialObjects();
    }

    public async ValueTask DisposeAsync()
    {
        if (_controllers is not null) await _controllers.DisposeAsync();
        _store.Dispose();
        _dir.Dispose();
    }

    private void StartController()
    {
        _controllers = new ControllerManager(_objects, new ControllerOptions(), NullLogger.Instance, [_ => new CronJobController()], _clock);
        _controllers.Start();
    }

    private JsonObject CreateCronJob(string name, string schedule, string extra = "") =>
        _objects.Create(ResourceKinds.CronJob, "default", JsonNode.Parse("""
            {"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"NAME"},
             "spec":{EXTRA"schedule":"SCHEDULE","jobTemplate":{"metadata":{"labels":{"from":"cron"}},
               "spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}}
            """.Replace("NAME", name).Replace("SCHEDULE", schedule).Replace("EXTRA", extra))!.AsObject(), FieldValidation.Strict, false, out _);

    private List<JsonObject> Jobs() =>
        _store.List(ResourceKinds.Job.Key("default", null)).Items.Select(i => ClusterObjects.Parse(i.Value))
            .Where(j => j["metadata"]!["deletionTimestamp"] is null).OrderBy(j => Json.Str(j["metadata"]!["name"]), StringComparer.Ordinal).ToList();

    private JsonObject CronJob(string name) => _objects.Get(ResourceKinds.CronJob, "default", name);

    private List<string> EventReasons(string name) =>
        _store.List(ResourceKinds.Event.Key("default", null)).Items.Select(i => ClusterObjects.Parse(i.Value))
            .Where(e => Json.Str(e["involvedObject"]!["name"]) == name).Select(e => Json.Str(e["reason"])!).ToList();

    private static string Minute(DateTimeOffset t) => (t.ToUnixTimeSeconds() / 60).ToString();

    /// <summary>Writes a Job's finish as the Job controller would.</summary>
    private void Finish(JsonObject job, bool success)
    {
        var stamp = Json.Timestamp(_clock.GetUtcNow());
        _objects.Update(ResourceKinds.Job, "default", Json.Str(job["metadata"]!["name"])!, null, j =>
        {
            j["status"] = new JsonObject
            {
                ["startTime"] = Json.Str(j["metadata"]!["creationTimestamp"]),
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = success ? "Complete" : "Failed", ["status"] = "True", ["lastTransitionTime"] = stamp }),
            };
            if (success) j["status"]!["completionTime"] = stamp;
            return j;
        }, statusOnly: true, dryRun: false);
    }

    private static async Task<T> EventuallyAsync<T>(Func<T> read, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        T value;
        while (!done(value = read()))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"{what}: not within 10 s; last: {(value is System.Collections.IEnumerable e and not string ? string.Join(", ", e.Cast<object>()) : value)}");
            await Task.Delay(20);
        }
        return value;
    }

    /// <summary>Lets the controller act on what it has (its queue is asynchronous) before the test moves time on: a
    /// look that read the clock before a jump would set its wake-up after it (real clocks do not jump).</summary>
    private async Task Settle()
    {
        var informers = _controllers!.Context.Informers;
        bool Caught(ResourceKind kind) => _store.List(kind.Key("default", null)).Items.All(i =>
            Json.Str(informers.For(kind).Get(Informer.KeyOf(ClusterObjects.Parse(i.Value)))?["metadata"]?["resourceVersion"]) == i.Revision.ToString());
        var deadline = DateTime.UtcNow.AddSeconds(10);
        for (var quiet = 0; quiet < 3;)
        {
            quiet = Caught(ResourceKinds.CronJob) && Caught(ResourceKinds.Job) && _controllers.IsIdle ? quiet + 1 : 0;
            if (DateTime.UtcNow > deadline) Assert.Fail("the controller did not settle within 10 s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task EachFiringStartsOneJobNamedForItsMinuteAndAFinishedJobLeavesTheActiveList()
    {
        StartController();
        var cron = CreateCronJob("tick", "* * * * *");
        await Settle();
        Assert.Empty(Jobs()); // created at 10:00:30: nothing fired since

        _clock.Advance(TimeSpan.FromSeconds(31)); // 10:01:01
        var jobs = await EventuallyAsync(Jobs, j => j.Count == 1, "a job for 10:01");
        var firing = new DateTimeOffset(2026, 1, 1, 10, 1, 0, TimeSpan.Zero);
        var job = jobs[0];
        Assert.Equal($"tick-{Minute(firing)}", Json.Str(job["metadata"]!["name"]));
        Assert.Equal("cron", Json.Str(job["metadata"]!["labels"]!["from"]));
        Assert.True(OwnerReferences.IsControlledBy(job, OwnerReferences.Uid(cron)!));
        Assert.NotNull(job["metadata"]!["annotations"]![CronJobController.ScheduledTimestampAnnotation]);
        var status = (await EventuallyAsync(() => CronJob("tick"), c => c["status"]?["active"] is JsonArray { Count: 1 }, "the job in status.active"))["status"]!;
        Assert.Equal("2026-01-01T10:01:00Z", Json.Str(status["lastScheduleTime"]));
        Assert.Equal(Json.Str(job["metadata"]!["uid"]), Json.Str(status["active"]![0]!["uid"]));

        await Settle();
        Assert.Single(Jobs()); // looking again at the same firing starts nothing
        Finish(job, success: true);
        status = (await EventuallyAsync(() => CronJob("tick"), c => c["status"]?["active"] is null, "active emptied"))["status"]!;
        Assert.NotNull(status["lastSuccessfulTime"]);
        Assert.Contains("SawCompletedJob", EventReasons("tick"));
        Assert.Contains("SuccessfulCreate", EventReasons("tick"));

        _clock.Advance(TimeSpan.FromMinutes(1)); // 10:02:01
        await EventuallyAsync(Jobs, j => j.Count == 2, "a second job for 10:02");
    }

    [Fact]
    public async Task AfterAnOutageOnlyTheLatestMissedFiringRunsAndNonePastTheStartingDeadline()
    {
        CreateCronJob("catchup", "* * * * *");
        CreateCronJob("deadline", "* * * * *", "\"startingDeadlineSeconds\":20,");
        _clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(15)); // 10:05:45, five firings missed while down
        StartController();

        var jobs = await EventuallyAsync(Jobs, j => j.Count >= 1, "the catch-up run");
        await Settle();
        jobs = Jobs();
        Assert.Equal([$"catchup-{Minute(new DateTimeOffset(2026, 1, 1, 10, 5, 0, TimeSpan.Zero))}"], jobs.Select(j => Json.Str(j["metadata"]!["name"])!).ToArray());
        // 10:05 is 45 s ago, past the 20 s deadline: "deadline" starts nothing until its next firing.
        Assert.Null(CronJob("deadline")["status"]?["lastScheduleTime"]);

        _clock.Advance(TimeSpan.FromSeconds(20)); // 10:06:05
        await EventuallyAsync(() => Jobs().Count(j => Json.Str(j["metadata"]!["name"])!.StartsWith("deadline-", StringComparison.Ordinal)), n => n == 1, "deadline's 10:06 run");
    }

    [Fact]
    public async Task ForbidSkipsAFiringWhileAJobRunsAndReplaceDeletesTheRunningOne()
    {
        StartController();
        CreateCronJob("forbid", "* * * * *", "\"concurrencyPolicy\":\"Forbid\",");
        CreateCronJob("replace", "* * * * *", "\"concurrencyPolicy\":\"Replace\",");
        await Settle();
        _clock.Advance(TimeSpan.FromSeconds(31)); // 10:01:01
        await EventuallyAsync(Jobs, j => j.Count == 2, "one job each");
        await EventuallyAsync(() => CronJob("forbid"), c => c["status"]?["active"] is JsonArray { Count: 1 }, "forbid's job active");
        await EventuallyAsync(() => CronJob("replace"), c => c["status"]?["active"] is JsonArray { Count: 1 }, "replace's job active");
        await Settle();

        _clock.Advance(TimeSpan.FromMinutes(1)); // 10:02:01
        var m2 = Minute(new DateTimeOffset(2026, 1, 1, 10, 2, 0, TimeSpan.Zero));
        var m1 = Minute(new DateTimeOffset(2026, 1, 1, 10, 1, 0, TimeSpan.Zero));
        await EventuallyAsync(() => Jobs().Select(j => Json.Str(j["metadata"]!["name"])!).ToList(), names => names.Contains($"replace-{m2}") && !names.Contains($"replace-{m1}"), "replace swapped its job");
        await EventuallyAsync(() => EventReasons("forbid"), r => r.Contains("JobAlreadyActive"), "forbid reported the skipped firing");
        Assert.DoesNotContain($"forbid-{m2}", Jobs().Select(j => Json.Str(j["metadata"]!["name"])));

        // The running job ends: the waiting firing starts (as in Kubernetes), once.
        Finish(Jobs().First(j => Json.Str(j["metadata"]!["name"]) == $"forbid-{m1}"), success: true);
        await EventuallyAsync(() => Jobs().Select(j => Json.Str(j["metadata"]!["name"])!).ToList(), names => names.Contains($"forbid-{m2}"), "forbid's delayed run");
    }

    [Fact]
    public async Task FinishedJobsBeyondTheHistoryLimitsAreDeletedOldestFirst()
    {
        StartController();
        CreateCronJob("history", "* * * * *", "\"successfulJobsHistoryLimit\":1,\"failedJobsHistoryLimit\":1,");
        await Settle();
        for (var i = 1; i <= 4; i++)
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
            var name = $"history-{Minute(new DateTimeOffset(2026, 1, 1, 10, i, 0, TimeSpan.Zero))}";
            var job = (await EventuallyAsync(Jobs, j => j.Any(x => Json.Str(x["metadata"]!["name"]) == name), $"run {i}")).First(x => Json.Str(x["metadata"]!["name"]) == name);
            Finish(job, success: i != 2);
            await Settle();
        }
        var kept = await EventuallyAsync(() => Jobs().Select(j => Json.Str(j["metadata"]!["name"])!).ToList(), n => n.Count == 2, "one success and one failure kept");
        Assert.Contains($"history-{Minute(new DateTimeOffset(2026, 1, 1, 10, 4, 0, TimeSpan.Zero))}", kept);
        Assert.Contains($"history-{Minute(new DateTimeOffset(2026, 1, 1, 10, 2, 0, TimeSpan.Zero))}", kept);
    }

    [Fact]
    public async Task SchedulesRunInTheirTimeZoneAndSuspendStopsFirings()
    {
        StartController();
        // 09:00 in Tokyo is 00:00 UTC; the clock is at 10:00:30 UTC, so the next is 14 h away.
        CreateCronJob("tokyo", "0 9 * * *", "\"timeZone\":\"Asia/Tokyo\",");
        CreateCronJob("paused", "* * * * *", "\"suspend\":true,");
        await Settle();
        _clock.Advance(new DateTimeOffset(2026, 1, 2, 0, 0, 1, TimeSpan.Zero) - _clock.GetUtcNow());
        var job = (await EventuallyAsync(Jobs, j => j.Count == 1, "tokyo's 09:00 run"))[0];
        Assert.Equal("2026-01-02T09:00:00+09:00", Json.Str(job["metadata"]!["annotations"]![CronJobController.ScheduledTimestampAnnotation]));
        await Settle();
        Assert.Single(Jobs());
    }

    [Theory]
    [InlineData("\"schedule\":\"61 * * * *\"", "spec.schedule")]
    [InlineData("\"schedule\":\"* * *\"", "spec.schedule")]
    [InlineData("\"schedule\":\"TZ=UTC 0 * * * *\"", "spec.schedule")]
    [InlineData("\"schedule\":\"@hourly\",\"timeZone\":\"Mars/Olympus\"", "spec.timeZone")]
    [InlineData("\"schedule\":\"@hourly\",\"concurrencyPolicy\":\"Sometimes\"", "spec.concurrencyPolicy")]
    public async Task AdmissionRefusesABadScheduleTimeZoneOrPolicyWithItsFieldPath(string fields, string field)
    {
        await using var api = new ApiServer();
        var (code, body) = await api.PostAsync("/apis/batch/v1/namespaces/default/cronjobs", """
            {"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"bad"},"spec":{FIELDS,
             "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}}
            """.Replace("FIELDS", fields));
        Assert.Equal(422, code);
        Assert.Contains(field, body["message"]!.GetValue<string>());
        Assert.Equal(field, Json.Str(body["details"]!["causes"]![0]!["field"]));
        Assert.Equal(404, (await api.GetAsync("/apis/batch/v1/namespaces/default/cronjobs/bad")).Code);
    }

    [Fact]
    public async Task AdmissionDefaultsACronJobAsTheApiServerDoes()
    {
        await using var api = new ApiServer();
        var (code, body) = await api.PostAsync("/apis/batch/v1/namespaces/default/cronjobs", """
            {"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"good"},"spec":{"schedule":"*/5 * * * *",
             "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}}
            """);
        Assert.Equal(201, code);
        var spec = body["spec"]!;
        Assert.Equal("Allow", Json.Str(spec["concurrencyPolicy"]));
        Assert.Equal(3, spec["successfulJobsHistoryLimit"]!.GetValue<int>());
        Assert.Equal(1, spec["failedJobsHistoryLimit"]!.GetValue<int>());
        Assert.False(spec["suspend"]!.GetValue<bool>());
    }
}
