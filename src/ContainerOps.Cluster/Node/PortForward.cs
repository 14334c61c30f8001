using System.Net.Sockets;
using System.Text;
using ContainerOps.Cluster.Node.Spdy;
using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Node;

/// <summary>
/// Kubernetes' port-forward protocol (portforward.k8s.io) on a SPDY session, as `kubectl port-forward` speaks it: for
/// each connection made to a local port, the client opens two streams with the same requestID and port header — an
/// error stream, on which the server writes why it could not forward and which it closes when forwarding ends, and a
/// data stream carrying the bytes both ways. Each pair becomes one TCP connection to the port on the pod's own
/// localhost (inside its network namespace, as the kubelet dials it), so a server listening on 127.0.0.1 in the pod is
/// reached too.
/// </summary>
internal sealed class PortForward
{
    public const string Protocol = "portforward.k8s.io";
    /// <summary>How long the kubelet waits for the second stream of a pair.</summary>
    private static readonly TimeSpan PairTimeout = TimeSpan.FromSeconds(30);

    public delegate Task<Socket> Connector(int port, CancellationToken ct);

    private readonly Connector _connect;
    private readonly string _podName, _podUid;
    private readonly Dictionary<string, Pair> _pending = [];
    private readonly List<Task> _work = [];

    private PortForward(Connector connect, string podName, string podUid) => (_connect, _podName, _podUid) = (connect, podName, podUid);

    /// <summary>Serves one client until it goes away.</summary>
    public static async Task ServeAsync(HttpContext ctx, string podName, string podUid, Connector connect)
    {
        var transport = await SpdyUpgrade.AcceptAsync(ctx, Protocol);
        var forward = new PortForward(connect, podName, podUid);
        await using var session = new SpdySession(transport);
        await session.RunAsync(forward.Opened, ctx.RequestAborted);
        Task[] work;
        lock (forward._work) work = [.. forward._work];
        await Task.WhenAll(work);
    }

    private void Opened(SpdyStream stream)
    {
        lock (_work)
        {
            _work.RemoveAll(t => t.IsCompleted);
            _work.Add(OpenedAsync(stream));
        }
    }

    /// <summary>A stream's whole life; the session's end (the client gone) ends it quietly.</summary>
    private async Task OpenedAsync(SpdyStream stream)
    {
        try { await ServeStreamAsync(stream); }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or System.Net.WebSockets.WebSocketException) { }
    }

    private async Task ServeStreamAsync(SpdyStream stream)
    {
        var type = stream.Header("streamtype");
        if (type is not ("error" or "data") || !int.TryParse(stream.Header("port"), out var port) || port is < 1 or > 65535)
        {
            await stream.ResetAsync(SpdySession.RefusedStream);
            return;
        }
        // Clients older than requestID pair an error stream with the data stream opened right after it (ids go by 2).
        var key = stream.Header("requestid") ?? (type == "error" ? stream.Id : stream.Id - 2).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await stream.AcceptAsync();
        Pair pair;
        bool complete;
        lock (_pending)
        {
            if (!_pending.TryGetValue(key, out pair!)) _pending[key] = pair = new Pair();
            if (type == "error") pair.Error = stream; else pair.Data = stream;
            complete = pair.Error is not null && pair.Data is not null;
            if (complete) _pending.Remove(key);
        }
        if (complete)
        {
            pair.Complete.TrySetResult();
            await ForwardAsync(pair.Error!, pair.Data!, port);
            return;
        }
        // The first of a pair waits for its partner; one that does not come in time is refused, as the kubelet does.
        try { await pair.Complete.Task.WaitAsync(PairTimeout, stream.Reset); }
        catch (OperationCanceledException) { }
        catch (TimeoutException)
        {
            lock (_pending) _pending.Remove(key);
            await stream.ResetAsync();
        }
    }

    private sealed class Pair
    {
        public SpdyStream? Error, Data;
        public readonly TaskCompletionSource Complete = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task ForwardAsync(SpdyStream error, SpdyStream data, int port)
    {
        error.StopReading();
        Socket pod;
        try { pod = await _connect(port, data.Reset); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var reason = e is SocketException s ? s.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => $"dial tcp 127.0.0.1:{port}: connect: connection refused",
                _ => $"dial tcp 127.0.0.1:{port}: {s.Message}",
            } : e.Message;
            try { await error.WriteAsync(Encoding.UTF8.GetBytes($"error forwarding port {port} to pod {_podName}, uid {_podUid}: {reason}"), CancellationToken.None); }
            catch (Exception) when (error.Reset.IsCancellationRequested) { }
            await error.CloseAsync();
            await data.CloseAsync();
            return;
        }
        catch (OperationCanceledException) { return; }
        using (pod)
        {
            var toPod = ToPodAsync(data, pod);
            var fromPod = FromPodAsync(pod, data);
            // Done when the pod has said all it will and the client has stopped sending (or reset the stream, as kubectl
            // does once it has read the pod's end); a reset ends both at once.
            await Task.WhenAll(toPod, fromPod);
        }
        await error.CloseAsync();
    }

    private static async Task ToPodAsync(SpdyStream data, Socket pod)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await data.ReadAsync(buffer, CancellationToken.None)) > 0) await pod.SendAsync(buffer.AsMemory(0, n), data.Reset);
            if (!data.Reset.IsCancellationRequested) pod.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        if (data.Reset.IsCancellationRequested) pod.Close();
    }

    private static async Task FromPodAsync(Socket pod, SpdyStream data)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await pod.ReceiveAsync(buffer, data.Reset)) > 0) await data.WriteAsync(buffer.AsMemory(0, n), data.Reset);
            await data.CloseAsync();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException
                                      or System.Net.WebSockets.WebSocketException) { }
    }
}
