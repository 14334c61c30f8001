using System.Formats.Tar;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Build;

namespace ContainerOps.Build.Tests;

/// <summary>Builds as root with a busybox base: RUN steps need the shim (./build.sh shim).</summary>
public class BuildTests
{
    private static void WriteDockerfile(string ctx, string text, string name = "Dockerfile") => File.WriteAllText(Path.Combine(ctx, name), text);

    [Fact]
    public async Task ThreeStepBuild_RunsCopiesAndConfigures()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("hello.txt", "hi there\n"));
        WriteDockerfile(ctx, """
            FROM busybox
            ENV GREETING=hello
            WORKDIR /app
            COPY hello.txt .
            RUN echo "$GREETING from $(pwd)" > out.txt && cat hello.txt
            CMD ["cat", "/app/out.txt"]
            """);
        var progress = new BuildFixture.Collector();
        var image = await f.Images.BuildAsync(f.Request(ctx, "demo:1", "demo:latest"), progress);
        Assert.Contains("hi there", progress.Output);
        Assert.Contains(progress.Items, p => p.Message.StartsWith("Step 5/6 : RUN"));

        var details = f.Images.Inspect("demo:1");
        Assert.Equal(image.Id, details.Id);
        Assert.Contains("demo:latest", details.RepoTags);
        Assert.Equal(["cat", "/app/out.txt"], details.Config.Cmd);
        Assert.Contains("GREETING=hello", details.Config.Env);
        Assert.Equal("/app", details.Config.WorkingDir);
        Assert.Equal(4, details.Layers.Count); // busybox, WORKDIR, COPY, RUN

        var rootfs = f.Mount("demo:1");
        Assert.Equal("hello from /app\n", File.ReadAllText(Path.Combine(rootfs, "app/out.txt")));
        Assert.Equal("hi there\n", File.ReadAllText(Path.Combine(rootfs, "app/hello.txt")));
        // WORKDIR makes its directory rwxr-xr-x, as Docker does, so a non-root USER can enter it.
        Assert.Equal((UnixFileMode)Convert.ToInt32("755", 8), File.GetUnixFileMode(Path.Combine(rootfs, "app")));

        var configText = System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(f.Root, "content", "blobs", "sha256", image.Id[7..])));
        var created = JsonNode.Parse(configText)!["created"]!.GetValue<string>();
        Assert.EndsWith("Z", created); // RFC 3339 in UTC, as Go-based tools expect

        var history = f.Images.History("demo:1");
        Assert.Equal(image.Id, history[0].Id);
        Assert.StartsWith("CMD", history[0].CreatedBy);
        Assert.True(history[0].EmptyLayer);
        Assert.Contains(history, h => h.CreatedBy.StartsWith("RUN /bin/sh -c echo") && !h.EmptyLayer && h.Size > 0);
        Assert.Contains(history, h => h.CreatedBy == "ENV GREETING=hello" && h.EmptyLayer);
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task MultiStage_CopyFrom_AndTarget()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, """
            ARG MSG=built
            FROM busybox AS builder
            ARG MSG
            RUN mkdir -p /out && echo "$MSG" > /out/artifact && chown 1000:1000 /out/artifact
            FROM busybox AS unused
            RUN exit 9
            FROM scratch
            COPY --from=builder /out/ /
            """);
        var summary = await f.Images.BuildAsync(f.Request(ctx, "ms"), null);
        var details = f.Images.Inspect("ms");
        Assert.Single(details.Layers);
        var export = new MemoryStream();
        // The final image holds only the artifact, with its owner kept.
        var rootfs = f.MountWithId("ms", out var id);
        Assert.Equal("built\n", File.ReadAllText(Path.Combine(rootfs, "artifact")));
        Assert.Contains("1000:1000", TestSupport.Shell.Run("stat", "-c %u:%g " + Path.Combine(rootfs, "artifact")));
        await f.Images.ExportContainerAsync(id, export);
        export.Position = 0;
        var names = new List<string>();
        using (var r = new TarReader(export)) while (r.GetNextEntry() is { } e) names.Add(e.Name);
        Assert.Equal(["artifact"], names);

        var req = new BuildRequest
        {
            ContextDir = ctx, Tags = ["ms:builder"], Target = "builder", CgroupParent = f.CgroupParent, ShimPath = BuildFixture.ShimPath,
            NetworkMode = "none", BuildArgs = new Dictionary<string, string> { ["MSG"] = "other" },
        };
        await f.Images.BuildAsync(req);
        var b = f.Mount("ms:builder");
        Assert.Equal("other\n", File.ReadAllText(Path.Combine(b, "out/artifact")));
        Assert.True(File.Exists(Path.Combine(b, "bin/busybox")));
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task SecondBuild_UsesCache_ChangedFileInvalidatesIt()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("a.txt", "one"), ("b.txt", "static"));
        WriteDockerfile(ctx, """
            FROM busybox
            COPY b.txt /b.txt
            COPY a.txt /a.txt
            RUN cat /a.txt > /copy.txt
            """);
        var first = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "cached:1"), first);
        Assert.Equal(0, first.CacheHits);

        var second = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "cached:2"), second);
        Assert.Equal(3, second.CacheHits);
        Assert.Equal(f.Images.Inspect("cached:1").Layers, f.Images.Inspect("cached:2").Layers);

        // The cache outlives the service object (it is kept under the image root).
        var reopened = new Images.ImageService(f.Root);
        var third = new BuildFixture.Collector();
        await reopened.BuildAsync(f.Request(ctx, "cached:3"), third);
        Assert.Equal(3, third.CacheHits);

        File.WriteAllText(Path.Combine(ctx, "a.txt"), "two");
        var fourth = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "cached:4"), fourth);
        Assert.Equal(1, fourth.CacheHits); // b.txt only; a.txt and the RUN after it are rebuilt
        Assert.Equal("two", File.ReadAllText(Path.Combine(f.Mount("cached:4"), "copy.txt")));

        var noCache = new BuildFixture.Collector();
        await f.Images.BuildAsync(new BuildRequest
        {
            ContextDir = ctx, Tags = ["cached:5"], NoCache = true, CgroupParent = f.CgroupParent, ShimPath = BuildFixture.ShimPath, NetworkMode = "none",
        }, noCache);
        Assert.Equal(0, noCache.CacheHits);
        Assert.Empty(f.ContainerDirs());

        // Pruning forgets the cache but keeps every layer an image still uses.
        var layersBefore = f.Images.Inspect("cached:4").Layers;
        var (entries, _) = f.Images.PruneBuildCache();
        Assert.Equal(7, entries); // b.txt, a.txt and RUN for each content of a.txt, b.txt shared; the times of 2 images
        Assert.Equal("two", File.ReadAllText(Path.Combine(f.Mount("cached:4"), "copy.txt")));
        var after = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "cached:6"), after);
        Assert.Equal(0, after.CacheHits);
        // COPY layers are reproducible (times come from the context); a RUN layer carries the time it ran.
        Assert.Equal(layersBefore[..3], f.Images.Inspect("cached:6").Layers[..3]);
    }

    [Fact]
    public async Task FullyCachedRebuild_GivesTheSameImageId()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("a.txt", "one"));
        WriteDockerfile(ctx, """
            FROM busybox
            COPY a.txt /a.txt
            RUN cat /a.txt > /copy.txt
            ENV MODE=test
            CMD ["cat", "/copy.txt"]
            """);
        var first = await f.Images.BuildAsync(f.Request(ctx, "same:1"), null);
        await Task.Delay(20); // a later clock: any time taken anew would show
        var second = new BuildFixture.Collector();
        var again = await f.Images.BuildAsync(f.Request(ctx, "same:2"), second);
        Assert.Equal(2, second.CacheHits);
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(f.Images.Inspect("same:1").Created, f.Images.Inspect("same:2").Created);

        // Anything else in the config makes another image, and so does --no-cache.
        WriteDockerfile(ctx, """
            FROM busybox
            COPY a.txt /a.txt
            RUN cat /a.txt > /copy.txt
            ENV MODE=prod
            CMD ["cat", "/copy.txt"]
            """);
        var changed = await f.Images.BuildAsync(f.Request(ctx, "same:3"), null);
        Assert.NotEqual(first.Id, changed.Id);
        var noCache = await f.Images.BuildAsync(new BuildRequest
        {
            ContextDir = ctx, Tags = ["same:4"], NoCache = true, CgroupParent = f.CgroupParent, ShimPath = BuildFixture.ShimPath, NetworkMode = "none",
        }, null);
        Assert.NotEqual(changed.Id, noCache.Id);
    }

    [Fact]
    public async Task FailingRun_LeavesNothing()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("x", "x"));
        WriteDockerfile(ctx, "FROM busybox\nCOPY x /x\nRUN echo about to fail && exit 3\n");
        var before = f.Images.List().Select(i => i.Id).ToList();
        var progress = new BuildFixture.Collector();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "broken"), progress));
        Assert.Equal("step 3/3 (line 3) `RUN echo about to fail && exit 3` exited with code 3", e.Message);
        Assert.Contains("about to fail", progress.Output);
        Assert.Equal(before, f.Images.List().Select(i => i.Id).ToList());
        Assert.Throws<ContainerOpsException>(() => f.Images.Inspect("broken"));
        Assert.Empty(f.ContainerDirs());
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(f.Root));
    }

    [Fact]
    public async Task DockerIgnore_DockerfilePath_AndGlobs()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("src/a.c", "a"), ("src/b.c", "b"), ("src/notes.md", "n"), ("secret.key", "k"), ("build/out.o", "o"), ("build/keep.o", "keep"),
            (".dockerignore", "*.key\nbuild\n!build/keep.o\n**/*.md\n"), ("docker/app.Dockerfile", """
            FROM busybox
            COPY . /ctx/
            COPY src/*.c /globbed/
            """));
        var req = f.Request(ctx, "ign");
        await f.Images.BuildAsync(new BuildRequest
        {
            ContextDir = ctx, Dockerfile = "docker/app.Dockerfile", Tags = ["ign"], CgroupParent = f.CgroupParent, ShimPath = BuildFixture.ShimPath,
        });
        var root = f.Mount("ign");
        Assert.True(File.Exists(Path.Combine(root, "ctx/src/a.c")));
        Assert.False(File.Exists(Path.Combine(root, "ctx/src/notes.md")));
        Assert.False(File.Exists(Path.Combine(root, "ctx/secret.key")));
        Assert.False(File.Exists(Path.Combine(root, "ctx/build/out.o")));
        Assert.True(File.Exists(Path.Combine(root, "ctx/build/keep.o")));
        Assert.Equal(["a.c", "b.c"], Directory.GetFiles(Path.Combine(root, "globbed")).Select(p => Path.GetFileName(p)!).Order().ToArray());
    }

    [Fact]
    public async Task Copy_ThroughSymlinkInImage_StaysInsideTheRootfs()
    {
        using var f = new BuildFixture();
        var marker = "co-build-escape-" + Guid.NewGuid().ToString("N")[..8];
        var ctx = f.Context((marker, "payload"));
        // /escape points far above the root; resolved inside the rootfs it is just "/".
        WriteDockerfile(ctx, $"FROM busybox\nRUN ln -s ../../../../../../tmp /escape\nCOPY {marker} /escape/{marker}\n");
        await f.Images.BuildAsync(f.Request(ctx, "esc"));
        Assert.False(File.Exists(Path.Combine("/tmp", marker)));
        var root = f.Mount("esc");
        Assert.Equal("payload", File.ReadAllText(Path.Combine(root, "tmp", marker)));
    }

    [Fact]
    public async Task Add_ExtractsLocalTar_AndReportsUnreachableUrl()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("payload/inner.txt", "inside"));
        using (var fs = File.Create(Path.Combine(ctx, "bundle.tar")))
            TarFile.CreateFromDirectory(Path.Combine(ctx, "payload"), fs, includeBaseDirectory: false);
        WriteDockerfile(ctx, "FROM busybox\nADD bundle.tar /opt/bundle/\nUSER app\n");
        await f.Images.BuildAsync(f.Request(ctx, "add"));
        Assert.Equal("inside", File.ReadAllText(Path.Combine(f.Mount("add"), "opt/bundle/inner.txt")));
        Assert.Equal("app", f.Images.Inspect("add").Config.User);

        // Whiteout names in an ADDed archive would delete files of the image below: refused.
        var hostile = new MemoryStream();
        using (var w = new TarWriter(hostile, leaveOpen: true))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/.wh.sh"));
        File.WriteAllBytes(Path.Combine(ctx, "hostile.tar"), hostile.ToArray());
        WriteDockerfile(ctx, "FROM busybox\nADD hostile.tar /\n");
        var h = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "hostile")));
        Assert.Contains("(line 2)", h.Message);
        Assert.Contains(".wh.sh", h.Message);

        WriteDockerfile(ctx, "FROM busybox\n\nADD http://127.0.0.1:9/nothing.tar /x\n");
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "addurl")));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("http://127.0.0.1:9/nothing.tar", e.Message);
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task Commit_Diff_History_OfAContainer()
    {
        using var f = new BuildFixture();
        var root = f.MountWithId("busybox", out var id);
        File.WriteAllText(Path.Combine(root, "root/new.txt"), "new");
        File.Delete(Path.Combine(root, "bin/vi"));
        var diff = f.Images.Diff(id).Select(c => c.ToString()).ToList();
        Assert.Contains("A /root/new.txt", diff);
        Assert.Contains("C /root", diff);
        Assert.Contains("D /bin/vi", diff);

        var img = await f.Images.CommitAsync(id, "busybox", "committed:1", "Jane", "snapshot", ["CMD [\"cat\", \"/root/new.txt\"]", "ENV X=1"]);
        var d = f.Images.Inspect("committed:1");
        Assert.Equal(["cat", "/root/new.txt"], d.Config.Cmd);
        Assert.Equal("Jane", d.Author);
        Assert.Equal(2, d.Layers.Count);
        var h = f.Images.History("committed:1");
        Assert.Equal("snapshot", h[0].Comment);
        Assert.Equal(img.Id, h[0].Id);
        var again = f.Mount("committed:1");
        Assert.Equal("new", File.ReadAllText(Path.Combine(again, "root/new.txt")));
        Assert.False(File.Exists(Path.Combine(again, "bin/vi")));
    }

    [Fact]
    public async Task UnsupportedPlatform_And_MissingBase_AreClearErrors()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, "FROM --platform=linux/arm64 busybox\n");
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx)));
        Assert.Contains("line 1", e.Message);
        Assert.Contains("linux/arm64", e.Message);
        WriteDockerfile(ctx, "FROM nosuchimage:1\n");
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx)));
        Assert.Contains("nosuchimage", e.Message);
        WriteDockerfile(ctx, "FROM busybox\nCOPY missing.txt /\n");
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx)));
        Assert.Contains("line 2", e.Message);
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task Onbuild_User_Deletions_Chown_Chmod()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("tool.sh", "#!/bin/sh\necho tool\n"));
        WriteDockerfile(ctx, """
            FROM busybox
            ONBUILD RUN echo triggered > /onbuild.txt
            """);
        await f.Images.BuildAsync(f.Request(ctx, "parent"));
        Assert.False(File.Exists(Path.Combine(f.Mount("parent"), "onbuild.txt")));

        WriteDockerfile(ctx, """
            FROM parent
            RUN rm /bin/vi && mkdir /data && chown app /data
            COPY --chown=app:wheel --chmod=750 tool.sh /usr/local/bin/
            USER app
            RUN id -u > /data/uid && touch /data/by-app
            """);
        var progress = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "child"), progress);
        Assert.Contains(progress.Items, p => p.Message.Contains("ONBUILD"));
        var root = f.Mount("child");
        Assert.Equal("triggered\n", File.ReadAllText(Path.Combine(root, "onbuild.txt")));
        Assert.False(File.Exists(Path.Combine(root, "bin/vi")));
        Assert.True(File.Exists(Path.Combine(root, "bin/sh")));
        Assert.Equal("1000\n", File.ReadAllText(Path.Combine(root, "data/uid")));
        Assert.Contains("1000:10:750", TestSupport.Shell.Run("stat", "-c %u:%g:%a " + Path.Combine(root, "usr/local/bin/tool.sh")));
        Assert.Null(f.Images.Inspect("child").Config.Cmd);
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task TimedOutOrCancelledRun_LeavesNothing()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, "FROM busybox\nRUN echo started && sleep 60\n");
        var req = f.Request(ctx, "slow");
        var timed = new BuildRequest
        {
            ContextDir = ctx, Tags = ["slow"], CgroupParent = f.CgroupParent, ShimPath = BuildFixture.ShimPath, NetworkMode = "none",
            RuntimeStateRoot = req.RuntimeStateRoot, StepTimeout = TimeSpan.FromSeconds(1),
        };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(timed));
        Assert.Equal("BuildStepTimeout", e.Error.Id);
        Assert.Contains("step 2/2 (line 2)", e.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30));

        using var cts = new CancellationTokenSource();
        var progress = new Progress<BuildProgress>(p => { if (p.Kind == BuildProgressKind.Output) cts.CancelAfter(200); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => f.Images.BuildAsync(req, progress, cts.Token));
        Assert.Throws<ContainerOpsException>(() => f.Images.Inspect("slow"));
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public void LeftoversOfACrashedBuild_AreCleaned()
    {
        using var f = new BuildFixture();
        // What a daemon killed in the middle of a step leaves: a mounted build container.
        var merged = f.Images.MountContainerRootfs("build-0123456789ab", "busybox");
        Assert.True(File.Exists(Path.Combine(merged, "bin/busybox")));
        Assert.Equal(1, f.Images.CleanBuildLeftovers());
        Assert.Empty(f.ContainerDirs());
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(f.Root));
    }

    // ---------------- here-documents ----------------

    [Fact]
    public async Task Heredocs_RunScripts_Stdin_AndCopyFiles()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, "# syntax=docker/dockerfile:1.4\n" + """
            FROM busybox
            ARG name=world
            RUN <<EOF
            # the body is the shell's script
            echo "hello $name" > /hello

            echo "second line" >> /hello
            EOF
            RUN <<-EOT
            	echo tabbed > /tabbed
            	EOT
            RUN sh <<'EOF' > /stdin.txt
            echo "from stdin: $name"
            EOF
            RUN cat <<A > /a && cat <<-B > /b
            first $name
            A
            	second
            	B
            RUN <<EOF
            #!/bin/sh
            echo "script $0" > /script
            EOF
            COPY <<EOF /etc/greeting
            Hello ${name}! '${name}' "$name" \$name
            EOF
            COPY <<'EOF' /etc/raw
            Hello ${name}! \$name
            EOF
            COPY --chmod=0755 <<a.sh <<b.txt /dir/
            #!/bin/sh
            a.sh
            file b
            b.txt
            """);
        var progress = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "heredocs"), progress);
        var root = f.Mount("heredocs");
        string Read(string p) => File.ReadAllText(Path.Combine(root, p));
        Assert.Equal("hello world\nsecond line\n", Read("hello"));
        Assert.Equal("tabbed\n", Read("tabbed"));
        Assert.Equal("from stdin: world\n", Read("stdin.txt"));
        Assert.Equal("first world\n", Read("a"));
        Assert.Equal("second\n", Read("b"));
        Assert.Equal("script /dev/pipes/EOF\n", Read("script"));
        Assert.Equal("Hello world! 'world' \"world\" $name\n", Read("etc/greeting"));
        Assert.Equal("Hello ${name}! \\$name\n", Read("etc/raw"));
        Assert.Equal("#!/bin/sh\n", Read("dir/a.sh"));
        Assert.Equal("file b\n", Read("dir/b.txt"));
        Assert.Equal((UnixFileMode)Convert.ToInt32("644", 8), File.GetUnixFileMode(Path.Combine(root, "etc/greeting")));
        Assert.Equal((UnixFileMode)Convert.ToInt32("755", 8), File.GetUnixFileMode(Path.Combine(root, "dir/b.txt")));
        Assert.False(Directory.Exists(Path.Combine(root, "dev/pipes")));

        // The bodies are in the history of RUN steps, and in every step's cache key.
        var history = f.Images.History("heredocs");
        Assert.Contains(history, h => h.CreatedBy.Contains("echo \"hello $name\" > /hello"));
        Assert.Contains(history, h => h.CreatedBy.Contains("echo \"script $0\" > /script"));
        Assert.Contains(history, h => h.CreatedBy == "COPY <<EOF /etc/greeting");
        var again = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "heredocs"), again);
        Assert.Equal(8, again.CacheHits);
        WriteDockerfile(ctx, File.ReadAllText(Path.Combine(ctx, "Dockerfile")).Replace("file b", "file B"));
        var changed = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "heredocs2"), changed);
        Assert.Equal(7, changed.CacheHits);
        Assert.Equal("file B\n", File.ReadAllText(Path.Combine(f.Mount("heredocs2"), "dir/b.txt")));
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task Heredocs_WithEscapeDirective_AndOnbuild()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, """
            # escape=`
            # syntax=docker/dockerfile:1.4
            FROM busybox
            RUN cat <<'EOF' > /esc.txt && `
                echo after >> /esc.txt
            ends with a backtick `
            C:\path\kept
            EOF
            COPY <<EOF /copied.txt
            home `$HOME and \n kept
            EOF
            ONBUILD RUN <<EOF
            echo "triggered" > /onbuild.txt
            EOF
            """);
        await f.Images.BuildAsync(f.Request(ctx, "escaped"), null);
        var root = f.Mount("escaped");
        Assert.Equal("ends with a backtick `\nC:\\path\\kept\nafter\n", File.ReadAllText(Path.Combine(root, "esc.txt")));
        Assert.Equal("home $HOME and \\n kept\n", File.ReadAllText(Path.Combine(root, "copied.txt")));

        var child = f.Context();
        WriteDockerfile(child, "FROM escaped\nRUN cat /onbuild.txt\n");
        var progress = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(child, "escaped-child"), progress);
        Assert.Equal("triggered\n", File.ReadAllText(Path.Combine(f.Mount("escaped-child"), "onbuild.txt")));
        Assert.Contains("triggered", progress.Output);
    }

    // ---------------- RUN flags ----------------

    [Fact]
    public async Task CacheMount_KeepsFilesBetweenBuilds_AndStaysOutOfTheImage()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, """
            FROM busybox AS seed
            RUN mkdir -p /seed && echo seeded > /seed/file
            FROM busybox
            RUN --mount=type=cache,target=/cache/data sh -c 'echo run >> /cache/data/log; wc -l < /cache/data/log > /count'
            RUN --mount=type=cache,target=/owned,id=owned,uid=1000,gid=1000,mode=0700,sharing=locked stat -c %u:%g:%a /owned > /owned.txt
            RUN --mount=type=cache,target=/seeded,id=seeded,from=seed,source=/seed cat /seeded/file > /seeded.txt
            """);
        await f.Images.BuildAsync(f.Request(ctx, "cm:1"), null);
        var first = f.Mount("cm:1");
        Assert.Equal("1", File.ReadAllText(Path.Combine(first, "count")).Trim());
        Assert.Equal("1000:1000:700\n", File.ReadAllText(Path.Combine(first, "owned.txt")));
        Assert.Equal("seeded\n", File.ReadAllText(Path.Combine(first, "seeded.txt")));
        foreach (var d in new[] { "cache", "owned", "seeded" }) Assert.False(Directory.Exists(Path.Combine(first, d)), d);

        // The cache directory outlives the build: a step that runs again finds what the first one left.
        await f.Images.BuildAsync(f.Request(ctx, "cm:2", noCache: true), null);
        Assert.Equal("2", File.ReadAllText(Path.Combine(f.Mount("cm:2"), "count")).Trim());
        var layers = f.Images.Inspect("cm:2").Layers;
        Assert.Equal(["count"], f.LayerEntries(layers[^3]));

        // Pruning the build cache empties it.
        f.Images.PruneBuildCache();
        await f.Images.BuildAsync(f.Request(ctx, "cm:3", noCache: true), null);
        Assert.Equal("1", File.ReadAllText(Path.Combine(f.Mount("cm:3"), "count")).Trim());
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task SecretMount_ReadableInRun_AbsentFromImageHistoryAndCache()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, """
            FROM busybox
            RUN --mount=type=secret,id=tok sha256sum < /run/secrets/tok > /file.sum && stat -c %a /run/secrets/tok > /mode
            RUN --mount=type=secret,id=tok,env=TOK,target=/etc/tok,mode=0440,uid=1000 sh -c 'printf %s "$TOK" | sha256sum > /env.sum && stat -c %u:%a /etc/tok > /tokstat'
            RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent
            """);
        var sum = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("s3cret-value"u8));
        var secrets = new Dictionary<string, byte[]> { ["tok"] = "s3cret-value"u8.ToArray() };
        await f.Images.BuildAsync(f.Request(ctx, "sec", secrets), null);
        var root = f.Mount("sec");
        Assert.StartsWith(sum, File.ReadAllText(Path.Combine(root, "file.sum")));
        Assert.StartsWith(sum, File.ReadAllText(Path.Combine(root, "env.sum")));
        Assert.Equal("400\n", File.ReadAllText(Path.Combine(root, "mode")));
        Assert.Equal("1000:440\n", File.ReadAllText(Path.Combine(root, "tokstat")));
        Assert.False(Directory.Exists(Path.Combine(root, "run")));
        Assert.False(File.Exists(Path.Combine(root, "etc/tok")));
        Assert.DoesNotContain(f.Images.History("sec"), h => h.CreatedBy.Contains("s3cret"));
        // Not in a layer, the config, the cache or anything else the image root keeps.
        foreach (var file in Directory.EnumerateFiles(f.Root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            if (new FileInfo(file).LinkTarget == null)
                Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf("s3cret-value"u8) < 0, file);
        // As with Docker, the value is not part of the cache key: another value reuses the steps.
        var again = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "sec", new Dictionary<string, byte[]> { ["tok"] = "other"u8.ToArray() }), again);
        Assert.Equal(3, again.CacheHits);

        WriteDockerfile(ctx, "FROM busybox\n\nRUN --mount=type=secret,id=need,required=true true\n");
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "sec2", secrets)));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("secret 'need'", e.Message);
        Assert.Empty(f.ContainerDirs());
    }

    [Fact]
    public async Task BindMounts_FromStage_MakeTargetBuildIt_AndFromContext_WriteNothingBack()
    {
        using var f = new BuildFixture();
        var ctx = f.Context(("hello.txt", "hi\n"));
        WriteDockerfile(ctx, """
            FROM busybox AS tools
            RUN mkdir /tools && echo built > /tools/marker
            FROM busybox AS unused
            RUN exit 7
            FROM busybox AS final
            RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/tools cp /mnt/tools/marker /marker && ! touch /mnt/tools/x 2>/dev/null
            RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/tools,rw touch /mnt/tools/x
            RUN --mount=target=/ctx cat /ctx/hello.txt > /from-context && ! touch /ctx/new 2>/dev/null
            RUN --mount=target=/ctxrw,rw sh -c 'echo changed > /ctxrw/hello.txt && cat /ctxrw/hello.txt > /rw-seen'
            FROM final AS last
            RUN exit 9
            """);
        await f.Images.BuildAsync(f.Request(ctx, "binds", target: "final"), null);
        var root = f.Mount("binds");
        Assert.Equal("built\n", File.ReadAllText(Path.Combine(root, "marker")));
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(root, "from-context")));
        Assert.Equal("changed\n", File.ReadAllText(Path.Combine(root, "rw-seen")));
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(ctx, "hello.txt")));
        Assert.False(File.Exists(Path.Combine(ctx, "new")));
        foreach (var d in new[] { "mnt", "ctx", "ctxrw" }) Assert.False(Directory.Exists(Path.Combine(root, d)), d);

        // .dockerignore'd files are not in a bind of the context; a changed file there invalidates the step.
        File.WriteAllText(Path.Combine(ctx, ".dockerignore"), "secret.key\n");
        File.WriteAllText(Path.Combine(ctx, "secret.key"), "k");
        WriteDockerfile(ctx, "FROM busybox\nRUN --mount=target=/ctx,rw test ! -e /ctx/secret.key && cat /ctx/hello.txt > /seen && echo x > /ctx/hello.txt\n");
        await f.Images.BuildAsync(f.Request(ctx, "binds2"), null);
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(f.Mount("binds2"), "seen")));
        File.WriteAllText(Path.Combine(ctx, "hello.txt"), "hi again\n");
        var progress = new BuildFixture.Collector();
        await f.Images.BuildAsync(f.Request(ctx, "binds3"), progress);
        Assert.Equal(0, progress.CacheHits);
        Assert.Equal("hi again\n", File.ReadAllText(Path.Combine(f.Mount("binds3"), "seen")));
        Assert.Empty(f.ContainerDirs());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(f.Root, "build-tmp")));
    }

    [Fact]
    public async Task TmpfsMount_LeavesNothingInTheLayer()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, """
            FROM busybox
            RUN --mount=type=tmpfs,target=/scratch/deep,size=1m sh -c 'echo x > /scratch/deep/f && grep -q "/scratch/deep tmpfs .*size=1024k" /proc/mounts'
            RUN --mount=type=tmpfs,target=/tmp/t echo x > /tmp/t/file
            """);
        await f.Images.BuildAsync(f.Request(ctx, "tmpfs"), null);
        var layers = f.Images.Inspect("tmpfs").Layers;
        Assert.Empty(f.LayerEntries(layers[^1]));
        Assert.Empty(f.LayerEntries(layers[^2]));
        Assert.False(Directory.Exists(Path.Combine(f.Mount("tmpfs"), "scratch")));
    }

    [Fact]
    public async Task RunNetwork_None_Host_AndDefault()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, """
            FROM busybox
            RUN --network=none cat /proc/net/dev > /none.txt
            RUN cat /proc/net/dev > /default.txt
            RUN --network=host cat /proc/net/dev > /host.txt
            """);
        // The build's network is host (the default); a step can go without one.
        await f.Images.BuildAsync(f.Request(ctx, "net", network: "host"), null);
        var root = f.Mount("net");
        static List<string> Interfaces(string text) => text.Split('\n').Skip(2).Where(l => l.Contains(':')).Select(l => l.Split(':')[0].Trim()).ToList();
        // The host's interface of its default route (others come and go with other containers).
        var uplink = File.ReadLines("/proc/net/route").Skip(1).Select(l => l.Split('\t')).First(f => f.Length > 1 && f[1] == "00000000")[0];
        Assert.Equal(["lo"], Interfaces(File.ReadAllText(Path.Combine(root, "none.txt"))));
        Assert.Contains(uplink, Interfaces(File.ReadAllText(Path.Combine(root, "default.txt"))));
        Assert.Contains(uplink, Interfaces(File.ReadAllText(Path.Combine(root, "host.txt"))));
    }

    [Fact]
    public async Task InsecureNeedsAllow_SshIsRefused_UnknownFlagsNameTheLine()
    {
        using var f = new BuildFixture();
        var ctx = f.Context();
        WriteDockerfile(ctx, "FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status > /caps\n");
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "insecure")));
        Assert.Contains("line 2", e.Message);
        Assert.Contains("--allow security.insecure", e.Message);
        await f.Images.BuildAsync(f.Request(ctx, "insecure", allow: ["security.insecure"]), null);
        var caps = File.ReadAllText(Path.Combine(f.Mount("insecure"), "caps"));
        Assert.DoesNotContain("00000000a80425fb", caps); // Docker's 14 default capabilities
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "insecure", allow: ["everything"])));
        Assert.Equal("UnknownEntitlement", e.Error.Id);

        WriteDockerfile(ctx, "FROM busybox\nRUN --mount=type=ssh git clone git@example.com:x.git\n");
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "ssh")));
        Assert.Equal("Dockerfile line 2: RUN --mount=type=ssh is not supported: this builder forwards no SSH agent", e.Message);

        WriteDockerfile(ctx, "FROM busybox\nRUN true\nRUN --bogus=1 true\n");
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => f.Images.BuildAsync(f.Request(ctx, "bogus")));
        Assert.StartsWith("Dockerfile line 3: unknown flag for RUN: --bogus", e.Message);
        Assert.Empty(f.ContainerDirs());
    }
}
