using ContainerOps.Compose.Execution;
using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Tests;

/// <summary>The engine against an in-memory daemon: the order of its calls, what it waits for, what a failure stops.</summary>
public class EngineTests
{
    [Fact]
    public async Task Build_labels_go_to_the_image_build()
    {
        using var dir = new ProjectDir("services:\n  app:\n    build:\n      context: .\n      labels: {org.example.team: web}\n");
        dir.Write("Dockerfile", "FROM busybox\n");
        var daemon = new FakeDaemon();
        await new ComposeEngine(daemon, dir.Load()).BuildAsync([], noCache: false);
        Assert.Equal("web", Assert.Single(daemon.Builds).Labels["org.example.team"]);
    }

    private static Dictionary<string, string> Labels(ComposeProject p, string service, int number = 1) => new()
    {
        [ComposeLabels.Project] = p.Name,
        [ComposeLabels.Service] = service,
        [ComposeLabels.ContainerNumber] = number.ToString(),
        [ComposeLabels.ConfigHash] = ServiceHash.Compute(p.Services[service]),
        [ComposeLabels.OneOff] = "False",
    };

    [Fact]
    public async Task Up_with_build_recreates_a_container_whose_image_the_build_replaced()
    {
        using var dir = new ProjectDir("services:\n  app:\n    build: .\n  cache:\n    image: redis\n");
        dir.Write("Dockerfile", "FROM busybox\n");
        var p = dir.Load();
        var daemon = new FakeDaemon();
        daemon.Images["p-app"] = "sha256:old";
        daemon.Images["redis"] = "sha256:redis";
        daemon.NextImageIds["p-app"] = "sha256:new";
        daemon.AddContainer("p-app-1", Labels(p, "app"), imageId: "sha256:old");
        daemon.AddContainer("p-cache-1", Labels(p, "cache"), imageId: "sha256:redis");
        daemon.Networks.Add("p_default");
        await new ComposeEngine(daemon, p).UpAsync(new UpOptions { Build = true });
        Assert.Contains("create p-app-1", daemon.Calls);
        Assert.DoesNotContain("create p-cache-1", daemon.Calls);
        Assert.Equal("sha256:new", daemon.Containers.Single(c => c.Name == "p-app-1").ImageId);
    }

    [Fact]
    public async Task Up_recreates_a_container_whose_image_a_pull_has_replaced()
    {
        using var dir = new ProjectDir("services:\n  cache:\n    image: redis\n");
        var p = dir.Load();
        var daemon = new FakeDaemon();
        daemon.Images["redis"] = "sha256:pulled-since";
        daemon.AddContainer("p-cache-1", Labels(p, "cache"), imageId: "sha256:before");
        daemon.Networks.Add("p_default");
        await new ComposeEngine(daemon, p).UpAsync(new UpOptions());
        Assert.Equal(["stop p-cache-1", "rename p-cache-1"], daemon.Calls.Take(2));
        Assert.Contains("create p-cache-1", daemon.Calls);
    }

    private const string HealthGated = """
        services:
          db:
            image: busybox
            healthcheck: {test: "true", interval: 1s}
          app:
            image: busybox
            depends_on:
              db: {condition: service_healthy}
        """;

    private static FakeDaemon Daemon(params string[] images)
    {
        var daemon = new FakeDaemon();
        foreach (var image in images) daemon.Images[image] = "sha256:" + image;
        daemon.Networks.Add("p_default");
        return daemon;
    }

    [Fact]
    public async Task Up_with_no_deps_does_not_wait_on_the_dependencies_conditions()
    {
        using var dir = new ProjectDir(HealthGated);
        var p = dir.Load();
        var daemon = Daemon("busybox");
        daemon.AddContainer("p-db-1", Labels(p, "db"), imageId: "sha256:busybox");
        daemon.Health["p-db-1"] = "unhealthy";
        await new ComposeEngine(daemon, p).UpAsync(new UpOptions { Services = { "app" }, NoDeps = true });
        Assert.Equal(["create p-app-1", "start p-app-1"], daemon.Calls);
    }

    [Fact]
    public async Task A_failed_dependency_stops_only_the_dependents_that_require_it()
    {
        using var dir = new ProjectDir("""
            services:
              db:
                image: busybox
              app:
                image: busybox
                depends_on:
                  db: {condition: service_started, required: false}
              worker:
                image: busybox
                depends_on: [db]
            """);
        var daemon = Daemon("busybox");
        daemon.FailingStarts.Add("p-db-1");
        var engine = new ComposeEngine(daemon, dir.Load());
        var e = await Assert.ThrowsAsync<ComposeOperationException>(() => engine.UpAsync(new UpOptions()));
        Assert.Contains("start p-app-1", daemon.Calls);
        Assert.DoesNotContain("create p-worker-1", daemon.Calls);
        Assert.Contains("service \"worker\" was not started: its dependency \"db\" failed", e.Message);
        Assert.DoesNotContain("\"app\"", e.Message);
        Assert.Contains("service \"app\": optional dependency \"db\" failed to start, ignored", engine.Warnings);
    }

    [Fact]
    public async Task An_optional_dependency_that_never_becomes_healthy_is_a_warning()
    {
        using var dir = new ProjectDir(HealthGated.Replace("{condition: service_healthy}", "{condition: service_healthy, required: false}"));
        var daemon = Daemon("busybox");
        var engine = new ComposeEngine(daemon, dir.Load());
        daemon.Health["p-db-1"] = "unhealthy";
        await engine.UpAsync(new UpOptions());
        Assert.Contains("start p-app-1", daemon.Calls);
        Assert.Equal("service \"app\": optional dependency \"db\" did not meet service_healthy, ignored: dependency failed to start: container p-db-1 is unhealthy",
            Assert.Single(engine.Warnings));
    }

    private const string RestartOnDb = """
        services:
          db:
            image: busybox
          app:
            image: busybox
            depends_on:
              db: {condition: service_started, restart: true}
          report:
            image: busybox
            depends_on:
              app: {condition: service_started, restart: true}
          other:
            image: busybox
            depends_on: [db]
        """;

    [Fact]
    public async Task Up_that_recreates_a_dependency_stops_its_restart_true_dependents_first_and_starts_them_after()
    {
        using var dir = new ProjectDir(RestartOnDb);
        var p = dir.Load();
        var daemon = Daemon("busybox");
        var db = Labels(p, "db");
        db[ComposeLabels.ConfigHash] = "old";
        daemon.AddContainer("p-db-1", db, imageId: "sha256:busybox");
        foreach (var service in new[] { "app", "report", "other" }) daemon.AddContainer($"p-{service}-1", Labels(p, service), imageId: "sha256:busybox");
        await new ComposeEngine(daemon, p).UpAsync(new UpOptions());
        var calls = daemon.Calls;
        Assert.Contains("stop p-app-1", calls);
        Assert.True(calls.IndexOf("stop p-app-1") < calls.IndexOf("stop p-db-1"), string.Join(", ", calls));
        Assert.True(calls.IndexOf("create p-db-1") < calls.IndexOf("start p-app-1"), string.Join(", ", calls));
        // Only a recreated dependency restarts its dependents: report's app is restarted, not recreated; other did not ask.
        Assert.DoesNotContain(calls, c => c.EndsWith("p-report-1", StringComparison.Ordinal) || c.EndsWith("p-other-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Restart_of_a_service_restarts_the_dependents_that_ask_for_it_after_it()
    {
        using var dir = new ProjectDir(RestartOnDb);
        var p = dir.Load();
        var daemon = Daemon("busybox");
        foreach (var service in new[] { "db", "app", "report", "other" }) daemon.AddContainer($"p-{service}-1", Labels(p, service), imageId: "sha256:busybox");
        var engine = new ComposeEngine(daemon, p);
        await engine.RestartAsync(["db"], null);
        Assert.Equal(["restart p-db-1", "restart p-app-1", "restart p-report-1"], daemon.Calls);
        daemon.Calls.Clear();
        await engine.RestartAsync(["db"], null, noDeps: true);
        Assert.Equal(["restart p-db-1"], daemon.Calls);
    }

    [Fact]
    public async Task Run_on_a_fresh_project_makes_the_services_image_networks_and_volumes()
    {
        using var dir = new ProjectDir("""
            services:
              tool:
                image: alpine
                networks: [back]
                volumes: [data:/data, /scratch]
            networks:
              back:
            volumes:
              data:
            """);
        var p = dir.Load();
        var daemon = new FakeDaemon();
        await new ComposeEngine(daemon, p).PrepareRunAsync(p.Services["tool"], "p-tool-run-1", noDeps: true);
        Assert.Equal(["pull alpine", "network p_back", "volume p_data", "volume " + ContainerRequestBuilder.VolumeName(p, p.Services["tool"], p.Services["tool"].Volumes[1], "p-tool-run-1")],
            daemon.Calls);
    }

    private const string RunWithConditions = """
        services:
          db:
            image: busybox
            healthcheck: {test: "true", interval: 1s}
          migrate:
            image: busybox
          app:
            image: busybox
            depends_on:
              db: {condition: service_healthy}
              migrate: {condition: service_completed_successfully}
        """;

    [Fact]
    public async Task Run_starts_the_dependencies_and_waits_for_their_conditions()
    {
        using var dir = new ProjectDir(RunWithConditions);
        var p = dir.Load();
        var daemon = Daemon("busybox");
        daemon.Health["p-db-1"] = "healthy";
        await new ComposeEngine(daemon, p).PrepareRunAsync(p.Services["app"], "p-app-run-1", noDeps: false);
        // db and migrate come up side by side; run then waits for migrate to end well (db was healthy at once).
        Assert.Equal(["create p-db-1", "start p-db-1"], daemon.Calls.Where(c => c.EndsWith("p-db-1", StringComparison.Ordinal)));
        Assert.Equal(["create p-migrate-1", "start p-migrate-1", "wait p-migrate-1"], daemon.Calls.Where(c => c.EndsWith("p-migrate-1", StringComparison.Ordinal)));
        Assert.Equal("wait p-migrate-1", daemon.Calls[^1]);

        daemon.ExitCodes["p-migrate-1"] = 3;
        var e = await Assert.ThrowsAsync<ComposeOperationException>(() => new ComposeEngine(daemon, p).PrepareRunAsync(p.Services["app"], "p-app-run-2", noDeps: false));
        Assert.Equal("service \"migrate\" didn't complete successfully: exit 3 (needed by \"app\")", e.Message);

        daemon.ExitCodes.Clear();
        daemon.Health["p-db-1"] = "unhealthy";
        e = await Assert.ThrowsAsync<ComposeOperationException>(() => new ComposeEngine(daemon, p).PrepareRunAsync(p.Services["app"], "p-app-run-3", noDeps: false));
        Assert.Equal("dependency failed to start: container p-db-1 is unhealthy", e.Message);
    }

    [Fact]
    public async Task Run_with_no_deps_neither_starts_nor_waits_for_the_dependencies()
    {
        using var dir = new ProjectDir(RunWithConditions);
        var p = dir.Load();
        var daemon = Daemon("busybox");
        await new ComposeEngine(daemon, p).PrepareRunAsync(p.Services["app"], "p-app-run-1", noDeps: true);
        Assert.Empty(daemon.Calls);
    }
}
