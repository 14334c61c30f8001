using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Tests;

public class PublishOptionsTests
{
    private static Core.Api.ContainerCreateRequest Request(params string[] args) =>
        RunOptions.ToRequest(ArgParser.Parse(RunOptions.RunSpec, args), _ => null);

    [Fact]
    public void PublishTakesDockersForms()
    {
        var r = Request("--network", "app", "-p", "80", "-p", "8080:81", "-p", "127.0.0.1:8443:443", "-p", "127.0.0.1::444",
            "-p", "5353:53/udp", "-p", "9000-9002:7000-7002", "-P", "busybox");
        var b = r.HostConfig.PortBindings!;
        Assert.Equal("", b["80/tcp"][0].HostPort);
        Assert.Equal("8080", b["81/tcp"][0].HostPort);
        Assert.Equal(("127.0.0.1", "8443"), (b["443/tcp"][0].HostIp, b["443/tcp"][0].HostPort));
        Assert.Equal(("127.0.0.1", ""), (b["444/tcp"][0].HostIp, b["444/tcp"][0].HostPort));
        Assert.Equal("5353", b["53/udp"][0].HostPort);
        Assert.Equal(["9000", "9001", "9002"], new[] { "7000/tcp", "7001/tcp", "7002/tcp" }.Select(k => b[k][0].HostPort));
        Assert.True(r.HostConfig.PublishAllPorts);
    }

    [Theory]
    [InlineData("-p", "70000:80")]
    [InlineData("-p", "80/sctp")]
    [InlineData("-p", "9000-9001:80")]
    [InlineData("-p", "9000-9002:80-81")]
    [InlineData("-p", "nohost:80:80")]
    [InlineData("--ip", "10.0.0.5")]
    public void BadNetworkOptionsAreUsageErrors(string flag, string value) =>
        Assert.Throws<UsageException>(() => Request(flag, value, "busybox"));

    [Fact]
    public void AliasesAddressesHostsAndResolverOptions()
    {
        var r = Request("--network", "app", "--network-alias", "www", "--network-alias", "web", "--ip", "10.30.0.9", "--expose", "7000-7001",
            "--add-host", "db:10.0.0.5", "--add-host", "gw:host-gateway", "--dns", "10.0.0.53", "--dns-search", "example.test",
            "--dns-option", "ndots:2", "busybox");
        var e = r.NetworkingConfig!.EndpointsConfig["app"];
        Assert.Equal(["www", "web"], e.Aliases);
        Assert.Equal("10.30.0.9", e.IPAMConfig!.IPv4Address);
        Assert.Equal(["7000/tcp", "7001/tcp"], r.ExposedPorts!.Keys);
        Assert.Equal(["db:10.0.0.5", "gw:host-gateway"], r.HostConfig.ExtraHosts);
        Assert.Equal(["10.0.0.53"], r.HostConfig.Dns);
        Assert.Equal(["example.test"], r.HostConfig.DnsSearch);
        Assert.Equal(["ndots:2"], r.HostConfig.DnsOptions);
    }

    /// <summary>The CLI passes them on in every mode, as docker's does: the daemon writes them for host and none, and
    /// refuses them for container:NAME with Docker's "conflicting options" (its message says which and why).</summary>
    [Theory]
    [InlineData("host")]
    [InlineData("none")]
    [InlineData("bridge")]
    [InlineData("container:db")]
    public void HostsAndResolverOptionsAreSentInEveryNetworkMode(string mode)
    {
        var h = Request("--network", mode, "--add-host", "gw:host-gateway", "--dns", "10.0.0.53", "--dns-search", "example.test",
            "--dns-option", "ndots:2", "busybox").HostConfig;
        Assert.Equal(mode, h.NetworkMode);
        Assert.Equal(["gw:host-gateway"], h.ExtraHosts);
        Assert.Equal(["10.0.0.53"], h.Dns);
        Assert.Equal(["example.test"], h.DnsSearch);
        Assert.Equal(["ndots:2"], h.DnsOptions);
    }
}
