using System.Runtime.CompilerServices;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Builtin;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

/// <summary>
/// A private runtime state root, a busybox root filesystem and a unique cgroup parent per test class.
/// Disposing removes every container it started and fails when any kernel object is left behind.
/// </summary>
public sealed class RuntimeFixture : IDisposable
{
    public TempDir Root { get; } = new("co-rt");
    public string Rootfs { get; }
    public string CgroupParent { get; } = "containerops-test-" + Guid.NewGuid().ToString("N")[..8];
    public BuiltinRuntime Runtime { get; }
    private readonly KernelObjects _before = KernelObjects.Capture();
    private readonly List<string> _ids = new();
    private readonly Dictionary<string, string> _owners = new();

    public RuntimeFixture()
    {
        Rootfs = Busybox.CreateRootfs(Path.Combine(Root.Path, "rootfs"));
        Runtime = new BuiltinRuntime(new RuntimeContext { StateRoot = Path.Combine(Root.Path, "state"), ShimPath = ShimPath });
    }

    /// <summary>Removes a cgroup parent another manager (podman, containerd) filled, innermost directories first.</summary>
    public static void RemoveCgroupTree(string parentName)
    {
        foreach (var hierarchy in Directory.GetDirectories("/sys/fs/cgroup"))
        {
            var parent = Path.Combine(hierarchy, parentName);
            if (!Directory.Exists(parent)) continue;
            foreach (var dir in Directory.GetDirectories(parent, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).Append(parent))
                try { Directory.Delete(dir); } catch (IOException) { }
        }
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

    public static string ShimPath
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("CONTAINEROPS_SHIM") is { Length: > 0 } env ? env : Path.Combine(RepoRoot, "bin", "containerops-shim");
            if (!File.Exists(path)) throw new InvalidOperationException($"{path} is missing: build it with ./build.sh shim");
            return path;
        }
    }

    /// <summary>A fresh container id, remembered with the test that asked for it (so a leftover names its test).</summary>
    public string NewId([CallerMemberName] string test = "", [CallerFilePath] string file = "")
    {
        var id = "t" + Guid.NewGuid().ToString("N")[..15];
        lock (_ids)
        {
            _ids.Add(id);
            _owners[id] = Path.GetFileNameWithoutExtension(file) + "." + test;
        }
        return id;
    }

    /// <summary>Writes a bundle for <paramref name="args"/> and returns (id, bundle dir, log path).</summary>
    public (string Id, string Bundle, string Log) Bundle(IReadOnlyList<string> args, HostConfig? hc = null, string? user = null,
        string? workingDir = null, string? rootfs = null, IReadOnlyList<string>? env = null, Action<OciSpec>? edit = null, bool tty = false,
        [CallerMemberName] string test = "", [CallerFilePath] string file = "")
    {
        var id = NewId(test, file);
        var spec = SpecBuilder.Build(new ContainerSpecInput
        {
            Id = id, RootfsPath = rootfs ?? Rootfs, Args = args, HostConfig = hc ?? new HostConfig(), User = user, WorkingDir = workingDir,
            CgroupParent = CgroupParent, Hostname = "box-" + id[..6], Env = env ?? Array.Empty<string>(), Tty = tty,
        });
        edit?.Invoke(spec);
        var bundle = Path.Combine(Root.Path, "bundles", id);
        SpecBuilder.WriteBundle(bundle, spec);
        return (id, bundle, Path.Combine(bundle, "log.json"));
    }

    public RunOptions Options((string Id, string Bundle, string Log) b) => new() { Id = b.Id, BundlePath = b.Bundle, LogPath = b.Log };

    /// <summary>Runs to completion; returns the exit status and the log's text by stream.</summary>
    public async Task<(RuntimeStatus Status, string Stdout, string Stderr)> RunToEnd((string Id, string Bundle, string Log) b)
    {
        await Runtime.RunAsync(Options(b));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var status = await Runtime.WaitAsync(b.Id, cts.Token);
        var (o, e) = ReadLog(b.Log);
        await Runtime.DeleteAsync(b.Id, force: true);
        return (status, o, e);
    }

    public static (string Stdout, string Stderr) ReadLog(string path)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        if (!File.Exists(path)) return ("", "");
        foreach (var line in File.ReadAllLines(path))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            var text = doc.RootElement.GetProperty("log").GetString();
            (doc.RootElement.GetProperty("stream").GetString() == "stderr" ? stderr : stdout).Append(text);
            Assert.True(DateTimeOffset.TryParse(doc.RootElement.GetProperty("time").GetString(), out _));
        }
        return (stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        foreach (var id in _ids)
        {
            try { Runtime.DeleteAsync(id, force: true).GetAwaiter().GetResult(); } catch (ContainerOpsException) { }
        }
        // Containers run under other state roots too (the OCI command line tests): whatever still runs in this
        // fixture's cgroups is a test's leftover. It is ended before its bundle and root filesystem are removed.
        var running = LeftoverContainers.Reap(CgroupParent, Root.Path, id => _owners.GetValueOrDefault(id));
        Root.Dispose();
        var leaks = _before.Diff(KernelObjects.Capture()).Where(l => l.Contains(Root.Path) || l.Contains(CgroupParent)).ToList();
        Assert.True(running.Count == 0 && leaks.Count == 0,
            (running.Count > 0 ? "left running: " + string.Join("; ", running) + ". " : "") + (leaks.Count > 0 ? "left behind: " + string.Join(", ", leaks) : ""));
    }
}
