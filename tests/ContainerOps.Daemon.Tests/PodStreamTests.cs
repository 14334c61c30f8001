using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ContainerOps.Daemon.Tests;

/// <summary>What kubectl reaches through a pod's connection subresources: `kubectl logs` with its flags, for running,
/// restarted, finished and waiting containers, `kubectl exec` with its output, input and exit code, `kubectl cp` through
/// it, `kubectl attach`, and `kubectl port-forward` (1.32's WebSocket tunnel and 1.20's SPDY).</summary>
public sealed class PodStreamTests : IAsyncLifetime
{
    private ClusterDaemon _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ClusterDaemon.StartAsync("pod-tests/busybox:1");

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static string? Str(JsonNode? n) => n?.GetValue<string>();

    private (int Exit, string Out, string Err) Logs(params string[] args) => _cluster.Kubectl(["logs", .. args]);

    [Fact]
    public async Task KubectlLogsReadsAContainersLogWithTailTimestampsLimitsAndContainerChoice()
    {
        _cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: talker}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - {name: main, image: pod-tests/busybox:1, command: [sh, -c, 'for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; exec sleep 3600']}
              - {name: side, image: pod-tests/busybox:1, command: [sh, -c, 'echo from side; exec sleep 3600']}
            """);
        await _cluster.WaitForAsync("pod", "talker", p => Str(p["status"]?["phase"]) == "Running");
        var all = "";
        for (var i = 0; i < 50 && !all.Contains("oops"); i++)
        {
            var read = Logs("talker", "-c", "main");
            Assert.True(read.Exit == 0, read.Err);
            all = read.Out;
            await Task.Delay(100);
        }
        Assert.Equal("line 1\nline 2\nline 3\nline 4\nline 5\noops\n", all);

        var tail = Logs("talker", "-c", "main", "--tail=2");
        Assert.Equal("line 5\noops\n", tail.Out);
        var stamped = Logs("talker", "-c", "main", "--timestamps", "--tail=1");
        Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z oops\n$"), stamped.Out);
        Assert.Equal("lin", Logs("talker", "-c", "main", "--limit-bytes=3").Out);
        Assert.Equal("from side\n", Logs("talker", "-c", "side").Out);
        Assert.Equal("", Logs("talker", "-c", "main", "--since=1h", "--tail=0").Out);

        var wrong = Logs("talker", "-c", "nope");
        Assert.NotEqual(0, wrong.Exit);
        Assert.Contains("container nope is not valid for pod talker", wrong.Err);
        var missing = Logs("nobody");
        Assert.NotEqual(0, missing.Exit);
        Assert.Contains("pods \"nobody\" not found", missing.Err);
    }

    [Fact]
    public async Task FollowEndsWithTheContainerPreviousReadsTheRunBeforeAndAWaitingContainerSaysWhy()
    {
        _cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: ticker}
            spec:
              restartPolicy: Never
              containers:
              - {name: c, image: pod-tests/busybox:1, command: [sh, -c, 'for i in 1 2 3; do echo tick $i; sleep 0.4; done']}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: crasher}
            spec:
              containers:
              - {name: c, image: pod-tests/busybox:1, command: [sh, -c, 'echo run at $(cat /proc/uptime); exit 2']}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: imageless}
            spec:
              containers:
              - {name: c, image: pod-tests/absent:1, imagePullPolicy: Never}
            """);
        await _cluster.WaitForAsync("pod", "ticker", p => Str(p["status"]?["phase"]) is "Running" or "Succeeded");
        var followed = Logs("ticker", "-f");
        Assert.True(followed.Exit == 0, followed.Err);
        Assert.Equal("tick 1\ntick 2\ntick 3\n", followed.Out);

        await _cluster.WaitForAsync("pod", "crasher", p => p["status"]?["containerStatuses"]?[0]?["restartCount"]?.GetValue<int>() >= 2);
        var previous = Logs("crasher", "--previous");
        Assert.True(previous.Exit == 0, previous.Err);
        Assert.StartsWith("run at ", previous.Out);

        var never = Logs("ticker", "--previous");
        Assert.NotEqual(0, never.Exit);
        Assert.Contains("previous terminated container \"c\" in pod \"ticker\" not found", never.Err);

        await _cluster.WaitForAsync("pod", "imageless", p => Str(p["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]) == "ErrImageNeverPull");
        var waiting = Logs("imageless");
        Assert.NotEqual(0, waiting.Exit);
        Assert.Contains("container \"c\" in pod \"imageless\" is waiting to start: ErrImageNeverPull", waiting.Err);
    }

    [Fact]
    public async Task KubectlExecRunsInTheContainerWithOutputInputAndTheExitCodeAndKubectlCpCopiesThroughIt()
    {
        _cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: shell}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - {name: main, image: pod-tests/busybox:1, command: [sh, -c, 'echo inside > /tmp/mark; exec sleep 3600']}
              - {name: side, image: pod-tests/busybox:1, command: [sleep, "3600"]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: finished}
            spec:
              restartPolicy: Never
              terminationGracePeriodSeconds: 1
              containers:
              - {name: c, image: pod-tests/busybox:1, command: ["true"]}
              - {name: d, image: pod-tests/busybox:1, command: [sleep, "3600"]}
            """);
        await _cluster.WaitForAsync("pod", "shell", p => p["status"]?["containerStatuses"] is JsonArray s && s.Count == 2 && s.All(c => c?["ready"]?.GetValue<bool>() == true));

        var hostname = _cluster.Kubectl("exec", "shell", "-c", "main", "--", "sh", "-c", "hostname; cat /tmp/mark");
        Assert.True(hostname.Exit == 0, hostname.Err);
        Assert.Equal("shell\ninside\n", hostname.Out);

        var failing = _cluster.Kubectl("exec", "shell", "-c", "side", "--", "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.Equal(3, failing.Exit);
        Assert.Equal("out\n", failing.Out);
        Assert.Contains("err\n", failing.Err);
        Assert.Contains("command terminated with exit code 3", failing.Err);

        var piped = _cluster.KubectlWithInput("hello\nworld\n", "exec", "-i", "shell", "-c", "main", "--", "sh", "-c", "tr a-z A-Z; echo done");
        Assert.True(piped.Exit == 0, piped.Err);
        Assert.Equal("HELLO\nWORLD\ndone\n", piped.Out);

        // With a terminal (kubectl exec -it under a pseudo-terminal that script(1) provides): the command gets a tty of
        // the terminal's size (sent just after the start, as kubectl sends it), and its exit code comes back.
        var kubectl = string.Join(" ", new[] { ContainerOps.TestSupport.Kubectl.Path, "--kubeconfig", _cluster.Kubeconfig, "exec", "-it", "shell", "-c", "main", "--",
            "sh", "-c", "'tty; sleep 0.5; stty size; exit 5'" });
        var psi = new System.Diagnostics.ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-qec", $"stty cols 91 rows 17; {kubectl}", "/dev/null" }) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = _cluster.Directory;
        using var script = System.Diagnostics.Process.Start(psi)!;
        var ttyErr = script.StandardError.ReadToEndAsync();
        var ttyOut = script.StandardOutput.ReadToEnd();
        Assert.True(script.WaitForExit(60_000), "kubectl exec -it timed out");
        var ttyExit = script.ExitCode;
        Assert.True(ttyExit == 5, $"exit {ttyExit}: {ttyOut} {await ttyErr}");
        Assert.Contains("/dev/pts/", ttyOut);
        Assert.Contains("17 91", ttyOut);

        // kubectl cp is tar through exec, both ways.
        var local = Path.Combine(_cluster.Directory, "note.txt");
        File.WriteAllText(local, "copied in\n");
        var copyIn = _cluster.Kubectl("cp", local, "shell:/tmp/note.txt", "-c", "main");
        Assert.True(copyIn.Exit == 0, copyIn.Err);
        Assert.Equal("copied in\n", _cluster.Kubectl("exec", "shell", "-c", "main", "--", "cat", "/tmp/note.txt").Out);
        var back = Path.Combine(_cluster.Directory, "mark");
        var copyOut = _cluster.Kubectl("cp", "shell:/tmp/mark", back, "-c", "main");
        Assert.True(copyOut.Exit == 0, copyOut.Err);
        Assert.Equal("inside\n", File.ReadAllText(back));

        await _cluster.WaitForAsync("pod", "finished", p => p["status"]?["containerStatuses"] is JsonArray s && s.Any(c => c?["state"]?["terminated"] is not null));
        var notRunning = _cluster.Kubectl("exec", "finished", "-c", "c", "--", "true");
        Assert.NotEqual(0, notRunning.Exit);
        Assert.Contains("container \"c\" in pod \"finished\" is not running", notRunning.Err);
        var noContainer = _cluster.Kubectl("exec", "shell", "-c", "nope", "--", "true");
        Assert.NotEqual(0, noContainer.Exit);
        Assert.Contains("nope", noContainer.Err);
    }

    [Fact]
    public async Task KubectlAttachFollowsTheContainersOwnOutputAndFeedsItsStdin()
    {
        _cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: reader}
            spec:
              restartPolicy: Never
              containers:
              - {name: c, image: pod-tests/busybox:1, stdin: true, stdinOnce: true, command: [sh, -c, 'sleep 1; while read line; do echo "got $line"; done; echo bye']}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: chatter}
            spec:
              restartPolicy: Never
              containers:
              - {name: c, image: pod-tests/busybox:1, command: [sh, -c, 'i=0; until [ -e /tmp/stop ]; do i=$((i+1)); echo tick $i; sleep 0.2; done; echo done']}
            """);
        await _cluster.WaitForAsync("pod", "reader", p => Str(p["status"]?["phase"]) == "Running");
        var fed = _cluster.KubectlWithInput("one\ntwo\n", "attach", "-i", "reader");
        Assert.True(fed.Exit == 0, fed.Err);
        Assert.Contains("got one\ngot two\nbye\n", fed.Out);
        await _cluster.WaitForAsync("pod", "reader", p => Str(p["status"]?["phase"]) == "Succeeded");

        // The chatter ticks until told to stop: attached first (a tick arrives), then stopped, its last words seen. No
        // step depends on how fast the other goes.
        await _cluster.WaitForAsync("pod", "chatter", p => Str(p["status"]?["phase"]) == "Running");
        using var watcher = _cluster.StartKubectl("attach", "chatter");
        try
        {
            var first = await watcher.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.StartsWith("tick ", first);
            _cluster.Ok("exec", "chatter", "--", "touch", "/tmp/stop");
            var rest = await watcher.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(watcher.WaitForExit(60_000), "kubectl attach did not end with the container");
            Assert.True(watcher.ExitCode == 0, await watcher.StandardError.ReadToEndAsync());
            Assert.EndsWith("done\n", rest);
        }
        finally
        {
            if (!watcher.HasExited) watcher.Kill(true);
        }
    }

    [Fact]
    public async Task WithoutStdinOnce_TheEndOfOneAttachedClientsInputLeavesTheStdinOpenForTheNext()
    {
        _cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: keeper}
            spec:
              restartPolicy: Never
              terminationGracePeriodSeconds: 1
              containers:
              - {name: c, image: pod-tests/busybox:1, stdin: true, command: [sh, -c, 'while read line; do echo "got $line"; done; echo bye']}
            """);
        await _cluster.WaitForAsync("pod", "keeper", p => Str(p["status"]?["phase"]) == "Running");
        foreach (var word in new[] { "one", "two" })
        {
            using var client = _cluster.StartKubectl("attach", "-i", "keeper");
            try
            {
                await client.StandardInput.WriteAsync(word + "\n");
                client.StandardInput.Close(); // the end of this client's input, not of the container's
                string? line;
                do line = await client.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
                while (line != null && line != "got " + word);
                Assert.Equal("got " + word, line);
            }
            finally
            {
                if (!client.HasExited) client.Kill(true);
            }
        }
        Assert.Equal("Running", Str(_cluster.Get("pod", "keeper")["status"]?["phase"]));
        Assert.DoesNotContain("bye", _cluster.Kubectl("logs", "keeper").Out);
    }

    [Fact]
    public async Task KubectlPortForwardReachesAServerOnThePodsOwnLoopback()
    {
        // httpd listens on 127.0.0.1 inside the pod: only a connection made in the pod's network namespace reaches it.
        _cluster.Apply("""
            apiVersion: v1
            kind: Pod
            metadata: {name: web}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: c
                image: pod-tests/busybox:1
                command: [sh, -c, 'mkdir -p /www && echo "served from the pod" > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www']
                ports: [{name: http, containerPort: 8080}]
            """);
        await _cluster.WaitForAsync("pod", "web", p => Str(p["status"]?["phase"]) == "Running");
        foreach (var (kubectl, port) in new[] { (ContainerOps.TestSupport.Kubectl.Path, "http"), (ContainerOps.TestSupport.Kubectl.Debian120Path, "8080") })
        {
            using var forward = _cluster.StartKubectlAt(kubectl, "port-forward", "pod/web", ":" + port);
            try
            {
                var line = await forward.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
                var local = Regex.Match(line ?? "", @"127\.0\.0\.1:(\d+) -> 8080");
                Assert.True(local.Success, $"kubectl port-forward said: {line}");
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
                // Two requests: two forwarded connections on the one session.
                for (var i = 0; i < 2; i++)
                    Assert.Equal("served from the pod\n", await http.GetStringAsync($"http://127.0.0.1:{local.Groups[1].Value}/index.html"));
            }
            finally
            {
                if (!forward.HasExited) forward.Kill(true);
            }
        }
    }
}
