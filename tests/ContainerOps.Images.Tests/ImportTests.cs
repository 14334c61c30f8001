using System.Text;
using ContainerOps.Core.Api;

namespace ContainerOps.Images.Tests;

public class ImportTests
{
    [Fact]
    public async Task ImportBusybox_ListInspectAndChanges()
    {
        using var f = new StoreFixture();
        var tar = Archives.BusyboxLayer(f.Scratch(""));
        var res = await f.Service.ImportRootfsAsync(new MemoryStream(tar), "bb:1.0", [
            "CMD [\"sh\", \"-c\", \"echo hi\"]",
            "ENTRYPOINT /bin/env",
            "ENV A=1 B=\"two words\"",
            "ENV C three four",
            "WORKDIR /srv",
            "USER app",
            "LABEL org.example=yes \"with space\"=x",
            "EXPOSE 80 53/udp",
            "STOPSIGNAL SIGINT",
            "VOLUME [\"/data\"]",
        ]);
        var img = Assert.Single(res.Images);
        Assert.Equal(["bb:1.0"], img.RepoTags);
        Assert.StartsWith("sha256:", img.Id);
        Assert.True(img.Size > 100_000);

        var list = f.Service.List();
        Assert.Equal(img.Id, Assert.Single(list).Id);

        var d = f.Service.Inspect("bb:1.0");
        Assert.Equal(img.Id, d.Id);
        Assert.Equal(["sh", "-c", "echo hi"], d.Config.Cmd);
        Assert.Equal(["/bin/sh", "-c", "/bin/env"], d.Config.Entrypoint);
        Assert.Equal(["A=1", "B=two words", "C=three four"], d.Config.Env);
        Assert.Equal("/srv", d.Config.WorkingDir);
        Assert.Equal("app", d.Config.User);
        Assert.Equal("yes", d.Config.Labels["org.example"]);
        Assert.Equal("x", d.Config.Labels["with space"]);
        Assert.Equal(["53/udp", "80/tcp"], d.Config.ExposedPorts!.Keys.Order());
        Assert.Equal("SIGINT", d.Config.StopSignal);
        Assert.Equal(["/data"], d.Config.Volumes!.Keys);
        Assert.Single(d.Layers);

        // Every way of naming it finds it.
        Assert.Equal(img.Id, f.Service.Inspect("docker.io/library/bb:1.0").Id);
        Assert.Equal(img.Id, f.Service.Inspect(img.Id).Id);
        Assert.Equal(img.Id, f.Service.Inspect(img.Id[7..12]).Id);
        Assert.Equal(img.Id, f.Service.Inspect(img.Digest).Id);
        var nf = Assert.Throws<ContainerOpsException>(() => f.Service.Inspect("nope:1"));
        Assert.Equal(("ImageNotFound", ErrorKind.NotFound, "nope:1"), (nf.Error.Id, nf.Error.Kind, nf.Error.Target));

        // The store is an OCI layout and survives a restart.
        Assert.True(File.Exists(Path.Combine(f.Root, "content/oci-layout")));
        var again = new ImageService(f.Root);
        Assert.Equal(img.Id, again.Inspect("bb:1.0").Id);
    }

    [Fact]
    public async Task BadChangeIsRejectedBeforeAnythingIsStored()
    {
        using var f = new StoreFixture();
        var before = f.Listing();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            f.Service.ImportRootfsAsync(new MemoryStream(Archives.Tar(w => w.File("a", "b"))), "x", ["FROB 1"]));
        Assert.Equal(("InvalidChange", "changes"), (e.Error.Id, e.Error.Field));
        Assert.Equal(before, f.Listing());
    }

    [Fact]
    public async Task ImportWithoutNameIsListedUntagged_AndGzipInputWorks()
    {
        using var f = new StoreFixture();
        var tar = Archives.Gzip(Archives.Tar(w => { w.Dir("etc"); w.File("etc/hello", "hi"); }));
        var res = await f.Service.ImportRootfsAsync(new MemoryStream(tar), null, []);
        var img = Assert.Single(res.Images);
        Assert.Empty(img.RepoTags);
        var d = f.Service.Inspect(img.Id);
        Assert.Equal(Archives.DiffId(tar), Assert.Single(d.Layers));
        Assert.Equal(Encoding.UTF8.GetBytes("hi").Length, d.Size);
    }
}
