using System.Runtime.CompilerServices;
using ContainerOps.Client;
using ContainerOps.Compose.Model;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Execution;

public sealed class DownOptions
{
    public bool RemoveVolumes { get; set; }
    public bool RemoveOrphans { get; set; }
    /// <summary>null, "local" (images built for the project without a name of their own) or "all".</summary>
    public string? RemoveImages { get; set; }
    public int? Timeout { get; set; }
}

/// <summary>One line of `compose logs`, with the container it came from.</summary>
public sealed record ServiceLogLine(string Service, string Container, int Number, LogEntry Entry);

public sealed partial class ComposeEngine
{
    /// <summary>Builds the image when asked (or when a build service's image is missing), else pulls a missing one.
    /// Returns the ID of the image the service now resolves to, which `up` compares with its containers' images.</summary>
    private async Task<string?> EnsureImageAsync(ServiceConfig s, bool build, bool noBuild, CancellationToken ct)
    {
        var image = ContainerRequestBuilder.ImageName(Project, s);
        var present = await InspectImageOrNullAsync(image, ct);
        if (s.Build is not null && !noBuild && (build || present is null || s.PullPolicy == "build"))
        {
            await BuildServiceAsync(s, noCache: false, ct);
            return (await InspectImageOrNullAsync(image, ct))?.Id;
        }
        if (present is not null && s.PullPolicy != "always") return present.Id;
        if (s.PullPolicy == "never" && present is null)
            throw new ComposeOperationException($"service \"{s.Name}\": image {image} is not present and pull_policy is never", s.Name);
        if (s.Image is null)
            throw new ComposeOperationException($"service \"{s.Name}\": image {image} has not been built (run with --build)", s.Name);
        await PullServiceAsync(s, ct);
        return (await InspectImageOrNullAsync(image, ct))?.Id;
    }

    private async Task<ImageDetails?> InspectImageOrNullAsync(string image, CancellationToken ct)
    {
        try { return await _client.InspectImageAsync(image, ct); }
        catch (ContainerOpsException e) when (IsNotFound(e)) { return null; }
    }

    public async Task PullServiceAsync(ServiceConfig s, CancellationToken ct = default)
    {
        var image = s.Image ?? throw new ComposeOperationException($"service \"{s.Name}\" has no image to pull", s.Name);
        Report("Image", image, "Pulling", false);
        try { await _client.PullImageAsync(image, insecure: false, progress: null, ct); }
        catch (ContainerOpsException e)
        {
            throw new ComposeOperationException($"service \"{s.Name}\": pulling {image}: {e.Error.Message}", s.Name, e);
        }
        Report("Image", image, "Pulled");
    }

    /// <summary>`pull`: the images of the services that have one (build-only services are skipped, as docker compose does).</summary>
    public async Task PullAsync(IReadOnlyCollection<string> services, bool ignoreFailures, CancellationToken ct = default)
    {
        foreach (var s in ComposePlanner.Order(Project, ComposePlanner.Selected(Project, services, noDeps: true)))
        {
            if (s.Image is null || s.Build is not null && await InspectImageOrNullAsync(s.Image, ct) is null && s.PullPolicy == "build") continue;
            try { await PullServiceAsync(s, ct); }
            catch (ComposeOperationException e) when (ignoreFailures || s.Build is not null) { Warnings.Add(e.Message); }
        }
    }

    public async Task BuildServiceAsync(ServiceConfig s, bool noCache, CancellationToken ct = default)
    {
        var b = s.Build ?? throw new ComposeOperationException($"service \"{s.Name}\" has no build section", s.Name);
        var image = ContainerRequestBuilder.ImageName(Project, s);
        Report("Image", image, "Building", false);
        var dockerfile = b.Dockerfile is null ? null : Path.IsPathRooted(b.Dockerfile) ? b.Dockerfile : Path.Combine(b.Context, b.Dockerfile);
        string tar;
        string? dockerfileName;
        try { (tar, dockerfileName) = await BuildContext.PackAsync(b.Context, dockerfile, ct); }
        catch (IOException e) { throw new ComposeOperationException($"service \"{s.Name}\": build context {b.Context}: {e.Message}", s.Name, e); }
        try
        {
            var request = new ImageBuildRequest { Dockerfile = dockerfileName, Target = b.Target, NoCache = noCache || b.NoCache == true };
            request.Tags.Add(image);
            request.Tags.AddRange(b.Tags);
            foreach (var (k, v) in b.Args)
                if ((v ?? Environment.GetEnvironmentVariable(k)) is string value) request.BuildArgs[k] = value;
            foreach (var (k, v) in b.Labels) request.Labels[k] = v;
            await using var stream = File.OpenRead(tar);
            await _client.BuildImageAsync(stream, request, null, ct);
        }
        catch (ContainerOpsException e)
        {
            throw new ComposeOperationException($"service \"{s.Name}\": build failed: {e.Error.Message}", s.Name, e);
        }
        finally { File.Delete(tar); }
        Report("Image", image, "Built");
    }

    /// <summary>`build`: every service with a build section (or the named ones).</summary>
    public async Task BuildAsync(IReadOnlyCollection<string> services, bool noCache, CancellationToken ct = default)
    {
        foreach (var s in ComposePlanner.Order(Project, ComposePlanner.Selected(Project, services, noDeps: true)))
            if (s.Build is not null) await BuildServiceAsync(s, noCache, ct);
    }

    /// <summary>`down`: stops and removes the project's containers (dependents first), then its networks, and with
    /// <see cref="DownOptions.RemoveVolumes"/> its volumes. Containers of services no longer in the files are removed
    /// only with <see cref="DownOptions.RemoveOrphans"/>.</summary>
    public async Task DownAsync(DownOptions options, CancellationToken ct = default)
    {
        var containers = await ListContainersAsync(true, ct);
        var known = new HashSet<string>(Project.Services.Keys.Concat(Project.DisabledServices.Keys), StringComparer.Ordinal);
        var orphans = containers.Where(c => !known.Contains(ComposePlanner.Label(c, ComposeLabels.Service) ?? "") && ComposePlanner.Label(c, ComposeLabels.OneOff) != "True").ToList();
        // A project known by its name alone (no files, as `docker compose -p NAME down`): all of it goes.
        var byNameOnly = Project.ConfigFiles.Count == 0;
        if (!options.RemoveOrphans && !byNameOnly && orphans.Count > 0)
        {
            Warnings.Add($"Found orphan containers ({string.Join(", ", orphans.Select(o => o.Name))}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.");
            containers = containers.Except(orphans).ToList();
        }
        // Dependents first: a service's containers go before those of the services it depends on.
        var order = ComposePlanner.Order(Project, new HashSet<string>(Project.Services.Keys, StringComparer.Ordinal)).Select(s => s.Name).ToList();
        var rank = order.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        foreach (var group in containers.GroupBy(c => rank.GetValueOrDefault(ComposePlanner.Label(c, ComposeLabels.Service) ?? "", -1)).OrderByDescending(g => g.Key))
            await Task.WhenAll(group.Select(c => RemoveContainerAsync(c.Name, options.Timeout ?? StopTimeout(Project.Services.GetValueOrDefault(ComposePlanner.Label(c, ComposeLabels.Service) ?? "")), ct)));

        foreach (var n in await _client.ListNetworksAsync(ProjectFilter, ct))
        {
            Report("Network", n.Name, "Removing", false);
            try { await _client.RemoveNetworkAsync(n.Name, ct); }
            catch (ContainerOpsException e) when (IsNotFound(e)) { }
            Report("Network", n.Name, "Removed");
        }

        if (options.RemoveVolumes)
        {
            var filters = new Dictionary<string, List<string>> { ["label"] = [$"{ComposeLabels.Project}={Project.Name}"] };
            foreach (var name in (await _client.ListVolumesAsync(filters, ct)).Select(v => v.Name))
            {
                Report("Volume", name, "Removing", false);
                await _client.RemoveVolumeAsync(name, force: true, ct); // force: one that went meanwhile is no error
                Report("Volume", name, "Removed");
            }
        }

        if (options.RemoveImages is { } rmi)
            foreach (var s in Project.Services.Values)
            {
                if (rmi == "local" && s.Image is not null) continue;
                var image = ContainerRequestBuilder.ImageName(Project, s);
                try
                {
                    await _client.RemoveImageAsync(image, force: false, ct);
                    Report("Image", image, "Removed");
                }
                catch (ContainerOpsException e) when (IsNotFound(e)) { }
                catch (ContainerOpsException e) { Warnings.Add($"image {image}: {e.Error.Message}"); }
            }
    }

    /// <summary>`start`: the services' existing containers, dependencies first.</summary>
    public async Task StartAsync(IReadOnlyCollection<string> services, CancellationToken ct = default)
    {
        var containers = await ServiceContainersAsync(services, true, ct);
        if (containers.Count == 0) throw new ComposeOperationException("no containers to start (run up first)");
        foreach (var s in ComposePlanner.Order(Project, ComposePlanner.Selected(Project, services, noDeps: true)))
            await Task.WhenAll(containers.Where(c => ComposePlanner.Label(c, ComposeLabels.Service) == s.Name && c.State != "running").Select(async c =>
            {
                Report("Container", c.Name, "Starting", false);
                await _client.StartContainerAsync(c.Id, ct);
                Report("Container", c.Name, "Started");
            }));
    }

    /// <summary>`stop`: dependents first, each group in parallel.</summary>
    public async Task StopAsync(IReadOnlyCollection<string> services, int? timeout, CancellationToken ct = default)
    {
        var containers = await ServiceContainersAsync(services, false, ct);
        foreach (var s in Enumerable.Reverse(ComposePlanner.Order(Project, ComposePlanner.Selected(Project, services, noDeps: true))))
            await Task.WhenAll(containers.Where(c => ComposePlanner.Label(c, ComposeLabels.Service) == s.Name).Select(async c =>
            {
                Report("Container", c.Name, "Stopping", false);
                await _client.StopContainerAsync(c.Id, timeout ?? StopTimeout(s), ct);
                Report("Container", c.Name, "Stopped");
            }));
    }

    /// <summary>`restart`: the services' containers, dependencies first; services named come with those that depend on
    /// them with `restart: true` (unless <paramref name="noDeps"/>), as docker compose restarts them.</summary>
    public async Task RestartAsync(IReadOnlyCollection<string> services, int? timeout, bool noDeps = false, CancellationToken ct = default)
    {
        if (services.Count > 0 && !noDeps) services = ComposePlanner.WithRestartDependents(Project, services);
        var containers = await ServiceContainersAsync(services, true, ct);
        foreach (var s in ComposePlanner.Order(Project, ComposePlanner.Selected(Project, services, noDeps: true)))
            await Task.WhenAll(containers.Where(c => ComposePlanner.Label(c, ComposeLabels.Service) == s.Name).Select(async c =>
            {
                Report("Container", c.Name, "Restarting", false);
                await _client.RestartContainerAsync(c.Id, timeout ?? StopTimeout(s), ct);
                Report("Container", c.Name, "Started");
            }));
    }

    /// <summary>`logs`: the lines of every container of the services, merged as they come (each container's own in order).</summary>
    public async IAsyncEnumerable<ServiceLogLine> LogsAsync(IReadOnlyCollection<string> services, bool follow, int? tail,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        var containers = await ServiceContainersAsync(services, true, ct);
        var channel = System.Threading.Channels.Channel.CreateUnbounded<ServiceLogLine>();
        var readers = containers.Select(async c =>
        {
            var service = ComposePlanner.Label(c, ComposeLabels.Service) ?? "";
            await foreach (var entry in _client.GetLogsAsync(c.Id, follow, tail, null, true, true, ct))
                await channel.Writer.WriteAsync(new ServiceLogLine(service, c.Name, ComposePlanner.Number(c), entry), ct);
        }).ToList();
        _ = Task.WhenAll(readers).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        await foreach (var line in channel.Reader.ReadAllAsync(ct)) yield return line;
    }
}
