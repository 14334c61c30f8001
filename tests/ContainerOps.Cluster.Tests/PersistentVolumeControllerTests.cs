using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Cluster.Node;
using ContainerOps.TestSupport;

namespace ContainerOps.Cluster.Tests;

/// <summary>Storage classes, the binder, the protection finalizers and the local provisioner over the API in process
/// (<see cref="ControllerHarness"/>), with a node's storage in a temporary directory. Real pods mounting claims are in
/// ContainerOps.Daemon.Tests.</summary>
public sealed class PersistentVolumeControllerTests : IAsyncLifetime
{
    private const string Node = "node-a";
    private readonly TempDir _dir = new("cpvc");
    private readonly DirectoryStorage _storage;
    private readonly ControllerHarness _harness;

    public PersistentVolumeControllerTests()
    {
        _storage = new DirectoryStorage(_dir.Path);
        _harness = new ControllerHarness(nodeControllers: [_ => new LocalVolumeProvisioner(_storage, Node)]);
    }

    /// <summary>A node's storage as plain directories.</summary>
    private sealed class DirectoryStorage(string root) : INodeStorage
    {
        public string CreateVolume(string name, IReadOnlyDictionary<string, string> labels)
        {
            var path = Path.Combine(root, name);
            Directory.CreateDirectory(path);
            return path;
        }

        public void DeleteVolume(string name)
        {
            if (Directory.Exists(Path.Combine(root, name))) Directory.Delete(Path.Combine(root, name), true);
        }
    }

    public async Task InitializeAsync()
    {
        var (code, body) = await _harness.Api.PostAsync("/api/v1/nodes", $$$"""{"metadata":{"name":"{{{Node}}}","labels":{"kubernetes.io/hostname":"{{{Node}}}"} } }""");
        Assert.True(code == 201, body.ToJsonString());
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        _dir.Dispose();
    }

    private const string Claims = "/api/v1/namespaces/default/persistentvolumeclaims";

    private static string Claim(string name, string size = "1Gi", string extra = "") =>
        $$$"""{"metadata":{"name":"{{{name}}}"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"{{{size}}}"}}{{{extra}}}}}""";

    private static string HostPathVolume(string name, string size, string path, string extra = "") =>
        $$$"""{"metadata":{"name":"{{{name}}}"},"spec":{"capacity":{"storage":"{{{size}}}"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"{{{path}}}"}{{{extra}}}}}""";

    private Task<JsonObject> ClaimAsync(string name) => _harness.GetAsync($"{Claims}/{name}");

    private async Task<JsonObject> BoundAsync(string name) =>
        await ControllerHarness.EventuallyAsync(() => ClaimAsync(name), c => Json.Str(c["status"]?["phase"]) == "Bound", $"claim {name} Bound");

    private async Task<List<string>> EventReasonsAsync(string involved) =>
        (await _harness.ItemsAsync($"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{involved}"))
            .Select(e => Json.Str(e["reason"])!).ToList();

    [Fact]
    public async Task TheDefaultClassIsMadeAndPutOnClaimsThatNameNone()
    {
        var sc = await _harness.GetAsync("/apis/storage.k8s.io/v1/storageclasses/local-path");
        Assert.Equal("true", Json.Str(sc["metadata"]!["annotations"]![Storage.DefaultClassAnnotation]));
        Assert.Equal("WaitForFirstConsumer", Json.Str(sc["volumeBindingMode"]));
        Assert.Equal("Delete", Json.Str(sc["reclaimPolicy"]));
        Assert.Equal(Storage.LocalProvisioner, Json.Str(sc["provisioner"]));

        var (code, claim) = await _harness.Api.PostAsync(Claims, Claim("data"));
        Assert.Equal(201, code);
        Assert.Equal("local-path", Json.Str(claim["spec"]!["storageClassName"]));
        Assert.Contains(Storage.ClaimProtectionFinalizer, claim["metadata"]!["finalizers"]!.AsArray().Select(f => Json.Str(f)));
        // "" asks for a volume without a class: no default.
        (_, claim) = await _harness.Api.PostAsync(Claims, Claim("classless", extra: ""","storageClassName":"" """));
        Assert.Equal("", Json.Str(claim["spec"]!["storageClassName"]));
        // WaitForFirstConsumer: no volume until a pod chooses a node.
        await ControllerHarness.EventuallyAsync(() => EventReasonsAsync("data"), r => r.Contains("WaitForFirstConsumer"), "WaitForFirstConsumer event");
        Assert.Equal("Pending", Json.Str((await ClaimAsync("data"))["status"]!["phase"]));
        Assert.Empty(await _harness.ItemsAsync("/api/v1/persistentvolumes"));
    }

    [Fact]
    public async Task BadClaimsVolumesAndClassesAreRefusedWithTheirFields()
    {
        var (code, body) = await _harness.Api.PostAsync(Claims, """{"metadata":{"name":"bad"},"spec":{"accessModes":["ReadWriteSometimes"]}}""");
        Assert.Equal(422, code);
        var causes = body["details"]!["causes"]!.AsArray().Select(c => Json.Str(c!["field"])).ToList();
        Assert.Contains("spec.accessModes", causes);
        Assert.Contains("spec.resources.requests[storage]", causes);
        (code, body) = await _harness.Api.PostAsync("/api/v1/persistentvolumes", """{"metadata":{"name":"pv-bad"},"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"local":{"path":"relative"}}}""");
        Assert.Equal(422, code);
        causes = body["details"]!["causes"]!.AsArray().Select(c => Json.Str(c!["field"])).ToList();
        Assert.Contains("spec.local.path", causes);
        Assert.Contains("spec.nodeAffinity", causes);
        (code, body) = await _harness.Api.PostAsync("/apis/storage.k8s.io/v1/storageclasses", """{"metadata":{"name":"odd"},"provisioner":"x","volumeBindingMode":"Sometimes"}""");
        Assert.Equal(422, code);
        Assert.Contains("volumeBindingMode", body["message"]!.ToString());
        // A claim's spec is immutable but for its requests.
        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("fixed", extra: ""","storageClassName":"" """))).Code);
        (code, body) = await _harness.Api.PatchAsync($"{Claims}/fixed", """{"spec":{"accessModes":["ReadOnlyMany"]}}""", "application/merge-patch+json");
        Assert.Equal(422, code);
        Assert.Contains("immutable", body["message"]!.ToString());
    }

    [Fact]
    public async Task AClaimBindsTheSmallestMatchingAvailableVolumeAndRetainLeavesItReleased()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/persistentvolumes", HostPathVolume("small", "1Gi", "/srv/small"))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/persistentvolumes", HostPathVolume("big", "10Gi", "/srv/big"))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/persistentvolumes", HostPathVolume("labelled", "5Gi", "/srv/l", ""","storageClassName":"" """.Trim()))).Code);
        // All three in the binder's view before the claim comes: it picks among the volumes it has seen.
        foreach (var name in new[] { "small", "big", "labelled" })
            await ControllerHarness.EventuallyAsync(() => _harness.GetAsync($"/api/v1/persistentvolumes/{name}"), v => Json.Str(v["status"]?["phase"]) == "Available", $"{name} Available");

        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("two", "2Gi", ""","storageClassName":"" """))).Code);
        var claim = await BoundAsync("two");
        Assert.Equal("labelled", Json.Str(claim["spec"]!["volumeName"])); // 5Gi is the smallest of those ≥ 2Gi
        Assert.Equal("5Gi", Json.Str(claim["status"]!["capacity"]!["storage"]));
        Assert.Equal("yes", Json.Str(claim["metadata"]!["annotations"]!["pv.kubernetes.io/bind-completed"]));
        var volume = await _harness.GetAsync("/api/v1/persistentvolumes/labelled");
        Assert.Equal("Bound", Json.Str(volume["status"]!["phase"]));
        Assert.Equal(Json.Str(claim["metadata"]!["uid"]), Json.Str(volume["spec"]!["claimRef"]!["uid"]));

        // A bound volume is protected; a claim in use by a pod is too.
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/namespaces/default/pods",
            """{"metadata":{"name":"user"},"spec":{"containers":[{"name":"c","image":"busybox:1"}],"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"two"}}]}}""")).Code);
        await _harness.Api.DeleteAsync($"{Claims}/two");
        await Task.Delay(500);
        claim = await ClaimAsync("two");
        Assert.NotNull(claim["metadata"]!["deletionTimestamp"]);
        Assert.Equal("Terminating", await CellAsync($"{Claims}/two", "Status"));
        // The pod goes: so does the claim, and the volume (Retain, the default for a volume made by hand) is Released.
        await _harness.Api.DeleteAsync("/api/v1/namespaces/default/pods/user");
        await ControllerHarness.EventuallyAsync(() => _harness.Api.GetAsync($"{Claims}/two"), r => r.Code == 404, "claim gone once its pod is");
        volume = await ControllerHarness.EventuallyAsync(() => _harness.GetAsync("/api/v1/persistentvolumes/labelled"), v => Json.Str(v["status"]?["phase"]) == "Released", "volume Released");
        // A volume made by hand with Delete has no deleter here: Failed, as Kubernetes says for hostPath outside /tmp.
        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("one", "1Gi", ""","storageClassName":"" """))).Code);
        Assert.Equal("small", Json.Str((await BoundAsync("one"))["spec"]!["volumeName"]));
        await _harness.Api.PatchAsync("/api/v1/persistentvolumes/small", """{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}""", "application/merge-patch+json");
        await _harness.Api.DeleteAsync($"{Claims}/one");
        volume = await ControllerHarness.EventuallyAsync(() => _harness.GetAsync("/api/v1/persistentvolumes/small"), v => Json.Str(v["status"]?["phase"]) == "Failed", "small Failed");
        Assert.Contains("no deletable volume plugin", Json.Str(volume["status"]!["message"]));
    }

    [Fact]
    public async Task AVolumeNamedByTheClaimOrPreBoundToItIsTheOneBound()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/persistentvolumes", HostPathVolume("any", "1Gi", "/srv/any"))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/persistentvolumes", HostPathVolume("reserved", "1Gi", "/srv/r",
            ""","claimRef":{"namespace":"default","name":"mine"}"""))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync("/api/v1/persistentvolumes", HostPathVolume("named", "3Gi", "/srv/n"))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("mine", extra: ""","storageClassName":"" """))).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("byname", extra: ""","storageClassName":"","volumeName":"named" """))).Code);
        Assert.Equal("reserved", Json.Str((await BoundAsync("mine"))["spec"]!["volumeName"]));
        Assert.Equal("named", Json.Str((await BoundAsync("byname"))["spec"]!["volumeName"]));
        await ControllerHarness.EventuallyAsync(() => _harness.GetAsync("/api/v1/persistentvolumes/any"), v => Json.Str(v["status"]?["phase"]) == "Available", "any Available");
        // A bound volume deleted stays (pv-protection) until its claim lets it go.
        await _harness.Api.DeleteAsync("/api/v1/persistentvolumes/named");
        await Task.Delay(300);
        Assert.NotNull((await _harness.GetAsync("/api/v1/persistentvolumes/named"))["metadata"]!["deletionTimestamp"]);
        await _harness.Api.DeleteAsync($"{Claims}/byname");
        await ControllerHarness.EventuallyAsync(() => _harness.Api.GetAsync("/api/v1/persistentvolumes/named"), r => r.Code == 404, "volume gone once released");
    }

    [Fact]
    public async Task TheLocalProvisionerMakesAVolumeOnTheSelectedNodeAndDeleteRemovesItsData()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("data", "2Gi"))).Code);
        // What the scheduler does when a pod using the claim is placed.
        await _harness.Api.PatchAsync($"{Claims}/data", $$$"""{"metadata":{"annotations":{"volume.kubernetes.io/selected-node":"{{{Node}}}"} } }""", "application/merge-patch+json");
        var claim = await BoundAsync("data");
        var uid = Json.Str(claim["metadata"]!["uid"]);
        Assert.Equal($"pvc-{uid}", Json.Str(claim["spec"]!["volumeName"]));
        Assert.Equal(Storage.LocalProvisioner, Json.Str(claim["metadata"]!["annotations"]!["volume.kubernetes.io/storage-provisioner"]));
        var volume = await _harness.GetAsync($"/api/v1/persistentvolumes/pvc-{uid}");
        Assert.Equal("Delete", Json.Str(volume["spec"]!["persistentVolumeReclaimPolicy"]));
        Assert.Equal("local-path", Json.Str(volume["spec"]!["storageClassName"]));
        Assert.Equal(Storage.LocalProvisioner, Json.Str(volume["metadata"]!["annotations"]!["pv.kubernetes.io/provisioned-by"]));
        Assert.Equal(Node, Json.Str(volume["spec"]!["nodeAffinity"]!["required"]!["nodeSelectorTerms"]![0]!["matchExpressions"]![0]!["values"]![0]));
        var path = Json.Str(volume["spec"]!["local"]!["path"])!;
        Assert.True(Directory.Exists(path));
        // The event follows the volume's creation, which the binder may act on first.
        await ControllerHarness.EventuallyAsync(() => EventReasonsAsync("data"), r => r.Contains("ProvisioningSucceeded"), "ProvisioningSucceeded event");
        Assert.Equal("RWO", await CellAsync($"{Claims}/data", "Access Modes"));
        Assert.Equal("Bound", await CellAsync($"{Claims}/data", "Status"));
        Assert.Equal("2Gi", await CellAsync($"{Claims}/data", "Capacity"));
        Assert.Equal("local-path (default)", await CellAsync("/apis/storage.k8s.io/v1/storageclasses/local-path", "Name"));
        Assert.Equal("default/data", await CellAsync($"/api/v1/persistentvolumes/pvc-{uid}", "Claim"));

        File.WriteAllText(Path.Combine(path, "kept"), "x");
        await _harness.Api.DeleteAsync($"{Claims}/data");
        await ControllerHarness.EventuallyAsync(() => _harness.Api.GetAsync($"/api/v1/persistentvolumes/pvc-{uid}"), r => r.Code == 404, "provisioned volume deleted with its claim");
        Assert.False(Directory.Exists(path));
    }

    [Fact]
    public async Task AnImmediateClassOfTheLocalProvisionerPlacesTheClaimOnANodeAtOnce()
    {
        Assert.Equal(201, (await _harness.Api.PostAsync("/apis/storage.k8s.io/v1/storageclasses",
            $$$"""{"metadata":{"name":"now"},"provisioner":"{{{Storage.LocalProvisioner}}}","reclaimPolicy":"Retain"}""")).Code);
        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("now", extra: ""","storageClassName":"now" """))).Code);
        var claim = await BoundAsync("now");
        Assert.Equal(Node, Json.Str(claim["metadata"]!["annotations"]!["volume.kubernetes.io/selected-node"]));
        var volume = await _harness.GetAsync($"/api/v1/persistentvolumes/{Json.Str(claim["spec"]!["volumeName"])}");
        Assert.Equal("Retain", Json.Str(volume["spec"]!["persistentVolumeReclaimPolicy"]));
        // Retain: the claim goes, the volume and its data stay, Released.
        await _harness.Api.DeleteAsync($"{Claims}/now");
        volume = await ControllerHarness.EventuallyAsync(() => _harness.GetAsync($"/api/v1/persistentvolumes/{Json.Str(claim["spec"]!["volumeName"])}"),
            v => Json.Str(v["status"]?["phase"]) == "Released", "Released");
        Assert.True(Directory.Exists(Json.Str(volume["spec"]!["local"]!["path"])));
        // A claim of a class that does not exist says so.
        Assert.Equal(201, (await _harness.Api.PostAsync(Claims, Claim("lost", extra: ""","storageClassName":"nowhere" """))).Code);
        await ControllerHarness.EventuallyAsync(() => EventReasonsAsync("lost"), r => r.Contains("ProvisioningFailed"), "ProvisioningFailed event");
    }

    /// <summary>One cell of the object's row in kubectl's Table.</summary>
    private async Task<string?> CellAsync(string path, string column)
    {
        var (_, table) = await _harness.Api.GetAsync(path, "application/json;as=Table;v=v1;g=meta.k8s.io");
        var index = table["columnDefinitions"]!.AsArray().Select(c => Json.Str(c!["name"])).ToList().IndexOf(column);
        Assert.True(index >= 0, $"no column {column}");
        return Json.Str(table["rows"]![0]!["cells"]![index]);
    }
}
