using System.Formats.Tar;
using ContainerOps.Core.Api;

namespace ContainerOps.Images.Tests;

public class LoadTests
{
    [Fact]
    public async Task DockerSaveArchive_WithTwoLayersAndWhiteout()
    {
        using var f = new StoreFixture();
        var baseLayer = Archives.BusyboxLayer(f.Scratch(""));
        // The second layer deletes /etc/group, hides everything old under /home (opaque) and adds a file.
        var top = Archives.Tar(w =>
        {
            w.Dir("etc");
            w.File("etc/.wh.group", "");
            w.Dir("home");
            w.File("home/.wh..wh..opq", "");
            w.File("home/new", "fresh");
        });
        var config = Archives.Config([baseLayer, top], cmd: "/bin/true");
        var archive = Archives.DockerSave(config, [baseLayer, Archives.Gzip(top)], ["saved:1", "example.com/saved:2"]);
        // The layer recorded in the config must be the uncompressed one.
        config = Archives.Config([baseLayer, top], cmd: "/bin/true");

        var res = await f.Service.LoadArchiveAsync(new MemoryStream(archive));
        var img = Assert.Single(res.Images);
        Assert.Equal("sha256:" + Archives.Hex(config), img.Id);
        Assert.Equal(["example.com/saved:2", "saved:1"], img.RepoTags.Order(StringComparer.Ordinal)); // as Docker shows them
        var d = f.Service.Inspect("example.com/saved:2");
        Assert.Equal(["/bin/true"], d.Config.Cmd);
        Assert.Equal("test", d.Config.Labels["origin"]);
        Assert.Equal(2, d.Layers.Count);

        // In the top snapshot the deletions are overlay whiteouts: a 0/0 character device and an opaque directory.
        var chains = ContainerOps.Images.Snapshots.ChainId.For(d.Layers);
        var topFs = Path.Combine(f.Root, "snapshots", chains[1][7..], "fs");
        Assert.Equal("character special file 0,0", TestSupport.Shell.Run("stat", $"-c \"%F %Hr,%Lr\" {topFs}/etc/group").Trim());
        Assert.Equal("y", OpaqueXattr(Path.Combine(topFs, "home")));
        Assert.False(Path.Exists(Path.Combine(topFs, "home/.wh..wh..opq")));

        var root = f.Service.MountContainerRootfs("c1", img.Id);
        try
        {
            Assert.True(File.Exists(Path.Combine(root, "bin/busybox")));
            Assert.True(File.Exists(Path.Combine(root, "etc/passwd")));
            Assert.False(File.Exists(Path.Combine(root, "etc/group")));
            Assert.Equal(["new"], Directory.GetFileSystemEntries(Path.Combine(root, "home")).Select(Path.GetFileName));
            Assert.Equal("fresh", File.ReadAllText(Path.Combine(root, "home/new")));
        }
        finally
        {
            f.Service.RemoveContainerLayer("c1");
        }
        Assert.Empty(f.Leaks());
    }

    [Fact]
    public async Task OciLayoutArchive_GzipLayer_NamedByAnnotation()
    {
        using var f = new StoreFixture();
        var layer = Archives.Gzip(Archives.Tar(w => { w.Dir("app"); w.File("app/run.sh", "#!/bin/sh\necho hi\n", 0b111_101_101); }));
        var config = Archives.Config([layer]);
        var archive = Archives.Gzip(Archives.OciLayout(config, [layer], "registry.local:5000/team/oci:3.1"));

        var res = await f.Service.LoadArchiveAsync(new MemoryStream(archive));
        var img = Assert.Single(res.Images);
        Assert.Equal(["registry.local:5000/team/oci:3.1"], img.RepoTags);
        Assert.Equal("sha256:" + Archives.Hex(config), img.Id);
        var d = f.Service.Inspect("registry.local:5000/team/oci:3.1");
        Assert.Equal(Archives.DiffId(layer), Assert.Single(d.Layers));
        // The layer blob is kept compressed, under its own digest.
        Assert.True(File.Exists(Path.Combine(f.Root, "content/blobs/sha256", Archives.Hex(layer))));
        var snap = Path.Combine(f.Root, "snapshots", Archives.DiffId(layer)[7..], "fs/app/run.sh");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(snap));
    }

    [Fact]
    public async Task SkopeoMadeDockerArchive_WhenSkopeoIsInstalled()
    {
        var skopeo = new[] { "/usr/bin/skopeo", "/usr/local/bin/skopeo" }.FirstOrDefault(File.Exists);
        if (skopeo == null) return; // optional cross-check: runs where skopeo is installed
        using var f = new StoreFixture();
        // An OCI layout directory written by us, converted by skopeo into a docker-archive.
        var layer = Archives.Tar(w => w.File("hello", "from skopeo"));
        var config = Archives.Config([layer]);
        var layoutTar = Archives.OciLayout(config, [layer], "latest");
        var layoutDir = f.Scratch("layout");
        Directory.CreateDirectory(layoutDir);
        await TarFile.ExtractToDirectoryAsync(new MemoryStream(layoutTar), layoutDir, false);
        var outTar = f.Scratch("docker.tar");
        TestSupport.Shell.Run(skopeo, $"copy oci:{layoutDir}:latest docker-archive:{outTar}:skopeo/made:1");
        await using var s = File.OpenRead(outTar);
        var res = await f.Service.LoadArchiveAsync(s);
        Assert.Equal(["skopeo/made:1"], Assert.Single(res.Images).RepoTags);
        Assert.Equal(Archives.DiffId(layer), Assert.Single(f.Service.Inspect("skopeo/made:1").Layers));
    }

    [Fact]
    public async Task ArchiveWithoutManifest_IsRejected()
    {
        using var f = new StoreFixture();
        var before = f.Listing();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Service.LoadArchiveAsync(new MemoryStream(Archives.Tar(w => w.File("x", "y")))));
        Assert.Equal("InvalidArchive", e.Error.Id);
        Assert.Equal(before, f.Listing());
    }

    private static unsafe string? OpaqueXattr(string path)
    {
        var buf = stackalloc byte[16];
        var n = ContainerOps.Runtime.Native.Libc.lgetxattr(path, "trusted.overlay.opaque", buf, 16);
        return n < 0 ? null : System.Text.Encoding.ASCII.GetString(buf, (int)n);
    }
}
