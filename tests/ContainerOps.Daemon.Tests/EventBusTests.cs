using ContainerOps.Core.Api;
using ContainerOps.Core.Events;

namespace ContainerOps.Daemon.Tests;

/// <summary>The event bus and `/events` filters and times, without a daemon.</summary>
public class EventBusTests
{
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly DateTimeOffset T0 = new(2026, 12, 5, 10, 0, 0, TimeSpan.Zero);

    private static Dictionary<string, string> Attrs(params string[] kv) =>
        Enumerable.Range(0, kv.Length / 2).ToDictionary(i => kv[2 * i], i => kv[2 * i + 1]);

    [Fact]
    public void ContainerEventsCarryTheLegacyFieldsAndStrictlyIncreasingTimes()
    {
        var clock = new ManualClock(T0);
        var bus = new EventBus(time: clock);
        var a = bus.Publish(EventTypes.Container, "start", "abc", Attrs("image", "busybox", "name", "web"));
        var b = bus.Publish(EventTypes.Volume, "create", "data", Attrs("driver", "local"));
        Assert.Equal(("start", "abc", "busybox"), (a.Status, a.Id, a.From));
        Assert.Null(b.Status);
        Assert.Null(b.Id);
        Assert.Equal(T0.ToUnixTimeSeconds(), a.Time);
        Assert.True(b.TimeNano > a.TimeNano, "two events in the same instant still have an order");
        Assert.Equal("local", a.Scope);
    }

    [Fact]
    public void SinceReplaysKeptEventsThenTheStreamFollowsWithNoneTwice()
    {
        var clock = new ManualClock(T0);
        var bus = new EventBus(time: clock);
        bus.Publish(EventTypes.Container, "create", "old");
        clock.Now = T0.AddSeconds(10);
        bus.Publish(EventTypes.Container, "start", "one");
        clock.Now = T0.AddSeconds(20);
        bus.Publish(EventTypes.Container, "die", "one");

        using var subscription = bus.Subscribe(T0.AddSeconds(5), null);
        Assert.Equal(["start", "die"], subscription.Past.Select(e => e.Action));
        bus.Publish(EventTypes.Container, "destroy", "one");
        Assert.True(subscription.Live.TryRead(out var live));
        Assert.Equal("destroy", live.Action);
        Assert.False(subscription.Live.TryRead(out _));

        using var window = bus.Subscribe(T0.AddSeconds(5), T0.AddSeconds(15));
        Assert.Equal(["start"], window.Past.Select(e => e.Action));
        using var liveOnly = bus.Subscribe(null, null);
        Assert.Empty(liveOnly.Past);
        Assert.Equal(3, bus.ListenerCount);
        subscription.Dispose();
        Assert.Equal(2, bus.ListenerCount);
        bus.Publish(EventTypes.Container, "create", "two");
        Assert.False(subscription.Live.TryRead(out _)); // a listener that left gets nothing more
    }

    [Fact]
    public void TheHistoryKeepsOnlyTheNewestEvents()
    {
        var bus = new EventBus(history: 4, time: new ManualClock(T0));
        for (var i = 0; i < 10; i++) bus.Publish(EventTypes.Container, "start", "c" + i);
        using var s = bus.Subscribe(DateTimeOffset.UnixEpoch, null);
        Assert.Equal(["c6", "c7", "c8", "c9"], s.Past.Select(e => e.Actor.ID));
    }

    private static EventMessage Container(string action, string id, string name, string image, params string[] labels) =>
        new EventBus().Publish(EventTypes.Container, action, id, Attrs(["name", name, "image", image, .. labels]));

    private static bool Includes(EventMessage e, string key, params string[] values) =>
        EventFilter.Parse(new Dictionary<string, List<string>> { [key] = values.ToList() }).Includes(e);

    [Fact]
    public void FiltersMatchAsDockerdsDo()
    {
        var die = Container("die", "0123456789abcdef", "web-1", "busybox:latest", "tier", "front");
        Assert.True(Includes(die, "event", "start", "die"));
        Assert.False(Includes(die, "event", "start"));
        Assert.True(Includes(die, "type", "container"));
        Assert.False(Includes(die, "type", "image"));
        Assert.True(Includes(die, "container", "web-1"));
        Assert.True(Includes(die, "container", "0123"));
        Assert.True(Includes(die, "container", "web"));
        Assert.False(Includes(die, "container", "db"));
        Assert.True(Includes(die, "image", "busybox"));
        Assert.True(Includes(die, "image", "busybox:latest"));
        Assert.False(Includes(die, "image", "alpine"));
        Assert.True(Includes(die, "label", "tier"));
        Assert.True(Includes(die, "label", "tier=front"));
        Assert.False(Includes(die, "label", "tier=back"));
        Assert.False(Includes(die, "volume", "web"));

        var health = Container("health_status: healthy", "aa", "db", "postgres");
        Assert.True(Includes(health, "event", "health_status"));
        Assert.True(Includes(health, "event", "health_status: healthy"));
        Assert.False(Includes(health, "event", "health_status: unhealthy"));

        var bus = new EventBus();
        var connect = bus.Publish(EventTypes.Network, "connect", "feedbeef", Attrs("name", "app", "type", "bridge", "container", "0123"));
        Assert.True(Includes(connect, "network", "app"));
        Assert.True(Includes(connect, "network", "feed"));
        Assert.False(Includes(connect, "container", "0123")); // a container filter keeps container events only
        var tag = bus.Publish(EventTypes.Image, "tag", "sha256:99", Attrs("name", "team/app:2"));
        Assert.True(Includes(tag, "image", "team/app"));
        Assert.True(Includes(tag, "image", "sha256:99"));

        var both = EventFilter.Parse(new Dictionary<string, List<string>> { ["type"] = ["container"], ["event"] = ["die"] });
        Assert.True(both.Includes(die));
        Assert.False(both.Includes(health));
    }

    [Theory]
    [InlineData("{\"bogus\":[\"x\"]}", "bogus")]
    [InlineData("{\"type\":[\"pod\"]}", "type=pod")]
    public void UnknownFiltersAreRefusedByName(string json, string named)
    {
        var filters = System.Text.Json.JsonSerializer.Deserialize(json, ApiJsonContext.Default.DictionaryStringListString)!;
        var e = Assert.Throws<ContainerOpsException>(() => EventFilter.Parse(filters));
        Assert.Equal("InvalidFilter", e.Error.Id);
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void TimesAreUnixSecondsWithFractionsOrRfc3339()
    {
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1733392800), EventTimes.Parse("1733392800", "since"));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1733392800500), EventTimes.Parse("1733392800.500000000", "since"));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1733392800250), EventTimes.Parse("1733392800.25", "since"));
        Assert.Equal(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero), EventTimes.Parse("2026-12-05T11:00:00+01:00", "until"));
        Assert.Null(EventTimes.Parse("", "since"));
        var e = Assert.Throws<ContainerOpsException>(() => EventTimes.Parse("yesterday", "until"));
        Assert.Equal("until", e.Error.Field);
        var t = DateTimeOffset.FromUnixTimeMilliseconds(1733392800123);
        Assert.Equal("1733392800.123000000", EventTimes.Format(t));
        Assert.Equal(t, EventTimes.Parse(EventTimes.Format(t), "since"));
    }
}
