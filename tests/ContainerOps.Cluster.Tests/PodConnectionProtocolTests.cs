using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ContainerOps.Cluster.Node;
using ContainerOps.Cluster.Node.Spdy;

namespace ContainerOps.Cluster.Tests;

/// <summary>
/// `kubectl port-forward` against the API with a stand-in node whose pod "ports" are loopback listeners of this test:
/// kubectl 1.32 tunnels SPDY through a WebSocket, Debian's kubectl 1.20 upgrades to SPDY directly; both must carry bytes
/// both ways, several connections in turn, and say why when nothing listens; kubectl 1.20's exec over SPDY too, and
/// attach from both. Real
/// pods are in the daemon's tests.
/// </summary>
public sealed partial class PodConnectionProtocolTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    private readonly StandInNode _node = new();

    public Task InitializeAsync()
    {
        _server = new TlsClusterServer();
        _server.Host.Api.PodConnections = new PodStreams(_node, "node-a");
        _server.KubectlWithInput("""
            apiVersion: v1
            kind: Pod
            metadata: {name: web}
            spec:
              nodeName: node-a
              containers: [{name: web, image: busybox}]
            """, "apply", "-f", "-");
        _server.Ok("patch", "pod", "web", "--subresource=status", "--type=merge", "-p", """{"status":{"phase":"Running"}}""");
        _node.PodUid = _server.Ok("get", "pod", "web", "-o", "jsonpath={.metadata.uid}");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void TheDictionaryIsSpdy3s() =>
        // zlib names a preset dictionary by its Adler-32 on the wire; a peer with another dictionary refuses the stream.
        Assert.Equal(0xE3C6A7C2u, Adler32(SpdyHeaderBlocks.Dictionary));

    [Fact]
    public void HeaderBlocksRoundTripThroughOneCompressionContext()
    {
        var writer = new SpdyHeaderBlocks();
        var reader = new SpdyHeaderBlocks();
        for (var i = 0; i < 3; i++)
        {
            var block = writer.Write([("streamType", "data"), ("port", "80"), ("requestID", i.ToString())]);
            var headers = reader.Read(block);
            Assert.Equal("data", headers["streamtype"]);
            Assert.Equal(i.ToString(), headers["requestid"]);
        }
    }

    [Fact]
    public Task Kubectl132ForwardsThroughAWebSocketTunnel() => ForwardsBothWays(ContainerOps.TestSupport.Kubectl.Path);

    [Fact]
    public Task Kubectl120ForwardsOverSpdy() => ForwardsBothWays(ContainerOps.TestSupport.Kubectl.Debian120Path);

    private async Task ForwardsBothWays(string kubectl)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var served = ServeUpperCaseAsync(listener);
        using var forward = StartForward(kubectl, port, out var local);

        try
        {
            // Twice in turn (two request ids), the second with a payload many frames long.
            Assert.Equal("HELLO", await ExchangeAsync(local, "hello"));
            var big = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i};"));
            Assert.Equal(big.ToUpperInvariant(), await ExchangeAsync(local, big));
            Assert.Equal(2, _node.Connections);
        }
        catch (Exception e)
        {
            forward.Kill(true);
            throw new Xunit.Sdk.XunitException($"{e.Message}\nkubectl said: {await forward.StandardError.ReadToEndAsync()}");
        }
        forward.Kill(true);
        listener.Stop();
        await served.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>kubectl attach -i to a container whose spec keeps stdin open: 1.32 through a WebSocket, 1.20 over SPDY;
    /// input reaches the container's process, its output and errors come back.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void KubectlAttachesToTheContainersOwnProcess(bool debian120)
    {
        _server.KubectlWithInput("""
            apiVersion: v1
            kind: Pod
            metadata: {name: console}
            spec:
              nodeName: node-a
              containers: [{name: web, image: busybox, stdin: true}]
            """, "apply", "-f", "-");
        _server.Ok("patch", "pod", "console", "--subresource=status", "--type=merge", "-p", """{"status":{"phase":"Running"}}""");
        _node.PodUid = _server.Ok("get", "pod", "console", "-o", "jsonpath={.metadata.uid}");
        var kubectl = debian120 ? ContainerOps.TestSupport.Kubectl.Debian120Path : ContainerOps.TestSupport.Kubectl.Path;
        var (exit, output, err) = _server.KubectlAtWithInput(kubectl, "hello\nworld\n", "attach", "-i", "console");
        Assert.True(output == "HELLO\nWORLD\n", $"exit {exit}: {output}{err}");
        Assert.Contains("err", err);
        Assert.Equal(1, _node.Attaches);
        Assert.Empty(_node.Commands); // nothing was started in the container

        // The web pod's spec does not keep stdin open: attaching with input is refused, saying why.
        _node.PodUid = _server.Ok("get", "pod", "web", "-o", "jsonpath={.metadata.uid}");
        (exit, _, err) = _server.KubectlAtWithInput(kubectl, "x\n", "attach", "-i", "web");
        Assert.NotEqual(0, exit);
        Assert.Contains("stdin is not open in container \"web\" of pod \"web\"", err);
    }

    [Fact]
    public void Kubectl120ExecsOverSpdyWithInputOutputErrorsAndTheExitCode()
    {
        var (exit, output, err) = _server.KubectlAtWithInput(ContainerOps.TestSupport.Kubectl.Debian120Path, "hello\nworld\n", "exec", "-i", "web", "--", "tr", "a-z", "A-Z");
        Assert.Equal("HELLO\nWORLD\n", output);
        Assert.Contains("err", err);
        Assert.Equal(3, exit);
        Assert.Equal(["tr", "a-z", "A-Z"], Assert.Single(_node.Commands));
    }

    [Fact]
    public async Task NothingListeningIsReportedAsTheKubeletSaysIt()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var forward = StartForward(ContainerOps.TestSupport.Kubectl.Path, port, out var local);
        var stderr = forward.StandardError.ReadToEndAsync();
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, local);
            var buffer = new byte[16];
            // The client's connection ends without a byte: there was nothing to connect it to.
            var n = await client.GetStream().ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, n);
        }
        Assert.True(forward.WaitForExit(30_000), "kubectl port-forward went on after the error");
        Assert.Contains($"error forwarding port {port} to pod web, uid {_server.Ok("get", "pod", "web", "-o", "jsonpath={.metadata.uid}")}: dial tcp 127.0.0.1:{port}: connect: connection refused", await stderr);
    }

    private Process StartForward(string kubectl, int port, out int local)
    {
        var psi = _server.Start("port-forward", "pod/web", $":{port}");
        psi.FileName = kubectl;
        var forward = Process.Start(psi)!;
        // "Forwarding from 127.0.0.1:LOCAL -> PORT"
        var line = forward.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        var match = Forwarding().Match(line ?? "");
        if (!match.Success)
        {
            forward.Kill(true);
            Assert.Fail($"kubectl port-forward said {line}: {forward.StandardError.ReadToEnd()}");
        }
        local = int.Parse(match.Groups[1].Value);
        _ = DrainAsync(forward.StandardOutput);
        return forward;
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        try { while (await reader.ReadLineAsync() is not null) { } }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }

    /// <summary>Sends <paramref name="text"/>, ends the sending side, and reads all the answer.</summary>
    private static async Task<string> ExchangeAsync(int port, string text)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text));
        client.Client.Shutdown(SocketShutdown.Send);
        using var answer = new MemoryStream();
        await stream.CopyToAsync(answer).WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(answer.ToArray());
    }

    /// <summary>The "pod": answers each connection with what it read, upper-cased, once the client has finished.</summary>
    private static async Task ServeUpperCaseAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                using var client = await listener.AcceptTcpClientAsync();
                using var read = new MemoryStream();
                await client.GetStream().CopyToAsync(read);
                await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(read.ToArray()).ToUpperInvariant()));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    private static uint Adler32(byte[] data)
    {
        uint a = 1, b = 0;
        foreach (var x in data) { a = (a + x) % 65521; b = (b + a) % 65521; }
        return b << 16 | a;
    }

    [GeneratedRegex(@"Forwarding from 127\.0\.0\.1:(\d+) ->")]
    private static partial Regex Forwarding();
}
