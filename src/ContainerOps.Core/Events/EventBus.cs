using System.Threading.Channels;
using ContainerOps.Core.Api;

namespace ContainerOps.Core.Events;

/// <summary>
/// The daemon's one stream of events (Docker's `/events`): engines publish what they did where they did it, the API
/// streams it to listeners. The last <see cref="DefaultHistory"/> events are kept, as dockerd keeps 256, so a listener
/// that asks from a time in the past gets those first.
/// </summary>
public sealed class EventBus
{
    public const int DefaultHistory = 256;

    /// <summary>A listener that does not read loses its oldest unread events beyond this many, never the daemon's memory.</summary>
    private const int ListenerBacklog = 4096;

    private readonly object _lock = new();
    private readonly EventMessage[] _history;
    private int _next;
    private int _count;
    private long _lastNano;
    private readonly List<Listener> _listeners = new();
    private readonly TimeProvider _time;

    public EventBus(int history = DefaultHistory, TimeProvider? time = null)
    {
        _history = new EventMessage[Math.Max(1, history)];
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How many listeners follow the stream now (`/info`'s NEventsListener).</summary>
    public int ListenerCount
    {
        get { lock (_lock) return _listeners.Count; }
    }

    /// <summary>Publishes one event; the actor's attributes are copied.</summary>
    public EventMessage Publish(string type, string action, string id, IReadOnlyDictionary<string, string>? attributes = null)
    {
        var message = new EventMessage
        {
            Type = type,
            Action = action,
            Actor = new EventActor { ID = id, Attributes = attributes is null ? new() : new Dictionary<string, string>(attributes) },
        };
        // Docker fills the pre-1.22 fields for container and image events only.
        if (type is EventTypes.Container or EventTypes.Image)
        {
            message.Status = action;
            message.Id = id;
            if (type == EventTypes.Container) message.From = message.Actor.Attributes.GetValueOrDefault("image");
        }
        lock (_lock)
        {
            // Strictly increasing times: since and until then split the history exactly where a listener expects.
            var nano = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
            if (nano <= _lastNano) nano = _lastNano + 1;
            _lastNano = nano;
            message.TimeNano = nano;
            message.Time = nano / 1_000_000_000;
            _history[_next] = message;
            _next = (_next + 1) % _history.Length;
            if (_count < _history.Length) _count++;
            foreach (var l in _listeners)
                if (l.Include(message)) l.Channel.Writer.TryWrite(message);
        }
        return message;
    }

    /// <summary>
    /// Starts listening. With <paramref name="since"/> or <paramref name="until"/> the kept events between them come
    /// first (<see cref="Subscription.Past"/>); events published from then on arrive on <see cref="Subscription.Live"/>,
    /// none twice and none missed between the two.
    /// </summary>
    public Subscription Subscribe(DateTimeOffset? since, DateTimeOffset? until, Func<EventMessage, bool>? include = null)
    {
        include ??= _ => true;
        var listener = new Listener(include, Channel.CreateBounded<EventMessage>(new BoundedChannelOptions(ListenerBacklog)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = false,
        }));
        var past = new List<EventMessage>();
        lock (_lock)
        {
            if (since is not null || until is not null)
            {
                var from = since is { } s ? (s - DateTimeOffset.UnixEpoch).Ticks * 100 : long.MinValue;
                var to = until is { } u ? (u - DateTimeOffset.UnixEpoch).Ticks * 100 : long.MaxValue;
                for (var i = 0; i < _count; i++)
                {
                    var m = _history[(_next - _count + i + _history.Length) % _history.Length];
                    if (m.TimeNano >= from && m.TimeNano <= to && include(m)) past.Add(m);
                }
            }
            _listeners.Add(listener);
        }
        return new Subscription(past, listener.Channel.Reader, () =>
        {
            lock (_lock) _listeners.Remove(listener);
            listener.Channel.Writer.TryComplete();
        });
    }

    private sealed record Listener(Func<EventMessage, bool> Include, Channel<EventMessage> Channel);

    public sealed class Subscription(IReadOnlyList<EventMessage> past, ChannelReader<EventMessage> live, Action unsubscribe) : IDisposable
    {
        private int _disposed;
        public IReadOnlyList<EventMessage> Past { get; } = past;
        public ChannelReader<EventMessage> Live { get; } = live;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) unsubscribe();
        }
    }
}

/// <summary>The event types of Docker's API that the daemon publishes.</summary>
public static class EventTypes
{
    public const string Container = "container";
    public const string Image = "image";
    public const string Volume = "volume";
    public const string Network = "network";
    public const string Daemon = "daemon";

    public static readonly string[] All = [Container, Image, Volume, Network, Daemon];
}
