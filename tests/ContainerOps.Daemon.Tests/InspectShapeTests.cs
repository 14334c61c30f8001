using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>What inspect, ps and images show, through the API and the containerops executable, against a private daemon.</summary>
public class InspectShapeTests
{
    private static string Cli => PrivateDaemon.CliPath;

    private static (int Code, string Output) Run(PrivateDaemon d, string args)
    {
        Assert.True(File.Exists(Cli), $"{Cli} is missing: run ./build.sh build");
        var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", $"{Cli} -H unix://{Path.Combine(d.RunRoot, "containerops.sock")} {args} 2>&1"])
        {
            RedirectStandardOutput = true, UseShellExecute = false,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the CLI did not finish");
        return (p.ExitCode, output);
    }

    [Fact]
    public async Task ImageAndContainerConfigShowDockersFieldsAndTheCliFormatsThem()
    {
        using var d = new PrivateDaemon();
        await d.ImportBusyboxAsync("shape/busybox:1");
        var ctx = Directory.CreateTempSubdirectory("co-shape-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(ctx, "Dockerfile"), string.Join('\n',
                "FROM shape/busybox:1", "SHELL [\"/bin/sh\", \"-ec\"]", "ONBUILD RUN echo child", "STOPSIGNAL SIGQUIT",
                "HEALTHCHECK --interval=5s --retries=2 CMD true", "CMD [\"sleep\", \"1000\"]", ""));
            var (code, output) = Run(d, $"build -t shape/app:1 {ctx}");
            Assert.True(code == 0, output);

            var image = await d.Client.InspectImageAsync("shape/app:1");
            Assert.Contains("shape/app:1", image.RepoTags);
            Assert.DoesNotContain(image.RepoTags, t => t.StartsWith("docker.io/", StringComparison.Ordinal));
            Assert.Equal(["/bin/sh", "-ec"], image.Config.Shell);
            Assert.Equal(["RUN echo child"], image.Config.OnBuild);
            Assert.Equal("SIGQUIT", image.Config.StopSignal);
            Assert.Equal(["CMD-SHELL", "true"], image.Config.Healthcheck!.Test);
            Assert.Equal(5_000_000_000, image.Config.Healthcheck.Interval);
            Assert.Equal(image.Layers, image.RootFS.Layers);
            Assert.Contains((await d.Client.ListImagesAsync()).SelectMany(i => i.RepoTags), t => t == "shape/busybox:1");

            var id = (await d.Client.CreateContainerAsync(new ContainerCreateRequest { Name = "shaped", Image = "shape/app:1" })).Id;
            var c = await d.Client.InspectContainerAsync(id);
            Assert.Equal(["/bin/sh", "-ec"], c.Config.Shell);
            Assert.Equal(["RUN echo child"], c.Config.OnBuild);
            Assert.Equal("SIGQUIT", c.Config.StopSignal);
            Assert.Equal(["CMD-SHELL", "true"], c.Config.Healthcheck!.Test);
            // The imported busybox sets no PATH: the container gets Docker's.
            Assert.Contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", c.Config.Env);

            await d.Client.StartContainerAsync(id);
            var pid = (await d.Client.InspectContainerAsync(id)).State.Pid;
            Assert.Equal($"{pid}\n", Run(d, "inspect --format '{{.State.Pid}}' shaped").Output);
            Assert.Equal("[\"/bin/sh\",\"-ec\"] SIGQUIT\n", Run(d, "inspect -f '{{json .Config.Shell}} {{.Config.StopSignal}}' shaped").Output);
            Assert.Equal("shaped running\n", Run(d, "ps --format '{{.Names}} {{.State}}'").Output);
            var table = Run(d, "ps --format 'table {{.Names}}\\t{{.Image}}'").Output.Split('\n');
            Assert.Matches("^NAMES +IMAGE$", table[0]);
            Assert.Matches("^shaped +shape/app:1$", table[1]);
            Assert.Contains("shape/busybox:1\n", Run(d, "images --format '{{.Repository}}:{{.Tag}}'").Output);
            var (missingCode, missing) = Run(d, "inspect -f '{{.State.Pid}}' shaped nosuch");
            Assert.Equal(1, missingCode);
            Assert.Contains($"{pid}\n", missing);
            Assert.Contains("no such object: nosuch", missing);

            File.WriteAllText(Path.Combine(ctx, "Dockerfile"), "FROM shape/busybox:1\nRUN exit 3\n");
            var (failedCode, failed) = Run(d, $"build -t shape/broken:1 {ctx}");
            Assert.Equal(1, failedCode);
            Assert.Contains("exited with code 3", failed);
        }
        finally { Directory.Delete(ctx, true); }
    }
}
