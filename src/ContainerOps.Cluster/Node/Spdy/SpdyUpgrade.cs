using System.Net.WebSockets;
using ContainerOps.Cluster.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ContainerOps.Cluster.Node.Spdy;

/// <summary>
/// How a client reaches a SPDY session for one of Kubernetes' streaming protocols: kubectl 1.30 and newer tunnel the SPDY
/// bytes through a WebSocket whose subprotocol is the protocol's name prefixed with "SPDY/3.1+" (binary messages, one
/// byte stream); older clients upgrade the HTTP/1.1 connection itself (Upgrade: SPDY/3.1, X-Stream-Protocol-Version).
/// </summary>
internal static class SpdyUpgrade
{
    public const string TunnelPrefix = "SPDY/3.1+";
    private const string VersionHeader = "X-Stream-Protocol-Version";

    /// <summary>True when the request asks for a SPDY session either way.</summary>
    public static bool IsRequested(HttpContext ctx) =>
        ctx.WebSockets.IsWebSocketRequest
            ? ctx.WebSockets.WebSocketRequestedProtocols.Any(p => p.StartsWith(TunnelPrefix, StringComparison.OrdinalIgnoreCase))
            : ctx.Request.Headers.Upgrade.ToString().Contains("SPDY/3.1", StringComparison.OrdinalIgnoreCase);

    /// <summary>Answers the upgrade with <paramref name="protocol"/> and returns the connection the SPDY frames travel
    /// on; or, before answering, a <see cref="StatusException"/> the client can read.</summary>
    public static async Task<Stream> AcceptAsync(HttpContext ctx, string protocol)
    {
        if (ctx.WebSockets.IsWebSocketRequest)
        {
            var offered = ctx.WebSockets.WebSocketRequestedProtocols;
            var chosen = offered.FirstOrDefault(p => string.Equals(p, TunnelPrefix + protocol, StringComparison.OrdinalIgnoreCase))
                ?? throw StatusException.BadRequest($"none of the offered protocols [{string.Join(", ", offered)}] is served here; this endpoint speaks {TunnelPrefix}{protocol}");
            return WebSocketStream.Create(await AcceptWebSocketAsync(ctx, chosen), WebSocketMessageType.Binary, ownsWebSocket: true);
        }
        var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true } || !ctx.Request.Headers.Upgrade.ToString().Contains("SPDY/3.1", StringComparison.OrdinalIgnoreCase))
            throw StatusException.BadRequest("Upgrade request required");
        if (RequireProtocol(ctx, protocol)) ctx.Response.Headers[VersionHeader] = protocol;
        ctx.Response.Headers.Connection = "Upgrade";
        ctx.Response.Headers.Upgrade = "SPDY/3.1";
        return await upgrade.UpgradeAsync();
    }

    /// <summary>Refuses (403, as the kubelet) a direct SPDY upgrade whose offered protocols do not include
    /// <paramref name="protocol"/>; true when the client named protocols at all (the answer then names the one taken).</summary>
    public static bool RequireProtocol(HttpContext ctx, string protocol)
    {
        var versions = ctx.Request.Headers[VersionHeader].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        if (versions.Count > 0 && !versions.Contains(protocol))
        {
            ctx.Response.Headers["X-Accepted-Stream-Protocol-Versions"] = protocol;
            throw new StatusException(403, "Forbidden", $"unable to upgrade: unable to negotiate protocol: client supports [{string.Join(" ", versions)}], server accepts [{protocol}]");
        }
        return versions.Count > 0;
    }

    /// <summary>The WebSocket handshake (RFC 6455 section 4.2.2) done here rather than by ASP.NET Core, which refuses a
    /// subprotocol with a '/' in it — and the tunnel's name has one.</summary>
    private static async Task<WebSocket> AcceptWebSocketAsync(HttpContext ctx, string subprotocol)
    {
        var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
        var key = ctx.Request.Headers.SecWebSocketKey.ToString();
        if (upgrade is not { IsUpgradableRequest: true } || key.Length == 0) throw StatusException.BadRequest("Upgrade request required");
        var accept = Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        ctx.Response.Headers.Connection = "Upgrade";
        ctx.Response.Headers.Upgrade = "websocket";
        ctx.Response.Headers.SecWebSocketAccept = accept;
        ctx.Response.Headers.SecWebSocketProtocol = subprotocol;
        var stream = await upgrade.UpgradeAsync();
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.FromSeconds(30) });
    }
}
