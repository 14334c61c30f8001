using System.Formats.Tar;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>The image surface end to end through the client: build, commit, diff, history, save/load, export, prune, df.</summary>
[Collection("daemon")]
public class ImageApiTests(DaemonFixture fx)
{
    private IContainerOpsClient Client => fx.Client;

    private async Task<string> RunToEnd(string image, params string[] cmd)
    {
        var id = (await Client.CreateContainerAsync(new ContainerCreateRequest { Name = DaemonFixture.UniqueName("img"), Image = image, Cmd = cmd.ToList() })).Id;
        await Client.StartContainerAsync(id);
        var wait = await Client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, wait.StatusCode);
        return id;
    }

    private async Task<string> Stdout(string id)
    {
        var text = "";
        await foreach (var e in Client.GetLogsAsync(id, stderr: false)) text += e.Log;
        return text;
    }

    private sealed class Collect : IProgress<ProgressFrame>
    {
        public readonly List<ProgressFrame> Frames = new();
        public void Report(ProgressFrame value) { lock (Frames) Frames.Add(value); }
    }

    private static async Task<ProgressFrame> Build(IContainerOpsClient client, string dir, ImageBuildRequest request, Collect? progress = null)
    {
        var (tar, name) = await BuildContext.PackAsync(dir, null);
        try
        {
            request.Dockerfile ??= name;
            await using var input = File.OpenRead(tar);
            return await client.BuildImageAsync(input, request, progress);
        }
        finally { File.Delete(tar); }
    }

    [Fact]
    public async Task BuildsAThreeStepDockerfileWithProgressAndHistory()
    {
        var dir = Directory.CreateTempSubdirectory("co-build-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "Dockerfile"),
                $"FROM {DaemonFixture.Image}\nARG GREETING=hello\nCOPY greeting.txt /app/greeting.txt\nRUN echo \"$GREETING from build\" > /app/built.txt\nCMD [\"cat\", \"/app/built.txt\", \"/app/greeting.txt\"]\n");
            File.WriteAllText(Path.Combine(dir, "greeting.txt"), "copied\n");
            File.WriteAllText(Path.Combine(dir, "ignored.txt"), "must not travel\n");
            File.WriteAllText(Path.Combine(dir, ".dockerignore"), "ignored.txt\n");
            var tag = "imgapi/built:" + Guid.NewGuid().ToString("N")[..8];
            var progress = new Collect();
            var result = await Build(Client, dir, new ImageBuildRequest { Tags = [tag], BuildArgs = { ["GREETING"] = "hi" } }, progress);

            Assert.StartsWith("sha256:", result.ImageId);
            Assert.Contains(progress.Frames, f => f.Status?.StartsWith("Step 1/", StringComparison.Ordinal) == true && f.Step == 1);
            Assert.Contains(progress.Frames, f => f.Status?.Contains("RUN echo") == true);

            var id = await RunToEnd(tag);
            Assert.Equal("hi from build\ncopied\n", await Stdout(id));
            await Client.RemoveContainerAsync(id, force: true);

            var history = await Client.GetImageHistoryAsync(tag);
            Assert.Equal(result.ImageId, history[0].Id);
            // The RUN step made the last layer: what it wrote, without the runtime's mount points.
            var runLayer = await TopLayerEntries(tag);
            Assert.Contains("app/built.txt", runLayer);
            Assert.DoesNotContain(runLayer, n => n is "etc/hostname" or "etc/hosts" or "etc/resolv.conf");
            Assert.Contains(history, h => h.CreatedBy.Contains("RUN") && h.CreatedBy.Contains("built.txt") && !h.EmptyLayer);
            Assert.Contains(history, h => h.CreatedBy.Contains("COPY") && !h.EmptyLayer);
            Assert.Contains(history, h => h.CreatedBy.Contains("CMD") && h.EmptyLayer);

            // A failing step surfaces as an error, not as an image.
            File.WriteAllText(Path.Combine(dir, "Dockerfile"), $"FROM {DaemonFixture.Image}\nRUN exit 7\n");
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Build(Client, dir, new ImageBuildRequest()));
            Assert.Contains("7", e.Error.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task BuildSecretsAndEntitlementsTravelToTheBuilder()
    {
        var dir = Directory.CreateTempSubdirectory("co-build-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "Dockerfile"), $"FROM {DaemonFixture.Image}\n" + """
                RUN --mount=type=secret,id=tok,required=true sha256sum < /run/secrets/tok > /tok.sum
                RUN --security=insecure grep CapEff /proc/self/status > /caps
                CMD ["cat", "/tok.sum"]
                """);
            var tag = "imgapi/secret:" + Guid.NewGuid().ToString("N")[..8];
            var value = "api-s3cret-" + Guid.NewGuid().ToString("N")[..8];
            var request = new ImageBuildRequest { Tags = [tag], Secrets = { ["tok"] = System.Text.Encoding.UTF8.GetBytes(value) }, Allow = ["security.insecure"] };
            await Build(Client, dir, request);
            var id = await RunToEnd(tag);
            Assert.StartsWith(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value))), await Stdout(id));
            await Client.RemoveContainerAsync(id, force: true);
            Assert.DoesNotContain(await Client.GetImageHistoryAsync(tag), h => h.CreatedBy.Contains(value));

            // Without the secret or the entitlement, the daemon says which line needs them.
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Build(Client, dir, new ImageBuildRequest { Allow = ["security.insecure"] }));
            Assert.Contains("line 2", e.Error.Message);
            Assert.Contains("secret 'tok'", e.Error.Message);
            e = await Assert.ThrowsAsync<ContainerOpsException>(() => Build(Client, dir, new ImageBuildRequest { Secrets = { ["tok"] = [1] }, NoCache = true }));
            Assert.Contains("line 3", e.Error.Message);
            Assert.Contains("--allow security.insecure", e.Error.Message);
            await Client.RemoveImageAsync(tag, force: true);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task CommitDiffExportAndRunTheResult()
    {
        var id = await RunToEnd(DaemonFixture.Image, "sh", "-c", "mkdir -p /data && echo kept > /data/new.txt && echo extra >> /etc/passwd && rm /etc/group");
        try
        {
            var changes = await Client.GetContainerChangesAsync(id);
            Assert.Contains(changes, c => c.Kind == "A" && c.Path == "/data/new.txt");
            Assert.Contains(changes, c => c.Kind == "C" && c.Path == "/etc/passwd");
            Assert.Contains(changes, c => c.Kind == "D" && c.Path == "/etc/group");
            Assert.DoesNotContain(changes, c => c.Path is "/etc/hostname" or "/etc/hosts" or "/etc/resolv.conf"); // runtime mount points

            var exported = new MemoryStream();
            await Client.ExportContainerAsync(id, exported);
            exported.Position = 0;
            var names = new Dictionary<string, string>();
            using (var tar = new TarReader(exported))
                while (tar.GetNextEntry() is { } entry)
                    if (entry.DataStream is { } data) names[entry.Name.TrimStart('.', '/')] = new StreamReader(data).ReadToEnd();
            Assert.Equal("kept\n", names["data/new.txt"]);
            Assert.DoesNotContain("etc/group", names.Keys);

            var tag = "imgapi/committed:" + Guid.NewGuid().ToString("N")[..8];
            var image = await Client.CommitContainerAsync(new CommitRequest
            {
                Container = id, Reference = tag, Author = "tests", Comment = "from a container", Changes = ["CMD [\"cat\", \"/data/new.txt\"]"],
            });
            Assert.Contains(image.RepoTags, t => t.EndsWith(tag, StringComparison.Ordinal));
            var details = await Client.InspectImageAsync(tag);
            Assert.Equal("tests", details.Author);
            Assert.Equal(["cat", "/data/new.txt"], details.Config.Cmd!);

            // The committed layer holds what the process wrote, not the mount points the runtime made for /etc/hostname & co.
            var layerNames = await TopLayerEntries(tag);
            Assert.Contains("data/new.txt", layerNames);
            Assert.DoesNotContain(layerNames, n => n is "etc/hostname" or "etc/hosts" or "etc/resolv.conf");

            var run = await RunToEnd(tag);
            Assert.Equal("kept\n", await Stdout(run));
            await Client.RemoveContainerAsync(run, force: true);
            Assert.Equal("from a container", (await Client.GetImageHistoryAsync(tag))[0].Comment);
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    /// <summary>Entry names of the image's last layer, read from a docker-format save of it.</summary>
    private async Task<List<string>> TopLayerEntries(string reference)
    {
        var archive = new MemoryStream();
        await Client.SaveImagesAsync([reference], archive, "docker");
        archive.Position = 0;
        var files = new Dictionary<string, byte[]>();
        using (var tar = new TarReader(archive))
            while (tar.GetNextEntry() is { } entry)
                if (entry.DataStream is { } data)
                {
                    var buffer = new MemoryStream();
                    data.CopyTo(buffer);
                    files[entry.Name.TrimStart('.', '/')] = buffer.ToArray();
                }
        var manifest = System.Text.Json.JsonDocument.Parse(files["manifest.json"]).RootElement[0];
        var layers = manifest.GetProperty("Layers").EnumerateArray().Select(x => x.GetString()!).ToList();
        var names = new List<string>();
        using (var layer = new TarReader(new MemoryStream(files[layers[^1]])))
            while (layer.GetNextEntry() is { } entry) names.Add(entry.Name.TrimStart('.', '/').TrimEnd('/'));
        return names;
    }

    [Theory]
    [InlineData("docker")]
    [InlineData("oci")]
    public async Task SaveAndLoadIntoAnotherDaemon(string format)
    {
        var src = await RunToEnd(DaemonFixture.Image, "sh", "-c", "echo saved > /saved.txt");
        var tag = $"imgapi/saved-{format}:1";
        var image = await Client.CommitContainerAsync(new CommitRequest { Container = src, Reference = tag });
        await Client.RemoveContainerAsync(src, force: true);
        var archive = new MemoryStream();
        await Client.SaveImagesAsync([tag], archive, format);
        archive.Position = 0;

        using var other = new PrivateDaemon();
        var loaded = await other.Client.LoadImageAsync(archive);
        var summary = Assert.Single(loaded.Images);
        Assert.Equal(image.Id, summary.Id);
        Assert.Contains(summary.RepoTags, t => t.EndsWith(tag, StringComparison.Ordinal));
        var id = (await other.Client.CreateContainerAsync(new ContainerCreateRequest { Image = tag, Cmd = ["cat", "/saved.txt"] })).Id;
        await other.Client.StartContainerAsync(id);
        Assert.Equal(0, (await other.Client.WaitContainerAsync(id).WaitAsync(TimeSpan.FromSeconds(60))).StatusCode);
        var text = "";
        await foreach (var e in other.Client.GetLogsAsync(id)) text += e.Log;
        Assert.Equal("saved\n", text);
    }

    [Fact]
    public async Task PruneRemovesADanglingImageButNotOneInUse()
    {
        var a = await RunToEnd(DaemonFixture.Image, "sh", "-c", "echo a > /a");
        var b = await RunToEnd(DaemonFixture.Image, "sh", "-c", "echo b > /b");
        var dangling = await Client.CommitContainerAsync(new CommitRequest { Container = a });
        var used = await Client.CommitContainerAsync(new CommitRequest { Container = b });
        await Client.RemoveContainerAsync(a, force: true);
        await Client.RemoveContainerAsync(b, force: true);
        Assert.Empty(dangling.RepoTags);
        var user = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = used.Id, Cmd = ["true"] })).Id;
        try
        {
            var df = await Client.GetDiskUsageAsync();
            Assert.Contains(df.Rows, r => r.Type == "Images" && r.Total >= 3 && r.Active >= 1);

            var pruned = await Client.PruneImagesAsync();
            Assert.Contains(dangling.Id, pruned.Deleted);
            Assert.DoesNotContain(used.Id, pruned.Deleted);
            Assert.True(pruned.SpaceReclaimed > 0);
            var left = await Client.ListImagesAsync(all: true);
            Assert.DoesNotContain(left, i => i.Id == dangling.Id);
            Assert.Contains(left, i => i.Id == used.Id);
            Assert.Contains(left, i => i.RepoTags.Any(t => t.EndsWith(DaemonFixture.Image, StringComparison.Ordinal)));
        }
        finally { await Client.RemoveContainerAsync(user, force: true); }

        var again = await Client.PruneImagesAsync();
        Assert.Contains(used.Id, again.Deleted);
    }

    [Fact]
    public async Task ContainerPruneRemovesOnlyStoppedContainers()
    {
        var stopped = await RunToEnd(DaemonFixture.Image, "true");
        var running = (await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["sleep", "60"] })).Id;
        await Client.StartContainerAsync(running);
        try
        {
            var pruned = await Client.PruneContainersAsync();
            Assert.Contains(stopped, pruned.Deleted);
            Assert.DoesNotContain(running, pruned.Deleted);
            Assert.Equal("running", (await Client.InspectContainerAsync(running)).State.Status);
        }
        finally { await Client.RemoveContainerAsync(running, force: true); }
    }

    [Fact]
    public async Task AHostileBuildContextCannotWriteOutsideIt()
    {
        var outside = Directory.CreateTempSubdirectory("co-outside-").FullName;
        try
        {
            var victim = Path.Combine(outside, "victim.txt");
            File.WriteAllText(victim, "untouched");

            // A link to a directory outside, then a file below it: refused.
            var below = new MemoryStream();
            using (var w = new TarWriter(below, leaveOpen: true))
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "out") { LinkName = outside });
                w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "out/victim.txt") { DataStream = new MemoryStream("owned"u8.ToArray()) });
            }
            below.Position = 0;
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.BuildImageAsync(below, new ImageBuildRequest()));
            Assert.Equal("InvalidBuildContext", e.Error.Id);

            // A link to a file outside, then a file of the same name: the link is replaced, the file outside is not written.
            var same = new MemoryStream();
            using (var w = new TarWriter(same, leaveOpen: true))
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "Dockerfile") { LinkName = victim });
                w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "Dockerfile") { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes($"FROM {DaemonFixture.Image}\n")) });
            }
            same.Position = 0;
            var built = await Client.BuildImageAsync(same, new ImageBuildRequest());
            Assert.StartsWith("sha256:", built.ImageId);
            Assert.Equal("untouched", File.ReadAllText(victim));
        }
        finally { Directory.Delete(outside, true); }
    }
}
