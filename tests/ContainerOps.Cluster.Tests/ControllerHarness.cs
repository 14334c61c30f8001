using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Cluster.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainerOps.Cluster.Tests;

/// <summary>
/// The controllers over the API in process, with a stand-in for the node: for each new pod it asks
/// <c>kubelet</c> for the status to write (null: none, the pod stays Pending). Unbound pods go at once when deleted;
/// bound ones (daemon pods) are finished by the stand-in once marked. What the controllers decide is under test here; real pods and kubectl are in ContainerOps.Daemon.Tests.
/// </summary>
public sealed class ControllerHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _kubelet;

    public ApiServer Api { get; } = new();
    public ClusterObjects Objects { get; }
    public ControllerManager Controllers { get; }

    /// <param name="kubelet">The status a new pod gets (null: it keeps the one it has); it may wait.</param>
    /// <param name="nodeControllers">Controllers a node adds beside the built-in ones (its volume provisioner).</param>
    /// <param name="options">The controllers' settings (defaults when null).</param>
    public ControllerHarness(Func<JsonObject, Task<JsonObject?>>? kubelet = null, IEnumerable<Func<ControllerContext, IController>>? nodeControllers = null,
        ControllerOptions? options = null)
    {
        Objects = new ClusterObjects(Api.Store);
        Controllers = new ControllerManager(Objects, options ?? new ControllerOptions(), NullLogger.Instance, nodeControllers is null ? null : ControllerManager.BuiltIn.Concat(nodeControllers));
        Controllers.Start();
        // The watch opens here, not on the thread pool: a pod the test makes before that thread runs must not be missed.
        _kubelet = kubelet is null ? Task.CompletedTask : RunPodsAsync(Api.Store.Watch(ResourceKinds.Pod.Key(null, null), Api.Store.CurrentRevision), kubelet);
    }

    /// <summary>A stand-in node that marks every new pod Running and Ready, unless its first image is "never:ready".</summary>
    public static ControllerHarness WithReadyPods() =>
        new(pod => Task.FromResult(Json.Str(pod["spec"]!["containers"]![0]!["image"]) == "never:ready" ? null : RunningAndReady()));

    public static JsonObject RunningAndReady() => new()
    {
        ["phase"] = "Running",
        ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True", ["lastTransitionTime"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'") }),
    };

    private async Task RunPodsAsync(IStoreWatch watch, Func<JsonObject, Task<JsonObject?>> kubelet)
    {
        await Task.Yield();
        using var _ = watch;
        try
        {
            await foreach (var e in watch.ReadAllAsync(_stop.Token))
            {
                var pod = ClusterObjects.Parse(e.Object.Value);
                if (e.Type == WatchEventType.Added && await kubelet(pod) is { } status) SetPodStatus(pod, status);
                // A bound pod marked for deletion is finished at once, as a node would after its containers stopped.
                if (e.Type == WatchEventType.Modified && pod["metadata"]!["deletionTimestamp"] is not null && Json.Str(pod["spec"]!["nodeName"]) is { Length: > 0 })
                {
                    try { Objects.Delete(ResourceKinds.Pod, Json.Str(pod["metadata"]!["namespace"]), Json.Str(pod["metadata"]!["name"])!, null, Json.Str(pod["metadata"]!["uid"]), dryRun: false, gracePeriodSeconds: 0); }
                    catch (StatusException) { }
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Writes a pod's status, as the node would (nothing when the pod is gone or was made again since).</summary>
    public void SetPodStatus(JsonObject pod, JsonObject status)
    {
        try
        {
            Objects.Update(ResourceKinds.Pod, Json.Str(pod["metadata"]!["namespace"]) ?? "default", Json.Str(pod["metadata"]!["name"])!, null, p =>
            {
                if (Json.Str(p["metadata"]!["uid"]) == Json.Str(pod["metadata"]!["uid"])) p["status"] = status.DeepClone();
                return p;
            }, statusOnly: true, dryRun: false);
        }
        catch (StatusException) { }
    }

    public async Task<JsonObject> GetAsync(string path) => (await Api.GetAsync(path)).Body;

    public async Task<List<JsonObject>> ItemsAsync(string path) => (await GetAsync(path))["items"]!.AsArray().Select(i => i!.AsObject()).ToList();

    /// <summary>Reads until <paramref name="done"/> holds; fails with the last value read.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        T value;
        while (!done(value = await read()))
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"{what}: not within {seconds} s; last: {(value is JsonNode n ? n.ToJsonString() : value is IEnumerable<JsonObject> l ? string.Join("\n", l.Select(x => x.ToJsonString())) : value?.ToString())}");
            await Task.Delay(50);
        }
        return value;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _kubelet.ContinueWith(_ => { });
        await Controllers.DisposeAsync();
        await Api.DisposeAsync();
    }
}
