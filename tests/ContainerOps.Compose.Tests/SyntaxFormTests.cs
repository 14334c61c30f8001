using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Tests;

/// <summary>Every short and long form of ports, volumes, networks and depends_on, through a one-service file.</summary>
public class SyntaxFormTests
{
    private static ServiceConfig Service(string body, string extra = "")
    {
        var dir = Directory.CreateTempSubdirectory("compose-forms-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "compose.yaml"), "services:\n  s:\n    image: busybox\n" + body + extra);
            return ComposeLoader.Load(new ComposeLoadOptions { WorkingDirectory = dir.FullName, Environment = new Dictionary<string, string>(), ProjectName = "p" }).Services["s"];
        }
        finally { dir.Delete(recursive: true); }
    }

    private static string Ports(string item) =>
        string.Join(" ", Service($"    ports:\n      - {item}\n").Ports.Select(p => $"{p.HostIp}|{p.Published}|{p.Target}/{p.Protocol}"));

    [Theory]
    [InlineData("\"3000\"", "||3000/tcp")]
    [InlineData("3000", "||3000/tcp")]
    [InlineData("\"3000-3002\"", "||3000/tcp ||3001/tcp ||3002/tcp")]
    [InlineData("\"8000:8000\"", "|8000|8000/tcp")]
    [InlineData("\"9090-9091:8080-8081\"", "|9090|8080/tcp |9091|8081/tcp")]
    [InlineData("\"49100:22\"", "|49100|22/tcp")]
    [InlineData("\"8000-8010:80\"", "|8000-8010|80/tcp")]
    [InlineData("\"127.0.0.1:8001:8001\"", "127.0.0.1|8001|8001/tcp")]
    [InlineData("\"127.0.0.1:5000-5001:5000-5001\"", "127.0.0.1|5000|5000/tcp 127.0.0.1|5001|5001/tcp")]
    [InlineData("\"127.0.0.1::5000\"", "127.0.0.1||5000/tcp")]
    [InlineData("\"6060:6060/udp\"", "|6060|6060/udp")]
    [InlineData("\"[::1]:6001:6001\"", "::1|6001|6001/tcp")]
    [InlineData("{target: 80, published: 8080, protocol: udp, host_ip: 0.0.0.0, mode: host}", "0.0.0.0|8080|80/udp")]
    public void Port_forms(string item, string expected) => Assert.Equal(expected, Ports(item));

    [Theory]
    [InlineData("\"80:70000\"", "invalid port \"80:70000\"")]
    [InlineData("\"1.2.3:80:80\"", "invalid host IP \"1.2.3\" in port \"1.2.3:80:80\"")]
    [InlineData("\"80/icmp\"", "invalid protocol \"icmp\" in \"80/icmp\": tcp or udp")]
    [InlineData("\"9000-9001:80-82\"", "invalid port \"9000-9001:80-82\": the host and container port ranges differ in size")]
    [InlineData("{published: 80}", "a port needs a target")]
    public void Bad_ports_say_why(string item, string reason) =>
        Assert.Equal(reason, Assert.Throws<ComposeFileException>(() => Ports(item)).Reason);

    [Fact]
    public void Volume_forms()
    {
        var s = Service("    volumes:\n      - /anon\n      - data:/data:ro\n      - ./rel:/rel\n      - /abs:/abs:rw,z\n      - data2:/nc:nocopy\n" +
                        "      - {type: tmpfs, target: /t, tmpfs: {size: 1m, mode: '0755'}}\n      - {type: bind, source: /x, target: /x, bind: {create_host_path: false}}\n" +
                        "    tmpfs: /run\n", "volumes:\n  data:\n  data2:\n");
        var v = s.Volumes;
        Assert.Equal(("volume", (string?)null, "/anon"), (v[0].Type, v[0].Source, v[0].Target));
        Assert.Equal(("volume", "data", true), (v[1].Type, v[1].Source, v[1].ReadOnly));
        Assert.Equal("bind", v[2].Type);
        Assert.True(Path.IsPathRooted(v[2].Source) && v[2].Source!.EndsWith("/rel", StringComparison.Ordinal));
        Assert.Equal(("bind", "/abs", false), (v[3].Type, v[3].Source, v[3].ReadOnly));
        Assert.True(v[4].NoCopy);
        Assert.Equal(("tmpfs", 1L << 20, 0x1ed), (v[5].Type, v[5].TmpfsSize!.Value, v[5].TmpfsMode!.Value));
        Assert.False(v[6].CreateHostPath);
        Assert.Equal(new[] { "/run" }, s.Tmpfs);
    }

    [Fact]
    public void Network_and_dependency_forms()
    {
        var list = Service("    networks: [a, b]\n    depends_on: [x]\n", "  x:\n    image: busybox\nnetworks:\n  a:\n  b:\n");
        Assert.Equal(new[] { "a", "b" }, list.Networks!.Keys);
        Assert.Equal(ServiceConditions.Started, list.DependsOn["x"].Condition);
        var map = Service("    networks:\n      a:\n        aliases: [web, www]\n        ipv4_address: 10.5.0.9\n      b: {}\n" +
                          "    depends_on:\n      x: {condition: service_completed_successfully, restart: true, required: false}\n",
                          "  x:\n    image: busybox\nnetworks:\n  a:\n  b:\n");
        Assert.Equal(new[] { "web", "www" }, map.Networks!["a"].Aliases);
        Assert.Equal("10.5.0.9", map.Networks["a"].Ipv4Address);
        Assert.Equal((ServiceConditions.CompletedSuccessfully, true, false), (map.DependsOn["x"].Condition, map.DependsOn["x"].Restart, map.DependsOn["x"].Required));
    }

    [Fact]
    public void Other_attributes_map_to_the_model()
    {
        var s = Service("""
                command: ["a", "b"]
                entrypoint: /bin/sh -c
                environment: [A=1, B]
                labels: [x=1, y]
                user: "1000:1000"
                working_dir: /w
                hostname: h
                extra_hosts: ["db=10.0.0.2", "cache:10.0.0.3"]
                dns: 9.9.9.9
                ulimits:
                  nofile: {soft: 1024, hard: 2048}
                  nproc: 64
                stop_signal: SIGINT
                stop_grace_period: 1m
                init: true
                read_only: yes
                cap_add: [NET_ADMIN]
                cap_drop: [ALL]
                restart: on-failure:3
                healthcheck: {disable: true}
                deploy: {replicas: 3, resources: {limits: {cpus: '1.5', memory: 1g, pids: 100}}}
                secrets: [token, {source: cert, target: /etc/cert.pem, mode: 0400}]
            """ + "\n", "secrets:\n  token: {environment: TOKEN}\n  cert: {file: ./cert.pem}\n");
        Assert.Equal(new[] { "/bin/sh", "-c" }, s.Entrypoint);
        Assert.Equal("1", s.Environment["A"]);
        Assert.Null(s.Environment["B"]);
        Assert.Equal("", s.Labels["y"]);
        Assert.Equal(new[] { "db:10.0.0.2", "cache:10.0.0.3" }, s.ExtraHosts);
        Assert.Equal(new[] { "9.9.9.9" }, s.Dns);
        Assert.Equal((1024L, 2048L), (s.Ulimits["nofile"].Soft, s.Ulimits["nofile"].Hard));
        Assert.Equal(64L, s.Ulimits["nproc"].Hard);
        Assert.Equal(TimeSpan.FromMinutes(1), s.StopGracePeriod);
        Assert.True(s.Init);
        Assert.True(s.ReadOnly);
        Assert.Equal("on-failure:3", s.Restart);
        Assert.True(s.Healthcheck!.Disable);
        Assert.Equal(3, s.Replicas);
        Assert.Equal((1.5, 1L << 30, 100L), (s.Deploy!.Limits!.Cpus!.Value, s.Deploy.Limits.Memory!.Value, s.Deploy.Limits.Pids!.Value));
        Assert.Equal(256, s.Secrets[1].Mode);
    }
}
