using System.Diagnostics;
using ContainerOps.TestSupport;
using static ContainerOps.Daemon.Tests.DockerCliTests;

namespace ContainerOps.Daemon.Tests;

/// <summary>`docker events` against the daemon: what the engines did, replayed from the daemon's history and followed live.</summary>
public class DockerEventTests
{
    [DockerCliFact]
    public async Task PastEventsReplayWithTheirExitCodesAndFilters()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var (code, _, error) = Docker(d, "run", "--name", "quitter", "--label", "tier=test", "--network", "none", "dockercli/busybox:1", "sh", "-c", "exit 3");
        Assert.True(code == 3, $"exit {code}: {error}{d.Output}");
        Ok(d, "tag", "dockercli/busybox:1", "dockercli/copy:2");
        Ok(d, "rm", "quitter");
        // The docker CLI sends --until in whole seconds: the events must be a second old to fall before it.
        await Task.Delay(1100);

        var dies = Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "event=die",
            "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}} {{.Actor.Attributes.image}} {{.From}}");
        Assert.Equal("container die quitter 3 dockercli/busybox:1 dockercli/busybox:1\n", dies);

        var lifecycle = Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "container=quitter", "--format", "{{.Action}}");
        Assert.Equal(["create", "attach", "start", "die", "destroy"], Lines(lifecycle));
        Assert.Equal(["create", "attach", "start", "die", "destroy"],
            Lines(Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "label=tier=test", "--format", "{{.Action}}")));

        var images = Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "type=image", "--format", "{{.Action}} {{.Actor.Attributes.name}}");
        Assert.Contains("tag dockercli/copy:2", images);

        // The default format is dockerd's line: time, type, action, id, (attributes).
        var line = Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "event=destroy");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d) container destroy [0-9a-f]{64} \(.*name=quitter.*\)\n$", line);

        var (bad, _, badError) = Docker(d, "events", "--since", "1m", "--until", "0s", "--filter", "pod=x");
        Assert.NotEqual(0, bad);
        Assert.Contains("invalid filter 'pod'", badError);
    }

    [DockerCliFact]
    public async Task ALiveStreamFollowsARunningContainer()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        var psi = new ProcessStartInfo(DockerPath!, ["events", "--filter", "container=watched", "--format", "{{.Action}}"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["DOCKER_HOST"] = "unix://" + Path.Combine(d.RunRoot, "containerops.sock");
        psi.Environment["DOCKER_CONFIG"] = Path.Combine(d.Root, "docker-cli-config");
        using var events = Process.Start(psi)!;
        try
        {
            // The stream is open once the daemon counts a listener.
            for (var i = 0; i < 100 && Ok(d, "info", "--format", "{{.NEventsListener}}").Trim() == "0"; i++) await Task.Delay(50);
            Ok(d, "run", "-d", "--name", "watched", "--network", "none", "dockercli/busybox:1", "sleep", "1000");
            Ok(d, "pause", "watched");
            Ok(d, "unpause", "watched");
            Ok(d, "exec", "watched", "true");
            Ok(d, "stop", "-t", "1", "watched");
            Ok(d, "rm", "watched");
            var seen = new List<string>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!seen.Contains("destroy") && await events.StandardOutput.ReadLineAsync(timeout.Token) is { } line) seen.Add(line);
            // sleep ignores SIGTERM as pid 1: the stop kills it with SIGTERM, then SIGKILL a second later, as dockerd does.
            Assert.Equal(["create", "start", "pause", "unpause", "exec_create: true", "exec_start: true", "exec_die", "kill", "kill", "die", "stop", "destroy"], seen);
        }
        finally
        {
            if (!events.HasExited) events.Kill();
            await d.Client.RemoveContainerAsync("watched", force: true).ContinueWith(_ => { });
        }
    }

    [DockerCliFact]
    public async Task VolumesNetworksAndHealthChecksHaveTheirEvents()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dockercli/busybox:1");
        Ok(d, "network", "create", "evnet");
        Ok(d, "volume", "create", "evdata");
        Ok(d, "run", "--rm", "--network", "evnet", "-v", "evdata:/data", "dockercli/busybox:1", "true");
        Ok(d, "run", "-d", "--name", "checked", "--network", "none", "--health-cmd", "true", "--health-interval", "1s", "dockercli/busybox:1", "sleep", "1000");
        try
        {
            // An until in the future ends the stream then: the first check passes within it.
            var until = DateTimeOffset.UtcNow.AddSeconds(6).ToString("yyyy-MM-ddTHH:mm:ssZ");
            var healthy = Ok(d, "events", "--since", "1m", "--until", until, "--filter", "event=health_status", "--filter", "container=checked", "--format", "{{.Action}}");
            Assert.Equal(["health_status: healthy"], Lines(healthy));
        }
        finally { Ok(d, "rm", "-f", "checked"); }
        Ok(d, "network", "rm", "evnet");
        Ok(d, "volume", "rm", "evdata");
        await Task.Delay(1100);

        Assert.Equal(["create", "mount", "unmount", "destroy"],
            Lines(Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "volume=evdata", "--format", "{{.Action}}")));
        var mount = Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "event=mount", "--format", "{{.Actor.Attributes.destination}} {{index .Actor.Attributes \"read/write\"}}");
        Assert.Equal("/data true\n", mount);
        Assert.Equal(["create", "connect", "disconnect", "destroy"],
            Lines(Ok(d, "events", "--since", "1m", "--until", "0s", "--filter", "network=evnet", "--format", "{{.Action}}")));
    }

    private static List<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
}
