using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Volumes.Tests;

/// <summary>-v, --mount and --tmpfs as Docker reads them, and the errors that name the flag, the value and why.</summary>
public class MountRequestTests
{
    private static ContainerOpsException Refused(HostConfig hc) => Assert.Throws<ContainerOpsException>(() => MountRequests.Parse(hc, "c"));

    [Fact]
    public void DashVTellsBindsNamedAndAnonymousVolumesApart()
    {
        var list = MountRequests.Parse(new HostConfig { Binds = { "/srv/www:/www:ro", "data:/data:rw,nocopy", "/cache", "/tmp/x:/x:rshared" } }, "c");
        Assert.Equal(("bind", "/srv/www", "/www", true, true), (list[0].Type, list[0].Source, list[0].Destination, list[0].ReadOnly, list[0].CreateSource));
        Assert.Equal(("volume", "data", "/data", false, true), (list[1].Type, list[1].Name, list[1].Destination, list[1].ReadOnly, list[1].NoCopy));
        Assert.Equal(("volume", true, "/cache"), (list[2].Type, list[2].Anonymous, list[2].Destination));
        Assert.Equal("rshared", list[3].Propagation);
        Assert.Equal(["rbind", "rprivate", "ro"], MountRequests.ToOci(list[0]).Options);
    }

    [Theory]
    [InlineData("data:relative", "absolute")]
    [InlineData("data:/x:ro,rw", "ro or rw")]
    [InlineData("data:/x:shared", "shared")]
    [InlineData("/h:/x:nocopy", "nocopy")]
    [InlineData("bad name:/x", "neither")]
    [InlineData("a:b:c:d", "[SOURCE:]DEST")]
    [InlineData("/h:/", "cannot be /")]
    public void BadDashVIsRefusedWithTheValueAndWhy(string bind, string why)
    {
        var e = Refused(new HostConfig { Binds = { bind } });
        Assert.Equal("HostConfig.Binds", e.Error.Field);
        Assert.Contains(why, e.Message);
        Assert.Contains(bind.Split(':')[0], e.Message);
    }

    [Fact]
    public void MountFlagParsesEveryTypeAndRefusesWhatDoesNotApply()
    {
        var bind = MountSpecs.ParseMount("type=bind,source=/srv,target=/srv,readonly,bind-propagation=rslave");
        var vol = MountSpecs.ParseMount("type=volume,src=cache,dst=/cache,volume-nocopy,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b");
        var tmp = MountSpecs.ParseMount("type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770");
        var list = MountRequests.Parse(new HostConfig { Mounts = { bind, vol, tmp } }, "c");
        Assert.Equal(("bind", "/srv", true, "rslave", false), (list[0].Type, list[0].Source, list[0].ReadOnly, list[0].Propagation, list[0].CreateSource));
        Assert.Equal(("cache", true, "tmpfs", "b"), (list[1].Name, list[1].NoCopy, list[1].DriverOptions!["type"], list[1].Labels!["a"]));
        Assert.Equal(["nosuid", "nodev", "noexec", "size=67108864", "mode=1770"], list[2].Options);

        Assert.Throws<ArgumentException>(() => MountSpecs.ParseMount("type=bind,target=/x"));
        Assert.Throws<ArgumentException>(() => MountSpecs.ParseMount("type=nfs,target=/x"));
        Assert.Throws<ArgumentException>(() => MountSpecs.ParseMount("type=tmpfs,target=/x,tmpfs-size=lots"));
        Assert.Throws<ArgumentException>(() => MountSpecs.ParseMount("type=volume,target=/x,colour=red"));
        Assert.Contains("tmpfs has no source", Refused(new HostConfig { Mounts = { new Mount { Type = "tmpfs", Source = "x", Target = "/x" } } }).Message);
        Assert.Contains("bind-propagation", Refused(new HostConfig { Mounts = { new Mount { Type = "bind", Source = "/x", Target = "/x", BindOptions = new() { Propagation = "odd" } } } }).Message);
        Assert.Equal("HostConfig.Mounts", Refused(new HostConfig { Mounts = { new Mount { Type = "bind", Source = "rel", Target = "/x" } } }).Error.Field);
    }

    [Fact]
    public void TmpfsKeepsDockersDefaultsAndChecksItsOptions()
    {
        var t = MountRequests.Parse(new HostConfig { Tmpfs = { "/run:size=1m,mode=700,exec" } }, "c")[0];
        Assert.Equal(["noexec", "nosuid", "nodev", "size=1m", "mode=700", "exec"], t.Options);
        var e = Refused(new HostConfig { Tmpfs = { "/run:size=big" } });
        Assert.Equal("HostConfig.Tmpfs", e.Error.Field);
        Assert.Contains("size=big", e.Message);
    }

    [Fact]
    public void TwoMountsOnOnePathAreRefused()
    {
        var e = Refused(new HostConfig { Binds = { "a1:/data" }, Tmpfs = { "/data" } });
        Assert.Equal("DuplicateMountPoint", e.Error.Id);
        Assert.Contains("/data", e.Message);
    }
}
