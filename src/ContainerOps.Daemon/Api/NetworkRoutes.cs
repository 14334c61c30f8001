using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;

namespace ContainerOps.Daemon.Api;

/// <summary>`/networks`, as Docker's Engine API has them: list, inspect, create, remove, connect, disconnect, prune.</summary>
internal static class NetworkRoutes
{
    private static readonly ApiJsonContext J = ApiJsonContext.Default;

    public static void Map(WebApplication app)
    {
        var n = app.MapGroup("/networks");
        n.MapGet("", (HttpRequest req, ContainerNetworking net) => Json.Ok(net.Networks.List(Filters.Parse(req)), J.ListNetworkResource));
        n.MapGet("/{id}", (string id, ContainerNetworking net) => Json.Ok(net.Networks.Inspect(id), J.NetworkResource));
        n.MapPost("/create", async (HttpRequest req, ContainerNetworking net) =>
        {
            var body = await Json.ReadAsync(req, J.NetworkCreateRequest, "network create request");
            return Json.Ok(net.Networks.Create(body), J.NetworkCreateResponse);
        });
        n.MapDelete("/{id}", (string id, ContainerNetworking net) => { net.Networks.Remove(id); return Results.NoContent(); });
        n.MapPost("/prune", (ContainerNetworking net) => Json.Ok(new NetworkPruneResponse { NetworksDeleted = net.Networks.Prune() }, J.NetworkPruneResponse));
        n.MapPost("/{id}/connect", async (string id, HttpRequest req, ContainerManager m, ContainerNetworking net) =>
        {
            var body = await Json.ReadAsync(req, J.NetworkConnectRequest, "network connect request");
            net.Connect(id, m.Inspect(body.Container), body.EndpointConfig);
            return Results.Ok();
        });
        n.MapPost("/{id}/disconnect", async (string id, HttpRequest req, ContainerManager m, ContainerNetworking net) =>
        {
            var body = await Json.ReadAsync(req, J.NetworkDisconnectRequest, "network disconnect request");
            net.Disconnect(id, body.Container, body.Force, c => m.Lookup(c).Id);
            return Results.Ok();
        });
    }
}
