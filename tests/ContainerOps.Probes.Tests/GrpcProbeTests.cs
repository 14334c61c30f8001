using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Probes.Tests;

/// <summary>The grpc probe against a gRPC health service on cleartext HTTP/2 (Kestrel on loopback, answering the
/// Health/Check call by hand as grpc-go's health server does): serving, not serving, unknown service, no server,
/// and a server too slow for the timeout.</summary>
public sealed class GrpcProbeTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private int _port;
    private static readonly Dictionary<string, int> Services = new() { [""] = 1, ["shop.Cart"] = 1, ["shop.Db"] = 2 };

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        _app = builder.Build();
        _app.MapPost("/grpc.health.v1.Health/Check", async (HttpContext ctx) =>
        {
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer);
            var frame = buffer.ToArray();
            var service = frame.Length > 7 ? Encoding.UTF8.GetString(frame, 7, frame[6]) : "";
            if (service == "slow") await Task.Delay(3000);
            ctx.Response.ContentType = "application/grpc";
            if (!Services.TryGetValue(service, out var status))
            {
                // grpc-go's health server: NotFound, as a trailers-only answer.
                ctx.Response.Headers["grpc-status"] = "5";
                ctx.Response.Headers["grpc-message"] = "unknown%20service";
                return;
            }
            await ctx.Response.Body.WriteAsync(new byte[] { 0, 0, 0, 0, 2, 0x08, (byte)status });
            ctx.Response.AppendTrailer("grpc-status", "0");
        });
        await _app.StartAsync();
        _port = new Uri(_app.Urls.First()).Port;
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    /// <summary>A probe with a timeout long enough for a first call on a busy machine (HTTP/2 set up cold on both sides).</summary>
    private Task<ProbeResult> Probe(string? service, TimeSpan? timeout = null) =>
        new GrpcProbe("127.0.0.1", _port, service).RunAsync(timeout ?? TimeSpan.FromSeconds(10), CancellationToken.None);

    [Fact]
    public async Task ServingSucceedsAndEveryOtherAnswerFailsWithTheKubeletsWords()
    {
        var whole = await Probe(null);
        Assert.True(whole.Succeeded, whole.Output);
        var cart = await Probe("shop.Cart");
        Assert.True(cart.Succeeded, cart.Output);
        var notServing = await Probe("shop.Db");
        Assert.Equal(1, notServing.ExitCode);
        Assert.Equal("service unhealthy (responded with \"NOT_SERVING\")", notServing.Output);
        var unknown = await Probe("shop.Nothing");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("error: health rpc probe failed: rpc error: code = NotFound desc = unknown service", unknown.Output);
    }

    [Fact]
    public async Task NoServerOrASlowOneFails()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var refused = await new GrpcProbe("127.0.0.1", closedPort, null).RunAsync(TimeSpan.FromSeconds(2), CancellationToken.None);
        Assert.False(refused.Succeeded);
        Assert.StartsWith($"timeout: failed to connect service \"127.0.0.1:{closedPort}\"", refused.Output);
        var slow = await Probe("slow", TimeSpan.FromMilliseconds(300));
        Assert.True(slow.ExitCode == -1, slow.Output);
        Assert.Equal("timeout: health rpc did not complete within 0.3s", slow.Output);
    }

    [Fact]
    public void TheRequestFrameCarriesTheServiceAndTheAnswerIsRead()
    {
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0 }, GrpcProbe.Frame(null));
        Assert.Equal(new byte[] { 0, 0, 0, 0, 4, 0x0A, 2, (byte)'d', (byte)'b' }, GrpcProbe.Frame("db"));
        Assert.Equal(1, GrpcProbe.ReadStatus([0, 0, 0, 0, 2, 0x08, 1]));
        Assert.Equal(0, GrpcProbe.ReadStatus([0, 0, 0, 0, 0])); // an empty message: UNKNOWN
    }
}
