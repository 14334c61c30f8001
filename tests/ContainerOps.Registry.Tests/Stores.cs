using ContainerOps.Images;
using ContainerOps.Images.Registry;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

/// <summary>A private image store under a temp dir, optionally holding a busybox image.</summary>
public sealed class Store : IDisposable
{
    private readonly TempDir _dir = new("co-regstore");
    public ImageService Images { get; }
    public string Dir => _dir.Path;

    public Store() => Images = new ImageService(Path.Combine(_dir.Path, "store"));

    public static async Task<Store> WithBusybox(string name = "local/busybox:1", params string[] changes)
    {
        var s = new Store();
        var tar = Busybox.CreateRootfsTar(Path.Combine(s.Dir, "rootfs.tar"));
        await using var f = File.OpenRead(tar);
        await s.Images.ImportRootfsAsync(f, name, changes);
        return s;
    }

    public void Dispose()
    {
        foreach (var img in Images.List())
            try { Images.Remove(img.Id, force: true, _ => false); } catch (Exception) { }
        _dir.Dispose();
    }
}

/// <summary>Collects progress reports synchronously (Progress&lt;T&gt; would post them later).</summary>
public sealed class Recorder : IProgress<TransferProgress>
{
    private readonly List<TransferProgress> _items = new();
    public void Report(TransferProgress value) { lock (_items) _items.Add(value); }
    public List<TransferProgress> Items { get { lock (_items) return _items.ToList(); } }
    public HashSet<TransferState> FinalStates => Items.GroupBy(i => i.Digest).Select(g => g.Last().State).ToHashSet();
}
