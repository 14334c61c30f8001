using System.Diagnostics;
using ContainerOps.Core.Api;
using ContainerOps.Images.Snapshots;
using ContainerOps.Runtime.Native;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Pod sandboxes without a pause container: a pod's network, IPC and UTS namespaces are bind-mounted onto files in
/// RUN_ROOT/pods/UID/ (net, ipc, uts), which hold them while no process is in them; its /dev/shm is a tmpfs there (shm).
/// The pod's containers join these (<see cref="Join"/>), so they share localhost, System V IPC and the host name, and a
/// container's restart leaves the pod's address alone. The network namespace gets its veth and address on the pod
/// network (a bridge network of the network engine, --pod-subnet) as a container's would. How and why: Sandboxes.md.
/// </summary>
public sealed class PodSandboxes
{
    private static readonly string[] Namespaces = ["net", "ipc", "uts"];
    private readonly DaemonOptions _options;
    private readonly ContainerNetworking _networking;
    private readonly ILogger<PodSandboxes> _log;
    private readonly SemaphoreSlim _lock = new(1, 1);

    public PodSandboxes(DaemonOptions options, ContainerNetworking networking, ILogger<PodSandboxes> log)
    {
        _options = options;
        _networking = networking;
        _log = log;
        Volumes = new PodVolumeFiles(options, log);
        networking.SandboxEndpoints = () => List().Select(EndpointId);
    }

    private string Root => Path.Combine(_options.RunRoot, "pods");

    /// <summary>The pods' volumes, removed with their sandbox.</summary>
    public PodVolumeFiles Volumes { get; }
    public string DirOf(string podUid) => Path.Combine(Root, podUid);

    /// <summary>The sandbox's endpoint id on the pod network: the uid's hex digits (the veth is named from them).</summary>
    public static string EndpointId(string podUid) => "pod" + podUid.Replace("-", "", StringComparison.Ordinal);

    /// <summary>The pod uids whose sandbox exists (its network namespace is held).</summary>
    public IReadOnlyList<string> List() =>
        Directory.Exists(Root) ? Directory.GetDirectories(Root).Select(d => Path.GetFileName(d)!).Where(uid => NetworkNamespaceOf(uid) is not null).ToList() : [];

    /// <summary>The file holding the sandbox's network namespace, or null when there is no sandbox.</summary>
    public string? NetworkNamespaceOf(string podUid) =>
        Path.Combine(DirOf(podUid), "net") is var net && SnapshotStore.IsMountPoint(net) ? net : null;

    /// <summary>The host name the sandbox's UTS namespace has (its containers set the same).</summary>
    public string? HostnameOf(string podUid) =>
        File.Exists(Path.Combine(DirOf(podUid), "hostname")) ? File.ReadAllText(Path.Combine(DirOf(podUid), "hostname")) : null;

    /// <summary>The sandbox's address on the pod network, or null (none, or host networking).</summary>
    public string? AddressOf(string podUid) =>
        _networking.Networks.EndpointsOf(EndpointId(podUid)).FirstOrDefault()?.Endpoint.IPv4Address;

    /// <summary>Makes the sandbox unless it exists; returns its address. Whatever fails leaves nothing made.</summary>
    public async Task<string?> RunAsync(string podUid, string hostname, string resolvConf, IReadOnlyList<(string Ip, IReadOnlyList<string> Names)> hostAliases, CancellationToken ct)
    {
        if (!Guid.TryParse(podUid, out _))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidPodUid", $"pod uid '{podUid}' is not a UUID", podUid);
        await _lock.WaitAsync(ct);
        try
        {
            var dir = DirOf(podUid);
            if (NetworkNamespaceOf(podUid) is not null && AddressOf(podUid) is { } existing) return existing;
            Remove(podUid, volumes: false);
            Directory.CreateDirectory(dir);
            try
            {
                foreach (var ns in Namespaces) File.WriteAllText(Path.Combine(dir, ns), "");
                await HoldNamespacesAsync(dir, hostname, ct);
                var shm = Path.Combine(dir, "shm");
                Directory.CreateDirectory(shm);
                if (Libc.mount("shm", shm, "tmpfs", 2 | 4 | 8 /* nosuid, nodev, noexec */, "mode=1777,size=67108864") != 0)
                    throw new InvalidOperationException($"mounting the pod's /dev/shm failed: {Libc.StrError(Libc.LastErrno)}");
                EnsurePodNetwork();
                var endpoint = _networking.Networks.Reserve(EndpointId(podUid), hostname, _options.Node.PodNetworkName, null);
                _networking.Networks.AttachNamespace(EndpointId(podUid), Path.Combine(dir, "net"), []);
                var ip = endpoint.Endpoint.IPv4Address;
                var hosts = $"# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n{ip}\t{hostname}\n";
                if (hostAliases.Count > 0)
                    hosts += "\n# Entries added by HostAliases.\n" + string.Concat(hostAliases.Select(a => $"{a.Ip}\t{string.Join('\t', a.Names)}\n"));
                File.WriteAllText(Path.Combine(dir, "hosts"), hosts);
                File.WriteAllText(Path.Combine(dir, "resolv.conf"), resolvConf);
                File.WriteAllText(Path.Combine(dir, "hostname"), hostname);
                _log.LogInformation("pod sandbox {Uid}: {Ip} ({Hostname})", podUid, ip, hostname);
                return ip;
            }
            catch
            {
                Remove(podUid, volumes: false);
                throw;
            }
        }
        finally { _lock.Release(); }
    }

    /// <summary>util-linux unshare makes the namespaces and bind-mounts them onto the files (--net=FILE…), and sets the
    /// host name inside the new UTS namespace before it exits: no process stays.</summary>
    private static async Task HoldNamespacesAsync(string dir, string hostname, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("unshare") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var ns in Namespaces) psi.ArgumentList.Add($"--{ns}={Path.Combine(dir, ns)}");
        foreach (var a in new[] { "hostname", hostname }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot run unshare");
        var err = await p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0) throw new InvalidOperationException($"unshare exited {p.ExitCode}: {err.Trim()}");
    }

    /// <summary>Gives the sandbox a pid namespace its containers share (shareProcessNamespace) unless it has a live one.
    /// A pid namespace ends with its first process, which also inherits the namespace's orphans: that process is the
    /// shim's `pause` (pid 1 in the pod, reaping), and the namespace is bind-mounted onto `pid` as the others are.</summary>
    public async Task HoldPidNamespaceAsync(string podUid, CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            var dir = DirOf(podUid);
            var pidFile = Path.Combine(dir, "pid");
            if (PidHolder(dir) is not null) return;
            // A namespace whose holder is gone cannot take new processes: it is let go and made again.
            StopPidHolder(dir);
            File.WriteAllText(pidFile, "");
            var psi = new ProcessStartInfo(_options.EffectiveShimPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("pause");
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot run containerops-shim pause");
            var report = (await p.StandardOutput.ReadToEndAsync(ct)).Trim();
            await p.WaitForExitAsync(ct);
            if (!report.StartsWith("ok ", StringComparison.Ordinal) || !int.TryParse(report[3..], out var holder))
                throw new InvalidOperationException($"holding the pod's pid namespace failed: {report} {(await p.StandardError.ReadToEndAsync(ct)).Trim()}");
            File.WriteAllText(Path.Combine(dir, "pause.pid"), holder.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (Libc.mount($"/proc/{holder}/ns/pid", pidFile, null, 4096 /* MS_BIND */, null) != 0)
            {
                var error = Libc.StrError(Libc.LastErrno);
                StopPidHolder(dir);
                throw new InvalidOperationException($"holding the pod's pid namespace failed: bind-mounting it: {error}");
            }
            _log.LogInformation("pod sandbox {Uid}: pid namespace held by {Pid}", podUid, holder);
        }
        finally { _lock.Release(); }
    }

    /// <summary>The pid of the sandbox's pid namespace holder if it is alive and still holds the namespace mounted on
    /// `pid` (a recycled pid is not taken for it).</summary>
    private static int? PidHolder(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "pause.pid")) || !int.TryParse(File.ReadAllText(Path.Combine(dir, "pause.pid")), out var pid)) return null;
        if (Libc.stat($"/proc/{pid}/ns/pid", out var live) != 0 || Libc.stat(Path.Combine(dir, "pid"), out var held) != 0) return null;
        return live.Ino == held.Ino && live.Dev == held.Dev ? pid : null;
    }

    /// <summary>Ends the holder (the kernel kills what is left in the namespace) and lets the namespace's mount go.</summary>
    private void StopPidHolder(string dir)
    {
        if (PidHolder(dir) is { } pid && Libc.kill(pid, 9) != 0)
            _log.LogWarning("pod sandbox {Dir}: killing the pid namespace holder {Pid}: {Error}", dir, pid, Libc.StrError(Libc.LastErrno));
        var mount = Path.Combine(dir, "pid");
        while (SnapshotStore.IsMountPoint(mount))
            if (Libc.umount2(mount, 2 /* MNT_DETACH */) != 0) break;
        File.Delete(Path.Combine(dir, "pause.pid"));
    }

    /// <summary>The pod network, made on the first pod (a daemon without pods has no pod bridge).</summary>
    private void EnsurePodNetwork()
    {
        var name = _options.Node.PodNetworkName;
        try { _networking.Networks.ResolveName(name); return; }
        catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { }
        _networking.Networks.Create(new NetworkCreateRequest
        {
            Name = name, Driver = "bridge",
            IPAM = new IPAM { Config = [new IPAMConfig { Subnet = _options.Node.PodSubnet }] },
            Labels = new() { ["io.containerops.network.pods"] = "true" },
        });
    }

    /// <summary>Removes what a sandbox has: its address and veth, the namespaces' and shm's mounts, the directory.
    /// Idempotent, and safe on a half-made one.</summary>
    /// <param name="volumes">false while a sandbox is (re)made: the pod's volumes keep their data.</param>
    public void Remove(string podUid, bool volumes = true)
    {
        var dir = DirOf(podUid);
        try { _networking.Networks.Release(EndpointId(podUid)); }
        catch (ContainerOpsException e) { _log.LogWarning("pod sandbox {Uid}: releasing its address: {Message}", podUid, e.Message); }
        if (volumes) Volumes.Remove(podUid);
        if (!Directory.Exists(dir)) return;
        StopPidHolder(dir);
        foreach (var mount in Namespaces.Append("shm").Select(n => Path.Combine(dir, n)))
            while (SnapshotStore.IsMountPoint(mount))
                if (Libc.umount2(mount, 2 /* MNT_DETACH */) != 0) { _log.LogWarning("pod sandbox {Uid}: unmounting {Path}: {Error}", podUid, mount, Libc.StrError(Libc.LastErrno)); break; }
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException e) { _log.LogWarning("pod sandbox {Uid}: {Message}", podUid, e.Message); }
    }

    /// <summary>What a container of the sandbox at <paramref name="sandboxDir"/> joins: its network namespace (as
    /// `container:` mode with a path), IPC namespace and /dev/shm, UTS namespace, and its pid namespace when the pod
    /// shares one; its hosts and resolv.conf are copied into the container's directory <paramref name="containerDir"/>,
    /// whence the bundle binds them.</summary>
    public static (HostConfig Host, string? Ipc, string? Shm, string? Uts, string? Pid) Join(string sandboxDir, HostConfig hc, string containerDir, Func<HostConfig, string, HostConfig> withNetwork)
    {
        foreach (var file in new[] { "hosts", "resolv.conf" })
            if (File.Exists(Path.Combine(sandboxDir, file))) File.Copy(Path.Combine(sandboxDir, file), Path.Combine(containerDir, file), overwrite: true);
        var host = withNetwork(hc, "container:" + Path.Combine(sandboxDir, "net"));
        var pid = Path.Combine(sandboxDir, "pid");
        if (!SnapshotStore.IsMountPoint(pid)) return (host, Path.Combine(sandboxDir, "ipc"), Path.Combine(sandboxDir, "shm"), Path.Combine(sandboxDir, "uts"), null);
        host.PidMode = "container:" + pid;
        return (host, Path.Combine(sandboxDir, "ipc"), Path.Combine(sandboxDir, "shm"), Path.Combine(sandboxDir, "uts"), pid);
    }
}
