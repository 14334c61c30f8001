using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>`containerops events` through the built CLI: docker's line, templates, json, and refused filters.</summary>
public class CliEventsTests
{
    [Fact]
    public async Task EventsReplayWithTemplatesAndJson()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("cliev/busybox:1");
        Assert.Throws<InvalidOperationException>(() => d.Cli("run --name cli-ev --network none cliev/busybox:1 sh -c \"exit 2\""));
        d.Cli("rm cli-ev");
        await Task.Delay(1100); // --until 0s is a whole second, as docker's

        Assert.Equal("cli-ev 2\n", d.Cli("events --since 1m --until 0s --filter event=die --format \"{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}\""));
        var line = d.Cli("events --since 1m --until 0s --filter container=cli-ev --filter event=destroy");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:]+\.\d{9}(Z|[+-]\d\d:\d\d) container destroy [0-9a-f]{64} \(image=cliev/busybox:1, name=cli-ev\)\n$", line);
        var json = d.Cli("events --since 1m --until 0s --filter type=container --filter event=create --format json");
        Assert.Contains("\"Type\":\"container\"", json);
        Assert.Contains("\"status\":\"create\"", json);
        var e = Assert.Throws<InvalidOperationException>(() => d.Cli("events --until 0s --filter bogus=1"));
        Assert.Contains("invalid filter 'bogus'", e.Message);
    }
}
