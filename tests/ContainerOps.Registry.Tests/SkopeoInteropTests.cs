using System.Formats.Tar;
using System.Text.Json.Nodes;
using ContainerOps.Images.Content;
using ContainerOps.Images.Registry;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

/// <summary>Cross-checks with skopeo: what it pushes we pull, what we push it reads.</summary>
public class SkopeoInteropTests
{
    private static RegistryOptions Plain(TestRegistry reg) => new() { Insecure = [reg.Host] };

    /// <summary>Writes the stored image as a <c>docker save</c>-style archive (manifest.json, config, layer tars),
    /// optionally with a replacement config.</summary>
    private static string DockerArchive(Store s, string name, string path, string repoTag, byte[]? config = null)
    {
        var blobs = Path.Combine(s.Dir, "store", "content", "blobs", "sha256");
        var digest = s.Images.Inspect(name).Digest;
        var manifest = JsonNode.Parse(File.ReadAllBytes(Path.Combine(blobs, digest[7..])))!;
        var configPath = Path.Combine(blobs, manifest["config"]!["digest"]!.GetValue<string>()[7..]);
        config ??= File.ReadAllBytes(configPath);
        var configName = Digest.Of(config)[7..] + ".json";
        var layers = manifest["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()[7..]).ToList();
        using var fs = File.Create(path);
        using var tar = new TarWriter(fs);
        var cpath = path + ".config";
        File.WriteAllBytes(cpath, config);
        tar.WriteEntry(cpath, configName);
        foreach (var l in layers) tar.WriteEntry(Path.Combine(blobs, l), l + "/layer.tar");
        var doc = new JsonArray(new JsonObject
        {
            ["Config"] = configName,
            ["RepoTags"] = new JsonArray(repoTag),
            ["Layers"] = new JsonArray(layers.Select(l => (JsonNode?)(l + "/layer.tar")).ToArray()),
        });
        var mpath = path + ".manifest.json";
        File.WriteAllText(mpath, doc.ToJsonString());
        tar.WriteEntry(mpath, "manifest.json");
        return path;
    }

    /// <summary>
    /// A busybox image whose config Go tools can read. Configs written by ImportRootfsAsync escape the '+' of the
    /// timestamp offset as \u002B, and Go's time parser (skopeo, docker) rejects escaped timestamps; so the test image
    /// is imported, then re-made with a UTC "Z" timestamp and loaded as local/busybox:1.
    /// </summary>
    internal static async Task<Store> GoReadableBusybox()
    {
        var s = await Store.WithBusybox("tmp/busybox:0");
        var blobs = Path.Combine(s.Dir, "store", "content", "blobs", "sha256");
        var cfg = JsonNode.Parse(File.ReadAllBytes(Path.Combine(blobs, s.Images.Inspect("tmp/busybox:0").Id[7..])))!.AsObject();
        cfg["created"] = "2026-01-01T00:00:00Z";
        foreach (var h in cfg["history"]?.AsArray() ?? []) h!["created"] = "2026-01-01T00:00:00Z";
        var archive = DockerArchive(s, "tmp/busybox:0", Path.Combine(s.Dir, "fixed.tar"), "local/busybox:1", System.Text.Encoding.UTF8.GetBytes(cfg.ToJsonString()));
        await using (var f = File.OpenRead(archive)) await s.Images.LoadArchiveAsync(f);
        return s;
    }

    [Fact]
    public async Task SkopeoPushes_WePull()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await GoReadableBusybox();
        var archive = DockerArchive(src, "local/busybox:1", Path.Combine(src.Dir, "image.tar"), "skopeo/busybox:1");
        Shell.Run("skopeo", $"copy --dest-tls-verify=false docker-archive:{archive} docker://{reg.Host}/x:1");
        var skopeoDigest = JsonNode.Parse(Shell.Run("skopeo", $"inspect --tls-verify=false docker://{reg.Host}/x:1"))!["Digest"]!.GetValue<string>();

        using var dst = new Store();
        var pulled = await dst.Images.PullAsync($"{reg.Host}/x:1", Plain(reg));
        Assert.Equal(skopeoDigest, pulled.Digest);
        // skopeo recompresses the layer, so the manifest differs; the config (image id) and diff IDs stay.
        Assert.Equal(src.Images.Inspect("local/busybox:1").Id, pulled.Id);
        Assert.Equal(src.Images.Inspect("local/busybox:1").Layers, dst.Images.Inspect($"{reg.Host}/x:1").Layers);
    }

    [Fact]
    public async Task WePush_SkopeoInspectsAndCopies()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var src = await GoReadableBusybox();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/ours/busybox:1", Plain(reg));
        var local = src.Images.Inspect("local/busybox:1");

        var info = JsonNode.Parse(Shell.Run("skopeo", $"inspect --tls-verify=false docker://{reg.Host}/ours/busybox:1"))!;
        Assert.Equal(local.Digest, info["Digest"]!.GetValue<string>());
        Assert.Equal("amd64", info["Architecture"]!.GetValue<string>());

        var dir = Path.Combine(src.Dir, "copied");
        Shell.Run("skopeo", $"copy --src-tls-verify=false docker://{reg.Host}/ours/busybox:1 dir:{dir}");
        var manifest = File.ReadAllBytes(Path.Combine(dir, "manifest.json"));
        Assert.Equal(local.Digest, Digest.Of(manifest));
        foreach (var layer in JsonNode.Parse(manifest)!["layers"]!.AsArray())
        {
            var d = layer!["digest"]!.GetValue<string>();
            Assert.Equal(d, Digest.Of(File.ReadAllBytes(Path.Combine(dir, d[7..]))));
        }
    }

    [Fact]
    public async Task WePush_OverTlsWithAuth_SkopeoReadsWithTheSameCredentials()
    {
        using var reg = TestRegistry.Start(RegistryMode.TlsBasicAuth);
        using var src = await GoReadableBusybox();
        var creds = new ContainerOps.Images.Credentials.InMemoryCredentialStore();
        creds.Store(reg.Host, new ContainerOps.Images.Credentials.RegistryCredential(TestRegistry.User, TestRegistry.Password));
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/ours/busybox:1", new RegistryOptions { CertsDirectory = reg.CertsDir, Credentials = creds });
        var info = JsonNode.Parse(Shell.Run("skopeo",
            $"inspect --cert-dir {Path.Combine(reg.CertsDir, reg.Host)} --creds {TestRegistry.User}:{TestRegistry.Password} docker://{reg.Host}/ours/busybox:1"))!;
        Assert.Equal(src.Images.Inspect("local/busybox:1").Digest, info["Digest"]!.GetValue<string>());
    }
}
