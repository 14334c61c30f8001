using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ContainerOps.Cluster.Node;

namespace ContainerOps.Cluster.Tests;

/// <summary>
/// A node for the API's pod connections without containers: a pod's ports are this machine's loopback ports, and its
/// one container <see cref="Container"/> runs (for pod <see cref="PodUid"/>) a made-up command that answers its input
/// upper-cased on stdout, says "err" on stderr and exits 3 when its input ends; attaching finds the same process.
/// Nothing else is asked of it.
/// </summary>
internal sealed class StandInNode : INodeRuntime
{
    private int _connections;
    public int Connections => _connections;
    public string PodUid { get; set; } = "";
    public string Container { get; set; } = "web";
    public List<IReadOnlyList<string>> Commands { get; } = [];

    public async Task<Socket> ConnectPortAsync(string podUid, bool hostNetwork, int port, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try { await socket.ConnectAsync(IPAddress.Loopback, port, ct); }
        catch { socket.Dispose(); throw; }
        Interlocked.Increment(ref _connections);
        return socket;
    }

    public IReadOnlyList<RuntimeContainer> ListPodContainers() =>
    [
        new RuntimeContainer("c1", new Dictionary<string, string> { [PodLabels.PodUid] = PodUid, [PodLabels.ContainerName] = Container },
            "busybox", "sha256:0", Running: true, Created: false, ExitCode: 0, OomKilled: false, DateTimeOffset.UtcNow, null, null),
    ];

    public IPodExecProcess StartExec(string id, IReadOnlyList<string> command, bool tty)
    {
        lock (Commands) Commands.Add(command);
        return new UpperCaser();
    }

    private sealed class UpperCaser : IPodExecProcess
    {
        private readonly Pipe _in = new(), _out = new(), _err = new();
        private readonly Task<int> _run;

        public UpperCaser() => _run = RunAsync();

        private async Task<int> RunAsync()
        {
            var input = new MemoryStream();
            await _in.Reader.AsStream().CopyToAsync(input);
            await _out.Writer.WriteAsync(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(input.ToArray()).ToUpperInvariant()));
            await _err.Writer.WriteAsync(Encoding.UTF8.GetBytes("err\n"));
            await _out.Writer.CompleteAsync();
            await _err.Writer.CompleteAsync();
            return 3;
        }

        public Stream? Stdin => _in.Writer.AsStream();
        public Stream? Stdout => _out.Reader.AsStream();
        public Stream? Stderr => _err.Reader.AsStream();
        public Stream? Terminal => null;
        public void Resize(int rows, int columns) { }
        public void ClientGone() => _in.Writer.Complete();
        public Task<int> WaitForExitAsync(CancellationToken ct = default) => _run.WaitAsync(ct);
        public void Dispose() { }
    }

    public Task<SandboxStatus> RunSandboxAsync(SandboxRequest request, CancellationToken ct) => throw new NotSupportedException();
    public Task RemoveSandboxAsync(string podUid) => throw new NotSupportedException();
    public IReadOnlyList<SandboxStatus> ListSandboxes() => throw new NotSupportedException();
    public Task EnsureImageAsync(string image, string pullPolicy, IReadOnlyList<string> pullSecrets, CancellationToken ct) => throw new NotSupportedException();
    public Task<string> CreateContainerAsync(PodContainerRequest request, CancellationToken ct) => throw new NotSupportedException();
    public Task StartContainerAsync(string id) => throw new NotSupportedException();
    public Task StopContainerAsync(string id, int graceSeconds) => throw new NotSupportedException();
    public Task RemoveContainerAsync(string id) => throw new NotSupportedException();
    public ContainerUsageSample? ReadUsage(string id) => throw new NotSupportedException();
    public Task<string> PrepareVolumeAsync(string podUid, PodVolume volume, CancellationToken ct) => throw new NotSupportedException();
    public Task<(bool Success, string Output)> ProbeAsync(ProbeRequest request, CancellationToken ct) => throw new NotSupportedException();
    public string ImageUser(string image) => throw new NotSupportedException();
    public Task WaitForExitAsync(string id, CancellationToken ct) => throw new NotSupportedException();
    public IAsyncEnumerable<ContainerOps.Core.Api.LogEntry> ReadLogAsync(string id, bool follow, int? tail, DateTimeOffset? since, CancellationToken ct) => throw new NotSupportedException();
    /// <summary>How many times a client attached to the container's own process (the same upper-caser).</summary>
    public int Attaches => _attaches;
    private int _attaches;

    public Task<IPodExecProcess> AttachAsync(string id, bool stdin, CancellationToken ct)
    {
        Interlocked.Increment(ref _attaches);
        return Task.FromResult<IPodExecProcess>(new UpperCaser());
    }
}
