using System.Text;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>Interactive exec and attach over the WebSocket endpoints: terminal bytes both ways, resize, exit code.</summary>
[Collection("daemon")]
public class SessionTests(DaemonFixture fx)
{
    private IContainerOpsClient Client => fx.Client;

    /// <summary>Pumps a session's output into a buffer for the life of the session (the exit code arrives after the output).</summary>
    private sealed class Output
    {
        private readonly StringBuilder _text = new();
        public Task Pump { get; }

        public Output(InteractiveSession session) => Pump = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            var decoder = Encoding.UTF8.GetDecoder();
            try
            {
                int n;
                while ((n = await session.Stream.ReadAsync(buffer)) > 0)
                {
                    var chars = new char[n];
                    var count = decoder.GetChars(buffer, 0, n, chars, 0);
                    lock (_text) _text.Append(chars, 0, count);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.WebSockets.WebSocketException) { }
        });

        public string Text { get { lock (_text) return _text.ToString(); } }

        public async Task<string> WaitFor(string marker, int seconds = 15)
        {
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            while (!Text.Contains(marker, StringComparison.Ordinal))
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"no '{marker}' in: {Text}");
                if (Pump.IsCompleted && !Text.Contains(marker, StringComparison.Ordinal)) throw new EndOfStreamException($"session ended before '{marker}': {Text}");
                await Task.Delay(20);
            }
            return Text;
        }
    }

    private static Task Send(InteractiveSession session, string text) => session.Stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();

    [Fact]
    public async Task ExecWithATerminal()
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["sleep", "1000"] })).Id;
        try
        {
            await Client.StartContainerAsync(id);
            await using var session = await Client.ExecInteractiveAsync(id, new ExecCreateRequest { Cmd = ["sh"], Tty = true, AttachStdin = true, ConsoleSize = [33, 101] });
            var output = new Output(session);
            await Send(session, "stty size; tty; echo mark-$((6*7))\n");
            var text = await output.WaitFor("mark-42");
            Assert.Contains("33 101", text);
            Assert.Contains("/dev/pts/", text);
            Assert.DoesNotContain("not a tty", text);
            await session.ResizeAsync(40, 120);
            await Send(session, "stty size; echo mark-$((6*8))\n");
            Assert.Contains("40 120", await output.WaitFor("mark-48"));
            await Send(session, "exit 5\n");
            Assert.Equal(5, await session.ExitCode.WaitAsync(TimeSpan.FromSeconds(15)));
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task ExecRefusesABadConsoleSize()
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["sleep", "1000"] })).Id;
        try
        {
            await Client.StartContainerAsync(id);
            // The refusal comes through the session, as every error of an interactive exec does.
            await using var session = await Client.ExecInteractiveAsync(id, new ExecCreateRequest { Cmd = ["sh"], Tty = true, AttachStdin = true, ConsoleSize = [0, 80] });
            _ = new Output(session);
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => session.ExitCode.WaitAsync(TimeSpan.FromSeconds(15)));
            Assert.Equal("ConsoleSize", e.Error.Field);
            Assert.Equal(ErrorKind.InvalidArgument, e.Error.Kind);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task ExecFramesWithStdin()
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["sleep", "1000"] })).Id;
        try
        {
            await Client.StartContainerAsync(id);
            using var stdin = new MemoryStream(Encoding.UTF8.GetBytes("a\nb\nc\n"));
            var frames = new List<StreamFrame>();
            await foreach (var f in Client.ExecAsync(id, new ExecCreateRequest { Cmd = ["wc", "-l"], AttachStdin = true }, stdin)) frames.Add(f);
            Assert.Equal("3", string.Concat(frames.Where(f => f.Stream == "stdout").Select(f => f.Data)).Trim());
            Assert.Equal(0, frames.Last().ExitCode);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task ExecOfAMissingCommandIs127()
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["sleep", "1000"] })).Id;
        try
        {
            await Client.StartContainerAsync(id);
            var code = -1;
            try
            {
                await foreach (var f in Client.ExecAsync(id, new ExecCreateRequest { Cmd = ["/no/such/thing"] }))
                    if (f.Stream == "exit") code = f.ExitCode ?? -1;
            }
            catch (ContainerOpsException e) { code = e.Error.Kind == ErrorKind.NotFound ? 127 : -2; }
            Assert.Equal(127, code);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task ExecInAStoppedContainerIsAConflict()
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["true"] })).Id;
        try
        {
            var e = await Assert.ThrowsAnyAsync<ContainerOpsException>(async () =>
            {
                await foreach (var _ in Client.ExecAsync(id, new ExecCreateRequest { Cmd = ["true"] })) { }
            });
            Assert.Equal(ErrorKind.Conflict, e.Error.Kind);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    private async Task<string> StartShell()
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["sh"], Tty = true, OpenStdin = true })).Id;
        await Client.StartContainerAsync(id);
        return id;
    }

    [Fact]
    public async Task AttachToAContainersTerminal()
    {
        var id = await StartShell();
        try
        {
            await using var session = await Client.AttachAsync(id);
            var output = new Output(session);
            await Send(session, "echo first-$((1+1))\n");
            await output.WaitFor("first-2");
            await Send(session, "exit 3\n");
            Assert.Equal(3, await session.ExitCode.WaitAsync(TimeSpan.FromSeconds(15)));
            Assert.Equal(3, (await Client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(15))).StatusCode);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task DetachingLeavesTheContainerRunning()
    {
        // Docker: closing an attach (StdinOnce false) or ^P^Q keeps the container running.
        var id = await StartShell();
        try
        {
            await using (var session = await Client.AttachAsync(id))
            {
                var output = new Output(session);
                await Send(session, "echo first-$((1+1))\n");
                await output.WaitFor("first-2");
            }
            await Task.Delay(500);
            Assert.True((await Client.InspectContainerAsync(id)).State.Running, "detaching ended the container");
            await using (var session = await Client.AttachAsync(id))
            {
                var output = new Output(session);
                await Send(session, "echo second-$((2+1))\n");
                await output.WaitFor("second-3");
            }
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }
}
