using ContainerOps.Images;
using ContainerOps.Images.Build;
using ContainerOps.TestSupport;

namespace ContainerOps.Build.Tests;

/// <summary>
/// A private image root with busybox imported as "busybox", a unique cgroup parent and a private runtime state dir.
/// Disposing removes what the tests mounted and fails when a mount, cgroup or shim of this fixture is left behind.
/// </summary>
public sealed class BuildFixture : IDisposable
{
    public TempDir Dir { get; } = new("co-build");
    public string Root => Path.Combine(Dir.Path, "images");
    public string CgroupParent { get; } = "containerops-test-" + Guid.NewGuid().ToString("N")[..8];
    public ImageService Images { get; }
    private readonly KernelObjects _before = KernelObjects.Capture();
    private readonly List<string> _containers = new();

    public BuildFixture()
    {
        Images = new ImageService(Root);
        var tar = Busybox.CreateRootfsTar(Path.Combine(Dir.Path, "busybox.tar"));
        using var f = File.OpenRead(tar);
        Images.ImportRootfsAsync(f, "busybox", []).GetAwaiter().GetResult();
    }

    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "ContainerOps.sln"))) return d.FullName;
            throw new InvalidOperationException("repository root not found");
        }
    }

    public static string ShimPath =>
        Environment.GetEnvironmentVariable("CONTAINEROPS_SHIM") is { Length: > 0 } env ? env : Path.Combine(RepoRoot, "bin", "containerops-shim");

    /// <summary>A build context directory with the given files (relative path → content).</summary>
    public string Context(params (string Path, string Content)[] files)
    {
        var dir = Path.Combine(Dir.Path, "ctx-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        foreach (var (p, c) in files)
        {
            var full = Path.Combine(dir, p);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, c);
        }
        return dir;
    }

    public BuildRequest Request(string context, params string[] tags) => new()
    {
        ContextDir = context, Tags = tags, CgroupParent = CgroupParent, ShimPath = ShimPath,
        RuntimeStateRoot = Path.Combine(Dir.Path, "runtime"), NetworkMode = "none", StepTimeout = TimeSpan.FromMinutes(2),
    };

    /// <summary>A request with the options of RUN flags' tests: secrets, entitlements, network, target, no cache.</summary>
    public BuildRequest Request(string context, string tag, IReadOnlyDictionary<string, byte[]>? secrets = null, IReadOnlyList<string>? allow = null,
        string network = "none", string? target = null, bool noCache = false) => new()
    {
        ContextDir = context, Tags = [tag], CgroupParent = CgroupParent, ShimPath = ShimPath,
        RuntimeStateRoot = Path.Combine(Dir.Path, "runtime"), NetworkMode = network, StepTimeout = TimeSpan.FromMinutes(2),
        Secrets = secrets ?? new Dictionary<string, byte[]>(), Allow = allow ?? [], Target = target, NoCache = noCache,
    };

    /// <summary>The entry names of a layer blob of the store (uncompressed tar).</summary>
    public List<string> LayerEntries(string digest)
    {
        using var f = File.OpenRead(Path.Combine(Root, "content", "blobs", "sha256", digest["sha256:".Length..]));
        using var tar = new System.Formats.Tar.TarReader(f);
        var names = new List<string>();
        while (tar.GetNextEntry() is { } e) names.Add(e.Name);
        return names;
    }

    public sealed class Collector : IProgress<BuildProgress>
    {
        public List<BuildProgress> Items { get; } = new();
        public void Report(BuildProgress value) { lock (Items) Items.Add(value); }
        public string Output => string.Concat(Items.Where(i => i.Kind == BuildProgressKind.Output).Select(i => i.Message));
        public int CacheHits => Items.Count(i => i.Kind == BuildProgressKind.CacheHit);
    }

    /// <summary>Mounts a container of <paramref name="image"/> and returns its merged rootfs (removed on dispose).</summary>
    public string Mount(string image)
    {
        var id = "t" + Guid.NewGuid().ToString("N")[..12];
        _containers.Add(id);
        return Images.MountContainerRootfs(id, image);
    }

    public string MountWithId(string image, out string id)
    {
        id = "t" + Guid.NewGuid().ToString("N")[..12];
        _containers.Add(id);
        return Images.MountContainerRootfs(id, image);
    }

    /// <summary>Build containers left in the image root (there must be none after a build). A removed layer is renamed
    /// aside at once and deleted in the background: the deletions under way end first, so a tree that could not be
    /// deleted is counted too.</summary>
    public List<string> ContainerDirs()
    {
        Assert.True(ContainerOps.Core.IO.DeferredDelete.WaitForPending(TimeSpan.FromSeconds(30)), "deleting removed layers took more than 30 s");
        return Directory.EnumerateDirectories(Path.Combine(Root, "containers"))
            .Select(p => Path.GetFileName(p)!).Where(n => !_containers.Contains(n)).ToList();
    }

    public void Dispose()
    {
        foreach (var id in _containers)
            try { Images.RemoveContainerLayer(id); } catch (Exception) { }
        foreach (var controllerRoot in Directory.GetDirectories("/sys/fs/cgroup"))
        {
            var dir = Path.Combine(controllerRoot, CgroupParent);
            try { if (Directory.Exists(dir)) Directory.Delete(dir); } catch (IOException) { }
        }
        Dir.Dispose();
        // Only what this fixture made counts: other suites may run on the machine at the same time.
        var leaks = _before.Diff(KernelObjects.Capture()).Where(l => l.Contains(Dir.Path) || l.Contains(CgroupParent)).ToList();
        Assert.True(leaks.Count == 0, "left behind: " + string.Join(", ", leaks));
    }
}
