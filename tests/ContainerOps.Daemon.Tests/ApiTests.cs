using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Tests;

/// <summary>One private daemon with a busybox image, shared by the API test classes.</summary>
public sealed class DaemonFixture : IAsyncLifetime
{
    public PrivateDaemon Daemon { get; private set; } = null!;
    public IContainerOpsClient Client => Daemon.Client;
    public const string Image = "daemon-tests/busybox:1";

    public async Task InitializeAsync()
    {
        Daemon = new PrivateDaemon();
        await Daemon.ImportBusyboxAsync(Image, "CMD [\"sh\"]");
    }

    public Task DisposeAsync()
    {
        Daemon.Dispose();
        return Task.CompletedTask;
    }

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
}

[CollectionDefinition("daemon")]
public sealed class DaemonCollection : ICollectionFixture<DaemonFixture> { }

/// <summary>What the API does without running a process: validation, errors, records.</summary>
[Collection("daemon")]
public class ApiTests(DaemonFixture fx)
{
    private IContainerOpsClient Client => fx.Client;

    [Fact]
    public async Task Pings() => await Client.PingAsync();

    [Fact]
    public async Task BadNameIsAnInvalidArgumentOnTheNameField()
    {
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            Client.CreateContainerAsync(new ContainerCreateRequest { Name = "-bad name", Image = DaemonFixture.Image, Cmd = ["true"] }));
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Kind);
        Assert.Equal("InvalidName", e.Error.Id);
        Assert.Equal("Name", e.Error.Field);
    }

    [Fact]
    public async Task BadNameIsReportedBeforeAMissingCommand()
    {
        // The name is the first thing the request gets wrong, whatever the image holds.
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            Client.CreateContainerAsync(new ContainerCreateRequest { Name = "-bad", Image = DaemonFixture.Image, Cmd = [], Entrypoint = [] }));
        Assert.Equal("Name", e.Error.Field);
    }

    [Fact]
    public async Task UnknownImageIsNotFound()
    {
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            Client.CreateContainerAsync(new ContainerCreateRequest { Image = "no-such-image:404", Cmd = ["true"] }));
        Assert.Equal(ErrorKind.NotFound, e.Error.Kind);
        Assert.Equal("ImageNotFound", e.Error.Id);
    }

    /// <summary>A create body's member that ContainerOps has no field for is refused by its Docker name when it carries a
    /// value, at the top level and in HostConfig; empty ones (Go clients send every member), the client's own and the
    /// members it does have are taken, and the container is made.</summary>
    [Fact]
    public async Task ACreateBodyMemberWithoutAFieldIsRefusedByNameOnlyWhenItCarriesAValue()
    {
        foreach (var (member, field) in new[]
                 {
                     ("\"NetworkDisabled\":true", "NetworkDisabled"),
                     ("\"HostConfig\":{\"NetworkMode\":\"none\",\"CpuRealtimeRuntime\":1000}", "HostConfig.CpuRealtimeRuntime"),
                     ("\"HostConfig\":{\"MemorySwappiness\":30,\"Isolation\":\"hyperv\"}", "HostConfig.MemorySwappiness"),
                 })
        {
            var body = System.Text.Json.Nodes.JsonNode.Parse($$"""{"Image":"{{DaemonFixture.Image}}","Cmd":["true"],{{member}}}""");
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.SendJsonAsync(HttpMethod.Post, "containers/create", body));
            Assert.Equal(("UnsupportedOption", field), (e.Error.Id, e.Error.Field));
            Assert.Contains($"{field} is not supported", e.Error.Message);
        }
        var accepted = System.Text.Json.Nodes.JsonNode.Parse("""
            {"Image":"IMAGE","Cmd":["true"],"AttachStdout":true,"NetworkDisabled":false,"MacAddress":"","OnBuild":null,
             "Labels":{"k":"v"},"HostConfig":{"NetworkMode":"none","Memory":8388608,"CpuRealtimeRuntime":0,"MemorySwappiness":-1,
             "ConsoleSize":[24,80],"Tmpfs":{"/scratch":"size=1m"}}}
            """.Replace("IMAGE", DaemonFixture.Image));
        var id = (await Client.SendJsonAsync(HttpMethod.Post, "containers/create", accepted))!["Id"]!.GetValue<string>();
        try
        {
            var d = await Client.InspectContainerAsync(id);
            Assert.Equal(("v", 8388608L, "/scratch:size=1m"), (d.Config.Labels["k"], d.HostConfig.Memory, Assert.Single(d.HostConfig.Tmpfs)));
        }
        finally { await Client.RemoveContainerAsync(id, force: true); }
    }

    /// <summary>As dockerd: a create body that names no network mode (Docker.DotNet and Go clients leave it out or
    /// empty) gets the default bridge network; one that names one keeps it.</summary>
    [Fact]
    public async Task ABodyWithoutANetworkModeGetsTheDefaultNetwork()
    {
        var ids = new List<string>();
        try
        {
            foreach (var (body, expected) in new[]
                     {
                         ("""{"Image":"IMAGE","Cmd":["true"]}""", "default"),
                         ("""{"Image":"IMAGE","Cmd":["true"],"HostConfig":{"NetworkMode":""}}""", "default"),
                         ("""{"Image":"IMAGE","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}""", "none"),
                     })
            {
                var created = await Client.SendJsonAsync(HttpMethod.Post, "containers/create", System.Text.Json.Nodes.JsonNode.Parse(body.Replace("IMAGE", DaemonFixture.Image)));
                var id = created!["Id"]!.GetValue<string>();
                ids.Add(id);
                Assert.Equal(expected, (await Client.InspectContainerAsync(id)).HostConfig.NetworkMode);
            }
        }
        finally { foreach (var id in ids) await Client.RemoveContainerAsync(id, force: true); }
    }

    [Fact]
    public async Task UnknownContainerIsNotFound()
    {
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.InspectContainerAsync("no-such-container"));
        Assert.Equal(ErrorKind.NotFound, e.Error.Kind);
        e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.RemoveContainerAsync("no-such-container"));
        Assert.Equal(ErrorKind.NotFound, e.Error.Kind);
    }

    [Fact]
    public async Task FailedCreateLeavesNoRecord()
    {
        var before = (await Client.ListContainersAsync(all: true)).Count;
        var name = DaemonFixture.UniqueName("nocmd");
        await Assert.ThrowsAsync<ContainerOpsException>(() =>
            Client.CreateContainerAsync(new ContainerCreateRequest { Name = name, Image = "no-such-image:404", Cmd = ["true"] }));
        Assert.DoesNotContain(await Client.ListContainersAsync(all: true), c => c.Name == name);
        await Assert.ThrowsAsync<ContainerOpsException>(() => Client.InspectContainerAsync(name));
    }

    [Fact]
    public async Task CreateInspectListRenameRemove()
    {
        var name = DaemonFixture.UniqueName("rec");
        var created = await Client.CreateContainerAsync(new ContainerCreateRequest
        {
            Name = name, Image = DaemonFixture.Image, Cmd = ["echo", "hi"], Labels = new() { ["tier"] = "test" },
        });
        Assert.Matches("^[0-9a-f]{64}$", created.Id);

        var d = await Client.InspectContainerAsync(name);
        Assert.Equal(created.Id, d.Id);
        Assert.Equal("/" + name, d.Name);
        Assert.Equal("created", d.State.Status);
        Assert.False(d.State.Running);
        Assert.Equal(0, d.State.Pid);
        Assert.Equal("echo", d.Path);
        Assert.Equal(["hi"], d.Args);
        Assert.Equal("test", d.Config.Labels["tier"]);
        Assert.True(File.Exists(Path.Combine(fx.Daemon.Root, "containers", created.Id, "config.json"))
                    || File.Exists(Path.Combine(fx.Daemon.Root, "containers", created.Id, "config.v1.json")));

        // By id prefix as well as by name.
        Assert.Equal(created.Id, (await Client.InspectContainerAsync(created.Id[..12])).Id);

        Assert.DoesNotContain(await Client.ListContainersAsync(all: false), c => c.Id == created.Id);
        var row = Assert.Single(await Client.ListContainersAsync(all: true), c => c.Id == created.Id);
        Assert.Equal(name, row.Name);

        var newName = DaemonFixture.UniqueName("renamed");
        await Client.RenameContainerAsync(name, newName);
        Assert.Equal("/" + newName, (await Client.InspectContainerAsync(created.Id)).Name);
        await Assert.ThrowsAsync<ContainerOpsException>(() => Client.InspectContainerAsync(name));

        await Client.RemoveContainerAsync(newName);
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.InspectContainerAsync(created.Id));
        Assert.Equal(ErrorKind.NotFound, e.Error.Kind);
        Assert.False(Directory.Exists(Path.Combine(fx.Daemon.Root, "containers", created.Id)));
    }

    [Fact]
    public async Task DuplicateNameIsAConflict()
    {
        var name = DaemonFixture.UniqueName("dup");
        var first = await Client.CreateContainerAsync(new ContainerCreateRequest { Name = name, Image = DaemonFixture.Image, Cmd = ["true"] });
        try
        {
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
                Client.CreateContainerAsync(new ContainerCreateRequest { Name = name, Image = DaemonFixture.Image, Cmd = ["true"] }));
            Assert.Equal(ErrorKind.Conflict, e.Error.Kind);

            var other = await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["true"] });
            var renameError = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.RenameContainerAsync(other.Id, name));
            Assert.Equal(ErrorKind.Conflict, renameError.Error.Kind);
            await Client.RemoveContainerAsync(other.Id);
        }
        finally { await Client.RemoveContainerAsync(first.Id, force: true); }
    }

    [Fact]
    public async Task GeneratedNameWhenNoneIsGiven()
    {
        var created = await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["true"] });
        try
        {
            var d = await Client.InspectContainerAsync(created.Id);
            Assert.Matches("^/[a-z]+_[a-z]+[0-9]*$", d.Name);
        }
        finally { await Client.RemoveContainerAsync(created.Id); }
    }

    [Fact]
    public async Task ConfigIsMergedFromTheImage()
    {
        var image = "daemon-tests/merge:" + Guid.NewGuid().ToString("N")[..8];
        await fx.Daemon.ImportBusyboxAsync(image,
            "ENV A=image B=image", "WORKDIR /srv", "USER app", "STOPSIGNAL SIGQUIT", "ENTRYPOINT [\"sh\", \"-c\"]", "CMD [\"echo image\"]");
        try
        {
            // Nothing overridden: everything comes from the image.
            var plain = await Client.CreateContainerAsync(new ContainerCreateRequest { Image = image });
            var d = await Client.InspectContainerAsync(plain.Id);
            Assert.Equal(["sh", "-c"], d.Config.Entrypoint);
            Assert.Equal(["echo image"], d.Config.Cmd);
            Assert.Equal("sh", d.Path);
            Assert.Equal(["-c", "echo image"], d.Args);
            Assert.Contains("A=image", d.Config.Env);
            Assert.Contains("B=image", d.Config.Env);
            Assert.Equal("/srv", d.Config.WorkingDir);
            Assert.Equal("app", d.Config.User);
            Assert.Equal("SIGQUIT", d.Config.StopSignal);
            await Client.RemoveContainerAsync(plain.Id);

            // Request values win; env merges by key.
            var over = await Client.CreateContainerAsync(new ContainerCreateRequest
            {
                Image = image, Cmd = ["echo request"], Env = ["B=request", "C=request"], WorkingDir = "/tmp", User = "0", StopSignal = "SIGUSR1",
            });
            d = await Client.InspectContainerAsync(over.Id);
            Assert.Equal(["sh", "-c"], d.Config.Entrypoint);
            Assert.Equal(["echo request"], d.Config.Cmd);
            Assert.Contains("A=image", d.Config.Env);
            Assert.Contains("B=request", d.Config.Env);
            Assert.DoesNotContain("B=image", d.Config.Env);
            Assert.Contains("C=request", d.Config.Env);
            Assert.Equal("/tmp", d.Config.WorkingDir);
            Assert.Equal("0", d.Config.User);
            Assert.Equal("SIGUSR1", d.Config.StopSignal);
            await Client.RemoveContainerAsync(over.Id);

            // An entrypoint given in the request drops the image's CMD (Docker's rule).
            var ep = await Client.CreateContainerAsync(new ContainerCreateRequest { Image = image, Entrypoint = ["echo"] });
            d = await Client.InspectContainerAsync(ep.Id);
            Assert.Equal(["echo"], d.Config.Entrypoint);
            Assert.Empty(d.Config.Cmd);
            await Client.RemoveContainerAsync(ep.Id);
        }
        finally { await Client.RemoveImageAsync(image, force: true); }
    }

    [Fact]
    public async Task NoCommandAnywhereIsRejected()
    {
        var image = "daemon-tests/nocmd:" + Guid.NewGuid().ToString("N")[..8];
        await fx.Daemon.ImportBusyboxAsync(image);
        try
        {
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.CreateContainerAsync(new ContainerCreateRequest { Image = image }));
            Assert.Equal(ErrorKind.InvalidArgument, e.Error.Kind);
        }
        finally { await Client.RemoveImageAsync(image, force: true); }
    }

    [Fact]
    public async Task ImagesListInspectTagRemove()
    {
        var tag = "daemon-tests/tagged:" + Guid.NewGuid().ToString("N")[..8];
        await Client.TagImageAsync(DaemonFixture.Image, tag);
        var list = await Client.ListImagesAsync();
        Assert.Contains(list, i => i.RepoTags.Any(t => t.EndsWith(tag, StringComparison.Ordinal)));
        var a = await Client.InspectImageAsync(tag);
        var b = await Client.InspectImageAsync(DaemonFixture.Image);
        Assert.Equal(b.Id, a.Id);
        var removed = await Client.RemoveImageAsync(tag);
        Assert.NotEmpty(removed.Untagged);
        Assert.Empty(removed.Deleted); // still tagged as the fixture's image
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.InspectImageAsync(tag));
        Assert.Equal(ErrorKind.NotFound, e.Error.Kind);
    }

    [Fact]
    public async Task InvalidQueryValueIsAnInvalidArgument()
    {
        var created = await Client.CreateContainerAsync(new ContainerCreateRequest { Image = DaemonFixture.Image, Cmd = ["true"] });
        try
        {
            var e = await Assert.ThrowsAsync<ContainerOpsException>(() => Client.KillContainerAsync(created.Id, "NOSUCHSIGNAL"));
            Assert.True(e.Error.Kind is ErrorKind.InvalidArgument or ErrorKind.Conflict, e.Error.Kind.ToString());
        }
        finally { await Client.RemoveContainerAsync(created.Id, force: true); }
    }
}
