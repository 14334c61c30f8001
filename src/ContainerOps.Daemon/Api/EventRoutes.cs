using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Core.Events;

namespace ContainerOps.Daemon.Api;

/// <summary>`GET /events` as dockerd serves it: one JSON object per line. With since (or until) the kept events from
/// then come first; with an until in the past the answer ends after them, with one in the future at that time;
/// otherwise the stream follows until the client goes.</summary>
internal static class EventRoutes
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/events", async (HttpContext ctx, EventBus bus) =>
        {
            var req = ctx.Request;
            var since = EventTimes.Parse(req.Query["since"].ToString(), "since");
            var until = EventTimes.Parse(req.Query["until"].ToString(), "until");
            if (since is { } s && until is { } u && u < s)
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidParameter",
                    $"`since` time ({req.Query["since"]}) cannot be after `until` time ({req.Query["until"]})", null, "until");
            var filter = EventFilter.Parse(Filters.Parse(req));

            var now = DateTimeOffset.UtcNow;
            using var subscription = bus.Subscribe(since, until, filter.Includes);
            ctx.Response.ContentType = "application/json";
            await ctx.Response.StartAsync();
            await ctx.Response.Body.FlushAsync();
            foreach (var e in subscription.Past) await WriteAsync(ctx, e);
            if (until is { } end && end <= now) return;

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            if (until is { } later) stop.CancelAfter(later - now);
            try
            {
                await foreach (var e in subscription.Live.ReadAllAsync(stop.Token))
                {
                    if (until is { } last && e.When > last) break;
                    await WriteAsync(ctx, e);
                }
            }
            catch (OperationCanceledException) { }
            catch (IOException) { } // the client went
        });
    }

    private static Task WriteAsync(HttpContext ctx, EventMessage e) => Json.WriteLineAsync(ctx.Response.Body, e, ApiJsonContext.Default.EventMessage);
}
