using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>
/// Docker's attach and exec on a hijacked connection, spoken byte for byte as Docker clients speak it: a terminal's
/// input is watched for the detach keys, which end the attach and leave the process running; a client that leaves
/// does not close the container's stdin unless the container was made to take one input (StdinOnce) without a terminal.
/// </summary>
public sealed class DockerAttachTests : IDisposable
{
    private const string Image = "attach/busybox:1";
    private readonly PrivateDaemon _daemon = new();

    public void Dispose() => _daemon.Dispose();

    private string SocketPath => Path.Combine(_daemon.RunRoot, "containerops.sock");

    private HttpClient Http() => UnixSocketHttp.Create(SocketPath, "http://docker/v1.43/");

    /// <summary>A connection that goes before its first request (a probe of the socket, as a script makes to see whether
    /// the daemon is up) ends quietly: the daemon serves the next requests and logs no unhandled exception for it.</summary>
    [Fact]
    public async Task AConnectionClosedBeforeItsFirstRequestEndsQuietly()
    {
        for (var i = 0; i < 3; i++)
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        }
        using var http = Http();
        Assert.Equal("OK", await http.GetStringAsync("_ping"));
        await Task.Delay(500);
        Assert.DoesNotContain("Unhandled exception", _daemon.Output);
    }

    private async Task<string> RunAsync(string name, bool tty, bool stdinOnce, params string[] cmd)
    {
        await _daemon.ImportBusyboxAsync(Image);
        using var http = Http();
        var body = new JsonObject
        {
            ["Image"] = Image, ["Cmd"] = new JsonArray(cmd.Select(c => (JsonNode)c).ToArray()), ["Tty"] = tty, ["OpenStdin"] = true,
            ["StdinOnce"] = stdinOnce, ["HostConfig"] = new JsonObject { ["NetworkMode"] = "none" },
        };
        var created = await http.PostAsJsonAsync($"containers/create?name={name}", body);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var started = await http.PostAsync($"containers/{name}/start", null);
        Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync());
        return name;
    }

    private async Task<bool> RunningAsync(string name) => (await _daemon.Client.InspectContainerAsync(name)).State.Running;

    /// <summary>A hijacked connection after its HTTP 101 (or the refusal that came instead).</summary>
    private sealed class Hijacked(Socket socket, string head) : IDisposable
    {
        private readonly StringBuilder _seen = new();
        public string Head => head;

        public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));
        public async Task SendAsync(byte[] bytes) => await socket.SendAsync(bytes, SocketFlags.None);

        /// <summary>Reads until the output holds <paramref name="text"/>; fails, saying what came, after 15 s.</summary>
        public async Task ExpectAsync(string text)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            var buffer = new byte[4096];
            while (!_seen.ToString().Contains(text))
            {
                int n;
                try { n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token); }
                catch (OperationCanceledException) { n = -1; }
                Assert.True(n > 0, $"expected \"{text}\" on the attach, got \"{_seen}\" ({(n == 0 ? "closed" : "timed out")})");
                _seen.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }

        /// <summary>Reads (and drops) until the daemon closes the connection; false when it did not within 15 s.</summary>
        public async Task<bool> ClosedByDaemonAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            var buffer = new byte[4096];
            try
            {
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0) { }
                return true;
            }
            catch (OperationCanceledException) { return false; }
            catch (SocketException) { return true; }
        }

        /// <summary>Ends the input (a half-close), as a client whose stdin ended.</summary>
        public void ShutdownInput() => socket.Shutdown(SocketShutdown.Send);

        public void Dispose() => socket.Dispose();
    }

    private async Task<Hijacked> HijackAsync(string path, string? json = null)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        var body = json is null ? "" : json;
        var request = $"POST /v1.43/{path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n" +
                      (json is null ? "" : "Content-Type: application/json\r\n") + $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";
        await socket.SendAsync(Encoding.UTF8.GetBytes(request), SocketFlags.None);
        // The head, byte by byte, so that nothing of the stream after it is taken.
        var head = new List<byte>();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, timeout.Token) == 0) break;
            head.Add(one[0]);
        }
        return new Hijacked(socket, Encoding.ASCII.GetString(head.ToArray()));
    }

    [Fact]
    public async Task ATerminalsDetachKeysEndTheAttachAndTheShellRunsOn()
    {
        var name = await RunAsync("term", tty: true, stdinOnce: true, "sh");
        using (var first = await HijackAsync($"containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,x"))
        {
            Assert.StartsWith("HTTP/1.1 101", first.Head);
            await first.SendAsync("echo first$((1+1))\n");
            await first.ExpectAsync("first2");
            await first.SendAsync([0x18, (byte)'x']);
            Assert.True(await first.ClosedByDaemonAsync(), "the detach keys did not end the attach");
        }
        Assert.True(await RunningAsync(name), "the shell ended with the detach\n" + _daemon.Output);

        // A client that merely leaves (a terminal's input: no StdinOnce effect) leaves the shell its stdin.
        using (var second = await HijackAsync($"containers/{name}/attach?stream=1&stdin=1&stdout=1"))
        {
            await second.SendAsync("echo second$((2+1))\n");
            await second.ExpectAsync("second3");
        }
        using (var third = await HijackAsync($"containers/{name}/attach?stream=1&stdin=1&stdout=1"))
        {
            await third.SendAsync("echo third$((3+1))\n");
            await third.ExpectAsync("third4");
            // The default keys: ctrl-p,ctrl-q.
            await third.SendAsync([0x10, 0x11]);
            Assert.True(await third.ClosedByDaemonAsync(), "ctrl-p,ctrl-q did not end the attach");
        }
        Assert.True(await RunningAsync(name), "the shell ended after a client left\n" + _daemon.Output);
    }

    [Fact]
    public async Task DetachKeysThatAreNotKeysAreRefusedBeforeTheUpgrade()
    {
        var name = await RunAsync("badkeys", tty: true, stdinOnce: false, "sh");
        using var attach = await HijackAsync($"containers/{name}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-1");
        Assert.StartsWith("HTTP/1.1 400", attach.Head);
        using var http = Http();
        var exec = await http.PostAsJsonAsync($"containers/{name}/exec", new JsonObject { ["Cmd"] = new JsonArray("true"), ["DetachKeys"] = "ctrl-1" });
        Assert.Equal(400, (int)exec.StatusCode);
        Assert.Contains("invalid detach keys", await exec.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WithoutStdinOnceTheEndOfAClientsInputLeavesTheContainersStdinOpen()
    {
        var name = await RunAsync("kept", tty: false, stdinOnce: false, "sh", "-c", "while read line; do echo got-$line; done; echo stdin-ended");
        using (var first = await HijackAsync($"containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1"))
        {
            await first.SendAsync("one\n");
            await first.ExpectAsync("got-one");
            await first.SendAsync([0x10, 0x11, (byte)'\n']); // without a terminal: not detach keys but input
            await first.ExpectAsync("got-\u0010\u0011");
        }
        using (var second = await HijackAsync($"containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1"))
        {
            await second.SendAsync("two\n");
            await second.ExpectAsync("got-two");
        }
        Assert.True(await RunningAsync(name), "the container's stdin was closed when a client left\n" + _daemon.Output);
    }

    [Fact]
    public async Task WithStdinOnceTheEndOfTheInputClosesTheContainersStdin()
    {
        var name = await RunAsync("once", tty: false, stdinOnce: true, "sh", "-c", "while read line; do echo got-$line; done; echo stdin-ended");
        using var attach = await HijackAsync($"containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1");
        await attach.SendAsync("one\n");
        await attach.ExpectAsync("got-one");
        attach.ShutdownInput();
        await attach.ExpectAsync("stdin-ended");
    }

    [Fact]
    public async Task AnExecsDetachKeysEndItsAttachAndTheProcessRunsOn()
    {
        var name = await RunAsync("execs", tty: false, stdinOnce: false, "sleep", "1000");
        using var http = Http();
        var created = await http.PostAsJsonAsync($"containers/{name}/exec", new JsonObject
        {
            ["Cmd"] = new JsonArray("sh"), ["Tty"] = true, ["AttachStdin"] = true, ["AttachStdout"] = true, ["DetachKeys"] = "ctrl-e",
        });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["Id"]!.GetValue<string>();
        using (var exec = await HijackAsync($"exec/{id}/start", """{"Detach":false,"Tty":true}"""))
        {
            Assert.StartsWith("HTTP/1.1 101", exec.Head);
            await exec.SendAsync("echo exec$((3+4))\n");
            await exec.ExpectAsync("exec7");
            await exec.SendAsync([0x05]);
            Assert.True(await exec.ClosedByDaemonAsync(), "the exec's detach keys did not end its attach");
        }
        var inspect = await http.GetFromJsonAsync<JsonObject>($"exec/{id}/json");
        Assert.True(inspect!["Running"]!.GetValue<bool>(), "the exec ended with the detach: " + inspect.ToJsonString());
    }
}
