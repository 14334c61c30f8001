using System.Net;
using System.Net.Sockets;

namespace ContainerOps.Probes;

/// <summary>Kubernetes' httpGet probe: a GET to the container's address; 200-399 succeeds, anything else (or no answer
/// within the timeout) fails. Certificates are not checked for HTTPS, as the kubelet does not check them.</summary>
public sealed class HttpProbe(Uri url, IReadOnlyList<(string Name, string Value)> headers) : IProbe
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = true,
        UseProxy = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        PooledConnectionLifetime = TimeSpan.Zero,
    }) { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<ProbeResult> RunAsync(TimeSpan timeout, CancellationToken ct)
    {
        var begun = DateTimeOffset.UtcNow;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.UserAgent.ParseAdd("kube-probe/1.32");
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
            using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            var code = (int)response.StatusCode;
            return new ProbeResult(begun, DateTimeOffset.UtcNow, code is >= 200 and < 400 ? 0 : 1, $"HTTP probe failed with statuscode: {code}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ProbeResult(begun, DateTimeOffset.UtcNow, -1, $"Get \"{url}\": context deadline exceeded");
        }
        catch (HttpRequestException e)
        {
            return new ProbeResult(begun, DateTimeOffset.UtcNow, 1, $"Get \"{url}\": {e.Message}");
        }
    }
}

/// <summary>Kubernetes' tcpSocket probe: the port accepts a connection within the timeout.</summary>
public sealed class TcpProbe(IPAddress address, int port) : IProbe
{
    public async Task<ProbeResult> RunAsync(TimeSpan timeout, CancellationToken ct)
    {
        var begun = DateTimeOffset.UtcNow;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(address, port), limit.Token);
            return new ProbeResult(begun, DateTimeOffset.UtcNow, 0, "");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ProbeResult(begun, DateTimeOffset.UtcNow, -1, $"dial tcp {address}:{port}: i/o timeout");
        }
        catch (SocketException e)
        {
            return new ProbeResult(begun, DateTimeOffset.UtcNow, 1, $"dial tcp {address}:{port}: {e.Message}");
        }
    }
}
