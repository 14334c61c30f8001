using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Images;
using ContainerOps.Images.Snapshots;
using ContainerOps.TestSupport;

namespace ContainerOps.Images.Tests;

/// <summary>A private image store root per test; unmounts whatever it mounted even when the test fails.</summary>
public sealed class StoreFixture : IDisposable
{
    private readonly TempDir _dir = new("co-img");
    public KernelObjects Before { get; } = KernelObjects.Capture();
    public string Root => Path.Combine(_dir.Path, "images");
    public ImageService Service { get; }

    public StoreFixture() => Service = new ImageService(Root);

    public string Scratch(string name) => Path.Combine(_dir.Path, name);

    /// <summary>Every path under the store with its size: equal before and after means the store did not change.</summary>
    public string Listing()
    {
        if (!Directory.Exists(Root)) return "";
        return string.Join('\n', Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Root, p) + " " + (File.Exists(p) ? new FileInfo(p).Length : -1)).Order(StringComparer.Ordinal));
    }

    public IReadOnlyList<string> Leaks() => Before.Diff(KernelObjects.Capture());

    public void Dispose()
    {
        var containers = Path.Combine(Root, "containers");
        if (Directory.Exists(containers))
            foreach (var c in Directory.GetDirectories(containers))
                try { Service.RemoveContainerLayer(Path.GetFileName(c)); } catch { /* keep cleaning */ }
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo").Reverse())
        {
            var mp = line.Split(' ')[4];
            if (mp.StartsWith(_dir.Path + "/", StringComparison.Ordinal)) Shell.Run("umount", "-l " + mp, check: false);
        }
        _dir.Dispose();
    }
}

/// <summary>Builds test archives in memory.</summary>
public static class Archives
{
    public static byte[] Tar(Action<TarWriter> build)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true)) build(w);
        return ms.ToArray();
    }

    public static void File(this TarWriter w, string name, string content, int mode = 0b110_100_100)
    {
        var e = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)mode };
        w.WriteEntry(e);
    }

    public static void Dir(this TarWriter w, string name) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0b111_101_101 });

    public static void Link(this TarWriter w, TarEntryType type, string name, string target) =>
        w.WriteEntry(new PaxTarEntry(type, name) { LinkName = target });

    public static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    public static string Sha(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));
    public static string Hex(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Uncompressed diff IDs of layer blobs (which may be gzip).</summary>
    public static string DiffId(byte[] layer)
    {
        if (layer.Length > 2 && layer[0] == 0x1f && layer[1] == 0x8b)
        {
            using var gz = new GZipStream(new MemoryStream(layer), CompressionMode.Decompress);
            var ms = new MemoryStream();
            gz.CopyTo(ms);
            return Sha(ms.ToArray());
        }
        return Sha(layer);
    }

    public static byte[] Config(IEnumerable<byte[]> layers, string? cmd = null)
    {
        var cfg = new JsonObject
        {
            ["created"] = "2026-01-02T03:04:05Z",
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray(cmd ?? "sh"), ["Labels"] = new JsonObject { ["origin"] = "test" } },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(layers.Select(l => (JsonNode?)DiffId(l)).ToArray()) },
        };
        return Encoding.UTF8.GetBytes(cfg.ToJsonString());
    }

    /// <summary>A `docker save` archive (pre-25 layout): &lt;hex&gt;.json config, &lt;n&gt;/layer.tar, manifest.json.</summary>
    public static byte[] DockerSave(byte[] config, IReadOnlyList<byte[]> layers, string[] repoTags, string? configName = null) => Tar(w =>
    {
        configName ??= Hex(config) + ".json";
        w.File(configName, Encoding.UTF8.GetString(config));
        var names = new JsonArray();
        for (var i = 0; i < layers.Count; i++)
        {
            var name = $"{Hex(layers[i])}/layer.tar";
            w.Dir(Hex(layers[i]));
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(layers[i]) });
            names.Add(name);
        }
        var manifest = new JsonArray(new JsonObject
        {
            ["Config"] = configName,
            ["RepoTags"] = new JsonArray(repoTags.Select(t => (JsonNode?)t).ToArray()),
            ["Layers"] = names,
        });
        w.File("manifest.json", manifest.ToJsonString());
    });

    /// <summary>An OCI image layout archive with one image named by the ref.name annotation.</summary>
    public static byte[] OciLayout(byte[] config, IReadOnlyList<byte[]> layers, string refName) => Tar(w =>
    {
        w.File("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        w.Dir("blobs");
        w.Dir("blobs/sha256");
        void Blob(byte[] b) => w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "blobs/sha256/" + Hex(b)) { DataStream = new MemoryStream(b) });
        Blob(config);
        foreach (var l in layers) Blob(l);
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = Sha(config), ["size"] = config.Length },
            ["layers"] = new JsonArray(layers.Select(l => (JsonNode?)new JsonObject
            {
                ["mediaType"] = l[0] == 0x1f ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar",
                ["digest"] = Sha(l), ["size"] = l.Length,
            }).ToArray()),
        }.ToJsonString());
        Blob(manifest);
        w.File("index.json", new JsonObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new JsonArray(new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["digest"] = Sha(manifest), ["size"] = manifest.Length,
                ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = refName },
            }),
        }.ToJsonString());
    });

    public static byte[] BusyboxLayer(string dir)
    {
        var path = Path.Combine(dir, "busybox.tar");
        Busybox.CreateRootfsTar(path);
        return System.IO.File.ReadAllBytes(path);
    }
}
