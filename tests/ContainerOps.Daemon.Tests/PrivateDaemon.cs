using System.Diagnostics;
using ContainerOps.Client;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>
/// A daemon of our own: temp state and run roots, its own socket, started as a separate process so that it can be
/// killed with SIGKILL and started again on the same roots. Disposal removes every container it made, then the roots.
/// The daemon is CONTAINEROPS_DAEMON when set, else the build output of src/ContainerOps.Daemon run with `dotnet`;
/// the shim is CONTAINEROPS_SHIM when set, else bin/containerops-shim of the repository.
/// </summary>
public sealed class PrivateDaemon : IDisposable
{
    // Short paths: the runtime puts Unix sockets under RUN_ROOT/runtime/<64-hex id>/, and sun_path holds 108 bytes.
    private readonly TempDir _dir = new("cod");
    private Process? _process;

    public string Root => Path.Combine(_dir.Path, "root");
    public string RunRoot => Path.Combine(_dir.Path, "r");
    public string LogPath => Path.Combine(_dir.Path, "daemon.out");
    /// <summary>A cgroup parent of this daemon's own, removed (with the build parent) on dispose.</summary>
    public string CgroupParent { get; } = "containerops-test-" + Guid.NewGuid().ToString("N")[..8];
    public IContainerOpsClient Client { get; private set; } = null!;
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];
    /// <summary>Kernel names and the nftables table of this daemon's networks: nobody else's, removed on dispose.</summary>
    public string BridgeName => "cob" + _tag;
    public string BridgePrefix => "cn" + _tag[..4];
    public string NftTable => "cotest_" + _tag;
    public int Pid => _process?.Id ?? 0;

    private readonly string[] _extraArgs;

    /// <param name="extraArgs">More daemon options (--insecure-registry, --certs-dir, --docker-config…).</param>
    public PrivateDaemon(params string[] extraArgs)
    {
        _extraArgs = extraArgs;
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(RunRoot);
        try { Start(); }
        catch
        {
            // No one will dispose a daemon that never came up: what it made goes now (a missing build, a refused option).
            Dispose();
            throw;
        }
    }

    /// <summary>The containerops executable the tests run (CONTAINEROPS_CLI, else bin/containerops of ./build.sh build).</summary>
    public static string CliPath
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("CONTAINEROPS_CLI") is { Length: > 0 } p ? p : Path.Combine(RepoRoot, "bin", "containerops");
            Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh build");
            return path;
        }
    }

    /// <summary>Runs the CLI against this daemon; its stdout (a non-zero exit throws, with stderr, when checked).</summary>
    public string Cli(string args, bool check = true, int timeoutMs = 300_000) =>
        Shell.Run(CliPath, $"-H unix://{Path.Combine(RunRoot, "containerops.sock")} {args}", check, timeoutMs: timeoutMs);

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "ContainerOps.sln"))) return dir.FullName;
            throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
        }
    }

    public static string? ShimPath
    {
        get
        {
            if (Environment.GetEnvironmentVariable("CONTAINEROPS_SHIM") is { Length: > 0 } env) return env;
            var built = Path.Combine(RepoRoot, "bin", "containerops-shim");
            return File.Exists(built) ? built : null;
        }
    }

    private static ProcessStartInfo DaemonCommand()
    {
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_DAEMON") is { Length: > 0 } exe) return new ProcessStartInfo(exe);
        // bin/<Configuration>/net10.0 of this test project → the same configuration of the daemon project.
        var tfmDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = tfmDir.Parent!.Name;
        var dll = Path.Combine(RepoRoot, "src", "ContainerOps.Daemon", "bin", configuration, tfmDir.Name, "containerops-daemon.dll");
        if (!File.Exists(dll)) dll = Path.Combine(AppContext.BaseDirectory, "containerops-daemon.dll");
        var psi = new ProcessStartInfo("dotnet");
        psi.ArgumentList.Add(dll);
        return psi;
    }

    /// <summary>Starts the daemon and waits until it answers. <paramref name="environment"/> is added to the daemon's
    /// (e.g. CONTAINEROPS_CRASH_AT to make it die at a crash point).</summary>
    public void Start(IReadOnlyDictionary<string, string>? environment = null)
    {
        Launch(environment);
        Connect();
    }

    /// <summary>Starts the daemon process without waiting for it to answer (see <see cref="Connect"/>).</summary>
    public void Launch(IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = DaemonCommand();
        foreach (var a in new[] { "--root", Root, "--run-root", RunRoot, "--cgroup-parent", CgroupParent }) psi.ArgumentList.Add(a);
        // Networks of its own, whose name servers forward nothing off this machine.
        foreach (var a in new[] { "--bridge-name", BridgeName, "--bridge-prefix", BridgePrefix, "--nft-table", NftTable, "--dns-upstream", "127.0.0.1:9" })
            psi.ArgumentList.Add(a);
        // The cluster API on a free port of its own: daemons of parallel tests must not meet on 6443.
        psi.ArgumentList.Add("--cluster-address");
        psi.ArgumentList.Add("127.0.0.1:0");
        if (ShimPath is { } shim) { psi.ArgumentList.Add("--shim"); psi.ArgumentList.Add(shim); }
        foreach (var a in _extraArgs) psi.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (key, value) in environment) psi.Environment[key] = value;
        psi.UseShellExecute = false;
        // From the file system root, as an auto-started daemon may be: nothing below it may be watched or scanned.
        psi.WorkingDirectory = "/";
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the daemon");
        var log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        var sync = TextWriter.Synchronized(log);
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) sync.WriteLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) sync.WriteLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Waits until the daemon launched last answers, and connects <see cref="Client"/> to it.</summary>
    public void Connect()
    {
        var options = new ClientOptions { Root = Root, RunRoot = RunRoot, AutoStart = false };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                Client = ContainerOpsClient.Connect(options);
                return;
            }
            catch (ContainerOpsException) when (DateTime.UtcNow < deadline && !_process!.HasExited)
            {
                Thread.Sleep(50);
            }
            catch (ContainerOpsException e)
            {
                throw new InvalidOperationException($"the daemon did not answer ({e.Message}); its output:\n{SafeRead(LogPath)}");
            }
        }
    }

    public bool HasExited => _process is null || _process.HasExited;

    /// <summary>Waits for the daemon to exit by itself (after it hit a crash point); false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process is null || _process.WaitForExit(timeout);

    /// <summary>SIGKILL, as a crash would; containers keep running under their shims.</summary>
    public void Crash()
    {
        // Killed first, so that a request in flight is cut off in the daemon, not by the client going away.
        if (_process is { HasExited: false } p) p.Kill();
        _process?.WaitForExit(10_000);
        Client?.Dispose();
    }

    public void Stop()
    {
        Client?.Dispose();
        if (_process is { HasExited: false } p)
        {
            Shell.Run("kill", $"-TERM {p.Id}", check: false);
            if (!p.WaitForExit(15_000)) p.Kill();
        }
    }

    public string Output => SafeRead(LogPath);

    /// <summary>The bridges and the nftables table this daemon made (they outlive it, as containers' networks must).</summary>
    private void RemoveNetworkObjects()
    {
        try
        {
            foreach (var link in Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName))
                if (link == BridgeName || link!.StartsWith(BridgePrefix, StringComparison.Ordinal)) Shell.Run("ip", $"link del {link}", check: false);
            Shell.Run("nft", $"delete table inet {NftTable}", check: false);
            Shell.Run("nft", $"delete table inet {NftTable}_svc", check: false);
        }
        catch (Exception) { }
    }

    private static string SafeRead(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : ""; }
        catch (IOException) { return ""; }
    }

    public void Dispose()
    {
        try
        {
            // A daemon a test left dead (at a crash point, say) is started again, so its containers go through the API.
            if (_process is { HasExited: true })
                try { Start(); } catch (InvalidOperationException) { }
            if (_process is { HasExited: false })
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                foreach (var c in Client.ListContainersAsync(all: true, ct: cts.Token).GetAwaiter().GetResult())
                {
                    try { Client.RemoveContainerAsync(c.Id, force: true, cts.Token).GetAwaiter().GetResult(); }
                    catch (ContainerOpsException) { }
                }
                foreach (var v in Client.ListVolumesAsync(null, cts.Token).GetAwaiter().GetResult())
                {
                    try { Client.RemoveVolumeAsync(v.Name, force: true, cts.Token).GetAwaiter().GetResult(); }
                    catch (ContainerOpsException) { }
                }
                foreach (var n in Client.ListNetworksAsync(null, cts.Token).GetAwaiter().GetResult().Where(n => n.Name is not ("bridge" or "host" or "none")))
                {
                    try { Client.RemoveNetworkAsync(n.Id, cts.Token).GetAwaiter().GetResult(); }
                    catch (ContainerOpsException) { }
                }
            }
        }
        catch (Exception) { }
        IReadOnlyList<string> running = [];
        try
        {
            try { Stop(); } catch (Exception) { }
            // What the API removal missed still runs in our cgroups: it is ended before the roots go.
            running = [.. LeftoverContainers.Reap(CgroupParent, _dir.Path), .. LeftoverContainers.Reap(CgroupParent + "-build", _dir.Path)];
        }
        finally
        {
            RemoveNetworkObjects();
            try { _dir.Dispose(); } catch (Exception) { }
        }
        if (running.Count > 0)
            throw new InvalidOperationException("the private daemon's removal left containers running: " + string.Join("; ", running));
    }

    /// <summary>Imports a busybox rootfs as <paramref name="reference"/>, with Dockerfile-style changes.</summary>
    public async Task<string> ImportBusyboxAsync(string reference, params string[] changes)
    {
        var tar = Path.Combine(_dir.Path, "busybox.tar");
        if (!File.Exists(tar)) Busybox.CreateRootfsTar(tar);
        await using var fs = File.OpenRead(tar);
        try { await Client.ImportImageAsync(fs, reference, changes); }
        catch (ContainerOpsException e)
        {
            // A daemon that closes the upload early leaves the client a broken pipe: its own log says why.
            var log = Output;
            throw new InvalidOperationException($"importing {reference}: {e.Message}\ndaemon log (end):\n{log[Math.Max(0, log.Length - 4000)..]}", e);
        }
        return reference;
    }
}
