using ContainerOps.Core.Api;

namespace ContainerOps.Images.Tests;

public class ConcurrencyTests
{
    [Fact]
    public async Task ParallelImportsAndQueries_AllLand()
    {
        using var f = new StoreFixture();
        var layers = Enumerable.Range(0, 3).Select(i => Archives.Tar(w => w.File($"file{i}", $"content {i}"))).ToArray();
        var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            var tar = layers[i % 3];
            await f.Service.ImportRootfsAsync(new MemoryStream(tar), $"par:{i}", [$"CMD run{i}"]);
            _ = f.Service.List();
            Assert.Equal([$"/bin/sh", "-c", $"run{i}"], f.Service.Inspect($"par:{i}").Config.Cmd);
        })).ToArray();
        await Task.WhenAll(tasks);
        Assert.Equal(8, f.Service.List().Count);
        // Three distinct layers: three snapshots shared among eight images.
        Assert.Equal(3, Directory.GetDirectories(Path.Combine(f.Root, "snapshots")).Length);
        Assert.Empty(Directory.GetFiles(Path.Combine(f.Root, "content/ingest")));
    }

    [Fact]
    public async Task OversizedInput_IsRejectedWhileStaging()
    {
        using var f = new StoreFixture();
        var capped = new ImageService(f.Root) { MaxInputBytes = 4096 };
        var before = f.Listing();
        var big = Archives.Tar(w => w.File("big", new string('x', 10_000)));
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => capped.ImportRootfsAsync(new MemoryStream(big), "big", []));
        Assert.Equal("ArchiveTooLarge", e.Error.Id);
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => capped.LoadArchiveAsync(new MemoryStream(Archives.Tar(w => w.File("manifest.json", new string(' ', 10_000))))));
        Assert.Equal("ArchiveTooLarge", e.Error.Id);
        Assert.Equal(before, f.Listing());
    }
}
