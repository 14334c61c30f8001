using System.IO.Pipelines;
using System.Net.Sockets;
using ContainerOps.Cluster.Node;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// `kubectl attach` to a pod container's own process, the way Docker's attach works here: the output from now on is
/// followed from the container's log (split back into stdout and stderr), stdin goes through the daemon's one
/// connection to the container's input (<see cref="ContainerInputs"/>). Leaving detaches; the container runs on. The end
/// of the client's input closes the container's stdin only for a container made with stdinOnce and no terminal, as the
/// kubelet does; otherwise the next client finds it open.
/// </summary>
internal sealed class PodAttachment : IPodExecProcess
{
    private readonly ContainerManager _containers;
    private readonly string _id;
    private readonly Pipe _stdout = new(), _stderr = new();
    private readonly CancellationTokenSource _detached = new();

    public Stream? Stdin { get; }
    public Stream Stdout { get; }
    public Stream Stderr { get; }
    Stream? IPodExecProcess.Stdout => Stdout;
    Stream? IPodExecProcess.Stderr => Stderr;
    public Stream? Terminal => null;

    private PodAttachment(ContainerManager containers, string id, Stream? stdin)
    {
        (_containers, _id) = (containers, id);
        Stdin = stdin;
        Stdout = _stdout.Reader.AsStream();
        Stderr = _stderr.Reader.AsStream();
    }

    public static async Task<PodAttachment> OpenAsync(ContainerManager containers, ContainerInputs inputs, string id, bool stdin, CancellationToken ct)
    {
        var (attachPath, _, record, _) = containers.AttachPoints(id);
        if (!record.State.Running)
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {record.Name} is not running", record.Name);
        Stream? input = null;
        if (stdin)
        {
            try { input = new InputStream(await inputs.OpenAsync(record.Id, attachPath, ct), ContainerInputs.EndOfInputClosesStdin(record.Config)); }
            catch (Exception e) when (e is SocketException or IOException)
            {
                throw new ContainerOpsException(ErrorKind.Conflict, "AttachFailed", $"cannot attach to the input of container {record.Name}: {e.Message}", record.Name);
            }
        }
        var attachment = new PodAttachment(containers, id, input);
        _ = attachment.CopyOutputAsync();
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

    public void Resize(int rows, int columns) { }

    /// <summary>Detaches: the client left without ending its input, which leaves the container's stdin open.</summary>
    public void ClientGone() => _detached.Cancel();

    public async Task<int> WaitForExitAsync(CancellationToken ct = default) =>
        (int)(await _containers.WaitAsync(_id, "not-running", ct)).StatusCode;

    public void Dispose() => _detached.Cancel();

    /// <summary>The container's stdin as one client writes it; disposing it is the end of that client's input.</summary>
    private sealed class InputStream(ContainerInputs.Input input, bool closesStdin) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => input.SendAsync(buffer.AsMemory(offset, count), CancellationToken.None).GetAwaiter().GetResult();
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => input.SendAsync(buffer.AsMemory(offset, count), ct);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => new(input.SendAsync(buffer, ct));

        protected override void Dispose(bool disposing)
        {
            if (disposing && closesStdin) input.CloseStdin();
            base.Dispose(disposing);
        }
    }
}
