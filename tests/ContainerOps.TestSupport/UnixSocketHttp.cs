using System.Net.Sockets;

namespace ContainerOps.TestSupport;

/// <summary>An HttpClient whose every connection goes to a Unix socket (a daemon's API socket).</summary>
public static class UnixSocketHttp
{
    public static HttpClient Create(string socketPath, string baseAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try { await s.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct); }
            catch
            {
                s.Dispose();
                throw;
            }
            return new NetworkStream(s, ownsSocket: true);
        },
    }) { BaseAddress = new Uri(baseAddress) };
}
