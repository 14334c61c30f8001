using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ContainerOps.Images.Content;
using ContainerOps.Images.Registry;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

public class MultiLayerTests
{
    /// <summary>Loads a busybox image with <paramref name="extra"/> more layers (one 300 KB file each) from a docker archive.</summary>
    private static async Task<Store> MultiLayer(int extra)
    {
        var s = new Store();
        var layers = new List<string> { Busybox.CreateRootfsTar(Path.Combine(s.Dir, "l0.tar")) };
        for (var i = 1; i <= extra; i++)
        {
            var path = Path.Combine(s.Dir, $"l{i}.tar");
            await using (var fs = File.Create(path))
            await using (var tar = new TarWriter(fs, TarEntryFormat.Pax))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, $"data/{i}.bin")
                {
                    DataStream = new MemoryStream(RandomNumberGenerator.GetBytes(300_000)), Mode = (UnixFileMode)Convert.ToInt32("644", 8),
                };
                await tar.WriteEntryAsync(entry);
            }
            layers.Add(path);
        }
        var config = new JsonObject
        {
            ["created"] = "2026-01-01T00:00:00Z", ["architecture"] = "amd64", ["os"] = "linux",
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray("sh") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(layers.Select(l => (JsonNode?)Digest.Of(File.ReadAllBytes(l))).ToArray()) },
        };
        var archive = Path.Combine(s.Dir, "image.tar");
        await using (var fs = File.Create(archive))
        await using (var tar = new TarWriter(fs))
        {
            var cfg = Path.Combine(s.Dir, "config.json");
            await File.WriteAllTextAsync(cfg, config.ToJsonString());
            await tar.WriteEntryAsync(cfg, "config.json");
            for (var i = 0; i < layers.Count; i++) await tar.WriteEntryAsync(layers[i], $"{i}/layer.tar");
            var manifest = Path.Combine(s.Dir, "manifest.json");
            await File.WriteAllTextAsync(manifest, new JsonArray(new JsonObject
            {
                ["Config"] = "config.json", ["RepoTags"] = new JsonArray("local/multi:1"),
                ["Layers"] = new JsonArray(layers.Select((_, i) => (JsonNode?)$"{i}/layer.tar").ToArray()),
            }).ToJsonString());
            await tar.WriteEntryAsync(manifest, "manifest.json");
        }
        await using (var f = File.OpenRead(archive)) await s.Images.LoadArchiveAsync(f);
        return s;
    }

    /// <summary>Largest number of blobs between their first report and their Done.</summary>
    private static int MaxInFlight(Recorder r)
    {
        var active = new HashSet<string>();
        var max = 0;
        foreach (var p in r.Items)
        {
            if (p.State is TransferState.Waiting) continue; // announced, not yet moving
            if (p.State is TransferState.Done or TransferState.Exists or TransferState.Mounted) active.Remove(p.Digest);
            else active.Add(p.Digest);
            max = Math.Max(max, active.Count);
        }
        return max;
    }

    [Fact]
    public async Task SixLayers_TravelAtMostThreeAtATime_AndArriveIntact()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await MultiLayer(5);
        var options = new RegistryOptions { Insecure = [reg.Host], MaxConcurrentTransfers = 3 };
        var up = new Recorder();
        await src.Images.PushAsync("local/multi:1", $"{reg.Host}/multi/image:1", options, up);
        Assert.InRange(MaxInFlight(up), 2, 3);

        using var dst = new Store();
        var down = new Recorder();
        var pulled = await dst.Images.PullAsync($"{reg.Host}/multi/image:1", options, down);
        Assert.InRange(MaxInFlight(down), 2, 3);
        var local = src.Images.Inspect("local/multi:1");
        Assert.Equal(local.Digest, pulled.Digest);
        Assert.Equal(6, dst.Images.Inspect(pulled.Id).Layers.Count);
        Assert.Equal(6, down.Items.Select(p => p.Digest).Distinct().Count());

        // By digest: the same image, untagged.
        using var byDigest = new Store();
        var d = await byDigest.Images.PullAsync($"{reg.Host}/multi/image@{local.Digest}", options);
        Assert.Equal(local.Digest, d.Digest);
        Assert.Empty(d.RepoTags);
    }
}
