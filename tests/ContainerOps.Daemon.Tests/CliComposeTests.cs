using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>`containerops compose` as a shell user types it (bin/containerops against a private daemon): config, up -d,
/// ps, logs, exec, run, down -v, and a bad file refused before anything is made.</summary>
public class CliComposeTests
{
    private const string Image = "cli-compose/busybox:1";

    [Fact]
    public async Task UpPsLogsExecRunAndDownThroughTheCli()
    {
        using var daemon = new PrivateDaemon();
        using var dir = new TempDir("clicompose");
        await daemon.ImportBusyboxAsync(Image);
        var project = "cc" + Guid.NewGuid().ToString("N")[..6];
        var file = Path.Combine(dir.Path, "compose.yaml");
        File.WriteAllText(file, $$"""
            services:
              app:
                image: {{Image}}
                command: ["sh", "-c", "echo app-started; echo kept > /data/note; exec sleep 600"]
                volumes: ["data:/data"]
              job:
                image: {{Image}}
                command: ["echo", "job-done"]
            volumes:
              data: {}
            """);
        string Compose(string args, bool check = true) => daemon.Cli($"compose -f {file} -p {project} {args}", check);

        Assert.Contains("job-done", Compose("config"));
        Assert.Equal("app\njob\n", Compose("config --services"));
        Compose("up -d");
        var ps = Compose("ps -a");
        Assert.Contains($"{project}-app-1", ps);
        Assert.Contains($"{project}-job-1", ps);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!Compose("logs job").Contains("job-done") && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Contains("job-done", Compose("logs --no-log-prefix job"));
        while (!Compose("logs app").Contains("app-started") && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal("kept\n", Compose("exec -T app cat /data/note"));
        Assert.Equal("one-off\n", Compose("run --rm -T job echo one-off"));
        Assert.Contains($"{project}_data", daemon.Cli("volume ls"));

        Compose("down -v -t 1");
        Assert.Empty(await daemon.Client.ListContainersAsync(all: true));
        Assert.DoesNotContain($"{project}_data", daemon.Cli("volume ls"));
        Assert.DoesNotContain(await daemon.Client.ListNetworksAsync(), n => n.Name.StartsWith(project, StringComparison.Ordinal));

        // A bad file is refused with its place and key, and nothing is created.
        File.WriteAllText(file, $"services:\n  app:\n    image: {Image}\n    ports: [\"80:abc\"]\n");
        var refused = Assert.Throws<InvalidOperationException>(() => Compose("up -d"));
        Assert.Contains("services.app.ports[0]", refused.Message);
        Assert.Empty(await daemon.Client.ListContainersAsync(all: true));
    }
}
