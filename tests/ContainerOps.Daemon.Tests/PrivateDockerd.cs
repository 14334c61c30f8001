using System.Diagnostics;
using System.Net.Sockets;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>
/// A real dockerd — Debian 12's docker.io 20.10, unpacked into .tools/ rather than installed, with the containerd and
/// runc it needs from Debian — with every piece of state private: its data and exec roots under a temp dir, its own
/// socket and cgroup parent, no bridge, no iptables. Disposing removes its containers, stops it and its containerd,
/// and takes away what it mounted or made.
/// </summary>
public sealed class PrivateDockerd : IDisposable
{
    private readonly TempDir _dir = new("co-dockerd");
    private readonly Process _process;
    private readonly bool _keyExisted = File.Exists(TrustKey), _keyDirExisted = Directory.Exists(Path.GetDirectoryName(TrustKey));

    /// <summary>dockerd 20.10 writes a trust key into /etc/docker whatever its roots are; one it made is removed.</summary>
    private const string TrustKey = "/etc/docker/key.json";

    public string Socket => Path.Combine(_dir.Path, "docker.sock");
    public string Root => _dir.Path;
    public string CgroupParent { get; } = "containerops-test-dockerd-" + Guid.NewGuid().ToString("N")[..8];
    public string LogPath => Path.Combine(_dir.Path, "dockerd.log");
    public string Output => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "";

    /// <summary>dockerd of Debian's docker.io, or null (with the reason) where it cannot be had.</summary>
    public static (string? Path, string Why) Binary { get; } = Find();

    private static (string?, string) Find()
    {
        try
        {
            // What dockerd needs beside it: Debian's containerd and runc, and the device-mapper library it links.
            var needs = new Dictionary<string, string>
            {
                ["containerd"] = "/usr/bin/containerd", ["runc"] = "/usr/sbin/runc", ["libdevmapper1.02.1"] = "/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1",
            };
            string Missing() => string.Join(' ', needs.Where(n => !File.Exists(n.Value)).Select(n => n.Key));
            if (Missing() is { Length: > 0 } missing)
            {
                var env = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
                Shell.Run("apt-get", "install -y -q " + missing, check: false, env: env, timeoutMs: 600_000);
                if (Missing() is { Length: > 0 } still)
                {
                    Shell.Run("apt-get", "update -q", env: env, timeoutMs: 600_000);
                    Shell.Run("apt-get", "install -y -q " + still, env: env, timeoutMs: 600_000);
                }
            }
            var dockerd = DebianTools.Unpacked("docker.io", "docker-20.10", "usr/sbin/dockerd");
            return (dockerd, "");
        }
        catch (Exception e) { return (null, "Debian's dockerd (docker.io), containerd or runc could not be had: " + e.Message); }
    }

    public PrivateDockerd()
    {
        var dockerd = Binary.Path ?? throw new InvalidOperationException(Binary.Why);
        var tools = Path.GetDirectoryName(Path.GetDirectoryName(dockerd))!; // .tools/docker-20.10/usr
        var psi = new ProcessStartInfo(dockerd) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
                 {
                     "--data-root", Path.Combine(Root, "data"), "--exec-root", Path.Combine(Root, "exec"), "-H", "unix://" + Socket,
                     "--pidfile", Path.Combine(Root, "dockerd.pid"), "--iptables=false", "--ip-masq=false", "--bridge=none",
                     "--userland-proxy=false", "--cgroup-parent", CgroupParent, "--log-level", "warn",
                 })
            psi.ArgumentList.Add(a);
        // Its docker-init and docker-proxy first; containerd and runc from Debian.
        psi.Environment["PATH"] = $"{tools}/bin:{tools}/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        _process = Process.Start(psi)!;
        var log = TextWriter.Synchronized(new StreamWriter(LogPath, append: true) { AutoFlush = true });
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.WriteLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.WriteLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try { WaitUntilAnswering(); }
        catch
        {
            Dispose();
            throw;
        }
    }

    private void WaitUntilAnswering()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"dockerd exited {_process.ExitCode}:\n{Output}");
            try
            {
                using var s = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s.Connect(new UnixDomainSocketEndPoint(Socket));
                s.Send("GET /_ping HTTP/1.0\r\n\r\n"u8);
                var buffer = new byte[512];
                var n = s.Receive(buffer);
                if (System.Text.Encoding.ASCII.GetString(buffer, 0, n).StartsWith("HTTP/1.0 200", StringComparison.Ordinal)) return;
            }
            catch (SocketException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"dockerd did not answer within 60 s:\n{Output}");
            Thread.Sleep(100);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            // Its containers first (as `docker rm -f`), then dockerd, which stops the containerd it started.
            if (DockerCliTests.DockerPath is { } docker)
            {
                var env = new Dictionary<string, string> { ["DOCKER_HOST"] = "unix://" + Socket, ["DOCKER_CONFIG"] = Path.Combine(Root, "cli") };
                var ids = Shell.Run(docker, "ps -aq", check: false, env: env).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (ids.Length > 0) Shell.Run(docker, "rm -f " + string.Join(' ', ids), check: false, env: env, timeoutMs: 60_000);
            }
            Shell.Run("kill", $"-TERM {_process.Id}", check: false);
            if (!_process.WaitForExit(30_000)) _process.Kill(true);
        }
        _process.WaitForExit(10_000);
        // A containerd or shim that outlived it (it was killed) goes too: they run from under our roots.
        foreach (var pid in ProcessesUnder(Root)) Shell.Run("kill", $"-KILL {pid}", check: false);
        RemoveCgroups();
        if (!_keyExisted && File.Exists(TrustKey)) File.Delete(TrustKey);
        if (!_keyDirExisted && Directory.Exists("/etc/docker") && !Directory.EnumerateFileSystemEntries("/etc/docker").Any()) Directory.Delete("/etc/docker");
        _dir.Dispose();
        _process.Dispose();
    }

    private static IEnumerable<string> ProcessesUnder(string root)
    {
        foreach (var p in Directory.GetDirectories("/proc"))
        {
            var pid = Path.GetFileName(p);
            if (!int.TryParse(pid, out _)) continue;
            string cmd;
            try { cmd = File.ReadAllText(p + "/cmdline").Replace('\0', ' '); }
            catch (IOException) { continue; }
            if (cmd.Contains(root, StringComparison.Ordinal)) yield return pid;
        }
    }

    private void RemoveCgroups()
    {
        foreach (var top in Directory.GetDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup"))
        {
            List<string> dirs;
            try { dirs = Directory.EnumerateDirectories(top, "*", SearchOption.AllDirectories).Where(d => d.Contains(CgroupParent, StringComparison.Ordinal)).ToList(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var d in dirs.OrderByDescending(d => d.Length))
                try { Directory.Delete(d); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
