using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Volumes.Tests;

/// <summary>The volume engine on plain directories: no mounts are made (device-backed volumes are tested through the daemon).</summary>
public class VolumeManagerTests : IDisposable
{
    private readonly TempDir _dir = new("co-vol");
    private VolumeManager NewManager() => new(Path.Combine(_dir.Path, "volumes"));

    public void Dispose() => _dir.Dispose();

    private static ContainerOpsException Refused(Action a) => Assert.Throws<ContainerOpsException>(a);

    [Fact]
    public void CreateWritesARecordAndADataDirectoryAndIsIdempotent()
    {
        var m = NewManager();
        var v = m.Create(new VolumeCreateRequest { Name = "data", Labels = { ["team"] = "web" } });
        Assert.Equal("data", v.Name);
        Assert.Equal("local", v.Driver);
        Assert.Equal("local", v.Scope);
        Assert.Equal(Path.Combine(_dir.Path, "volumes", "data", "_data"), v.Mountpoint);
        Assert.True(Directory.Exists(v.Mountpoint));
        Assert.True(DateTimeOffset.TryParse(v.CreatedAt, out var created) && created > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal("web", v.Labels["team"]);

        var again = m.Create(new VolumeCreateRequest { Name = "data" }, out var made);
        Assert.False(made);
        Assert.Equal("web", again.Labels["team"]);

        // A new manager on the same root (a restarted daemon) sees it.
        Assert.Equal("web", NewManager().Inspect("data").Labels["team"]);
    }

    [Fact]
    public void BadRequestsAreRefusedNamingTheFieldAndLeaveNothing()
    {
        var m = NewManager();
        Assert.Equal("Name", Refused(() => m.Create(new VolumeCreateRequest { Name = "a/b" })).Error.Field);
        Assert.Equal("Name", Refused(() => m.Create(new VolumeCreateRequest { Name = "x" })).Error.Field);
        Assert.Equal("Driver", Refused(() => m.Create(new VolumeCreateRequest { Name = "d1", Driver = "nfs" })).Error.Field);
        var e = Refused(() => m.Create(new VolumeCreateRequest { Name = "d2", DriverOpts = { ["size"] = "1m" } }));
        Assert.Equal(("DriverOpts", "InvalidVolumeOption"), (e.Error.Field, e.Error.Id));
        Assert.Contains("size", e.Message);
        Assert.Contains("device", Refused(() => m.Create(new VolumeCreateRequest { Name = "d3", DriverOpts = { ["type"] = "tmpfs" } })).Message);
        Assert.Contains("does not exist", Refused(() => m.Create(new VolumeCreateRequest { Name = "d4", DriverOpts = { ["type"] = "none", ["o"] = "bind", ["device"] = "/nonexistent/x" } })).Message);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_dir.Path, "volumes")));
        Assert.Equal(ErrorKind.NotFound, Refused(() => m.Inspect("nothing")).Error.Kind);
    }

    [Fact]
    public void ListFiltersByNameLabelDriverAndDangling()
    {
        var m = NewManager();
        m.Create(new VolumeCreateRequest { Name = "web-data", Labels = { ["team"] = "web", ["tier"] = "1" } });
        m.Create(new VolumeCreateRequest { Name = "db-data", Labels = { ["team"] = "db" } });
        m.Create(new VolumeCreateRequest { Name = "cache" });
        m.AddReference("db-data", "c1");
        string[] Names(Dictionary<string, List<string>>? f) => m.List(f).Select(v => v.Name).ToArray();

        Assert.Equal(["cache", "db-data", "web-data"], Names(null));
        Assert.Equal(["db-data", "web-data"], Names(new() { ["name"] = ["data"] }));
        Assert.Equal(["web-data"], Names(new() { ["label"] = ["team=web"] }));
        Assert.Equal(["web-data"], Names(new() { ["label"] = ["team", "tier=1"] }));
        Assert.Equal(["db-data", "web-data"], Names(new() { ["label"] = ["team"] }));
        Assert.Equal(["cache", "web-data"], Names(new() { ["dangling"] = ["true"] }));
        Assert.Equal(["db-data"], Names(new() { ["dangling"] = ["false"] }));
        Assert.Equal(["cache", "db-data", "web-data"], Names(new() { ["driver"] = ["local"] }));
        Assert.Equal("filters", Refused(() => m.List(new Dictionary<string, List<string>> { ["colour"] = ["red"] })).Error.Field);
        Assert.Equal("filters", Refused(() => m.List(new Dictionary<string, List<string>> { ["dangling"] = ["maybe"] })).Error.Field);
        Assert.Equal(0, m.List(null, withUsage: true).Single(v => v.Name == "cache").UsageData!.RefCount);
        Assert.Equal(1, m.List(null, withUsage: true).Single(v => v.Name == "db-data").UsageData!.RefCount);
    }

    [Fact]
    public void AReferencedVolumeIsNeverRemovedAndForceOnlyForgivesAMissingOne()
    {
        var m = NewManager();
        var v = m.Create(new VolumeCreateRequest { Name = "keep" });
        File.WriteAllText(Path.Combine(v.Mountpoint, "f"), "x");
        m.AddReference("keep", "0123456789abcdef");
        var e = Refused(() => m.Remove("keep", force: true));
        Assert.Equal(("VolumeInUse", ErrorKind.Conflict), (e.Error.Id, e.Error.Kind));
        Assert.Contains("0123456789ab", e.Message);
        Assert.True(File.Exists(Path.Combine(v.Mountpoint, "f")));

        m.RemoveReference("keep", "0123456789abcdef");
        m.Remove("keep", force: false);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "volumes", "keep")));
        Assert.Equal(ErrorKind.NotFound, Refused(() => m.Remove("keep", force: false)).Error.Kind);
        m.Remove("keep", force: true);
    }

    [Fact]
    public void PruneTakesUnusedAnonymousVolumesAndWithAllNamedOnesTooHonouringLabels()
    {
        var m = NewManager();
        var anon = m.Create(new VolumeCreateRequest { Labels = { ["com.docker.volume.anonymous"] = "" } }).Name;
        var anonUsed = m.Create(new VolumeCreateRequest { Labels = { ["com.docker.volume.anonymous"] = "" } }).Name;
        m.AddReference(anonUsed, "c1");
        m.Create(new VolumeCreateRequest { Name = "named" });
        m.Create(new VolumeCreateRequest { Name = "kept", Labels = { ["keep"] = "yes" } });
        File.WriteAllBytes(Path.Combine(m.DataPath(anon), "blob"), new byte[4096]);

        var first = m.Prune(null);
        Assert.Equal([anon], first.VolumesDeleted);
        Assert.Equal(4096, first.SpaceReclaimed);

        var second = m.Prune(new Dictionary<string, List<string>> { ["all"] = ["true"], ["label!"] = ["keep"] });
        Assert.Equal(["named"], second.VolumesDeleted);
        Assert.Equal([anonUsed, "kept"], m.List(null).Select(v => v.Name).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal("filters", Refused(() => m.Prune(new Dictionary<string, List<string>> { ["dangling"] = ["true"] })).Error.Field);
    }

    [Fact]
    public void LeftoversOfACutOffCreateOrRemovalAreSweptAndDamagedRecordsKept()
    {
        var root = Path.Combine(_dir.Path, "volumes");
        NewManager().Create(new VolumeCreateRequest { Name = "good" });
        Directory.CreateDirectory(Path.Combine(root, ".new-0123", "_data"));
        Directory.CreateDirectory(Path.Combine(root, ".rm-4567", "_data"));
        Directory.CreateDirectory(Path.Combine(root, "damaged", "_data"));
        File.WriteAllText(Path.Combine(root, "damaged", "volume.json"), "{ not json");

        var m = NewManager();
        Assert.Equal(["good"], m.List(null).Select(v => v.Name).ToArray());
        Assert.False(Directory.Exists(Path.Combine(root, ".new-0123")));
        Assert.False(Directory.Exists(Path.Combine(root, ".rm-4567")));
        Assert.True(Directory.Exists(Path.Combine(root, "damaged")));
    }

    [Fact]
    public void PopulateCopiesTheImageContentIntoAnEmptyVolumeOnlyAndStaysInsideTheRootfs()
    {
        var m = NewManager();
        var rootfs = Path.Combine(_dir.Path, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "app", "sub"));
        File.WriteAllText(Path.Combine(rootfs, "app", "sub", "a.txt"), "from image");
        File.SetUnixFileMode(Path.Combine(rootfs, "app", "sub", "a.txt"), UnixFileMode.UserRead);
        File.CreateSymbolicLink(Path.Combine(rootfs, "app", "link"), "sub/a.txt");
        // A symlink that would leave the root: it is resolved inside it.
        Directory.CreateDirectory(Path.Combine(_dir.Path, "host-secret"));
        File.WriteAllText(Path.Combine(_dir.Path, "host-secret", "s"), "secret");
        File.CreateSymbolicLink(Path.Combine(rootfs, "escape"), Path.Combine(_dir.Path, "host-secret"));

        var v = m.Create(new VolumeCreateRequest { Name = "app" });
        Assert.True(m.Populate("app", rootfs, "/app"));
        Assert.Equal("from image", File.ReadAllText(Path.Combine(v.Mountpoint, "sub", "a.txt")));
        Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(Path.Combine(v.Mountpoint, "sub", "a.txt")));
        Assert.Equal("sub/a.txt", new FileInfo(Path.Combine(v.Mountpoint, "link")).LinkTarget);

        File.WriteAllText(Path.Combine(rootfs, "app", "later.txt"), "x");
        Assert.False(m.Populate("app", rootfs, "/app")); // not empty any more
        Assert.False(File.Exists(Path.Combine(v.Mountpoint, "later.txt")));

        var other = m.Create(new VolumeCreateRequest { Name = "other" });
        Assert.False(m.Populate("other", rootfs, "/escape"));
        Assert.False(m.Populate("other", rootfs, "/missing"));
        Assert.Empty(Directory.GetFileSystemEntries(other.Mountpoint));
    }
}
