using ContainerOps.Core.Api;
using ContainerOps.Images.Registry;

namespace ContainerOps.Registry.Tests;

public class PushPullTests
{
    private static RegistryOptions Plain(TestRegistry reg) => new() { Insecure = [reg.Host] };

    [Fact]
    public async Task PlainHttp_PushThenPullIntoAnEmptyStore_KeepsEveryDigest()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await Store.WithBusybox();
        using var dst = new Store();
        var local = src.Images.Inspect("local/busybox:1");

        var pushed = new Recorder();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/test/busybox:1", Plain(reg), pushed);
        var pulledProgress = new Recorder();
        var pulled = await dst.Images.PullAsync($"{reg.Host}/test/busybox:1", Plain(reg), pulledProgress);

        Assert.Equal(local.Digest, pulled.Digest);
        Assert.Equal(local.Id, pulled.Id);
        Assert.Contains($"{reg.Host}/test/busybox:1", pulled.RepoTags);
        var inspected = dst.Images.Inspect($"{reg.Host}/test/busybox:1");
        Assert.Equal(local.Layers, inspected.Layers);
        Assert.True(inspected.Size > 500_000);
        // Per-layer progress: the layer's digest, bytes done, total.
        var layerDigest = pulledProgress.Items.Select(p => p.Digest).Distinct().Single();
        var last = pulledProgress.Items.Last(p => p.Digest == layerDigest);
        Assert.Equal(TransferState.Done, last.State);
        Assert.Equal(last.Total, last.Current);
        Assert.Contains(pushed.Items, p => p.State == TransferState.Uploading);
    }

    [Fact]
    public async Task PushAndPull_RecordTheRepositoryDigest_WhichGoesWithTheLastTagOfItsRepository()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await Store.WithBusybox();
        var repo = $"{reg.Host}/test/busybox";
        src.Images.Tag("local/busybox:1", repo + ":1");
        var pushed = await src.Images.PushAsync(repo + ":1", null, Plain(reg));
        var local = src.Images.Inspect("local/busybox:1");
        Assert.Equal(local.Digest, pushed.Digest);
        Assert.Equal([$"{repo}@{local.Digest}"], local.RepoDigests);
        Assert.Equal(local.Id, src.Images.Inspect($"{repo}@{local.Digest}").Id);

        // The pushed tag was the repository's last: its digest goes with it; the image stays, local/busybox:1 names it.
        var removed = src.Images.Remove(repo + ":1", force: false, inUse: _ => false);
        Assert.Equal([repo + ":1", $"{repo}@{local.Digest}"], removed.Untagged);
        Assert.Empty(removed.Deleted);
        Assert.Empty(src.Images.Inspect("local/busybox:1").RepoDigests);

        using var dst = new Store();
        var pulled = await dst.Images.PullImageAsync(repo + ":1", Plain(reg));
        Assert.Equal(local.Digest, pulled.Digest);
        Assert.False(pulled.WasStored);
        Assert.False(pulled.UpToDate);
        Assert.Equal([$"{repo}@{local.Digest}"], pulled.Image.RepoDigests);
        // Untagging the digest alone leaves the tag; the tag, the last name, takes the image.
        Assert.Equal([$"{repo}@{local.Digest}"], dst.Images.Remove($"{repo}@{local.Digest}", false, _ => false).Untagged);
        Assert.Equal([repo + ":1"], dst.Images.Inspect(repo + ":1").RepoTags);
        var gone = dst.Images.Remove(repo + ":1", false, _ => false);
        Assert.Equal([local.Id], gone.Deleted.Take(1));
        Assert.Empty(dst.Images.List());

        // Pulled by digest alone: named by that digest, with no tag.
        var byDigest = await dst.Images.PullImageAsync($"{repo}@{local.Digest}", Plain(reg));
        Assert.Empty(byDigest.Image.RepoTags);
        Assert.Equal([$"{repo}@{local.Digest}"], byDigest.Image.RepoDigests);
    }

    [Fact]
    public async Task PushingTwice_SkipsTheBlobsTheRegistryHas()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await Store.WithBusybox();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/test/busybox:1", Plain(reg));
        var second = new Recorder();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/test/busybox:2", Plain(reg), second);
        Assert.Equal([TransferState.Exists], second.FinalStates);
        // config + one layer, each announced and then found there: nothing uploaded
        Assert.Equal(4, second.Items.Count);
        Assert.DoesNotContain(second.Items, p => p.State == TransferState.Uploading);
    }

    [Fact]
    public async Task PushingToAnotherRepository_MountsTheBlobs()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await Store.WithBusybox();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/team-a/busybox:1", Plain(reg));
        var second = new Recorder();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/team-b/busybox:1", Plain(reg), second);
        Assert.Equal([TransferState.Mounted], second.FinalStates);

        using var dst = new Store();
        var pulled = await dst.Images.PullAsync($"{reg.Host}/team-b/busybox:1", Plain(reg));
        Assert.Equal(src.Images.Inspect("local/busybox:1").Digest, pulled.Digest);
    }

    [Fact]
    public async Task PullingTheSameImageAgain_DownloadsNothing()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await Store.WithBusybox();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/test/busybox:1", Plain(reg));
        using var dst = new Store();
        await dst.Images.PullAsync($"{reg.Host}/test/busybox:1", Plain(reg));
        var again = new Recorder();
        var pulled = await dst.Images.PullImageAsync($"{reg.Host}/test/busybox:1", Plain(reg), again);
        Assert.Empty(again.Items); // nothing moved, nothing to report
        Assert.True(pulled.WasStored);
        Assert.True(pulled.UpToDate);
    }

    [Fact]
    public async Task UnknownRepositoryOrTag_IsNotFoundNamingTheReference()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await Store.WithBusybox();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/test/busybox:1", Plain(reg));
        using var dst = new Store();

        var e1 = await Assert.ThrowsAsync<ContainerOpsException>(() => dst.Images.PullAsync($"{reg.Host}/nobody/nothing:1", Plain(reg)));
        Assert.Equal(ErrorKind.NotFound, e1.Error.Kind);
        Assert.Contains($"{reg.Host}/nobody/nothing:1", e1.Message);

        var e2 = await Assert.ThrowsAsync<ContainerOpsException>(() => dst.Images.PullAsync($"{reg.Host}/test/busybox:nope", Plain(reg)));
        Assert.Equal(ErrorKind.NotFound, e2.Error.Kind);
        Assert.Contains($"{reg.Host}/test/busybox:nope", e2.Message);
        Assert.Empty(dst.Images.List());
    }

    [Fact]
    public async Task PlainHttpRegistry_IsRefusedUnlessDeclaredInsecure()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var dst = new Store();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => dst.Images.PullAsync($"{reg.Host}/test/busybox:1", new RegistryOptions()));
        Assert.Equal("RegistryUnreachable", e.Error.Id);
        // Loopback is only treated as insecure when asked for.
        var e2 = await Assert.ThrowsAsync<ContainerOpsException>(() => dst.Images.PullAsync($"{reg.Host}/test/busybox:1", new RegistryOptions { AllowInsecureLoopback = true }));
        Assert.Equal(ErrorKind.NotFound, e2.Error.Kind);
    }

    [Fact]
    public async Task Index_ResolvesToThisMachinesPlatform()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var amd = await Store.WithBusybox("local/busybox:amd");
        await amd.Images.ImportRootfsAsync(File.OpenRead(Path.Combine(amd.Dir, "rootfs.tar")), "local/busybox:other", ["ENV FLAVOUR=other"]);
        await amd.Images.PushAsync("local/busybox:amd", $"{reg.Host}/multi/busybox:amd", Plain(reg));
        await amd.Images.PushAsync("local/busybox:other", $"{reg.Host}/multi/busybox:other", Plain(reg));
        var a = amd.Images.Inspect("local/busybox:amd").Digest;
        var o = amd.Images.Inspect("local/busybox:other").Digest;
        string Entry(string digest, string arch, string? variant) =>
            $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{digest}\",\"size\":{ManifestSize(amd, digest)},\"platform\":{{\"os\":\"linux\",\"architecture\":\"{arch}\"{(variant != null ? $",\"variant\":\"{variant}\"" : "")}}}}}";
        var index = $"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{Entry(o, "arm64", "v8")},{Entry(a, "amd64", null)}]}}";
        using (var client = new RegistryClient(reg.Host, Plain(reg)))
            await client.PutManifestAsync("multi/busybox", "latest", System.Text.Encoding.UTF8.GetBytes(index), "application/vnd.oci.image.index.v1+json");

        using var dst = new Store();
        var pulled = await dst.Images.PullAsync($"{reg.Host}/multi/busybox:latest", Plain(reg));
        Assert.Equal(a, pulled.Digest);
        var arm = await dst.Images.PullAsync($"{reg.Host}/multi/busybox:latest", new RegistryOptions { Insecure = [reg.Host], Architecture = "arm64", Variant = "v8" });
        Assert.Equal(o, arm.Digest);
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => dst.Images.PullAsync($"{reg.Host}/multi/busybox:latest", new RegistryOptions { Insecure = [reg.Host], Architecture = "s390x", Variant = null }));
        Assert.Equal("PlatformNotFound", e.Error.Id);
        Assert.Contains("linux/arm64/v8", e.Message);
    }

    private static long ManifestSize(Store s, string digest) =>
        new FileInfo(Path.Combine(s.Dir, "store", "content", "blobs", "sha256", digest["sha256:".Length..])).Length;
}
