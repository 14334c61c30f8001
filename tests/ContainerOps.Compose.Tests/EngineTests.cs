using ContainerOps.Compose.Execution;

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
}
