using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

public enum RegistryMode { PlainHttp, Tls, TlsBasicAuth }

/// <summary>
/// A private Debian <c>docker-registry</c> on 127.0.0.1 and a free port, storing in a temp dir. TLS modes use a CA made
/// with openssl for the occasion; its certificate is in <see cref="CertsDir"/> (certs.d layout). Dispose kills the
/// process and waits for it, and deletes everything.
/// </summary>
public sealed class TestRegistry : IDisposable
{
    public const string User = "tester";
    public const string Password = "s3cret-Pa55word";

    private readonly TempDir _dir = new("co-reg");
    private Process? _process;

    public int Port { get; }
    public string Host => $"127.0.0.1:{Port}";
    public string CertsDir => Path.Combine(_dir.Path, "certs.d");
    public string StorageDir => Path.Combine(_dir.Path, "data");
    public RegistryMode Mode { get; }

    public static TestRegistry Start(RegistryMode mode) => new(mode);

    private TestRegistry(RegistryMode mode)
    {
        Mode = mode;
        Tools.EnsureInstalled();
        try
        {
            Port = FreePort();
            var yaml = new List<string>
            {
                "version: 0.1",
                "log:", "  level: error", "  accesslog:", "    disabled: true",
                "storage:", "  filesystem:", $"    rootdirectory: {StorageDir}", "  delete:", "    enabled: true",
                "http:", $"  addr: {Host}", "  secret: containerops-test",
            };
            if (mode != RegistryMode.PlainHttp)
            {
                MakeCertificates();
                yaml.AddRange(["  tls:", $"    certificate: {Path.Combine(_dir.Path, "server.crt")}", $"    key: {Path.Combine(_dir.Path, "server.key")}"]);
            }
            if (mode == RegistryMode.TlsBasicAuth)
            {
                var line = Shell.Run("htpasswd", $"-Bbn {User} {Password}").Trim();
                File.WriteAllText(Path.Combine(_dir.Path, "htpasswd"), line + "\n");
                yaml.AddRange(["auth:", "  htpasswd:", "    realm: containerops-test", $"    path: {Path.Combine(_dir.Path, "htpasswd")}"]);
            }
            var config = Path.Combine(_dir.Path, "config.yml");
            File.WriteAllLines(config, yaml);
            var psi = new ProcessStartInfo("/usr/bin/docker-registry", $"serve {config}")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, _) => { };
            _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_log) _log.Add(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            WaitReady();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private readonly List<string> _log = new();

    public string Log { get { lock (_log) return string.Join("\n", _log); } }

    private void WaitReady()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited) throw new InvalidOperationException($"docker-registry exited {_process.ExitCode}: {Log}");
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) { Thread.Sleep(50); }
        }
        throw new TimeoutException("docker-registry did not listen within 20 s: " + Log);
    }

    private void MakeCertificates()
    {
        var d = _dir.Path;
        void Ssl(string args) => Shell.Run("openssl", args);
        Ssl($"req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=containerops-test-ca -keyout {d}/ca.key -out {d}/ca.crt " +
            "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
        Ssl($"req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout {d}/server.key -out {d}/server.csr");
        File.WriteAllText($"{d}/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
        Ssl($"x509 -req -in {d}/server.csr -CA {d}/ca.crt -CAkey {d}/ca.key -CAcreateserial -days 2 -extfile {d}/ext.cnf -out {d}/server.crt");
        var hostDir = Path.Combine(CertsDir, Host);
        Directory.CreateDirectory(hostDir);
        File.Copy($"{d}/ca.crt", Path.Combine(hostDir, "ca.crt"));
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        if (_process != null)
        {
            try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _process.WaitForExit(10_000);
            _process.Dispose();
            _process = null;
        }
        _dir.Dispose();
    }
}

/// <summary>Installs the peers the tests use when the machine lacks them.</summary>
public static class Tools
{
    private static readonly Lazy<bool> Installed = new(() =>
    {
        var missing = new List<string>();
        if (!File.Exists("/usr/bin/docker-registry")) missing.Add("docker-registry");
        if (!File.Exists("/usr/bin/skopeo")) missing.Add("skopeo");
        if (!File.Exists("/usr/bin/htpasswd")) missing.Add("apache2-utils");
        if (!File.Exists("/usr/bin/openssl")) missing.Add("openssl");
        if (missing.Count > 0)
        {
            var env = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
            if (Shell.Run("apt-get", "install -y -q " + string.Join(' ', missing), check: false, env: env, timeoutMs: 600_000) is var _ &&
                missing.Any(m => m == "docker-registry" ? !File.Exists("/usr/bin/docker-registry") : false))
            {
                Shell.Run("apt-get", "update -q", env: env, timeoutMs: 600_000);
                Shell.Run("apt-get", "install -y -q " + string.Join(' ', missing), env: env, timeoutMs: 600_000);
            }
        }
        return true;
    });

    public static void EnsureInstalled() => _ = Installed.Value;
}
