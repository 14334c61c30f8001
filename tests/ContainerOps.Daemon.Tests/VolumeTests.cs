using System.Formats.Tar;
using ContainerOps.Client;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Volumes and mounts end to end with busybox containers on a private daemon (needs root): named and anonymous
/// volumes, copy-up, binds, bind-type volumes, tmpfs, /dev/shm, IPC sharing, and a daemon killed while a volume is in use.</summary>
public class VolumeTests
{
    private const string Image = "vol-tests/busybox:1";

    /// <summary>busybox with /seed/hello.txt and `VOLUME /seed`.</summary>
    private static async Task ImportImage(PrivateDaemon daemon)
    {
        using var dir = new TempDir("co-volimg");
        var root = Busybox.CreateRootfs(Path.Combine(dir.Path, "rootfs"));
        Directory.CreateDirectory(Path.Combine(root, "seed"));
        File.WriteAllText(Path.Combine(root, "seed", "hello.txt"), "from-image\n");
        var tar = Path.Combine(dir.Path, "img.tar");
        using (var fs = File.Create(tar)) TarFile.CreateFromDirectory(root, fs, includeBaseDirectory: false);
        await using var input = File.OpenRead(tar);
        await daemon.Client.ImportImageAsync(input, Image, ["VOLUME /seed"]);
    }

    /// <summary>Runs a script in a new container to its end: exit code and output; the container is removed (with -v).</summary>
    private static async Task<(int Code, string Output)> RunToEnd(IContainerOpsClient client, string script, Action<HostConfig>? configure = null, string? name = null)
    {
        var request = new ContainerCreateRequest { Name = name, Image = Image, Cmd = ["sh", "-c", script] };
        configure?.Invoke(request.HostConfig);
        var id = (await client.CreateContainerAsync(request)).Id;
        try
        {
            await client.StartContainerAsync(id);
            var exit = await client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(60));
            var output = new System.Text.StringBuilder();
            await foreach (var e in client.GetLogsAsync(id)) output.Append(e.Log);
            return (exit.StatusCode, output.ToString());
        }
        finally { if (name is null) await client.RemoveContainerAsync(id, force: true, removeVolumes: true); }
    }

    private static async Task<string> RunDetached(IContainerOpsClient client, string name, string script, Action<HostConfig>? configure = null)
    {
        var request = new ContainerCreateRequest { Name = name, Image = Image, Cmd = ["sh", "-c", script] };
        configure?.Invoke(request.HostConfig);
        var id = (await client.CreateContainerAsync(request)).Id;
        await client.StartContainerAsync(id);
        return id;
    }

    private static IEnumerable<string> MountsUnder(string dir) =>
        File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(dir, StringComparison.Ordinal));

    [Fact]
    public async Task NamedVolumeIsFilledFromTheImageOutlivesItsContainersAndCannotBeRemovedWhileUsed()
    {
        using var daemon = new PrivateDaemon();
        await ImportImage(daemon);
        var c = daemon.Client;

        var (code, output) = await RunToEnd(c, "cat /seed/hello.txt && echo kept > /seed/mine.txt", h => h.Binds = ["data:/seed"], name: "writer");
        Assert.True(code == 0, output + daemon.Output);
        Assert.Equal("from-image\n", output);
        var writer = await c.InspectContainerAsync("writer");
        var mount = Assert.Single(writer.Mounts);
        Assert.Equal(("volume", "data", "/seed", "local", true, "z"), (mount.Type, mount.Name, mount.Destination, mount.Driver, mount.RW, mount.Mode));
        Assert.Equal((await c.InspectVolumeAsync("data")).Mountpoint, mount.Source);

        // In use by a stopped container: refused, even with force.
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => c.RemoveVolumeAsync("data", force: true));
        Assert.Equal("VolumeInUse", e.Error.Id);
        await c.RemoveContainerAsync("writer", force: false, removeVolumes: true);

        (code, output) = await RunToEnd(c, "cat /seed/mine.txt /seed/hello.txt", h => h.Binds = ["data:/seed:ro"]);
        Assert.True(code == 0, output);
        Assert.Equal("kept\nfrom-image\n", output);

        // nocopy: an empty volume stays empty.
        (code, output) = await RunToEnd(c, "ls -A /seed | wc -l", h => h.Binds = ["empty:/seed:nocopy"]);
        Assert.Equal("0", output.Trim());
        // --mount, and a read-only volume refuses writes.
        (code, output) = await RunToEnd(c, "touch /seed/x", h => h.Mounts = [new Mount { Type = "volume", Source = "data", Target = "/seed", ReadOnly = true }]);
        Assert.NotEqual(0, code);
        Assert.Contains("Read-only", output);

        var dangling = await c.ListVolumesAsync(new Dictionary<string, List<string>> { ["dangling"] = ["true"] });
        Assert.Equal(["data", "empty"], dangling.Select(v => v.Name).Order().ToArray());
        await c.RemoveVolumeAsync("data");
        await c.RemoveVolumeAsync("empty");
        Assert.Empty(await c.ListVolumesAsync());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(daemon.Root, "volumes")));
    }

    [Fact]
    public async Task AnonymousVolumesGoWithRmDashVAndWithRmContainersNamedOnesStay()
    {
        using var daemon = new PrivateDaemon();
        await ImportImage(daemon);
        var c = daemon.Client;

        // The image's VOLUME /seed becomes an anonymous volume, filled from the image; -v /scratch another one.
        var id = (await c.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["cat", "/seed/hello.txt"], HostConfig = { Binds = ["/scratch", "named:/named"] } })).Id;
        var mounts = (await c.InspectContainerAsync(id)).Mounts;
        Assert.Equal(3, mounts.Count);
        var anonymous = mounts.Where(m => m.Destination is "/seed" or "/scratch").Select(m => m.Name!).ToList();
        Assert.All(anonymous, n => Assert.Equal(64, n.Length));
        Assert.All(anonymous, n => Assert.True((c.InspectVolumeAsync(n).Result).Labels.ContainsKey("com.docker.volume.anonymous")));
        await c.StartContainerAsync(id);
        Assert.Equal(0, (await c.WaitContainerAsync(id)).StatusCode);
        var seed = mounts.Single(m => m.Destination == "/seed").Name!;
        Assert.Equal("from-image\n", File.ReadAllText(Path.Combine((await c.InspectVolumeAsync(seed)).Mountpoint, "hello.txt")));

        await c.RemoveContainerAsync(id, force: false, removeVolumes: true);
        Assert.Equal(["named"], (await c.ListVolumesAsync()).Select(v => v.Name).ToArray());

        // A --rm container takes its anonymous volumes along.
        var auto = (await c.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["true"], HostConfig = { AutoRemove = true } })).Id;
        await c.StartContainerAsync(auto);
        for (var i = 0; i < 100 && (await c.ListContainersAsync(all: true)).Any(x => x.Id == auto); i++) await Task.Delay(100);
        Assert.Equal(["named"], (await c.ListVolumesAsync()).Select(v => v.Name).ToArray());

        // Without -v the anonymous volume stays, and prune takes it (named ones only with all).
        var kept = (await c.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["true"] })).Id;
        await c.RemoveContainerAsync(kept);
        Assert.Equal(2, (await c.ListVolumesAsync()).Count);
        var pruned = await c.PruneVolumesAsync();
        Assert.Single(pruned.VolumesDeleted);
        Assert.Equal(["named"], (await c.ListVolumesAsync()).Select(v => v.Name).ToArray());
        Assert.Equal(["named"], (await c.PruneVolumesAsync(all: true)).VolumesDeleted);
    }

    [Fact]
    public async Task BindsTmpfsShmAndIpcBehaveAsDockers()
    {
        using var daemon = new PrivateDaemon();
        using var host = new TempDir("co-volbind");
        await ImportImage(daemon);
        var c = daemon.Client;

        // -v makes a missing source; a read-only bind refuses writes.
        var missing = Path.Combine(host.Path, "made", "by-v");
        var (code, output) = await RunToEnd(c, "echo hi > /w/f && touch /ro/x", h => h.Binds = [$"{missing}:/w", $"{host.Path}:/ro:ro"]);
        Assert.NotEqual(0, code);
        Assert.Contains("Read-only", output);
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(missing, "f")));

        // --mount refuses a missing source, naming the flag and the path; nothing is left of the create.
        var before = (await c.ListContainersAsync(all: true)).Count;
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => c.CreateContainerAsync(new ContainerCreateRequest
        {
            Image = Image, Cmd = ["true"], HostConfig = { Mounts = [new Mount { Type = "bind", Source = host.Path + "/nope", Target = "/x" }] },
        }));
        Assert.Equal("HostConfig.Mounts", e.Error.Field);
        Assert.Contains("--mount", e.Message);
        Assert.Contains("/nope", e.Message);
        Assert.Equal(before, (await c.ListContainersAsync(all: true)).Count);
        Assert.Empty(await c.ListVolumesAsync());

        // tmpfs sizes: --tmpfs, --mount type=tmpfs, and --shm-size (64 MB without it).
        (code, output) = await RunToEnd(c, "df -k /t /m /dev/shm | awk 'NR>1 {print $2}'", h =>
        {
            h.Tmpfs = ["/t:size=1m"];
            h.Mounts = [new Mount { Type = "tmpfs", Target = "/m", TmpfsOptions = new() { SizeBytes = 2 << 20 } }];
            h.ShmSize = 128 << 20;
        });
        Assert.True(code == 0, output);
        Assert.Equal(["1024", "2048", "131072"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        (_, output) = await RunToEnd(c, "df -k /dev/shm | awk 'NR>1 {print $2}'");
        Assert.Equal("65536", output.Trim());

        // --ipc container: joins a shareable container's IPC namespace and /dev/shm; a private one is refused.
        await RunDetached(c, "ipc-owner", "echo shared > /dev/shm/token && sleep 60", h => h.IpcMode = "shareable");
        await RunDetached(c, "ipc-private", "sleep 60");
        var ownerIpc = "";
        for (var i = 0; i < 50 && ownerIpc.Length == 0; i++)
        {
            var (found, text) = await RunToEnd(c, "cat /dev/shm/token", h => h.IpcMode = "container:ipc-owner");
            if (found == 0) ownerIpc = text;
            else await Task.Delay(100);
        }
        Assert.Equal("shared\n", ownerIpc);
        var owner = await c.InspectContainerAsync("ipc-owner");
        var ownNs = new FileInfo($"/proc/{owner.State.Pid}/ns/ipc").LinkTarget;
        (_, output) = await RunToEnd(c, "readlink /proc/self/ns/ipc", h => h.IpcMode = "container:ipc-owner");
        Assert.Equal(ownNs, output.Trim());
        var refused = (await c.CreateContainerAsync(new ContainerCreateRequest { Image = Image, Cmd = ["true"], HostConfig = { IpcMode = "container:ipc-private" } })).Id;
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => c.StartContainerAsync(refused));
        Assert.Contains("shareable", e.Message);
        await c.RemoveContainerAsync(refused, force: true);
    }

    [Fact]
    public async Task ABindTypeVolumeShowsItsDirectoryAndVolumeOptMakesOneWithThoseOptions()
    {
        using var daemon = new PrivateDaemon();
        using var host = new TempDir("co-volopt");
        await ImportImage(daemon);
        var c = daemon.Client;
        var dir = Directory.CreateDirectory(Path.Combine(host.Path, "shared")).FullName;
        File.WriteAllText(Path.Combine(dir, "hello.txt"), "on-host\n");

        Assert.Equal("bound\n", daemon.Cli($"volume create --opt type=none --opt o=bind --opt device={dir} bound"));
        var v = await c.InspectVolumeAsync("bound");
        Assert.Equal(("none", "bind", dir), (v.Options["type"], v.Options["o"], v.Options["device"]));
        var (code, output) = await RunToEnd(c, "cat /data/hello.txt && echo from-container > /data/new.txt", h => h.Binds = ["bound:/data"]);
        Assert.True(code == 0, output + daemon.Output);
        Assert.Equal("on-host\n", output);
        Assert.Equal("from-container\n", File.ReadAllText(Path.Combine(dir, "new.txt")));
        // Mounted only while used; removing the volume leaves the directory's content alone.
        Assert.Empty(MountsUnder(v.Mountpoint));
        daemon.Cli("volume rm bound");
        Assert.Equal(["hello.txt", "new.txt"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());

        // --mount with volume-opt= creates the named volume with those options, and the container sees the directory.
        var other = Directory.CreateDirectory(Path.Combine(host.Path, "other")).FullName;
        File.WriteAllText(Path.Combine(other, "f"), "other-dir\n");
        output = daemon.Cli($"run --rm --mount type=volume,src=made,dst=/data,volume-opt=type=none,volume-opt=o=bind,volume-opt=device={other} {Image} cat /data/f");
        Assert.Equal("other-dir\n", output);
        var made = await c.InspectVolumeAsync("made");
        Assert.Equal(("none", "bind", other), (made.Options["type"], made.Options["o"], made.Options["device"]));
        Assert.DoesNotContain("com.docker.volume.anonymous", made.Labels.Keys);
        Assert.Empty(MountsUnder(made.Mountpoint));
    }

    [Fact]
    public async Task TmpfsModeIsAppliedAndIpcHostSharesTheHostsNamespaceWhilePrivateDoesNot()
    {
        using var daemon = new PrivateDaemon();
        await ImportImage(daemon);
        var c = daemon.Client;

        var (code, output) = await RunToEnd(c, "stat -c %a /t /m", h =>
        {
            h.Tmpfs = ["/t:mode=1770"];
            h.Mounts = [new Mount { Type = "tmpfs", Target = "/m", TmpfsOptions = new() { Mode = Convert.ToInt32("750", 8) } }];
        });
        Assert.True(code == 0, output);
        Assert.Equal("1770\n750\n", output);
        Assert.Equal("1770\n", daemon.Cli($"run --rm --tmpfs /t:mode=1770,size=1m {Image} stat -c %a /t"));
        Assert.Equal("1777\n", daemon.Cli($"run --rm --tmpfs /t {Image} stat -c %a /t"));

        var hostIpc = new FileInfo("/proc/self/ns/ipc").LinkTarget;
        Assert.StartsWith("ipc:[", hostIpc);
        (code, output) = await RunToEnd(c, "readlink /proc/self/ns/ipc", h => h.IpcMode = "host");
        Assert.True(code == 0, output);
        Assert.Equal(hostIpc, output.Trim());
        Assert.Equal(hostIpc + "\n", daemon.Cli($"run --rm --ipc host {Image} readlink /proc/self/ns/ipc"));
        // Private: a namespace of its own, neither the host's nor another private container's (both alive: a freed
        // namespace's number is given again).
        var held = await RunDetached(c, "ipc-held", "sleep 60", h => h.IpcMode = "private");
        var heldIpc = new FileInfo($"/proc/{(await c.InspectContainerAsync(held)).State.Pid}/ns/ipc").LinkTarget;
        var (_, own) = await RunToEnd(c, "readlink /proc/self/ns/ipc", h => h.IpcMode = "private");
        Assert.StartsWith("ipc:[", own);
        Assert.NotEqual(hostIpc, heldIpc);
        Assert.NotEqual(hostIpc, own.Trim());
        Assert.NotEqual(heldIpc, own.Trim());
        Assert.NotEqual(hostIpc + "\n", daemon.Cli($"run --rm --ipc private {Image} readlink /proc/self/ns/ipc"));
    }

    [Fact]
    public async Task VolumesFromAndATmpfsVolumeAreMountedOnlyWhileUsed()
    {
        using var daemon = new PrivateDaemon();
        await ImportImage(daemon);
        var c = daemon.Client;
        var v = await c.CreateVolumeAsync(new VolumeCreateRequest { Name = "fast", DriverOpts = { ["type"] = "tmpfs", ["device"] = "tmpfs", ["o"] = "size=2m" }, Labels = { ["k"] = "v" } });
        Assert.Equal("tmpfs", v.Options["type"]);
        Assert.Empty(MountsUnder(v.Mountpoint));

        await RunDetached(c, "holder", "echo one > /fast/f && sleep 60", h => h.Binds = ["fast:/fast"]);
        Assert.Single(MountsUnder(v.Mountpoint));
        var (code, output) = await RunToEnd(c, "for i in $(seq 50); do cat /fast/f 2>/dev/null && break; sleep 0.1; done; df -k /fast | awk 'NR>1 {print $2}'",
            h => h.VolumesFrom = ["holder:ro"]);
        Assert.True(code == 0, output + daemon.Output);
        Assert.Equal(["one", "2048"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        await c.RemoveContainerAsync("holder", force: true);
        Assert.Empty(MountsUnder(v.Mountpoint));
        await c.RemoveVolumeAsync("fast");
        Assert.Empty(MountsUnder(daemon.Root));
    }

    [Fact]
    public async Task AfterTheDaemonIsKilledAVolumeInUseAndItsUseAreIntact()
    {
        using var daemon = new PrivateDaemon();
        await ImportImage(daemon);
        var c = daemon.Client;
        await c.CreateVolumeAsync(new VolumeCreateRequest { Name = "ram", DriverOpts = { ["type"] = "tmpfs", ["device"] = "tmpfs", ["o"] = "size=1m" } });
        var id = await RunDetached(c, "app", "echo before > /data/f && echo ram > /ram/f && sleep 120", h => h.Binds = ["keep:/data", "ram:/ram"]);
        var keep = await c.InspectVolumeAsync("keep");
        for (var i = 0; i < 50 && !File.Exists(Path.Combine(keep.Mountpoint, "f")); i++) await Task.Delay(100);

        daemon.Crash();
        daemon.Start();
        c = daemon.Client;

        Assert.Equal("VolumeInUse", (await Assert.ThrowsAsync<ContainerOpsException>(() => c.RemoveVolumeAsync("keep"))).Error.Id);
        Assert.Equal("VolumeInUse", (await Assert.ThrowsAsync<ContainerOpsException>(() => c.RemoveVolumeAsync("ram"))).Error.Id);
        var d = await c.InspectContainerAsync(id);
        Assert.True(d.State.Running);
        // keep, ram, and the anonymous volume of the image's VOLUME /seed.
        Assert.Equal(["keep", "ram"], d.Mounts.Select(m => m.Name!).Where(n => n.Length < 64).Order().ToArray());
        Assert.Equal(3, d.Mounts.Count);
        Assert.Equal("before\n", File.ReadAllText(Path.Combine(keep.Mountpoint, "f")));
        Assert.Equal("ram\n", File.ReadAllText(Path.Combine((await c.InspectVolumeAsync("ram")).Mountpoint, "f")));
        Assert.Empty(await c.ListVolumesAsync(new Dictionary<string, List<string>> { ["dangling"] = ["true"] }));

        await c.RemoveContainerAsync(id, force: true);
        Assert.Empty(MountsUnder((await c.InspectVolumeAsync("ram")).Mountpoint));
        await c.RemoveVolumeAsync("keep");
        await c.RemoveVolumeAsync("ram");
        Assert.Empty(MountsUnder(daemon.Root));
    }
}
