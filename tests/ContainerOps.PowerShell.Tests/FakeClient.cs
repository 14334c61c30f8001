using System.Runtime.CompilerServices;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell.Tests;

/// <summary>An in-memory daemon: enough behaviour for the cmdlets' binding, pipelines and error paths.</summary>
internal sealed class FakeClient : IContainerOpsClient
{
    public string Endpoint => "fake";
    public List<ContainerSummary> Containers { get; } = new();
    public List<ImageSummary> Images { get; } = new();
    public List<string> Calls { get; } = new();
    public ContainerCreateRequest? LastCreate { get; private set; }
    public ExecCreateRequest? LastExec { get; private set; }
    public string? LastExecStdin { get; private set; }
    public List<LogEntry> Logs { get; } = new();
    public List<EventMessage> Events { get; } = new();
    public List<StreamFrame> ExecFrames { get; } = new();
    public int ExitCode { get; set; }
    /// <summary>State.Health by container name; a container listed here has a health check.</summary>
    public Dictionary<string, ContainerHealth> Health { get; } = new();
    private int _next = 1;

    public ContainerSummary Add(string name, string state = "running", string image = "busybox:latest")
    {
        var id = (_next++).ToString("x2") + new string('a', 62);
        var c = new ContainerSummary { Id = id, Name = name, Image = image, State = state, Status = state == "running" ? "Up 1 second" : "Exited (0) 1 second ago", Created = DateTimeOffset.UtcNow, Command = "sh" };
        Containers.Add(c);
        return c;
    }

    private ContainerSummary Find(string idOrName) =>
        Containers.FirstOrDefault(c => c.Id == idOrName || c.Name == idOrName)
        ?? Containers.FirstOrDefault(c => c.Id.StartsWith(idOrName, StringComparison.Ordinal))
        ?? throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"No such container: {idOrName}", idOrName);

    private Task Record(string call, string target)
    {
        Find(target);
        Calls.Add($"{call} {target}");
        return Task.CompletedTask;
    }

    public Task PingAsync(CancellationToken ct = default) => Task.CompletedTask;

    public Task<ContainerCreateResponse> CreateContainerAsync(ContainerCreateRequest request, CancellationToken ct = default)
    {
        LastCreate = request;
        if (MissingImages.Contains(request.Image))
            throw new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", $"No such image: {request.Image}", request.Image);
        if (request.Name is not null && Containers.Any(c => c.Name == request.Name))
            throw new ContainerOpsException(ErrorKind.Conflict, "NameInUse", $"The name {request.Name} is in use.", request.Name, "Name");
        var c = Add(request.Name ?? $"auto{_next}", "created", request.Image);
        Calls.Add($"create {c.Name}");
        return Task.FromResult(new ContainerCreateResponse { Id = c.Id, Warnings = request.HostConfig.Memory == 1 ? ["tiny memory"] : [] });
    }

    public Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(bool all = false, IDictionary<string, string>? filters = null, CancellationToken ct = default)
    {
        Calls.Add($"list all={all} filters={(filters is null ? "" : string.Join(",", filters.Select(kv => kv.Key + "=" + kv.Value)))}");
        return Task.FromResult<IReadOnlyList<ContainerSummary>>(Containers.Where(c => all || c.State == "running").ToList());
    }

    public Task<ContainerDetails> InspectContainerAsync(string idOrName, CancellationToken ct = default)
    {
        var c = Find(idOrName);
        var health = Health.GetValueOrDefault(c.Name);
        return Task.FromResult(new ContainerDetails
        {
            Id = c.Id, Name = "/" + c.Name, ImageName = c.Image, State = new ContainerState { Status = c.State, Running = c.State == "running", Health = health },
            Config = new ContainerConfig { Healthcheck = health is null ? null : new HealthConfig { Test = ["CMD-SHELL", "true"] } },
        });
    }

    public Task StartContainerAsync(string idOrName, CancellationToken ct = default)
    {
        if (Find(idOrName).Image == "broken")
            throw new ContainerOpsException(ErrorKind.CommandNotFound, "CommandNotFound", "exec: \"nope\": not found", idOrName);
        Find(idOrName).State = "running";
        return Record("start", idOrName);
    }

    public Task StopContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default)
    {
        Find(idOrName).State = "exited";
        return Record($"stop t={timeoutSeconds}", idOrName);
    }

    public Task RestartContainerAsync(string idOrName, int? timeoutSeconds = null, CancellationToken ct = default) => Record("restart", idOrName);
    public Task KillContainerAsync(string idOrName, string signal = "KILL", CancellationToken ct = default) => Record($"kill {signal}", idOrName);
    public Task PauseContainerAsync(string idOrName, CancellationToken ct = default) => Record("pause", idOrName);
    public Task UnpauseContainerAsync(string idOrName, CancellationToken ct = default) => Record("unpause", idOrName);

    public Task<Task<ContainerWaitResponse>> RegisterWaitAsync(string idOrName, string condition, CancellationToken ct = default) =>
        throw new NotSupportedException("the cmdlets do not register waits");
    public Task<IAsyncEnumerable<LogEntry>> AttachOutputAsync(string idOrName, bool stdout = true, bool stderr = true, CancellationToken ct = default) =>
        throw new NotSupportedException("the cmdlets do not attach");
    public async Task<ContainerWaitResponse> WaitContainerAsync(string idOrName, CancellationToken ct = default)
    {
        var c = Find(idOrName);
        Calls.Add($"wait {idOrName}");
        if (c.State == "running" && c.Name.StartsWith("forever", StringComparison.Ordinal)) await Task.Delay(Timeout.Infinite, ct);
        c.State = "exited";
        c.ExitCode = ExitCode;
        return new ContainerWaitResponse { StatusCode = ExitCode };
    }

    public Task RemoveContainerAsync(string idOrName, bool force = false, CancellationToken ct = default)
    {
        var c = Find(idOrName);
        if (c.State == "running" && !force)
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerRunning", $"Container {c.Name} is running; stop it or use -Force.", c.Name);
        Containers.Remove(c);
        Calls.Add($"remove force={force} {idOrName}");
        return Task.CompletedTask;
    }

    public Task RenameContainerAsync(string idOrName, string newName, CancellationToken ct = default)
    {
        Find(idOrName).Name = newName;
        Calls.Add($"rename {idOrName} {newName}");
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<LogEntry> GetLogsAsync(string idOrName, bool follow = false, int? tail = null, DateTimeOffset? since = null,
        bool stdout = true, bool stderr = true, [EnumeratorCancellation] CancellationToken ct = default)
    {
        Find(idOrName);
        Calls.Add($"logs follow={follow} tail={tail} stdout={stdout} stderr={stderr} {idOrName}");
        var entries = Logs.Where(l => (stdout || l.Stream != "stdout") && (stderr || l.Stream != "stderr")).ToList();
        if (tail is int t) entries = entries.TakeLast(t).ToList();
        foreach (var e in entries)
        {
            await Task.Yield();
            yield return e;
        }
        if (follow && Find(idOrName).Name.StartsWith("forever", StringComparison.Ordinal)) await Task.Delay(Timeout.Infinite, ct);
    }

    /// <summary>The events kept in <see cref="Events"/>, filtered by type only; with no until it then waits for <paramref name="ct"/>.</summary>
    public async IAsyncEnumerable<EventMessage> GetEventsAsync(DateTimeOffset? since = null, DateTimeOffset? until = null,
        IReadOnlyDictionary<string, List<string>>? filters = null, [EnumeratorCancellation] CancellationToken ct = default)
    {
        Calls.Add($"events since={since?.ToUnixTimeSeconds()} until={(until is null ? "" : "set")} filters={string.Join(";", (filters ?? new Dictionary<string, List<string>>()).OrderBy(kv => kv.Key).Select(kv => kv.Key + "=" + string.Join(",", kv.Value)))}");
        foreach (var e in Events.Where(e => filters?.GetValueOrDefault("type") is not { } types || types.Contains(e.Type)))
        {
            await Task.Yield();
            yield return e;
        }
        if (until is null) await Task.Delay(Timeout.Infinite, ct);
    }

    public Task<ContainerProcessList> TopContainerAsync(string idOrName, CancellationToken ct = default)
    {
        Find(idOrName);
        return Task.FromResult(new ContainerProcessList
        {
            Titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
            Processes = [["root", "4242", "4200", "0", "08:00", "?", "00:00:00", "sh -c sleep 100"]],
        });
    }

    public Task<ContainerStats> StatsContainerAsync(string idOrName, CancellationToken ct = default)
    {
        var c = Find(idOrName);
        return Task.FromResult(new ContainerStats { Id = c.Id, Name = c.Name, MemoryUsage = 1 << 20, Pids = 2 });
    }

    public async IAsyncEnumerable<StreamFrame> ExecAsync(string idOrName, ExecCreateRequest request, Stream? stdin = null,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        Find(idOrName);
        LastExec = request;
        if (stdin is not null) LastExecStdin = await new StreamReader(stdin).ReadToEndAsync(ct);
        foreach (var f in ExecFrames)
        {
            await Task.Yield();
            yield return f;
        }
    }

    public Task<InteractiveSession> ExecInteractiveAsync(string idOrName, ExecCreateRequest request, CancellationToken ct = default) => throw new NotSupportedException();
    public Task<InteractiveSession> AttachAsync(string idOrName, CancellationToken ct = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<ImageSummary>> ListImagesAsync(bool all = false, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<ImageSummary>>(Images.ToList());

    public Task<ImageDetails> InspectImageAsync(string nameOrId, CancellationToken ct = default) => throw new NotSupportedException();

    public async Task<ImageLoadResponse> ImportImageAsync(Stream rootfsTar, string? reference, IEnumerable<string>? changes = null,
        IProgress<long>? bytesSent = null, CancellationToken ct = default)
    {
        var buffer = new byte[4096];
        long total = 0;
        int n;
        while ((n = await rootfsTar.ReadAsync(buffer, ct)) > 0) bytesSent?.Report(total += n);
        Calls.Add($"import {reference} changes={string.Join("|", changes ?? [])} bytes={total}");
        var image = new ImageSummary { Id = "sha256:" + new string('b', 64), RepoTags = reference is null ? [] : [reference], Size = total };
        Images.Add(image);
        return new ImageLoadResponse { Images = [image] };
    }

    public Task<ImageLoadResponse> LoadImageAsync(Stream archive, IProgress<long>? bytesSent = null, CancellationToken ct = default)
    {
        Calls.Add("load");
        return Task.FromResult(new ImageLoadResponse());
    }

    public Task TagImageAsync(string source, string target, CancellationToken ct = default)
    {
        var image = Images.FirstOrDefault(i => i.RepoTags.Contains(source) || i.Id == source)
                    ?? throw new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", $"No such image: {source}", source);
        image.RepoTags.Add(target);
        return Task.CompletedTask;
    }

    public Task<ImageRemoveResponse> RemoveImageAsync(string nameOrId, bool force = false, CancellationToken ct = default)
    {
        var image = Images.FirstOrDefault(i => i.RepoTags.Contains(nameOrId) || i.Id == nameOrId)
                    ?? throw new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", $"No such image: {nameOrId}", nameOrId);
        Images.Remove(image);
        Calls.Add($"rmi force={force} {nameOrId}");
        return Task.FromResult(new ImageRemoveResponse { Deleted = [image.Id] });
    }

    public void Dispose() { }

    // Image operations the cmdlet unit tests do not cover (the Pester and daemon tests run them against a real daemon).
    private static Task<T> NotHere<T>() => Task.FromException<T>(new NotSupportedException("not in the fake daemon"));
    public ImageBuildRequest? LastBuild { get; private set; }

    /// <summary>Records the request and "builds" an image named after its first tag.</summary>
    public Task<ProgressFrame> BuildImageAsync(Stream contextTar, ImageBuildRequest request, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default)
    {
        LastBuild = request;
        var image = new ImageSummary { Id = "sha256:" + new string('b', 64), RepoTags = request.Tags.ToList(), Created = DateTimeOffset.UtcNow };
        Images.Add(image);
        return Task.FromResult(new ProgressFrame { ImageId = image.Id, Tags = image.RepoTags });
    }
    /// <summary>Images a create does not find until they are pulled; one named gone… cannot be pulled either.</summary>
    public HashSet<string> MissingImages { get; } = new(StringComparer.Ordinal);

    public Task<ProgressFrame> PullImageAsync(string reference, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default)
    {
        Calls.Add($"pull {reference}");
        if (reference.StartsWith("gone", StringComparison.Ordinal))
            return Task.FromException<ProgressFrame>(new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", $"manifest not found: {reference}", reference));
        MissingImages.Remove(reference);
        progress?.Report(new ProgressFrame { Id = "layer1", Status = "Downloading", Current = 50, Total = 100 });
        return Task.FromResult(new ProgressFrame { Status = "Downloaded", ImageId = "sha256:" + new string('a', 64) });
    }
    public Task<ProgressFrame> PushImageAsync(string reference, string? target = null, bool insecure = false, IProgress<ProgressFrame>? progress = null, CancellationToken ct = default) => NotHere<ProgressFrame>();
    public Task<RegistryLoginResponse> LoginAsync(RegistryLoginRequest request, CancellationToken ct = default) => NotHere<RegistryLoginResponse>();
    public Task<RegistryLoginResponse> LogoutAsync(string server, CancellationToken ct = default) => NotHere<RegistryLoginResponse>();
    public Task SaveImagesAsync(IEnumerable<string> names, Stream output, string format = "docker", IProgress<long>? bytesReceived = null, CancellationToken ct = default) => NotHere<bool>();
    public Task ExportContainerAsync(string idOrName, Stream output, IProgress<long>? bytesReceived = null, CancellationToken ct = default) => NotHere<bool>();
    public Task<ImageSummary> CommitContainerAsync(CommitRequest request, CancellationToken ct = default) => NotHere<ImageSummary>();
    public Task<IReadOnlyList<ContainerChange>> GetContainerChangesAsync(string idOrName, CancellationToken ct = default) => NotHere<IReadOnlyList<ContainerChange>>();
    public Task<IReadOnlyList<ImageHistoryEntry>> GetImageHistoryAsync(string nameOrId, CancellationToken ct = default) => NotHere<IReadOnlyList<ImageHistoryEntry>>();
    public Task<PruneResponse> PruneImagesAsync(bool all = false, CancellationToken ct = default)
    {
        Calls.Add($"prune images all={all}");
        return Task.FromResult(new PruneResponse());
    }
    public Task<PruneResponse> PruneContainersAsync(CancellationToken ct = default) => NotHere<PruneResponse>();
    public Task<DiskUsage> GetDiskUsageAsync(CancellationToken ct = default) => NotHere<DiskUsage>();
    public Task<PruneResponse> PruneBuildCacheAsync(CancellationToken ct = default) => NotHere<PruneResponse>();

    // Networks: a list the network cmdlets can create in, find and remove from.
    public List<NetworkResource> Networks { get; } = new() { new NetworkResource { Name = "bridge", Id = new string('b', 64), Driver = "bridge" } };

    private NetworkResource FindNetwork(string idOrName) =>
        Networks.FirstOrDefault(n => n.Id == idOrName || n.Name == idOrName) ?? Networks.FirstOrDefault(n => n.Id.StartsWith(idOrName, StringComparison.Ordinal))
        ?? throw new ContainerOpsException(ErrorKind.NotFound, "NetworkNotFound", $"network {idOrName} not found", idOrName);

    public Task<IReadOnlyList<NetworkResource>> ListNetworksAsync(IDictionary<string, string>? filters = null, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<NetworkResource>>(Networks.ToList());

    public Task<NetworkResource> InspectNetworkAsync(string idOrName, CancellationToken ct = default) => Task.FromResult(FindNetwork(idOrName));

    public Task<NetworkCreateResponse> CreateNetworkAsync(NetworkCreateRequest request, CancellationToken ct = default)
    {
        if (Networks.Any(n => n.Name == request.Name))
            throw new ContainerOpsException(ErrorKind.Conflict, "NetworkNameInUse", $"network with name {request.Name} already exists", request.Name);
        var n = new NetworkResource
        {
            Name = request.Name, Id = (_next++).ToString("x2") + new string('c', 62), Driver = request.Driver ?? "bridge", Internal = request.Internal,
            IPAM = request.IPAM ?? new IPAM { Config = [new IPAMConfig { Subnet = "172.18.0.0/16", Gateway = "172.18.0.1" }] }, Labels = request.Labels,
        };
        Networks.Add(n);
        Calls.Add($"network-create {request.Name}");
        return Task.FromResult(new NetworkCreateResponse { Id = n.Id });
    }

    public Task RemoveNetworkAsync(string idOrName, CancellationToken ct = default)
    {
        Networks.Remove(FindNetwork(idOrName));
        Calls.Add($"network-rm {idOrName}");
        return Task.CompletedTask;
    }

    public Task ConnectNetworkAsync(string network, string container, EndpointSettings? settings = null, CancellationToken ct = default)
    {
        FindNetwork(network);
        return Record($"connect {network}", container);
    }

    public Task DisconnectNetworkAsync(string network, string container, bool force = false, CancellationToken ct = default)
    {
        FindNetwork(network);
        return Record($"disconnect {network}", container);
    }

    public Task<NetworkPruneResponse> PruneNetworksAsync(CancellationToken ct = default) => NotHere<NetworkPruneResponse>();

    // Volumes: a list the volume cmdlets can create in, find and remove from.
    public List<Volume> Volumes { get; } = new();

    private Volume FindVolume(string name) =>
        Volumes.FirstOrDefault(v => v.Name == name) ?? throw new ContainerOpsException(ErrorKind.NotFound, "VolumeNotFound", $"no such volume: {name}", name);

    public Task<IReadOnlyList<Volume>> ListVolumesAsync(IDictionary<string, List<string>>? filters = null, CancellationToken ct = default)
    {
        Calls.Add($"volumes filters={(filters is null ? "" : string.Join(",", filters.Select(kv => kv.Key + "=" + string.Join("|", kv.Value))))}");
        return Task.FromResult<IReadOnlyList<Volume>>(Volumes.ToList());
    }

    public Task<Volume> InspectVolumeAsync(string name, CancellationToken ct = default) => Task.FromResult(FindVolume(name));

    public Task<Volume> CreateVolumeAsync(VolumeCreateRequest request, CancellationToken ct = default)
    {
        var name = string.IsNullOrEmpty(request.Name) ? new string('a', 64) : request.Name;
        Calls.Add($"volume create {name} opts={string.Join(",", request.DriverOpts.Select(kv => kv.Key + "=" + kv.Value))} labels={string.Join(",", request.Labels.Select(kv => kv.Key + "=" + kv.Value))}");
        var v = Volumes.FirstOrDefault(x => x.Name == name);
        if (v is null) Volumes.Add(v = new Volume { Name = name, Mountpoint = "/var/lib/containerops/volumes/" + name + "/_data", Labels = new(request.Labels), Options = new(request.DriverOpts), CreatedAt = "2026-12-04T21:00:00Z" });
        return Task.FromResult(v);
    }

    public Task RemoveVolumeAsync(string name, bool force = false, CancellationToken ct = default)
    {
        Calls.Add($"volume rm force={force} {name}");
        var v = Volumes.FirstOrDefault(x => x.Name == name);
        if (v is null && !force) throw new ContainerOpsException(ErrorKind.NotFound, "VolumeNotFound", $"no such volume: {name}", name);
        if (v is not null) Volumes.Remove(v);
        return Task.CompletedTask;
    }

    public Task<VolumePruneResponse> PruneVolumesAsync(bool all = false, IDictionary<string, List<string>>? filters = null, CancellationToken ct = default)
    {
        Calls.Add($"volume prune all={all}");
        var gone = Volumes.Where(v => all || v.Labels.ContainsKey("com.docker.volume.anonymous")).ToList();
        foreach (var v in gone) Volumes.Remove(v);
        return Task.FromResult(new VolumePruneResponse { VolumesDeleted = gone.Select(v => v.Name).ToList() });
    }

    public Task RemoveContainerAsync(string idOrName, bool force, bool removeVolumes, CancellationToken ct = default)
    {
        Calls.Add($"remove volumes={removeVolumes}");
        return RemoveContainerAsync(idOrName, force, ct);
    }

    public Task<DiskUsage> GetDiskUsageAsync(bool verbose, CancellationToken ct = default) => GetDiskUsageAsync(ct);
    /// <summary>Cluster objects by API path (api/v1/namespaces/NS/services/NAME), for the cluster cmdlets: GET of an
    /// object or a collection (a labelSelector of one key=value), POST to a collection, PUT, DELETE.</summary>
    public Dictionary<string, System.Text.Json.Nodes.JsonObject> ClusterObjects { get; } = new(StringComparer.Ordinal);

    public Task<System.Text.Json.Nodes.JsonNode?> SendJsonAsync(HttpMethod method, string path, System.Text.Json.Nodes.JsonNode? body = null, CancellationToken ct = default, string mediaType = "application/json")
    {
        Calls.Add($"{method} {path}");
        var query = path.Contains('?') ? Uri.UnescapeDataString(path[(path.IndexOf('?') + 1)..]) : "";
        path = path.Split('?')[0];
        var segments = path.Split('/');
        // namespaces/NS/KIND[/NAME] or KIND (all namespaces) after the group and version.
        var nsAt = Array.IndexOf(segments, "namespaces");
        var isCollection = nsAt < 0 || segments.Length == nsAt + 3;
        System.Text.Json.Nodes.JsonNode? Clone(System.Text.Json.Nodes.JsonNode n) => n.DeepClone();
        Task<System.Text.Json.Nodes.JsonNode?> Answer(System.Text.Json.Nodes.JsonNode? n) => Task.FromResult(n is null ? null : Clone(n));
        Task<System.Text.Json.Nodes.JsonNode?> Status(int code, string reason) => Task.FromException<System.Text.Json.Nodes.JsonNode?>(new ContainerOpsException(ErrorKind.Internal, "Http",
            $"daemon answered {code}: {{\"kind\":\"Status\",\"code\":{code},\"reason\":\"{reason}\",\"message\":\"{path} {reason}\"}}"));
        if (method == HttpMethod.Get && isCollection)
        {
            var kind = segments[^1];
            var prefix = nsAt < 0 ? null : string.Join('/', segments);
            var (key, value) = query.StartsWith("labelSelector=", StringComparison.Ordinal) && query["labelSelector=".Length..].Split('=') is [var k, var v] ? (k, v) : ("", "");
            var items = ClusterObjects.Where(kv => prefix is null ? kv.Key.Split('/')[^2] == kind : kv.Key.StartsWith(prefix + "/", StringComparison.Ordinal))
                .Where(kv => key == "" || kv.Value["metadata"]?["labels"]?[key]?.GetValue<string>() == value)
                .Select(kv => Clone(kv.Value)).ToArray();
            return Answer(new System.Text.Json.Nodes.JsonObject { ["items"] = new System.Text.Json.Nodes.JsonArray(items) });
        }
        if (method == HttpMethod.Post)
        {
            var o = (System.Text.Json.Nodes.JsonObject)body!.DeepClone();
            var name = o["metadata"]!["name"]!.GetValue<string>();
            if (ClusterObjects.ContainsKey(path + "/" + name)) return Status(409, "AlreadyExists");
            o["metadata"]!["creationTimestamp"] = "2026-12-05T00:00:00Z";
            ClusterObjects[path + "/" + name] = o;
            return Answer(o);
        }
        if (!ClusterObjects.TryGetValue(path, out var existing)) return Status(404, "NotFound");
        if (method == HttpMethod.Put) return Answer(ClusterObjects[path] = (System.Text.Json.Nodes.JsonObject)body!.DeepClone());
        if (method == HttpMethod.Delete) ClusterObjects.Remove(path);
        return Answer(existing);
    }
    public Task<string> GetKubeconfigAsync(CancellationToken ct = default) => NotHere<string>();
    public IAsyncEnumerable<string> ReadLinesAsync(string path, CancellationToken ct = default) => throw new NotSupportedException("not in the fake daemon");
}
