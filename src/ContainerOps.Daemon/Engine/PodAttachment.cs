using System.IO.Pipelines;
using System.Net.Sockets;
using ContainerOps.Cluster.Node;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// `kubectl attach` to a pod container's own process, the way Docker's attach works here: the output from now on is
/// followed from the container's log (split back into stdout and stderr), stdin goes through the shim's attach socket.
/// Leaving detaches; the container runs on.
/// </summary>
internal sealed class PodAttachment : IPodExecProcess
{
    private readonly ContainerManager _containers;
    private readonly string _id;
    private readonly Pipe _stdout = new(), _stderr = new();
    private readonly CancellationTokenSource _detached = new();
    private volatile bool _clientGone;

    public Stream? Stdin { get; }
    public Stream Stdout { get; }
    public Stream Stderr { get; }
    Stream? IPodExecProcess.Stdout => Stdout;
    Stream? IPodExecProcess.Stderr => Stderr;
    public Stream? Terminal => null;

    private PodAttachment(ContainerManager containers, string id, Socket? input)
    {
        (_containers, _id) = (containers, id);
        Stdin = input is null ? null : new NetworkStream(input, ownsSocket: true);
        Stdout = _stdout.Reader.AsStream();
        Stderr = _stderr.Reader.AsStream();
    }

    public static PodAttachment Open(ContainerManager containers, string id, bool stdin)
    {
        var (attachPath, _, record, _) = containers.AttachPoints(id);
        if (!record.State.Running)
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {record.Name} is not running", record.Name);
        Socket? socket = null;
        if (stdin)
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try { socket.Connect(new UnixDomainSocketEndPoint(attachPath)); }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new ContainerOpsException(ErrorKind.Conflict, "AttachFailed", $"cannot attach to the input of container {record.Name}: {e.Message}", record.Name);
            }
        }
        var attachment = new PodAttachment(containers, id, socket);
        _ = attachment.CopyOutputAsync();
        if (socket is not null) _ = attachment.DrainShimAsync(socket);
        return attachment;
    }

    private async Task CopyOutputAsync()
    {
        try
        {
            await foreach (var e in _containers.AttachOutput(_id, stdout: true, stderr: true, _detached.Token))
            {
                var target = e.Stream == "stderr" ? _stderr.Writer : _stdout.Writer;
                await target.WriteAsync(System.Text.Encoding.UTF8.GetBytes(e.Log), _detached.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ContainerOpsException) { }
        finally
        {
            await _stdout.Writer.CompleteAsync();
            await _stderr.Writer.CompleteAsync();
        }
    }

    /// <summary>The shim also sends the output on the attach socket: it reaches the client through the log instead. It
    /// ends with the container (the shim closes the socket), or when the client closed its input.</summary>
    private async Task DrainShimAsync(Socket socket)
    {
        var buffer = new byte[32768];
        try { while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0) { } }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        if (_clientGone) socket.Dispose();
    }

    public void Resize(int rows, int columns) { }

    /// <summary>Detaches. The input connection stays open until the container ends: the shim takes a closed one as the
    /// end of the container's stdin, which a client that merely left must not cause.</summary>
    public void ClientGone()
    {
        _clientGone = true;
        _detached.Cancel();
    }

    public async Task<int> WaitForExitAsync(CancellationToken ct = default) =>
        (int)(await _containers.WaitAsync(_id, "not-running", ct)).StatusCode;

    public void Dispose()
    {
        _detached.Cancel();
        if (_clientGone) return;
        Stdin?.Dispose();
    }
}
