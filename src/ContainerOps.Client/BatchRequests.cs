using System.Text.Json.Nodes;

namespace ContainerOps.Client;

/// <summary>Jobs and CronJobs (batch/v1) through the daemon's Kubernetes API, for the cmdlets and the CLI.</summary>
public static class BatchRequests
{
    private static readonly ResourceRequests Jobs = new("apis/batch/v1", "jobs");
    private static readonly ResourceRequests CronJobs = new("apis/batch/v1", "cronjobs");

    public static Task<List<JsonObject>> ListJobsAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, CancellationToken ct = default) =>
        Jobs.ListAsync(client, ns, labelSelector, ct);
    public static Task<JsonObject> GetJobAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) => Jobs.GetAsync(client, ns, name, ct);
    public static Task<JsonObject> CreateJobAsync(this IContainerOpsClient client, string ns, JsonObject job, CancellationToken ct = default) => Jobs.CreateAsync(client, ns, job, ct);
    /// <summary>Removes a job and, after it (background propagation, as kubectl does), its pods.</summary>
    public static Task<JsonObject> DeleteJobAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        Jobs.DeleteAsync(client, ns, name, "Background", ct);

    public static Task<List<JsonObject>> ListCronJobsAsync(this IContainerOpsClient client, string? ns, string? labelSelector = null, CancellationToken ct = default) =>
        CronJobs.ListAsync(client, ns, labelSelector, ct);
    public static Task<JsonObject> GetCronJobAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) => CronJobs.GetAsync(client, ns, name, ct);
    public static Task<JsonObject> CreateCronJobAsync(this IContainerOpsClient client, string ns, JsonObject cronJob, CancellationToken ct = default) =>
        CronJobs.CreateAsync(client, ns, cronJob, ct);
    public static Task<JsonObject> UpdateCronJobAsync(this IContainerOpsClient client, string ns, string name, Action<JsonObject> change, CancellationToken ct = default) =>
        CronJobs.UpdateAsync(client, ns, name, change, ct);
    /// <summary>Removes a cron job and, after it, the jobs it started and their pods.</summary>
    public static Task<JsonObject> DeleteCronJobAsync(this IContainerOpsClient client, string ns, string name, CancellationToken ct = default) =>
        CronJobs.DeleteAsync(client, ns, name, "Background", ct);

    /// <summary>Starts a cron job's job now (`kubectl create job NAME --from=cronjob/CRON`): its job template, owned by
    /// the cron job, marked as started by hand.</summary>
    public static async Task<JsonObject> StartCronJobAsync(this IContainerOpsClient client, string ns, string cronJob, string? jobName = null, CancellationToken ct = default)
    {
        var cron = await client.GetCronJobAsync(ns, cronJob, ct);
        var template = cron["spec"]?["jobTemplate"] as JsonObject ?? [];
        var annotations = (JsonObject?)template["metadata"]?["annotations"]?.DeepClone() ?? [];
        annotations["cronjob.kubernetes.io/instantiate"] = "manual";
        var job = new JsonObject
        {
            ["apiVersion"] = "batch/v1", ["kind"] = "Job",
            ["metadata"] = new JsonObject
            {
                ["name"] = jobName ?? $"{cronJob}-manual-{Guid.NewGuid().ToString("N")[..5]}",
                ["labels"] = template["metadata"]?["labels"]?.DeepClone() ?? new JsonObject(),
                ["annotations"] = annotations,
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "batch/v1", ["kind"] = "CronJob", ["name"] = cronJob,
                    ["uid"] = cron["metadata"]?["uid"]?.GetValue<string>(), ["controller"] = true, ["blockOwnerDeletion"] = true,
                }),
            },
            ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject(),
        };
        return await client.CreateJobAsync(ns, job, ct);
    }
}
