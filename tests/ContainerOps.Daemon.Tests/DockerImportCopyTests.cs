using ContainerOps.TestSupport;
using static ContainerOps.Daemon.Tests.DockerCliTests;

namespace ContainerOps.Daemon.Tests;

/// <summary>`docker import`, `docker export`, and `docker cp` into and out of a container's volume and bind mounts.</summary>
public class DockerImportCopyTests
{
    [DockerCliFact]
    public async Task ImportMakesAnImageAndExportGivesItsFilesBack()
    {
        using var d = new PrivateDaemon();
        using var dir = new TempDir("coimp");
        var tar = Busybox.CreateRootfsTar(Path.Combine(dir.Path, "rootfs.tar"));
        var imported = Ok(d, "import", "--change", "CMD [\"sh\", \"-c\", \"echo imported\"]", "--message", "from a test", tar, "imported/busybox:7").Trim();
        Assert.Matches("^sha256:[0-9a-f]{64}$", imported);
        Assert.Equal(imported + "\n", Ok(d, "image", "inspect", "--format", "{{.Id}}", "imported/busybox:7"));
        Assert.Contains("from a test", Ok(d, "history", "--no-trunc", "imported/busybox:7"));
        Assert.Equal("imported\n", Ok(d, "run", "--rm", "--network", "none", "imported/busybox:7"));

        var (code, _, error) = Docker(d, "import", "http://127.0.0.1:9/rootfs.tar", "imported/url:1");
        Assert.NotEqual(0, code);
        Assert.Contains("importing from a URL is not supported", error);

        Ok(d, "create", "--name", "exported", "imported/busybox:7");
        var exported = Path.Combine(dir.Path, "exported.tar");
        Ok(d, "export", "-o", exported, "exported");
        var names = Shell.Run("tar", $"-tf {exported}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(names, n => n.TrimStart('.', '/') == "bin/busybox");
        Ok(d, "rm", "exported");
    }

    [DockerCliFact]
    public async Task CopyReachesVolumeAndBindMounts()
    {
        using var d = new PrivateDaemon();
        using var dir = new TempDir("cocpv");
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var bind = Directory.CreateDirectory(Path.Combine(dir.Path, "bind")).FullName;
        File.WriteAllText(Path.Combine(bind, "from-host.txt"), "host side\n");
        Ok(d, "run", "-d", "--name", "mounted", "--network", "none", "-v", "cpdata:/data", "-v", bind + ":/srv/bind:ro",
            "dockercli/busybox:1", "sh", "-c", "echo inside > /data/made-inside.txt; exec sleep 1000");
        try
        {
            for (var i = 0; i < 50 && !Docker(d, "exec", "mounted", "test", "-f", "/data/made-inside.txt").Code.Equals(0); i++) await Task.Delay(100);
            File.WriteAllText(Path.Combine(dir.Path, "note.txt"), "copied in\n");

            // Into the running container's volume: the container sees it there, and the volume keeps it.
            Ok(d, "cp", Path.Combine(dir.Path, "note.txt"), "mounted:/data/note.txt");
            Assert.Equal("copied in\n", Ok(d, "exec", "mounted", "cat", "/data/note.txt"));
            // Out of the volume, a file and the mount point itself.
            Ok(d, "cp", "mounted:/data/made-inside.txt", Path.Combine(dir.Path, "out.txt"));
            Assert.Equal("inside\n", File.ReadAllText(Path.Combine(dir.Path, "out.txt")));
            Ok(d, "cp", "mounted:/data", Path.Combine(dir.Path, "whole"));
            Assert.True(File.Exists(Path.Combine(dir.Path, "whole", "note.txt")), "the mount point copies out as a directory of its own name");
            // Out of a read-only bind mount, and refused into it.
            Ok(d, "cp", "mounted:/srv/bind/from-host.txt", Path.Combine(dir.Path, "host.txt"));
            Assert.Equal("host side\n", File.ReadAllText(Path.Combine(dir.Path, "host.txt")));
            var (code, _, error) = Docker(d, "cp", Path.Combine(dir.Path, "note.txt"), "mounted:/srv/bind/");
            Assert.NotEqual(0, code);
            Assert.Contains("read-only mount", error);
            Assert.False(File.Exists(Path.Combine(bind, "note.txt")));
        }
        finally { Ok(d, "rm", "-f", "mounted"); }

        // The volume outlives the container: a stopped container's volume is reached too.
        Ok(d, "create", "--name", "later", "-v", "cpdata:/data", "dockercli/busybox:1", "true");
        Ok(d, "cp", "later:/data/note.txt", Path.Combine(dir.Path, "again.txt"));
        Assert.Equal("copied in\n", File.ReadAllText(Path.Combine(dir.Path, "again.txt")));
        Ok(d, "rm", "later");
        Ok(d, "volume", "rm", "cpdata");
    }
}
