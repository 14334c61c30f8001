using System.Diagnostics;
using System.Formats.Tar;

namespace ContainerOps.TestSupport;

/// <summary>Test images built from Debian's busybox-static: no network needed.</summary>
public static class Busybox
{
    private static readonly Lazy<string> Binary = new(FindOrInstall);
    private static readonly Lazy<string[]> Applets = new(() =>
        Shell.Run(BinaryPath, "--list").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Path of a static busybox, installing busybox-static when the machine has none.</summary>
    public static string BinaryPath => Binary.Value;

    private static string FindOrInstall()
    {
        foreach (var p in new[] { "/bin/busybox", "/usr/bin/busybox" })
            if (File.Exists(p) && IsStatic(p)) return p;
        Shell.Run("apt-get", "install -y -q busybox-static", env: new() { ["DEBIAN_FRONTEND"] = "noninteractive" });
        return File.Exists("/bin/busybox") ? "/bin/busybox" : throw new InvalidOperationException("busybox-static did not install /bin/busybox");
    }

    private static bool IsStatic(string path) => !Shell.Run("file", "-L " + path, check: false).Contains("dynamically");

    /// <summary>
    /// A minimal root filesystem: /bin/busybox with every applet linked in /bin, /etc/passwd and /etc/group
    /// (root 0, daemon 1, app 1000:1000, nobody 65534), /tmp (1777), /root, /home/app.
    /// </summary>
    public static string CreateRootfs(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var d in new[] { "bin", "etc", "root", "home/app", "tmp", "proc", "sys", "dev", "var/log" })
            Directory.CreateDirectory(Path.Combine(dir, d));
        File.SetUnixFileMode(Path.Combine(dir, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        File.Copy(BinaryPath, Path.Combine(dir, "bin/busybox"), overwrite: true);
        foreach (var applet in Applets.Value)
        {
            var link = Path.Combine(dir, "bin", applet);
            if (applet != "busybox" && !File.Exists(link)) File.CreateSymbolicLink(link, "busybox");
        }
        File.WriteAllText(Path.Combine(dir, "etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        File.WriteAllText(Path.Combine(dir, "etc/group"),
            "root:x:0:\ndaemon:x:1:\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n");
        return dir;
    }

    /// <summary>The rootfs of <see cref="CreateRootfs"/> as an uncompressed tar at <paramref name="tarPath"/>.</summary>
    public static string CreateRootfsTar(string tarPath)
    {
        using var tmp = new TempDir("bbroot");
        CreateRootfs(tmp.Path);
        using (var fs = File.Create(tarPath))
            TarFile.CreateFromDirectory(tmp.Path, fs, includeBaseDirectory: false);
        return tarPath;
    }
}

public sealed class TempDir : IDisposable
{
    public string Path { get; }

    public TempDir(string prefix = "co-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)]);
        Directory.CreateDirectory(Path);
    }

    public void Dispose()
    {
        // What a failed test left mounted under the directory (a pod's namespace, a container's root filesystem) would
        // keep the directory and itself: detached first, deepest first.
        try
        {
            var prefix = Path.TrimEnd('/') + "/";
            var mounts = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4].Replace("\\040", " "))
                .Where(m => m.StartsWith(prefix, StringComparison.Ordinal)).OrderByDescending(m => m.Length).ToList();
            foreach (var mount in mounts) umount2(mount, MntDetach);
        }
        catch (IOException) { }
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private const int MntDetach = 2;
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)] private static extern int umount2(string target, int flags);
}

public static class Shell
{
    /// <summary>Runs a program, returns its stdout; throws with stderr when it fails and <paramref name="check"/> is set.</summary>
    public static string Run(string file, string args, bool check = true, Dictionary<string, string>? env = null, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stderrTask = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); throw new TimeoutException($"{file} {args} timed out"); }
        var stderr = stderrTask.Result;
        if (check && p.ExitCode != 0) throw new InvalidOperationException($"`{file} {args}` exited {p.ExitCode}: {stderr.Trim()}");
        return stdout;
    }
}
