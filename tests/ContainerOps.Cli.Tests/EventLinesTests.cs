using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Tests;

public class EventLinesTests
{
    private static EventMessage Die() => new()
    {
        Type = "container", Action = "die", Status = "die", Id = "abc123", From = "busybox",
        Actor = new EventActor { ID = "abc123", Attributes = new() { ["name"] = "web", ["exitCode"] = "3", ["image"] = "busybox" } },
        Time = 1764928800, TimeNano = 1764928800_012345678,
    };

    [Fact]
    public void TheDefaultLineIsDockersWithSortedAttributes()
    {
        var line = EventLines.Line(Die());
        var local = DateTimeOffset.FromUnixTimeSeconds(1764928800).ToLocalTime();
        Assert.StartsWith(local.ToString("yyyy-MM-dd'T'HH:mm:ss") + ".012345678", line);
        Assert.EndsWith(" container die abc123 (exitCode=3, image=busybox, name=web)", line);
    }

    [Fact]
    public void TemplatesSeeTheGoFieldNames()
    {
        var fields = EventLines.Fields(Die());
        Assert.Equal("container die web 3 busybox abc123", GoTemplate.Parse("{{.Type}} {{.Status}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}} {{.From}} {{.ID}}").Execute(fields));
        Assert.Equal("1764928800", GoTemplate.Parse("{{.Time}}").Execute(fields));
    }

    [Fact]
    public void UntilNamesItsFlagWhenItIsNotATime()
    {
        var e = Assert.Throws<UsageException>(() => Units.ParseSince("soon", DateTimeOffset.UtcNow, "--until"));
        Assert.Contains("\"--until\"", e.Message);
    }
}
