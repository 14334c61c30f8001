using System.Diagnostics;
using System.Text.Json.Nodes;
using ContainerOps.Images.Build;
using ContainerOps.TestSupport;

namespace ContainerOps.Build.Tests;

/// <summary>
/// The image config a Dockerfile of config instructions makes, beside buildah's (Debian's, which builds RUN-less files
/// without running anything): each field compared, a difference failing the test unless it is listed with the reason
/// ours is as it is. (The same file built through dockerd is compared in the Daemon suite's differential test.)
/// </summary>
public sealed class BuildahComparisonTests
{
    private static readonly string[] Fields =
        ["Env", "Labels", "ExposedPorts", "StopSignal", "Healthcheck", "User", "Volumes", "WorkingDir", "Shell", "OnBuild", "Entrypoint", "Cmd"];

    /// <summary>Fields whose values differ on purpose, and why.</summary>
    private static readonly Dictionary<string, string> KnownDifferences = new(StringComparer.Ordinal);

    private static (int Code, string Out, string Err) Buildah(string root, params string[] args)
    {
        var psi = new ProcessStartInfo("buildah") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--root", Path.Combine(root, "storage"), "--runroot", Path.Combine(root, "run"), "--storage-driver", "vfs" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(300_000)) { p.Kill(true); return (-1, stdout.Result, "timed out\n" + stderr.Result); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A field as compared: absent, null, "" and empty lists or maps are all "unset"; a map's keys in order
    /// (Go writes them sorted, and their order means nothing).</summary>
    private static string Normal(JsonNode? n) => n switch
    {
        null => "unset",
        JsonValue v when v.TryGetValue<string>(out var s) && s.Length == 0 => "unset",
        JsonArray { Count: 0 } => "unset",
        JsonObject { Count: 0 } => "unset",
        JsonObject o => "{" + string.Join(",", o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"\"{kv.Key}\":{Normal(kv.Value)}")) + "}",
        _ => n.ToJsonString(),
    };

    [Fact]
    public async Task AConfigOnlyBuildHasTheConfigBuildahGivesIt()
    {
        if (!File.Exists("/usr/bin/buildah"))
            Shell.Run("apt-get", "install -y -q buildah", env: new() { ["DEBIAN_FRONTEND"] = "noninteractive" }, timeoutMs: 600_000);
        using var f = new BuildFixture();
        var ctx = f.Context(("greeting.txt", "hello\n"));
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), """
            FROM scratch
            ARG VERSION=1.2
            ENV APP_VERSION=$VERSION APP_HOME=/srv/app
            LABEL org.example.name="meta test" org.example.version=$VERSION
            COPY greeting.txt /srv/app/greeting.txt
            EXPOSE 8080 53/udp
            STOPSIGNAL SIGINT
            HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD ["/bin/check", "--quick"]
            USER 1000:1000
            VOLUME /data
            WORKDIR $APP_HOME
            SHELL ["/bin/sh", "-ec"]
            ONBUILD RUN echo child
            ENTRYPOINT ["/bin/app"]
            CMD ["--serve"]
            """);
        var request = f.Request(ctx, "meta:1");
        var ours = await f.Images.BuildAsync(new BuildRequest
        {
            ContextDir = request.ContextDir, Tags = request.Tags, ShimPath = request.ShimPath, RuntimeStateRoot = request.RuntimeStateRoot,
            CgroupParent = request.CgroupParent, BuildArgs = new Dictionary<string, string> { ["VERSION"] = "2.0" },
        });
        var ourConfig = JsonNode.Parse(File.ReadAllBytes(Path.Combine(f.Root, "content", "blobs", "sha256", ours.Id[7..])))!["config"]!.AsObject();

        var buildahRoot = Directory.CreateDirectory(Path.Combine(f.Dir.Path, "buildah")).FullName;
        try
        {
            var built = Buildah(buildahRoot, "bud", "--format", "docker", "--build-arg", "VERSION=2.0", "-t", "meta:1", ctx);
            Assert.True(built.Code == 0, built.Out + built.Err);
            var inspected = Buildah(buildahRoot, "inspect", "--type", "image", "meta:1");
            Assert.True(inspected.Code == 0, inspected.Err);
            var theirConfig = JsonNode.Parse(inspected.Out)!["Docker"]!["config"]!.AsObject();
            (theirConfig["Labels"] as JsonObject)?.Remove("io.buildah.version"); // buildah signs its images; the file did not ask for it

            var differences = Fields
                .Select(field => (Field: field, Theirs: Normal(theirConfig[field]), Ours: Normal(ourConfig[field])))
                .Where(x => x.Theirs != x.Ours).ToList();
            var unexpected = differences.Where(d => !KnownDifferences.ContainsKey(d.Field)).ToList();
            Assert.True(unexpected.Count == 0, string.Join("\n", unexpected.Select(d => $"{d.Field}: buildah {d.Theirs}, ours {d.Ours}")));
            Assert.DoesNotContain(KnownDifferences.Keys, k => differences.All(d => d.Field != k));
        }
        finally
        {
            Buildah(buildahRoot, "rmi", "--all", "--force");
        }
    }
}
