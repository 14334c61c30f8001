using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

public sealed class OciSpecReaderTests : IDisposable
{
    private readonly TempDir _root = new("co-ocireader");

    public void Dispose() => _root.Dispose();

    private static byte[] Serialized(OciSpec spec) => JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonContext.Default.OciSpec);

    [Fact]
    public void Every_member_the_daemon_writes_is_read_back()
    {
        var rootfs = Directory.CreateDirectory(Path.Combine(_root.Path, "rootfs")).FullName;
        var hc = new HostConfig
        {
            Memory = 64 * 1024 * 1024, MemorySwap = 128 * 1024 * 1024, NanoCpus = 1_500_000_000, CpuShares = 512, PidsLimit = 50,
            CpusetCpus = "0", CapAdd = { "NET_ADMIN" }, CapDrop = { "CHOWN" }, ReadonlyRootfs = true, Tmpfs = { "/scratch:size=1m" },
        };
        var spec = SpecBuilder.Build(new ContainerSpecInput
        {
            Id = "reader1", RootfsPath = rootfs, Args = new[] { "/bin/sh", "-c", "echo hi" }, Env = new[] { "A=1", "B=two words" },
            WorkingDir = "/tmp", User = "1000:1000", HostConfig = hc,
        });
        spec.Process!.OomScoreAdj = 100;
        spec.Process.Rlimits = new() { new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 1024, Hard = 4096 } };
        spec.Annotations = new() { ["org.example"] = "yes" };
        SpecBuilder.WriteBundle(_root.Path, spec);

        var read = SpecBuilder.ReadBundle(_root.Path);

        // Written again by the serializer, the spec read back is byte for byte what was written.
        Assert.Equal(File.ReadAllText(Path.Combine(_root.Path, "config.json")), System.Text.Encoding.UTF8.GetString(Serialized(read)));
        Assert.Equal(new[] { "/bin/sh", "-c", "echo hi" }, read.Process!.Args);
        Assert.Equal(64L * 1024 * 1024, read.Linux!.Resources!.Memory!.Limit);
        Assert.Equal(1000u, read.Process.User.Uid);
    }

    [Fact]
    public void Members_it_does_not_act_on_are_kept_or_skipped()
    {
        const string json = """
        {
          "ociVersion": "1.0.2-dev",
          "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": [ "sh" ], "apparmorProfile": "x",
                       "consoleSize": { "height": 1, "width": 2 } },
          "root": { "path": "rootfs", "readonly": true },
          "hooks": { "prestart": [ { "path": "/bin/true" } ] },
          "vendorExtension": { "kept": true },
          "linux": { "namespaces": [ { "type": "pid" }, { "type": "network", "path": "/proc/1/ns/net" } ],
                     "seccomp": { "defaultAction": "SCMP_ACT_ALLOW" }, "resources": { "devices": [ { "allow": false, "access": "rwm" } ] } }
        }
        """;
        var spec = OciSpecReader.Read(System.Text.Encoding.UTF8.GetBytes(json));

        Assert.Equal("1.0.2-dev", spec.OciVersion);
        Assert.True(spec.Root!.Readonly);
        Assert.Equal("/", spec.Process!.Cwd); // absent: the model's default
        Assert.Equal("/proc/1/ns/net", spec.Linux!.Namespaces[1].Path);
        Assert.Null(spec.Linux.Resources!.Devices![0].Major);
        Assert.Equal("/bin/true", spec.Hooks!.Prestart![0].Path); // read, as the runtime acts on hooks now (or refuses them)
        Assert.True(spec.Extra!.ContainsKey("vendorExtension"));
        Assert.Equal("SCMP_ACT_ALLOW", spec.Linux.Seccomp!.DefaultAction); // read, as the runtime acts on it
        Assert.False(spec.Extra.ContainsKey("process"));
        Assert.False(spec.Extra.ContainsKey("hooks"));
    }

    [Theory]
    [InlineData("""{"process":{"user":{"uid":"root"}}}""", "$.process.user.uid: expected a whole number")]
    [InlineData("""{"process":{"user":{"uid":-1}}}""", "$.process.user.uid: expected a whole number")]
    [InlineData("""{"mounts":[{"destination":"/a"},{"destination":7}]}""", "$.mounts[1].destination: expected a string, found 7")]
    [InlineData("""{"linux":{"namespaces":{"type":"pid"}}}""", "$.linux.namespaces: expected an array")]
    [InlineData("""{"process":{"terminal":"yes"}}""", "$.process.terminal: expected true or false")]
    [InlineData("""[1]""", "$: expected an object")]
    public void A_value_of_the_wrong_kind_names_its_path(string json, string expected)
    {
        File.WriteAllText(Path.Combine(_root.Path, "config.json"), json);
        var e = Assert.Throws<ContainerOpsException>(() => SpecBuilder.ReadBundle(_root.Path));
        Assert.Equal("InvalidBundle", e.Error.Id);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Every_resource_of_the_spec_is_read_and_written_back()
    {
        const string json = """
            {"linux":{"resources":{
              "memory":{"limit":1048576,"kernel":2097152},
              "blockIO":{"weight":300,"leafWeight":200,"weightDevice":[{"major":8,"minor":0,"weight":500}],
                "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}],"throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":20}]},
              "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
              "network":{"classID":1048577,"priorities":[{"name":"lo","priority":5}]},
              "unified":{"memory.high":"900000"}}}}
            """;
        File.WriteAllText(Path.Combine(_root.Path, "config.json"), json);
        var r = SpecBuilder.ReadBundle(_root.Path).Linux!.Resources!;
        Assert.Equal(2097152L, r.Memory!.Kernel);
        Assert.Equal(((ushort?)300, (ushort?)200), (r.BlockIo!.Weight, r.BlockIo.LeafWeight));
        Assert.Equal((8L, 0L, (ushort?)500), (r.BlockIo.WeightDevice![0].Major, r.BlockIo.WeightDevice[0].Minor, r.BlockIo.WeightDevice[0].Weight));
        Assert.Equal(1000UL, r.BlockIo.ThrottleReadBpsDevice![0].Rate);
        Assert.Equal((16L, 20UL), (r.BlockIo.ThrottleWriteIopsDevice![0].Minor, r.BlockIo.ThrottleWriteIopsDevice[0].Rate));
        Assert.Equal(("2MB", 4194304UL), (r.HugepageLimits![0].PageSize, r.HugepageLimits[0].Limit));
        Assert.Equal((1048577U, "lo", 5U), (r.Network!.ClassId, r.Network.Priorities![0].Name, r.Network.Priorities[0].Priority));
        Assert.Equal("900000", r.Unified!["memory.high"]);
        // The serializer writes the spec's own member names.
        var written = System.Text.Encoding.UTF8.GetString(Serialized(new OciSpec { Linux = new OciLinux { Resources = r } }));
        foreach (var name in new[] { "\"blockIO\"", "\"throttleWriteIOPSDevice\"", "\"hugepageLimits\"", "\"pageSize\"", "\"classID\"", "\"kernel\"" })
            Assert.Contains(name, written);
    }

    [Theory]
    [InlineData("""{"linux":{"resources":{"rdma":{"mlx4_0":{"hcaHandles":3}}}}}""", "$.linux.resources.rdma: RDMA limits are not supported")]
    [InlineData("""{"linux":{"resources":{"blockIO":{"weight":70000}}}}""", "$.linux.resources.blockIO.weight: expected a whole number from 0 to 65535")]
    public void A_resource_this_runtime_cannot_apply_or_read_names_its_path(string json, string expected)
    {
        File.WriteAllText(Path.Combine(_root.Path, "config.json"), json);
        var e = Assert.Throws<ContainerOpsException>(() => SpecBuilder.ReadBundle(_root.Path));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Malformed_json_is_an_invalid_bundle()
    {
        File.WriteAllText(Path.Combine(_root.Path, "config.json"), """{"process": """);
        var e = Assert.Throws<ContainerOpsException>(() => SpecBuilder.ReadBundle(_root.Path));
        Assert.Equal("InvalidBundle", e.Error.Id);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void A_runtime_record_reads_back_and_reads_the_earlier_format()
    {
        var record = new ContainerRuntimeRecord
        {
            Id = "r1", Bundle = "/b", CgroupsPath = "/containerops/r1", Status = "created", Pid = 42, PidStartTime = 12345,
            Created = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero), OomKilled = true,
        };
        var back = ContainerRuntimeRecord.FromJson(record.ToJson());
        Assert.Equal(JsonSerializer.Serialize(record), JsonSerializer.Serialize(back));

        // As the serializer wrote it before: camelCase members, any order, unknown members ignored.
        var earlier = ContainerRuntimeRecord.FromJson("""
            {"status":"running","id":"r2","runtime":"crun","bundle":"/x","cgroupsPath":"/c","pid":7,"pidStartTime":9,
             "created":"2026-11-22T08:30:00+00:00","oomKilled":false,"extra":1}
            """u8.ToArray());
        Assert.Equal(("r2", "crun", "running", 7, 9L), (earlier.Id, earlier.Runtime, earlier.Status, earlier.Pid, earlier.PidStartTime));
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 8, 30, 0, TimeSpan.Zero), earlier.Created);

        Assert.Throws<JsonException>(() => ContainerRuntimeRecord.FromJson("""{"pid":"seven"}"""u8.ToArray()));
    }
}
