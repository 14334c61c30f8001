using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using ContainerOps.TestSupport;
using Xunit.Abstractions;

namespace ContainerOps.Daemon.Tests;

/// <summary>A test that needs the docker CLI and Debian's dockerd; skipped, saying why, where either cannot be had.</summary>
public sealed class DockerdFactAttribute : FactAttribute
{
    public DockerdFactAttribute()
    {
        if (DockerCliTests.DockerPath is null) Skip = "the docker CLI is not installed";
        else if (PrivateDockerd.Binary.Path is null) Skip = PrivateDockerd.Binary.Why;
    }
}

/// <summary>
/// The same docker CLI commands against a real dockerd and against ContainerOps, their exit codes, standard output and
/// standard error compared once ids, digests, times and sizes are masked. A difference fails the test unless it is
/// listed in <see cref="KnownDifferences"/> with the reason ours is as it is.
/// </summary>
public sealed class DockerdDifferentialTests(ITestOutputHelper output)
{
    /// <summary>Steps whose outputs differ on purpose, and why.</summary>
    private static readonly Dictionary<string, string> KnownDifferences = new(StringComparer.Ordinal)
    {
        ["run missing command"] = "the same exit status (127) and cause, in our runtime's words instead of runc's",
        ["history"] = "history is written as BuildKit (Docker's builder since 23.0) writes it (`RUN /bin/sh -c …`, `COPY src dest`), not as the classic builder's `#(nop)` lines",
        ["rmi built"] = "the classic builder keeps an image per step, which dockerd deletes with the last; ours keeps none, as BuildKit",
    };

    /// <summary>One docker command; <see cref="Sort"/> compares its output lines as a set (listings whose order is a
    /// matter of creation times within the same second).</summary>
    private sealed record Step(string Name, string[] Args, bool Sort = false);

    private static Step S(string name, params string[] args) => new(name, args);

    private sealed record Result(int Code, string Out, string Err);

    private static Result Docker(string socket, string configDir, string workDir, string[] args)
    {
        var psi = new ProcessStartInfo(DockerCliTests.DockerPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workDir };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOCKER_HOST"] = "unix://" + socket;
        psi.Environment["DOCKER_CONFIG"] = configDir;
        psi.Environment["DOCKER_CLI_HINTS"] = "false";
        psi.Environment["DOCKER_BUILDKIT"] = "0"; // the builder both daemons have (dockerd's BuildKit needs buildx here)
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); return new(-1, stdout.Result, "timed out\n" + stderr.Result); }
        return new(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>What differs from run to run and daemon to daemon by nature: ids, digests, times, sizes.</summary>
    internal static string Mask(string text)
    {
        text = Regex.Replace(text, @"\b[0-9a-f]{64}\b", "<id>");
        text = Regex.Replace(text, @"\b[0-9a-f]{12}\b", "<short-id>");
        text = Regex.Replace(text, @"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "<time>");
        text = Regex.Replace(text, @"(Less than a|About an?|an?|\d+) (second|minute|hour)s?", "<duration>");
        text = Regex.Replace(text, @"\b\d+(\.\d+)?\s?[kKMG]?B\b", "<size>");
        text = Regex.Replace(text, @"size: \d+", "size: <size>");
        // A layer's passing states in a pull or push: dockerd's watchers may skip any of them (only the latest state
        // reaches a slow reader), so whether they are printed is a race; the announced and final states are not.
        text = Regex.Replace(text, @"(?m)^<short-id>: (Waiting|Downloading|Verifying Checksum|Download complete|Extracting|Pushing)\n", "");
        return text;
    }

    private static string Lines(string text, bool sort) =>
        sort ? string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal)) : text;

    [DockerdFact]
    public void TheDockerCliSeesTheSameFromBothDaemons()
    {
        using var dir = new TempDir("co-differential");
        var rootfs = Busybox.CreateRootfsTar(Path.Combine(dir.Path, "busybox.tar"));
        var context = Directory.CreateDirectory(Path.Combine(dir.Path, "context")).FullName;
        File.WriteAllText(Path.Combine(context, "Dockerfile"),
            "FROM diff/busybox:1\nENV GREETING=hello\nCOPY greeting.txt /greeting.txt\nRUN mkdir /made && echo made > /made/file\nWORKDIR /made\nCMD [\"cat\", \"/greeting.txt\"]\n");
        File.WriteAllText(Path.Combine(context, "greeting.txt"), "hello from the context\n");
        // Every instruction that only sets the config, for the config both builders make of it.
        var meta = Directory.CreateDirectory(Path.Combine(dir.Path, "meta")).FullName;
        File.WriteAllText(Path.Combine(meta, "Dockerfile"), """
            ARG BASE=diff/busybox:1
            FROM $BASE
            ARG VERSION=1.2
            ENV APP_VERSION=$VERSION APP_HOME=/srv/app
            LABEL org.example.name="meta test" org.example.version=$VERSION
            EXPOSE 8080 53/udp
            STOPSIGNAL SIGINT
            HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q -O- http://localhost:8080/ || exit 1
            USER 1000:1000
            VOLUME /data
            WORKDIR $APP_HOME
            SHELL ["/bin/sh", "-ec"]
            ONBUILD RUN echo child
            ENTRYPOINT ["/bin/sh", "-c"]
            CMD ["echo $APP_VERSION"]
            """);
        File.WriteAllText(Path.Combine(dir.Path, "copied.txt"), "copied in\n");
        var image = Path.Combine(dir.Path, "image.tar");

        Step[] steps =
        [
            S("import", "import", rootfs, "diff/busybox:1"),
            S("images", "images", "--format", "{{.Repository}}:{{.Tag}}"),
            S("run echo", "run", "--rm", "--network", "none", "diff/busybox:1", "echo", "hello"),
            S("run exit status", "run", "--rm", "--network", "none", "diff/busybox:1", "sh", "-c", "echo out; echo err >&2; exit 3"),
            S("run env workdir user", "run", "--rm", "--network", "none", "-e", "A=1", "-w", "/tmp", "--user", "1000:1000", "diff/busybox:1",
                "sh", "-c", "echo $A $(pwd) $(id -u):$(id -g) $HOME"),
            S("run hostname", "run", "--rm", "--network", "none", "--hostname", "box", "diff/busybox:1", "hostname"),
            S("run missing command", "run", "--rm", "--network", "none", "diff/busybox:1", "/no/such/command"),
            S("run -d", "run", "-d", "--network", "none", "--name", "diffc", "diff/busybox:1", "sh", "-c", "echo started; exec sleep 1000"),
            S("ps", "ps", "--format", "{{.Names}} {{.Image}} {{.Command}} {{.Status}}"),
            S("exec", "exec", "diffc", "sh", "-c", "echo in-exec; echo exec-err >&2; exit 4"),
            S("exec user workdir", "exec", "-u", "1000", "-w", "/tmp", "diffc", "sh", "-c", "id -u; pwd"),
            S("inspect state", "inspect", "--format", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.RestartCount}}", "diffc"),
            S("inspect config", "inspect", "--format", "{{.Name}} {{.Path}} {{json .Args}} {{.Config.Image}} {{json .Config.Cmd}} {{.HostConfig.NetworkMode}} {{.Config.Tty}} {{.Config.OpenStdin}}", "diffc"),
            S("cp in", "cp", Path.Combine(dir.Path, "copied.txt"), "diffc:/tmp/copied.txt"),
            S("cp read back", "exec", "diffc", "cat", "/tmp/copied.txt"),
            new("diff", ["diff", "diffc"], Sort: true),
            S("pause", "pause", "diffc"),
            S("inspect paused", "inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "diffc"),
            S("unpause", "unpause", "diffc"),
            S("stop", "stop", "-t", "1", "diffc"),
            S("inspect stopped", "inspect", "--format", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}", "diffc"),
            S("ps -a", "ps", "-a", "--filter", "name=diffc", "--format", "{{.Names}} {{.Status}}"),
            S("wait", "wait", "diffc"),
            S("logs", "logs", "diffc"),
            S("exec stopped", "exec", "diffc", "true"),
            S("rm", "rm", "diffc"),
            S("events", "events", "--since", "{since}", "--until", "{until}", "--filter", "container=diffc", "--filter", "event=create",
                "--filter", "event=start", "--filter", "event=pause", "--filter", "event=unpause", "--filter", "event=die",
                "--filter", "event=stop", "--filter", "event=destroy", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"),
            S("rm missing", "rm", "diffc"),
            S("inspect missing", "inspect", "diffc"),
            S("tag", "tag", "diff/busybox:1", "diff/copy:2"),
            new("images after tag", ["images", "--format", "{{.Repository}}:{{.Tag}}"], Sort: true),
            S("rmi tag", "rmi", "diff/copy:2"),
            S("build", "build", "-q", "-t", "diff/built:1", context),
            S("run built", "run", "--rm", "--network", "none", "diff/built:1"),
            S("run built workdir env", "run", "--rm", "--network", "none", "diff/built:1", "sh", "-c", "pwd; cat file; echo $GREETING"),
            S("image inspect built", "image", "inspect", "--format", "{{json .Config.Cmd}} {{.Config.WorkingDir}} {{json .Config.Env}}", "diff/built:1"),
            S("history", "history", "--format", "{{.CreatedBy}}", "diff/built:1"),
            S("save", "save", "-o", image, "diff/built:1"),
            S("rmi built", "rmi", "diff/built:1"),
            S("load", "load", "-i", image),
            S("run loaded", "run", "--rm", "--network", "none", "diff/built:1"),
            S("tag for a registry", "tag", "diff/busybox:1", "{registry}/diff/pushed:1"),
            S("push", "push", "{registry}/diff/pushed:1"),
            S("digests after push", "image", "inspect", "--format", "{{json .RepoDigests}}", "{registry}/diff/pushed:1"),
            S("rmi pushed", "rmi", "{registry}/diff/pushed:1"),
            S("rmi base", "rmi", "diff/busybox:1"),
            S("pull", "pull", "{registry}/diff/pushed:1"),
            S("pull again", "pull", "{registry}/diff/pushed:1"),
            S("digests after pull", "image", "inspect", "--format", "{{json .RepoDigests}}", "{registry}/diff/pushed:1"),
            S("run pulled", "run", "--rm", "--network", "none", "{registry}/diff/pushed:1", "echo", "pulled"),
            S("rmi every image", "rmi", "diff/built:1", "{registry}/diff/pushed:1"),
            S("pull into an empty store", "pull", "{registry}/diff/pushed:1"),
            S("images after pull", "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"),
            // Last: a build keeps its base as a parent in dockerd, which changes what removing that base does.
            S("build config only", "build", "-q", "--build-arg", "VERSION=2.0", "--build-arg", "BASE={registry}/diff/pushed:1", "-t", "diff/meta:1", meta),
            S("config of a build", "image", "inspect", "--format",
                "{{json .Config.Env}} {{json .Config.Labels}} {{json .Config.ExposedPorts}} {{.Config.StopSignal}} {{json .Config.Healthcheck}} " +
                "{{.Config.User}} {{json .Config.Volumes}} {{.Config.WorkingDir}} {{json .Config.Shell}} {{json .Config.OnBuild}} " +
                "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "diff/meta:1"),
            S("run of a config-only build", "run", "--rm", "--network", "none", "diff/meta:1"),
            S("rmi missing", "rmi", "diff/nosuch:1"),
            S("pull missing", "pull", "{registry}/diff/nosuch:1"),
            S("push missing", "push", "{registry}/diff/nosuch:1"),
        ];

        // Each daemon gets the steps in turn, with a registry of its own (its address masked in what is printed).
        List<Result> RunAll(string socket, string name)
        {
            using var registry = new LoopbackRegistry();
            var config = Directory.CreateDirectory(Path.Combine(dir.Path, "cli-" + name)).FullName;
            File.Delete(image);
            var since = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1;
            return steps.Select(step =>
            {
                var args = step.Args.Select(a => a.Replace("{registry}", registry.Host).Replace("{since}", since.ToString())
                    .Replace("{until}", (DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1).ToString())).ToArray();
                var r = Docker(socket, config, dir.Path, args);
                return r with { Out = r.Out.Replace(registry.Host, "<registry>"), Err = r.Err.Replace(registry.Host, "<registry>") };
            }).ToList();
        }
        List<Result> byDockerd, byOurs;
        using (var dockerd = new PrivateDockerd()) byDockerd = RunAll(dockerd.Socket, "dockerd");
        using (var daemon = new PrivateDaemon()) byOurs = RunAll(Path.Combine(daemon.RunRoot, "containerops.sock"), "containerops");
        var results = steps.Select((step, i) => (Step: step, Dockerd: byDockerd[i], Ours: byOurs[i])).ToList();

        var report = new StringBuilder();
        var unexpected = new List<string>();
        var same = 0;
        foreach (var (step, theirs, ours) in results)
        {
            var (a, b) = (Compared(theirs, step.Sort), Compared(ours, step.Sort));
            if (a == b) { same++; continue; }
            var known = KnownDifferences.TryGetValue(step.Name, out var why);
            report.AppendLine($"--- {step.Name}: docker {string.Join(' ', step.Args)}{(known ? "  (known: " + why + ")" : "")}");
            report.AppendLine("dockerd:\n" + a + "\nContainerOps:\n" + b);
            if (!known) unexpected.Add(step.Name);
        }
        var summary = $"{results.Count} commands, {same} the same, {results.Count - same} different ({unexpected.Count} not known)";
        output.WriteLine(summary);
        output.WriteLine(report.ToString());
        // Kept for whoever reads the figures: every step, the same or not.
        var resultsDir = Path.Combine(PrivateDaemon.RepoRoot, "tests", "results");
        Directory.CreateDirectory(resultsDir);
        File.WriteAllText(Path.Combine(resultsDir, "dockerd-differential.txt"),
            summary + "\n\n" + string.Join('\n', results.Select(r => $"{(Compared(r.Dockerd, r.Step.Sort) == Compared(r.Ours, r.Step.Sort) ? "same     " : "DIFFERENT")}  {r.Step.Name}")) + "\n\n" + report);
        Assert.True(unexpected.Count == 0, summary + "\n" + report);
        Assert.DoesNotContain(KnownDifferences.Keys, name => results.Any(r => r.Step.Name == name && Compared(r.Dockerd, r.Step.Sort) == Compared(r.Ours, r.Step.Sort)));
    }

    private static string Compared(Result r, bool sort) => $"exit {r.Code}\nstdout:\n{Lines(Mask(r.Out), sort)}\nstderr:\n{Lines(Mask(r.Err), sort)}";
}
