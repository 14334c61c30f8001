using ContainerOps.Compose.Execution;
using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Tests;

/// <summary>The planner decides per container from one labelled listing; the request builder gives each container
/// docker compose's labels and the service's settings.</summary>
public class PlannerTests
{
    private static ContainerSummary Observed(ComposeProject p, string service, int number, string state = "running", string? hash = null, bool oneOff = false) => new()
    {
        Id = Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N"),
        Name = $"{p.Name}-{service}-{number}",
        State = state,
        Labels = new()
        {
            [ComposeLabels.Project] = p.Name,
            [ComposeLabels.Service] = service,
            [ComposeLabels.ContainerNumber] = number.ToString(),
            [ComposeLabels.ConfigHash] = hash ?? (p.Services.TryGetValue(service, out var s) ? ServiceHash.Compute(s) : "gone"),
            [ComposeLabels.OneOff] = oneOff ? "True" : "False",
        },
    };

    private static string Describe(ComposePlan plan) =>
        string.Join(" ", plan.Services.SelectMany(s => s.Actions.Select(a => $"{s.Service.Name}#{a.Number}:{a.Kind}")));

    [Fact]
    public void A_fresh_project_creates_every_replica_with_dependencies_first()
    {
        var p = Corpus.Load("chain");
        var plan = ComposePlanner.Plan(p, Array.Empty<ContainerSummary>(), new UpOptions());
        Assert.Equal("db#1:Create migrate#1:Create app#1:Create worker#1:Create worker#2:Create", Describe(plan));
    }

    [Fact]
    public void Only_changed_services_are_recreated_and_stopped_ones_started()
    {
        var p = Corpus.Load("chain");
        var observed = new[]
        {
            Observed(p, "db", 1), Observed(p, "migrate", 1, state: "exited"), Observed(p, "app", 1, hash: "old"),
            Observed(p, "worker", 1), Observed(p, "worker", 2), Observed(p, "worker", 3),
        };
        var plan = ComposePlanner.Plan(p, observed, new UpOptions());
        Assert.Equal("db#1:Keep migrate#1:Start app#1:Recreate worker#1:Keep worker#2:Keep worker#3:Remove", Describe(plan));
    }

    [Fact]
    public void Force_recreate_scale_and_no_deps_change_the_plan()
    {
        var p = Corpus.Load("chain");
        var observed = new[] { Observed(p, "db", 1), Observed(p, "app", 1) };
        Assert.Equal("app#1:Recreate", Describe(ComposePlanner.Plan(p, observed, new UpOptions { Services = { "app" }, NoDeps = true, ForceRecreate = true })));
        Assert.Equal("db#1:Keep migrate#1:Create app#1:Keep", Describe(ComposePlanner.Plan(p, observed, new UpOptions { Services = { "app" } })));
        var scaled = ComposePlanner.Plan(p, observed, new UpOptions { Services = { "worker" }, NoDeps = true, Scale = { ["worker"] = 3 } });
        Assert.Equal("worker#1:Create worker#2:Create worker#3:Create", Describe(scaled));
    }

    [Fact]
    public void A_container_made_from_another_image_than_its_service_now_resolves_to_is_recreated()
    {
        var p = Corpus.Load("chain");
        var db = Observed(p, "db", 1);
        db.ImageId = "sha256:" + new string('a', 64);
        var app = Observed(p, "app", 1);
        app.ImageId = "sha256:" + new string('b', 64);
        var images = new Dictionary<string, string> { ["db"] = new string('a', 64), ["app"] = "sha256:" + new string('c', 64) };
        var options = new UpOptions { Services = { "db", "app" }, NoDeps = true };
        Assert.Equal("db#1:Keep app#1:Recreate", Describe(ComposePlanner.Plan(p, new[] { db, app }, options, images)));
        options.NoRecreate = true;
        Assert.Equal("db#1:Keep app#1:Keep", Describe(ComposePlanner.Plan(p, new[] { db, app }, options, images)));
    }

    [Fact]
    public void A_recreated_dependency_restarts_the_running_dependents_that_ask_for_it()
    {
        // migrate names db with restart: true, app names db without it.
        var p = Corpus.Load("chain");
        var observed = new[] { Observed(p, "db", 1, hash: "old"), Observed(p, "migrate", 1), Observed(p, "app", 1), Observed(p, "worker", 1), Observed(p, "worker", 2) };
        Assert.Equal("db#1:Recreate migrate#1:Restart app#1:Keep worker#1:Keep worker#2:Keep", Describe(ComposePlanner.Plan(p, observed, new UpOptions())));
        Assert.Equal("db#1:Keep migrate#1:Keep app#1:Keep worker#1:Keep worker#2:Keep",
            Describe(ComposePlanner.Plan(p, observed.Select((c, i) => i == 0 ? Observed(p, "db", 1) : c).ToList(), new UpOptions())));
    }

    [Fact]
    public void Containers_of_removed_services_are_orphans_and_one_offs_are_not()
    {
        var p = Corpus.Load("profiles");
        var observed = new[] { Observed(p, "app", 1), Observed(p, "old", 1), Observed(p, "debug", 1), Observed(p, "app", 7, oneOff: true) };
        var plan = ComposePlanner.Plan(p, observed, new UpOptions());
        Assert.Equal(new[] { "profiles-old-1" }, plan.Orphans.Select(o => o.Name));
        Assert.Equal("app#1:Keep", Describe(plan));
    }

    [Fact]
    public void The_hash_ignores_replicas_and_dependencies_but_not_the_command()
    {
        var p = Corpus.Load("chain");
        var worker = p.Services["worker"];
        var before = ServiceHash.Compute(worker);
        worker.Deploy!.Replicas = 5;
        worker.DependsOn.Clear();
        Assert.Equal(before, ServiceHash.Compute(worker));
        worker.Command = new() { "other" };
        Assert.NotEqual(before, ServiceHash.Compute(worker));
    }

    [Fact]
    public void The_create_request_carries_compose_labels_networks_ports_and_limits()
    {
        var p = Corpus.Load("webapp");
        var warnings = new List<string>();
        var web = ContainerRequestBuilder.Build(p, p.Services["web"], 1, "webapp-web-1", false, warnings);
        Assert.Equal("webapp", web.Labels[ComposeLabels.Project]);
        Assert.Equal("web", web.Labels[ComposeLabels.Service]);
        Assert.Equal("1", web.Labels[ComposeLabels.ContainerNumber]);
        Assert.Equal("False", web.Labels[ComposeLabels.OneOff]);
        Assert.Equal(ServiceHash.Compute(p.Services["web"]), web.Labels[ComposeLabels.ConfigHash]);
        Assert.Equal(p.WorkingDirectory, web.Labels[ComposeLabels.WorkingDir]);
        Assert.Equal(string.Join(",", p.ConfigFiles), web.Labels[ComposeLabels.ConfigFiles]);
        Assert.Equal("webapp_back", web.HostConfig.NetworkMode);
        Assert.Equal(new[] { "webapp_back", "webapp_front" }, web.NetworkingConfig!.EndpointsConfig.Keys.Order());
        Assert.Equal("8080", web.HostConfig.PortBindings!["80/tcp"][0].HostPort);
        Assert.Equal("127.0.0.1", web.HostConfig.PortBindings["443/tcp"][0].HostIp);
        Assert.Equal(new[] { "httpd", "-f", "-p", "80", "-h", "/www" }, web.Cmd);
        Assert.EndsWith("/webapp/www:/www:ro", web.HostConfig.Binds[0]);

        var backend = ContainerRequestBuilder.Build(p, p.Services["backend"], 1, "webapp-backend-1", false, warnings);
        Assert.Equal(new[] { "backend", "api" }, backend.NetworkingConfig!.EndpointsConfig["webapp_back"].Aliases);
        Assert.Equal(64L << 20, backend.HostConfig.Memory);
        Assert.Equal(500_000_000L, backend.HostConfig.NanoCpus);
        Assert.Equal("unless-stopped", backend.HostConfig.RestartPolicy.Name);
        Assert.Contains("webapp_data:/data", backend.HostConfig.Binds);
        Assert.Contains("/tmp:size=16777216", backend.HostConfig.Tmpfs);
        Assert.Contains("EMPTY=", backend.Env);
        // The healthcheck goes to the daemon as Docker's Config.Healthcheck, durations in nanoseconds.
        var check = backend.Healthcheck!;
        Assert.Equal(["CMD", "test", "-f", "/data/ready"], check.Test);
        Assert.Equal((2_000_000_000L, 1_000_000_000L, 5, 90_000_000_000L, 500_000_000L),
            (check.Interval, check.Timeout, check.Retries, check.StartPeriod, check.StartInterval));
        Assert.DoesNotContain(warnings, w => w.StartsWith("services.backend.healthcheck", StringComparison.Ordinal));
    }

    [Fact]
    public void Ulimits_go_to_the_daemon_as_dockers_HostConfig_Ulimits()
    {
        var p = Corpus.Load("webapp");
        var web = p.Services["web"];
        web.Ulimits["nofile"] = new Model.Ulimit { Soft = 1024, Hard = 2048 };
        web.Ulimits["nproc"] = new Model.Ulimit { Soft = 64, Hard = 64 };
        var warnings = new List<string>();
        var request = ContainerRequestBuilder.Build(p, web, 1, "webapp-web-1", false, warnings);
        Assert.Equal(["nofile 1024:2048", "nproc 64:64"], request.HostConfig.Ulimits.Select(u => $"{u.Name} {u.Soft}:{u.Hard}"));
        Assert.DoesNotContain(warnings, w => w.Contains("ulimits", StringComparison.Ordinal));
    }

    [Fact]
    public void Init_goes_to_the_daemon_as_dockers_HostConfig_Init()
    {
        var p = Corpus.Load("webapp");
        var web = p.Services["web"];
        var warnings = new List<string>();
        Assert.Null(ContainerRequestBuilder.Build(p, web, 1, "webapp-web-1", false, warnings).HostConfig.Init);
        web.Init = true;
        Assert.True(ContainerRequestBuilder.Build(p, web, 1, "webapp-web-1", false, warnings).HostConfig.Init);
        Assert.DoesNotContain(warnings, w => w.Contains("init", StringComparison.Ordinal));
    }

    /// <summary>The cgroup, process and device keys reach the daemon as docker compose sends them: `service:` in pid, ipc
    /// and volumes_from names the service's first container, which is started first.</summary>
    [Fact]
    public void Resource_process_and_device_keys_go_to_the_daemon_as_docker_compose_sends_them()
    {
        var p = Corpus.Load("resources");
        var app = p.Services["app"];
        var h = ContainerRequestBuilder.Build(p, app, 1, "resources-app-1", false, new List<string>()).HostConfig;
        Assert.Equal((512L, 50000L, 100000L, "0"), (h.CpuShares, h.CpuQuota, h.CpuPeriod, h.CpusetCpus));
        Assert.Equal((64L << 20, 32L << 20, -1L), (h.Memory, h.MemoryReservation, h.MemorySwap));
        Assert.Equal((true, 300, 16L << 20), (h.OomKillDisable, h.OomScoreAdj, h.ShmSize));
        Assert.Equal(("container:resources-db-1", "container:resources-db-1", "batch"), (h.PidMode, h.IpcMode, h.CgroupParent));
        Assert.Equal(["audio", "55"], h.GroupAdd);
        Assert.Equal(["/dev/fuse:/dev/fuse:rwm", "/dev/null:/dev/n2:r"], h.Devices.Select(d => $"{d.PathOnHost}:{d.PathInContainer}:{d.CgroupPermissions ?? "rwm"}"));
        Assert.Equal(["c 1:3 rwm"], h.DeviceCgroupRules);
        Assert.Equal(["resources-db-1:ro"], h.VolumesFrom);
        Assert.Equal((ushort)300, h.BlkioWeight);
        Assert.Equal(("/dev/vda", (ushort)400), (h.BlkioWeightDevice![0].Path, h.BlkioWeightDevice[0].Weight));
        Assert.Equal(("/dev/vda", 12UL << 20), (h.BlkioDeviceReadBps![0].Path, h.BlkioDeviceReadBps[0].Rate));
        Assert.Equal(30UL, h.BlkioDeviceWriteIOps![0].Rate);
        Assert.Equal("shareable", ContainerRequestBuilder.Build(p, p.Services["db"], 1, "resources-db-1", false, new List<string>()).HostConfig.IpcMode);
        // The service whose containers app uses comes first, as a dependency would.
        Assert.Equal(["db", "app"], ComposePlanner.Order(p, new HashSet<string> { "app", "db" }).Select(s => s.Name));
        // `config` writes them back by key.
        var config = Corpus.Config(p);
        Assert.Contains("cpu_period: 100000", config);
        Assert.True(config.IndexOf("blkio_config:", StringComparison.Ordinal) < config.IndexOf("cgroup_parent:", StringComparison.Ordinal));
        Assert.Contains("pid: service:db", config);
    }

    [Fact]
    public void A_pid_naming_a_service_that_does_not_exist_is_refused_with_its_path()
    {
        var e = Corpus.LoadBad("unknown-pid-service.yaml");
        Assert.StartsWith("unknown-pid-service.yaml:4:10: services.web.pid", e.Message);
        Assert.Contains("service \"nosuch\" is not defined", e.Message);
    }

    /// <summary>Keys the Docker API carries reach the request; the others are said in a warning, never dropped silently.</summary>
    [Fact]
    public void Keys_the_api_carries_reach_the_request_and_the_others_are_warned_about()
    {
        using var dir = new ProjectDir("""
            services:
              s:
                image: busybox
                domainname: example.org
                volumes:
                  - {type: bind, source: /srv, target: /srv, read_only: true, bind: {propagation: rshared}}
                  - /data:/data:rslave
                  - {type: volume, source: data, target: /vol, volume: {subpath: sub}}
                networks:
                  front: {ipv6_address: "2001:db8::10"}
                deploy:
                  resources:
                    reservations: {memory: 32m, cpus: '0.5'}
                secrets:
                  - {source: token, mode: 0400, uid: "1000"}
                  - {source: plain, mode: 0444}
            networks:
              front:
            volumes:
              data:
            secrets:
              token: {file: ./token}
              plain: {file: ./plain}
            """);
        foreach (var name in new[] { "token", "plain" })
            File.SetUnixFileMode(dir.Write(name, "x"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var p = dir.Load();
        var warnings = new List<string>();
        var r = ContainerRequestBuilder.Build(p, p.Services["s"], 1, "p-s-1", false, warnings);
        Assert.Equal("example.org", r.Domainname);
        Assert.Contains("/srv:/srv:ro,rshared", r.HostConfig.Binds);
        Assert.Contains("/data:/data:rslave", r.HostConfig.Binds);
        Assert.Equal(32L << 20, r.HostConfig.MemoryReservation);
        Assert.Equal(
        [
            "services.s.networks.front.ipv6_address: not applied by containerops (the daemon gives IPv4 endpoint addresses only), ignored",
            "services.s.volumes[2].volume.subpath: not applied by containerops (the daemon mounts the whole volume), ignored",
            "services.s.secrets[0]: uid and gid are not applied (the file is bind-mounted with its owner on the host), ignored",
            "services.s.secrets[0]: mode 0400 is not applied (the file is bind-mounted read-only with its own mode 0644), ignored",
            "services.s.deploy.resources.reservations.cpus: not applied by containerops (no scheduler reserves them), ignored",
        ], warnings);
    }

    [Fact]
    public void A_propagation_that_does_not_exist_is_refused_where_it_is_written()
    {
        using var dir = new ProjectDir("services:\n  s:\n    image: busybox\n    volumes:\n      - {type: bind, source: /srv, target: /srv, bind: {propagation: sideways}}\n");
        var e = Assert.Throws<ComposeFileException>(() => dir.Load());
        Assert.Equal("compose.yaml:5:70: services.s.volumes[0].bind.propagation: invalid propagation \"sideways\": [r]private, [r]shared or [r]slave", e.Message);
    }
}
