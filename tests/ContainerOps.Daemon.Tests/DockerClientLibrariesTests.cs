extern alias DockerDotNet;
using System.Diagnostics;
using ContainerOps.TestSupport;
using DockerDotNet::Docker.DotNet;
using DockerDotNet::Docker.DotNet.Models;

namespace ContainerOps.Daemon.Tests;

/// <summary>A test that needs the Python docker SDK; skipped, saying why, where python3 cannot import it.</summary>
public sealed class PythonDockerFactAttribute : FactAttribute
{
    public PythonDockerFactAttribute()
    {
        if (!DockerClientLibrariesTests.PythonHasDockerSdk) Skip = "python3 cannot import the docker SDK (pip install docker)";
    }
}

/// <summary>
/// Docker Engine API clients nobody here wrote, unchanged, against a private daemon's socket: the Python docker SDK,
/// docker-compose 1.29 (Debian's, Python on its own copy of the SDK) and Docker.DotNet. Each does what its users do
/// most: run and remove containers, read their output, exec, build, push and pull, volumes and networks; compose brings
/// a project up (a service waiting for another's health), runs in it and takes it down.
/// </summary>
public sealed class DockerClientLibrariesTests
{
    internal static bool PythonHasDockerSdk { get; } = Run("python3", ["-c", "import docker"], null, 30_000).Code == 0;

    private static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, Dictionary<string, string>? env, int timeoutMs = 180_000)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs)) { p.Kill(true); return (-1, stdout.Result, "timed out\n" + stderr.Result); }
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, "", e.Message); }
    }

    private static string Socket(PrivateDaemon d) => Path.Combine(d.RunRoot, "containerops.sock");

    private const string PythonScript = """
        import sys, docker
        sock, image, registry, context = sys.argv[1:5]
        c = docker.DockerClient(base_url="unix://" + sock, version="auto")
        print("ping", c.ping())
        print("run", c.containers.run(image, ["sh", "-c", "echo hi; echo err >&2"], remove=True, network_mode="none").decode().strip())
        ct = c.containers.run(image, ["sh", "-c", "echo started; exec sleep 1000"], detach=True, name="pysdk",
                              environment={"A": "1"}, labels={"who": "pysdk"}, network_mode="none")
        ct.reload()
        print("status", ct.status)
        r = ct.exec_run(["sh", "-c", "echo $A; exit 3"])
        print("exec", r.exit_code, r.output.decode().strip())
        print("list", [x.name for x in c.containers.list(filters={"label": "who=pysdk"})])
        ct.stop(timeout=1)
        print("wait", type(ct.wait()["StatusCode"]).__name__)
        print("logs", ct.logs().decode().strip())
        ct.remove()
        try:
            c.containers.get("pysdk")
            print("get", "still there")
        except docker.errors.NotFound:
            print("get", "NotFound")
        img, _ = c.images.build(path=context, tag="pysdk/built:1", rm=True)
        print("build", img.tags, img.attrs["Config"]["Cmd"])
        img.tag(registry + "/pysdk/built", "1")
        for line in c.images.push(registry + "/pysdk/built", tag="1", stream=True, decode=True):
            if "error" in line:
                print("push error", line["error"])
        c.images.remove(registry + "/pysdk/built:1")
        pulled = c.images.pull(registry + "/pysdk/built", tag="1")
        print("pull", sorted(pulled.tags), [d.split("@")[0] for d in pulled.attrs["RepoDigests"]])
        try:
            c.images.pull(registry + "/pysdk/nosuch", tag="1")
            print("pull missing", "pulled")
        except docker.errors.NotFound:
            print("pull missing", "NotFound")
        v = c.volumes.create("pysdk-vol")
        print("volume", v.name)
        v.remove()
        n = c.networks.create("pysdk-net")
        print("network", n.name)
        n.remove()
        """;

    [PythonDockerFact]
    public async Task ThePythonDockerSdkRunsExecsBuildsPushesAndPulls()
    {
        using var d = new PrivateDaemon();
        using var registry = new LoopbackRegistry();
        await d.ImportBusyboxAsync("pysdk/busybox:1");
        var context = Directory.CreateDirectory(Path.Combine(d.Root, "..", "pysdk-context")).FullName;
        File.WriteAllText(Path.Combine(context, "Dockerfile"), "FROM pysdk/busybox:1\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n");
        var script = Path.Combine(context, "..", "pysdk.py");
        File.WriteAllText(script, PythonScript);
        var (code, output, error) = Run("python3", [script, Socket(d), "pysdk/busybox:1", registry.Host, context], null);
        Assert.True(code == 0, $"{output}\n{error}\n{d.Output}");
        Assert.Equal($"""
            ping True
            run hi
            status running
            exec 3 1
            list ['pysdk']
            wait int
            logs started
            get NotFound
            build ['pysdk/built:1'] ['cat', '/built']
            pull ['{registry.Host}/pysdk/built:1', 'pysdk/built:1'] ['{registry.Host}/pysdk/built']
            pull missing NotFound
            volume pysdk-vol
            network pysdk-net

            """, output);
    }

    /// <summary>Takes the exec's raw socket as docker-compose does (exec_start with socket=True) from a client slow to
    /// read the 101 answer, as one is on a busy machine: the answer is read through a buffer before the socket is
    /// taken, so output sent with it would be lost.</summary>
    private const string SlowReaderScript = """
        import sys, time, struct, http.client, docker
        sock, container = sys.argv[1:3]
        begin = http.client.HTTPResponse.begin
        def slow_begin(self):
            time.sleep(0.3)
            return begin(self)
        http.client.HTTPResponse.begin = slow_begin
        api = docker.APIClient(base_url="unix://" + sock, version="auto")
        for i in range(4):
            exec_id = api.exec_create(container, ["sh", "-c", "echo out %d; echo err %d >&2" % (i, i)], stdin=True)["Id"]
            s = api.exec_start(exec_id, socket=True)
            data = b""
            while True:
                chunk = s.read(4096)
                if not chunk:
                    break
                data += chunk
            frames = []
            while len(data) >= 8:
                kind, length = struct.unpack(">BxxxL", data[:8])
                frames.append("%d:%s" % (kind, data[8:8 + length].decode().strip()))
                data = data[8 + length:]
            print(" ".join(sorted(frames)), api.exec_inspect(exec_id)["ExitCode"])
        """;

    [PythonDockerFact]
    public async Task ThePythonSdksRawExecSocketGetsTheOutputThatCameBeforeTheClientReadTheAnswer()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("pyslow/busybox:1");
        var id = (await d.Client.CreateContainerAsync(new ContainerOps.Core.Api.ContainerCreateRequest
        {
            Name = "pyslow", Image = "pyslow/busybox:1", Cmd = ["sleep", "1000"], HostConfig = new() { NetworkMode = "none" },
        })).Id;
        try
        {
            await d.Client.StartContainerAsync(id);
            var script = Path.Combine(d.Root, "..", "pyslow.py");
            File.WriteAllText(script, SlowReaderScript);
            var (code, output, error) = Run("python3", [script, Socket(d), "pyslow"], null);
            Assert.True(code == 0, $"{output}\n{error}\n{d.Output}");
            Assert.Equal("1:out 0 2:err 0 0\n1:out 1 2:err 1 0\n1:out 2 2:err 2 0\n1:out 3 2:err 3 0\n", output);
        }
        finally { await d.Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task DockerCompose129BringsAProjectUpInOrderRunsInItAndTakesItDown()
    {
        if (!File.Exists("/usr/bin/docker-compose"))
            Shell.Run("apt-get", "install -y -q docker-compose", env: new() { ["DEBIAN_FRONTEND"] = "noninteractive" }, timeoutMs: 600_000);
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dcompose/busybox:1");
        var dir = Directory.CreateDirectory(Path.Combine(d.Root, "..", "dcompose")).FullName;
        File.WriteAllText(Path.Combine(dir, "docker-compose.yml"), """
            version: "2.4"
            services:
              db:
                image: dcompose/busybox:1
                command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 1000"]
                healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, timeout: 1s, retries: 30}
              web:
                image: dcompose/busybox:1
                command: ["sh", "-c", "echo web up; exec sleep 1000"]
                environment: {GREETING: hello}
                depends_on: {db: {condition: service_healthy}}
            """);
        var env = new Dictionary<string, string> { ["DOCKER_HOST"] = "unix://" + Socket(d), ["HOME"] = dir, ["COMPOSE_INTERACTIVE_NO_CLI"] = "1" };
        (int Code, string Out, string Err) Compose(params string[] args) => Run("docker-compose", ["-p", "dcomp", "-f", Path.Combine(dir, "docker-compose.yml"), .. args], env);
        try
        {
            var up = Compose("up", "-d");
            Assert.True(up.Code == 0, $"{up.Out}\n{up.Err}\n{d.Output}");
            // web started only once db was healthy, which takes db a second.
            var names = (await d.Client.ListContainersAsync(all: true)).Select(c => c.Names.FirstOrDefault()?.TrimStart('/')).ToList();
            Assert.True(names.Count == 2 && names.Contains("dcomp_web_1") && names.Contains("dcomp_db_1"), $"containers: {string.Join(", ", names)}\n{up.Out}\n{up.Err}\n{d.Output}");
            var db = await d.Client.InspectContainerAsync("dcomp_db_1");
            var web = await d.Client.InspectContainerAsync("dcomp_web_1");
            Assert.Equal("healthy", db.State.Health?.Status);
            Assert.True(web.State.StartedAt - db.State.StartedAt > TimeSpan.FromSeconds(0.9), $"web started {web.State.StartedAt:o}, db {db.State.StartedAt:o}");
            var ps = Compose("ps", "-q");
            Assert.Equal(2, ps.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            var exec = Compose("exec", "-T", "web", "sh", "-c", "echo $GREETING");
            Assert.True(exec.Code == 0, exec.Err);
            Assert.Equal("hello\n", exec.Out);
            Assert.Contains("web up", Compose("logs", "--no-color", "web").Out);
        }
        finally
        {
            var down = Compose("down", "-v", "-t", "1");
            Assert.True(down.Code == 0, $"{down.Out}\n{down.Err}");
        }
        Assert.Empty(await d.Client.ListContainersAsync(all: true));
        Assert.DoesNotContain(await d.Client.ListNetworksAsync(), n => n.Name.StartsWith("dcomp", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DockerDotNetCreatesStartsWaitsReadsAndRemoves()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("dotnetclient/busybox:1");
        using var client = new DockerClientConfiguration(new Uri("unix://" + Socket(d))).CreateClient();
        await client.System.PingAsync();
        Assert.False(string.IsNullOrEmpty((await client.System.GetVersionAsync()).APIVersion));
        Assert.Contains(await client.Images.ListImagesAsync(new ImagesListParameters()), i => i.RepoTags.Contains("dotnetclient/busybox:1"));

        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = "dotnet-client", Image = "dotnetclient/busybox:1", Cmd = ["sh", "-c", "echo out; echo err >&2; exit 4"],
            Env = ["A=1"], HostConfig = new HostConfig { NetworkMode = "none" },
        });
        await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
        Assert.Equal(4, (await client.Containers.WaitContainerAsync(created.ID)).StatusCode);
        using (var logs = await client.Containers.GetContainerLogsAsync(created.ID, tty: false, new ContainerLogsParameters { ShowStdout = true, ShowStderr = true }))
        {
            var (stdout, stderr) = await logs.ReadOutputToEndAsync(CancellationToken.None);
            Assert.Equal(("out\n", "err\n"), (stdout, stderr));
        }
        var inspected = await client.Containers.InspectContainerAsync(created.ID);
        Assert.Equal(("exited", 4L, "/dotnet-client"), (inspected.State.Status, inspected.State.ExitCode, inspected.Name));
        Assert.Contains("A=1", inspected.Config.Env);
        var listed = await client.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        Assert.Contains(listed, c => c.ID == created.ID);
        await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters());
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => client.Containers.InspectContainerAsync(created.ID));
    }
}
