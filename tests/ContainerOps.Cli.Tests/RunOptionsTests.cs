using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Tests;

public class RunOptionsTests
{
    private static Core.Api.ContainerCreateRequest Request(params string[] args) =>
        RunOptions.ToRequest(ArgParser.Parse(RunOptions.RunSpec, args), name => name == "HOSTVAR" ? "from-host" : null);

    [Fact]
    public void MapsEveryOption()
    {
        var r = Request("-it", "--name", "web", "-e", "A=1", "-e", "HOSTVAR", "-e", "MISSING", "-w", "/srv", "-u", "1000:1000",
            "-h", "box", "-l", "tier=front", "--entrypoint", "/bin/sh", "-m", "256m", "--memory-swap", "-1", "--cpus", "1.5",
            "--cpu-shares", "512", "--pids-limit", "100", "--cpuset-cpus", "0-1", "--network", "host", "--restart", "on-failure:3",
            "--read-only", "--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--security-opt", "no-new-privileges",
            "-v", "/data:/data:ro", "--tmpfs", "/run", "--sysctl", "net.ipv4.ip_forward=1", "--runtime", "runc",
            "--stop-signal", "SIGQUIT", "--stop-timeout", "20", "web:1.0", "-c", "echo hi");
        Assert.Equal("web:1.0", r.Image);
        Assert.Equal("web", r.Name);
        Assert.True(r.Tty);
        Assert.True(r.OpenStdin);
        Assert.Equal(new[] { "A=1", "HOSTVAR=from-host" }, r.Env);
        Assert.Equal("/srv", r.WorkingDir);
        Assert.Equal("1000:1000", r.User);
        Assert.Equal("box", r.Hostname);
        Assert.Equal("front", r.Labels["tier"]);
        Assert.Equal(new[] { "/bin/sh" }, r.Entrypoint);
        Assert.Equal(new[] { "-c", "echo hi" }, r.Cmd);
        Assert.Equal("SIGQUIT", r.StopSignal);
        Assert.Equal(20, r.StopTimeout);
        var h = r.HostConfig;
        Assert.Equal(256L << 20, h.Memory);
        Assert.Equal(-1, h.MemorySwap);
        Assert.Equal(1_500_000_000, h.NanoCpus);
        Assert.Equal(512, h.CpuShares);
        Assert.Equal(100, h.PidsLimit);
        Assert.Equal("0-1", h.CpusetCpus);
        Assert.Equal("host", h.NetworkMode);
        Assert.Equal("on-failure", h.RestartPolicy.Name);
        Assert.Equal(3, h.RestartPolicy.MaximumRetryCount);
        Assert.True(h.ReadonlyRootfs);
        Assert.True(h.Privileged);
        Assert.Equal(new[] { "NET_ADMIN" }, h.CapAdd);
        Assert.Equal(new[] { "MKNOD" }, h.CapDrop);
        Assert.Equal(new[] { "no-new-privileges" }, h.SecurityOpt);
        Assert.Equal(new[] { "/data:/data:ro" }, h.Binds);
        Assert.Equal(new[] { "/run" }, h.Tmpfs);
        Assert.Equal("1", h.Sysctls["net.ipv4.ip_forward"]);
        Assert.Equal("runc", h.Runtime);
    }

    [Fact]
    public void MapsTheVolumeAndMountOptions()
    {
        var h = Request("-v", "data:/data:ro,nocopy", "-v", "/cache", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m",
            "--mount", "type=bind,src=/srv,dst=/srv,readonly", "--tmpfs", "/run:size=64m", "--volumes-from", "db:ro",
            "--shm-size", "128m", "--ipc", "shareable", "img").HostConfig;
        Assert.Equal(new[] { "data:/data:ro,nocopy", "/cache" }, h.Binds);
        Assert.Equal(("tmpfs", "/t", 1L << 20), (h.Mounts[0].Type, h.Mounts[0].Target, h.Mounts[0].TmpfsOptions!.SizeBytes));
        Assert.Equal(("bind", "/srv", "/srv", true), (h.Mounts[1].Type, h.Mounts[1].Source, h.Mounts[1].Target, h.Mounts[1].ReadOnly));
        Assert.Equal(new[] { "/run:size=64m" }, h.Tmpfs);
        Assert.Equal(new[] { "db:ro" }, h.VolumesFrom);
        Assert.Equal(128L << 20, h.ShmSize);
        Assert.Equal("shareable", h.IpcMode);
        var e = Assert.Throws<UsageException>(() => Request("--mount", "type=bind,target=/x", "img"));
        Assert.Contains("--mount", e.Message);
        Assert.Contains("source", e.Message);
        Assert.Throws<UsageException>(() => Request("--shm-size", "lots", "img"));
    }

    [Fact]
    public void DefaultsLeaveTheImageInCharge()
    {
        var r = Request("img");
        Assert.Null(r.Cmd);
        Assert.Null(r.Entrypoint);
        Assert.Equal("default", r.HostConfig.NetworkMode);
        Assert.Equal("no", r.HostConfig.RestartPolicy.Name);
        Assert.False(r.HostConfig.AutoRemove);
    }

    [Fact]
    public void EmptyEntrypointClearsIt() => Assert.Empty(Request("--entrypoint", "", "img").Entrypoint!);

    [Fact]
    public void RmConflictsWithRestart() => Assert.Throws<UsageException>(() => Request("--rm", "--restart", "always", "img"));

    [Fact]
    public void BadVolumeIsAUsageError() => Assert.Throws<UsageException>(() => Request("-v", "/a:/b:ro:extra", "img"));

    [Fact]
    public void AContainerPathAloneIsAnAnonymousVolume() => Assert.Equal(["/data"], Request("-v", "/data", "img").HostConfig.Binds);

    [Fact]
    public void EnvFileLinesComeBeforeEnvFlags()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, new[] { "# comment", "", "X=1", "  HOSTVAR", "Y=two words" });
            var r = Request("--env-file", file, "-e", "Z=3", "img");
            Assert.Equal(new[] { "X=1", "HOSTVAR=from-host", "Y=two words", "Z=3" }, r.Env);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void MissingEnvFileIsAUsageError() => Assert.Throws<UsageException>(() => Request("--env-file", "/nonexistent/env", "img"));
}

public class HealthOptionsTests
{
    private static Core.Api.ContainerCreateRequest Request(params string[] args) =>
        RunOptions.ToRequest(ArgParser.Parse(RunOptions.RunSpec, args), _ => null);

    [Fact]
    public void HealthFlagsBecomeDockersHealthcheck()
    {
        var h = Request("--health-cmd", "wget -q -O- localhost", "--health-interval", "1m30s", "--health-timeout", "500ms",
            "--health-retries", "5", "--health-start-period", "2s", "--health-start-interval", "0.5s", "img").Healthcheck!;
        Assert.Equal(new[] { "CMD-SHELL", "wget -q -O- localhost" }, h.Test);
        Assert.Equal(90_000_000_000, h.Interval);
        Assert.Equal(500_000_000, h.Timeout);
        Assert.Equal(5, h.Retries);
        Assert.Equal(2_000_000_000, h.StartPeriod);
        Assert.Equal(500_000_000, h.StartInterval);
    }

    [Fact]
    public void WithoutFlagsTheImagesCheckApplies() => Assert.Null(Request("img").Healthcheck);

    [Fact]
    public void IntervalAloneKeepsTheImagesTest()
    {
        var h = Request("--health-interval", "5s", "img").Healthcheck!;
        Assert.Null(h.Test);
        Assert.Equal(5_000_000_000, h.Interval);
    }

    [Fact]
    public void NoHealthcheckDisables() => Assert.Equal(new[] { "NONE" }, Request("--no-healthcheck", "img").Healthcheck!.Test);

    [Theory]
    [InlineData("--no-healthcheck conflicts with --health-* options", "--no-healthcheck", "--health-cmd", "true", "img")]
    [InlineData("invalid argument \"5x\" for \"--health-interval\" flag: time: invalid duration \"5x\"", "--health-interval", "5x", "img")]
    [InlineData("--health-retries cannot be negative", "--health-retries", "-1", "img")]
    public void BadHealthFlagsAreRefused(string message, params string[] args) =>
        Assert.Equal(message, Assert.Throws<UsageException>(() => Request(args)).Message);

    [Fact]
    public void MapsProcessAndCgroupOptionsAsDockerDoes()
    {
        var r = Request("--ulimit", "nofile=512:1024", "--ulimit", "nproc=64", "--group-add", "audio", "--group-add", "55", "--pid", "host",
            "--cgroup-parent", "batch", "--cpu-quota", "50000", "--cpu-period", "100000", "--memory-reservation", "32m",
            "--oom-score-adj", "-500", "--oom-kill-disable", "--device", "/dev/fuse", "--device", "/dev/null:/dev/n2:r",
            "--device", "/dev/zero:rw", "--device-cgroup-rule", "c 1:3 rwm", "--log-driver", "json-file", "--log-opt", "max-size=1m",
            "--domainname", "example.org", "--init", "img");
        var h = r.HostConfig;
        Assert.Equal(new[] { ("nofile", 512L, 1024L), ("nproc", 64L, 64L) }, h.Ulimits.Select(u => (u.Name, u.Soft, u.Hard)));
        Assert.Equal(new[] { "audio", "55" }, h.GroupAdd);
        Assert.Equal("host", h.PidMode);
        Assert.Equal("batch", h.CgroupParent);
        Assert.Equal((50000L, 100000L, 32L << 20), (h.CpuQuota, h.CpuPeriod, h.MemoryReservation));
        Assert.Equal(-500, h.OomScoreAdj);
        Assert.True(h.OomKillDisable);
        Assert.Equal(new[] { ("/dev/fuse", "/dev/fuse", "rwm"), ("/dev/null", "/dev/n2", "r"), ("/dev/zero", "/dev/zero", "rw") },
            h.Devices.Select(d => (d.PathOnHost, d.PathInContainer, d.CgroupPermissions)));
        Assert.Equal(new[] { "c 1:3 rwm" }, h.DeviceCgroupRules);
        Assert.Equal("json-file", h.LogConfig!.Type);
        Assert.Equal("1m", h.LogConfig.Config["max-size"]);
        Assert.Equal("example.org", r.Domainname);
        Assert.True(h.Init);
        Assert.Null(Request("img").HostConfig.Init);
    }

    [Fact]
    public void MapsBlockIoOptionsAsDockerDoes()
    {
        var h = Request("--blkio-weight", "300", "--blkio-weight-device", "/dev/vda:500", "--device-read-bps", "/dev/vda:1mb",
            "--device-write-bps", "/dev/vdb:512k", "--device-read-iops", "/dev/vda:100", "--device-write-iops", "/dev/vda:20", "img").HostConfig;
        Assert.Equal((ushort)300, h.BlkioWeight);
        Assert.Equal(("/dev/vda", (ushort)500), (h.BlkioWeightDevice![0].Path, h.BlkioWeightDevice[0].Weight));
        Assert.Equal(("/dev/vda", 1UL << 20), (h.BlkioDeviceReadBps![0].Path, h.BlkioDeviceReadBps[0].Rate));
        Assert.Equal(("/dev/vdb", 512UL << 10), (h.BlkioDeviceWriteBps![0].Path, h.BlkioDeviceWriteBps[0].Rate));
        Assert.Equal((100UL, 20UL), (h.BlkioDeviceReadIOps![0].Rate, h.BlkioDeviceWriteIOps![0].Rate));
        var plain = Request("img").HostConfig;
        Assert.Equal(0, plain.BlkioWeight);
        Assert.Null(plain.BlkioDeviceReadBps);
    }

    [Theory]
    [InlineData("--ulimit=nofile", "--ulimit")]
    [InlineData("--ulimit=nofile=a:b", "--ulimit")]
    [InlineData("--device=/a:/b:rw:x", "--device")]
    [InlineData("--device-read-bps=/dev/vda", "--device-read-bps")]
    [InlineData("--device-read-iops=/dev/vda:1mb", "--device-read-iops")]
    [InlineData("--blkio-weight=heavy", "--blkio-weight")]
    [InlineData("--blkio-weight-device=vda:300", "--blkio-weight-device")]
    public void RefusesByName(string flag, string message)
    {
        var e = Assert.Throws<UsageException>(() => Request(flag, "img"));
        Assert.Contains(message, e.Message);
    }
}

public class CreateBodyJsonTests
{
    /// <summary>The client writes the create body with the generated writer alone (CreateBodyJsonContext); the daemon
    /// reads it through the full contract (ApiJsonContext). Both must write the same JSON for whatever a run can set.</summary>
    [Fact]
    public void TheGeneratedWriterWritesTheBodyAsTheFullContractDoes()
    {
        var request = RunOptions.ToRequest(ArgParser.Parse(RunOptions.RunSpec, [
            "-it", "--name", "web", "-e", "A=1", "-w", "/srv", "-u", "1000:1000", "-h", "box", "-l", "tier=front", "--entrypoint", "/bin/sh",
            "-m", "256m", "--memory-swap", "-1", "--cpus", "1.5", "--pids-limit", "100", "--network", "net1", "--network-alias", "db",
            "--restart", "on-failure:3", "--read-only", "--cap-add", "NET_ADMIN", "--security-opt", "no-new-privileges",
            "-v", "/data:/data:ro", "--mount", "type=tmpfs,target=/cache,tmpfs-size=1m", "--tmpfs", "/run:size=1m", "-p", "8080:80",
            "--expose", "9090", "--ulimit", "nofile=1024:2048", "--device", "/dev/null:/dev/xnull", "--log-opt", "max-size=1m",
            "--add-host", "h:10.0.0.1", "--dns", "1.1.1.1", "--sysctl", "net.ipv4.ip_forward=1", "--stop-timeout", "20",
            "web:1.0", "-c", "echo hi"]), _ => null);
        var full = System.Text.Json.JsonSerializer.Serialize(request, Core.Api.ApiJsonContext.Default.ContainerCreateRequest);
        var generated = System.Text.Json.JsonSerializer.Serialize(request, Core.Api.CreateBodyJsonContext.Default.ContainerCreateRequest);
        Assert.Equal(full, generated);
        Assert.Contains("\"Tmpfs\":{\"/run\":\"size=1m\"}", generated);
    }
}
