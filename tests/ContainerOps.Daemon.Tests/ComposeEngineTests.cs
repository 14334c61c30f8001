using System.Net;
using System.Net.Sockets;
using ContainerOps.Compose.Execution;
using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Compose projects end to end through the daemon's API (needs root): up in dependency order with docker
/// compose's labels, recreation only of what changed, a failure midway, checks before anything is created, down.</summary>
public class ComposeEngineTests
{
    private const string Image = "compose-tests/busybox:1";

    private static ComposeProject Load(TempDir dir, string yaml, string name)
    {
        File.WriteAllText(Path.Combine(dir.Path, "compose.yaml"), yaml);
        return ComposeLoader.Load(new ComposeLoadOptions { WorkingDirectory = dir.Path, ProjectName = name, Environment = new Dictionary<string, string>() });
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string Project() => "ct" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task UpStartsInDependencyOrderWithLabelsRecreatesOnlyWhatChangedAndDownRemovesEverything()
    {
        using var daemon = new PrivateDaemon();
        using var dir = new TempDir("compose");
        await daemon.ImportBusyboxAsync(Image);
        var name = Project();
        var port = FreePort();
        var yaml = $$"""
            services:
              init:
                image: {{Image}}
                command: ["sh", "-c", "mkdir -p /www && echo served-by-compose > /www/index.html"]
                volumes: ["./www:/www"]
              web:
                image: {{Image}}
                command: ["httpd", "-f", "-p", "80", "-h", "/www"]
                volumes: ["./www:/www:ro"]
                ports: ["127.0.0.1:{{port}}:80"]
                networks:
                  default:
                    aliases: [www]
                depends_on:
                  init: {condition: service_completed_successfully}
              probe:
                image: {{Image}}
                command: ["sh", "-c", "for i in $(seq 50); do wget -qO- http://www/ && exit 0; sleep 0.1; done; exit 1"]
                depends_on: [web]
              worker:
                image: {{Image}}
                command: ["sleep", "600"]
                tmpfs: ["/scratch"]
                ulimits:
                  nofile: {soft: 1024, hard: 2048 }
                deploy: {replicas: 2}
            """;
        var project = Load(dir, yaml, name);
        var engine = new ComposeEngine(daemon.Client, project);
        var up = await engine.UpAsync(new UpOptions());
        Assert.Equal(new[] { $"{name}-init-1", $"{name}-probe-1", $"{name}-web-1", $"{name}-worker-1", $"{name}-worker-2" }, up.Select(c => c.Name).Order());

        var worker = await daemon.Client.InspectContainerAsync($"{name}-worker-1");
        Assert.Equal(["nofile 1024:2048"], worker.HostConfig.Ulimits.Select(u => $"{u.Name} {u.Soft}:{u.Hard}"));
        var web = await daemon.Client.InspectContainerAsync($"{name}-web-1");
        Assert.Equal(name, web.Config.Labels[ComposeLabels.Project]);
        Assert.Equal("web", web.Config.Labels[ComposeLabels.Service]);
        Assert.Equal("1", web.Config.Labels[ComposeLabels.ContainerNumber]);
        Assert.Equal("False", web.Config.Labels[ComposeLabels.OneOff]);
        Assert.Equal(dir.Path, web.Config.Labels[ComposeLabels.WorkingDir]);
        Assert.Equal(ServiceHash.Compute(project.Services["web"]), web.Config.Labels[ComposeLabels.ConfigHash]);
        Assert.Contains($"{name}_default", web.NetworkSettings.Networks.Keys);
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
            Assert.Equal("served-by-compose\n", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
        // The probe reached web by its alias on the project's network, after web had started.
        Assert.Equal(0, (await daemon.Client.WaitContainerAsync($"{name}-probe-1").WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);

        // Again with one service changed: only its container is replaced.
        var ids = (await engine.ListContainersAsync()).ToDictionary(c => c.Name, c => c.Id);
        var changed = Load(dir, yaml.Replace("[\"sleep\", \"600\"]", "[\"sleep\", \"601\"]"), name);
        await new ComposeEngine(daemon.Client, changed).UpAsync(new UpOptions());
        var after = (await engine.ListContainersAsync()).ToDictionary(c => c.Name, c => c.Id);
        Assert.Equal(ids.Keys.Order(), after.Keys.Order());
        Assert.Equal(ids[$"{name}-web-1"], after[$"{name}-web-1"]);
        Assert.NotEqual(ids[$"{name}-worker-1"], after[$"{name}-worker-1"]);
        Assert.NotEqual(ids[$"{name}-worker-2"], after[$"{name}-worker-2"]);

        // `-p NAME down` without the files: the labels are enough.
        await new ComposeEngine(daemon.Client, ComposeLoader.ByName(name)).DownAsync(new DownOptions { Timeout = 1 });
        Assert.Empty(await daemon.Client.ListContainersAsync(all: true));
        Assert.DoesNotContain(await daemon.Client.ListNetworksAsync(), n => n.Name.StartsWith(name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AFailureMidwayNamesTheServiceStopsItsDependentsAndLeavesTheRestRunning()
    {
        using var daemon = new PrivateDaemon();
        using var dir = new TempDir("compose");
        await daemon.ImportBusyboxAsync(Image);
        var name = Project();
        var project = Load(dir, $$"""
            services:
              good:
                image: {{Image}}
                command: ["sleep", "600"]
              broken:
                image: {{Image}}
                command: ["sh", "-c", "exit 3"]
              after:
                image: {{Image}}
                command: ["sleep", "600"]
                depends_on:
                  broken: {condition: service_completed_successfully}
            """, name);
        var e = await Assert.ThrowsAsync<ComposeOperationException>(() => new ComposeEngine(daemon.Client, project).UpAsync(new UpOptions()));
        Assert.Equal("service \"broken\" didn't complete successfully: exit 3 (needed by \"after\")", e.Message);
        Assert.Equal("broken", e.Service);
        var containers = await daemon.Client.ListContainersAsync(all: true);
        Assert.Equal("running", Assert.Single(containers, c => c.Name == $"{name}-good-1").State);
        Assert.DoesNotContain(containers, c => c.Name == $"{name}-after-1");
        await new ComposeEngine(daemon.Client, project).DownAsync(new DownOptions { Timeout = 1 });
    }

    [Fact]
    public async Task A_named_volume_is_made_for_the_project_keeps_its_data_across_down_and_goes_with_down_v()
    {
        using var daemon = new PrivateDaemon();
        using var dir = new TempDir("compose");
        await daemon.ImportBusyboxAsync(Image);
        var name = Project();
        var project = Load(dir, $$"""
            services:
              db:
                image: {{Image}}
                command: ["sh", "-c", "echo run >> /var/lib/data/runs; sleep 600"]
                volumes: ["data:/var/lib/data"]
            volumes:
              data:
            """, name);
        var volume = $"{name}_data";
        async Task<string> Runs()
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                var text = new System.Text.StringBuilder();
                await foreach (var frame in daemon.Client.ExecAsync($"{name}-db-1", new ExecCreateRequest { Cmd = ["cat", "/var/lib/data/runs"] }))
                    if (frame.Stream == "stdout") text.Append(frame.Data);
                if (text.Length > 0 || DateTime.UtcNow > deadline) return text.ToString();
                await Task.Delay(50);
            }
        }
        await new ComposeEngine(daemon.Client, project).UpAsync(new UpOptions());
        Assert.Equal(volume, (await daemon.Client.InspectVolumeAsync(volume)).Name);
        Assert.Equal("run\n", await Runs());

        await new ComposeEngine(daemon.Client, project).DownAsync(new DownOptions { Timeout = 1 });
        Assert.Empty(await daemon.Client.ListContainersAsync(all: true));
        await daemon.Client.InspectVolumeAsync(volume); // down without -v keeps it

        await new ComposeEngine(daemon.Client, project).UpAsync(new UpOptions());
        Assert.Equal("run\nrun\n", await Runs());
        await new ComposeEngine(daemon.Client, project).DownAsync(new DownOptions { Timeout = 1, RemoveVolumes = true });
        var gone = await Assert.ThrowsAsync<ContainerOpsException>(() => daemon.Client.InspectVolumeAsync(volume));
        Assert.Equal(ErrorKind.NotFound, gone.Error.Kind);
    }
}
