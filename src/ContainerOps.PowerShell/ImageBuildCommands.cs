using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Shared by the cmdlets that stream progress frames: frames are queued by the client's thread and turned
/// into Write-Progress records on the pipeline thread.</summary>
public abstract class ImageTransferCmdlet : ContainerOpsCmdlet
{
    private protected sealed class Queue : IProgress<ProgressFrame>
    {
        public readonly ConcurrentQueue<ProgressFrame> Frames = new();
        public void Report(ProgressFrame value) => Frames.Enqueue(value);
    }

    private protected static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(150);

    /// <summary>Pulls <paramref name="reference"/> with Write-Progress per layer (Receive-ContainerImage, and
    /// New-Container for an image it does not find); the final frame.</summary>
    private protected ProgressFrame PullWithProgress(string reference, bool insecure)
    {
        var queue = new Queue();
        var progress = new LayerProgress(this, "Pulling " + reference, "Resolving");
        try
        {
            var result = RunWithTicks(ct => Client.PullImageAsync(reference, insecure, queue, ct), Tick, () => progress.Drain(queue));
            progress.Drain(queue);
            return result;
        }
        finally { progress.Complete(); }
    }

    /// <summary>The image summary of <paramref name="id"/> (config digest), or null when the daemon no longer lists it.</summary>
    private protected ImageSummary? FindImage(string id) => Run(ct => Client.ListImagesAsync(true, ct)).FirstOrDefault(i => i.Id == id);

    /// <summary>One parent record for the pull or push and one child per layer, with bytes done of the layer's size.</summary>
    private protected sealed class LayerProgress(ImageTransferCmdlet cmdlet, string activity, string what)
    {
        private readonly Dictionary<string, ProgressRecord> _layers = new();
        private readonly ProgressRecord _parent = new(1, activity, what);
        private int _next = 2;

        public void Drain(Queue q)
        {
            while (q.Frames.TryDequeue(out var f))
            {
                if (f.Id is null) { if (f.Status != null) { _parent.StatusDescription = f.Status; cmdlet.WriteProgress(_parent); } continue; }
                if (!_layers.TryGetValue(f.Id, out var r))
                    _layers[f.Id] = r = new ProgressRecord(_next++, "Layer " + Short(f.Id), "Waiting") { ParentActivityId = 1 };
                r.StatusDescription = f.Total is > 0 ? $"{f.Status}: {f.Current / 1048576.0:N1} of {f.Total / 1048576.0:N1} MiB" : f.Status ?? "";
                r.PercentComplete = f.Total is > 0 && f.Current is long cur ? (int)Math.Min(100, cur * 100 / f.Total.Value) : -1;
                if (f.Status is "Done" or "Already exists" or "Mounted from another repository") r.RecordType = ProgressRecordType.Completed;
                cmdlet.WriteProgress(r);
                var done = _layers.Values.Count(x => x.RecordType == ProgressRecordType.Completed);
                _parent.StatusDescription = $"{done} of {_layers.Count} layers";
                _parent.PercentComplete = _layers.Count > 0 ? done * 100 / _layers.Count : -1;
                cmdlet.WriteProgress(_parent);
            }
        }

        public void Complete()
        {
            foreach (var r in _layers.Values.Where(r => r.RecordType != ProgressRecordType.Completed))
            {
                r.RecordType = ProgressRecordType.Completed;
                cmdlet.WriteProgress(r);
            }
            _parent.RecordType = ProgressRecordType.Completed;
            cmdlet.WriteProgress(_parent);
        }

        private static string Short(string digest) => digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.Length > 19 ? digest[7..19] : digest;
    }
}

/// <summary>Builds an image from a Dockerfile (`docker build`). The context directory is packed and sent to the daemon,
/// which applies .dockerignore. Write-Progress shows one activity for the build and a child per step; RUN output goes
/// to the verbose stream. Writes the image.</summary>
/// <example><code>Build-ContainerImage -Path . -Tag app:1</code>Like `docker build -t app:1 .`.</example>
/// <example><code>Build-ContainerImage ./src -File ./src/Dockerfile.prod -BuildArgument @{ VERSION = '2.0' } -Target runtime -NoCache</code>Like `docker build -f src/Dockerfile.prod --build-arg VERSION=2.0 --target runtime --no-cache src`.</example>
/// <example><code>Build-ContainerImage -Path . -Tag app:1 -Secret 'id=npmrc,src=~/.npmrc'</code>Like `docker build --secret id=npmrc,src=$HOME/.npmrc -t app:1 .`: a RUN --mount=type=secret,id=npmrc reads it at /run/secrets/npmrc.</example>
/// <example><code>Build-ContainerImage -Path . -Tag app:1 | Publish-ContainerImage -Registry 127.0.0.1:5000</code>Builds, then pushes the result as 127.0.0.1:5000/app:1.</example>
[Cmdlet("Build", "ContainerImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ImageSummary))]
public sealed class BuildContainerImageCommand : ImageTransferCmdlet
{
    /// <summary>The build context directory (default: the current directory).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "Context")]
    public string Path { get; set; } = ".";

    /// <summary>Names for the image (repository[:tag]), like `-t`.</summary>
    [Parameter]
    [Alias("Reference")]
    public string[]? Tag { get; set; }

    /// <summary>The Dockerfile (default: Dockerfile in the context), like `-f`.</summary>
    [Parameter]
    [Alias("Dockerfile")]
    public string? File { get; set; }

    /// <summary>Build-time variables (ARG), as a hashtable or KEY=VALUE strings, like `--build-arg`.</summary>
    [Parameter]
    public object[]? BuildArgument { get; set; }

    /// <summary>The stage to build in a multi-stage Dockerfile, like `--target`.</summary>
    [Parameter]
    public string? Target { get; set; }

    /// <summary>Do not reuse cached steps, like `--no-cache`.</summary>
    [Parameter]
    public SwitchParameter NoCache { get; set; }

    /// <summary>Secrets RUN --mount=type=secret can read, like `--secret`: 'id=npmrc,src=~/.npmrc' (a file) or
    /// 'id=token,env=TOKEN' (an environment variable), or a hashtable of id = file path.</summary>
    [Parameter]
    public object[]? Secret { get; set; }

    /// <summary>Entitlements, like `--allow`: security.insecure lets RUN --security=insecure run privileged.</summary>
    [Parameter]
    [ValidateSet("security.insecure", "network.host")]
    public string[]? Allow { get; set; }

    /// <summary>-Secret as --secret specifications: strings as given, a hashtable's entries as id = file path. File
    /// paths are PowerShell paths (relative to the current location, ~ for home).</summary>
    private IEnumerable<string> SecretSpecs(object[]? items)
    {
        foreach (var item in items ?? [])
        {
            var o = item is PSObject p ? p.BaseObject : item;
            if (o is IDictionary d)
            {
                foreach (DictionaryEntry e in d)
                {
                    var v = (e.Value is PSObject pv ? pv.BaseObject : e.Value)?.ToString() ?? "";
                    yield return $"id={e.Key},src={SessionState.Path.GetUnresolvedProviderPathFromPSPath(v)}";
                }
            }
            else if (o?.ToString() is { Length: > 0 } spec)
                yield return string.Join(',', spec.Split(',').Select(field =>
                    field.Split('=', 2) is [var k, var v] && k.Trim().ToLowerInvariant() is "src" or "source"
                        ? k + "=" + SessionState.Path.GetUnresolvedProviderPathFromPSPath(v.Trim())
                        : field));
        }
    }

    protected override void ProcessRecord()
    {
        var dir = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (!Directory.Exists(dir))
        {
            WriteError(new ErrorRecord(new DirectoryNotFoundException($"Build context '{dir}' is not a directory."), "BuildContextNotFound", ErrorCategory.ObjectNotFound, Path));
            return;
        }
        var dockerfile = File is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(File);
        if (!ShouldProcess(dir, "Build image" + (Tag is { Length: > 0 } ? " " + string.Join(", ", Tag) : ""))) return;

        var request = new ImageBuildRequest
        {
            Tags = Tag?.ToList() ?? new(),
            Target = Target,
            NoCache = NoCache,
            BuildArgs = ToDictionary(BuildArgument),
            Allow = Allow?.ToList() ?? new(),
        };
        try
        {
            foreach (var spec in SecretSpecs(Secret))
            {
                var (id, value) = BuildSecrets.Read(spec);
                request.Secrets[id] = value;
            }
        }
        catch (ArgumentException ex)
        {
            WriteError(new ErrorRecord(ex, "InvalidSecret", ErrorCategory.InvalidArgument, Secret));
            return;
        }
        string tar;
        try { (tar, request.Dockerfile) = Run(ct => BuildContext.PackAsync(dir, dockerfile, ct)); }
        catch (FileNotFoundException ex)
        {
            WriteError(new ErrorRecord(ex, "DockerfileNotFound", ErrorCategory.ObjectNotFound, File));
            return;
        }
        var queue = new Queue();
        var build = new ProgressRecord(1, "Building image", System.IO.Path.GetFileName(dir.TrimEnd('/')) is { Length: > 0 } n ? n : dir);
        ProgressRecord? step = null;
        void Drain()
        {
            while (queue.Frames.TryDequeue(out var f))
            {
                if (f.Stream is { } text) { WriteVerbose(text.TrimEnd('\n')); continue; }
                if (f.Status is null || f.ImageId != null) continue;
                if (f.Step is int s && f.TotalSteps is int total && f.Status.StartsWith("Step ", StringComparison.Ordinal))
                {
                    if (step != null) { step.RecordType = ProgressRecordType.Completed; WriteProgress(step); }
                    step = new ProgressRecord(2, $"Step {s}/{total}", f.Status) { ParentActivityId = 1 };
                    build.PercentComplete = Math.Min(100, (s - 1) * 100 / Math.Max(1, total));
                    build.StatusDescription = f.Status;
                    WriteProgress(build);
                    WriteProgress(step);
                }
                else if (step != null) { step.StatusDescription = f.Status.Trim(); WriteProgress(step); }
                else WriteVerbose(f.Status);
            }
        }
        try
        {
            using var input = System.IO.File.OpenRead(tar);
            var result = RunWithTicks(ct => Client.BuildImageAsync(input, request, queue, ct), Tick, Drain);
            Drain();
            if (step != null) { step.RecordType = ProgressRecordType.Completed; WriteProgress(step); }
            build.RecordType = ProgressRecordType.Completed;
            WriteProgress(build);
            if (FindImage(result.ImageId!) is { } image) WriteObject(image);
        }
        catch (ContainerOpsException ex)
        {
            Drain();
            WriteApiError(ex);
        }
        finally
        {
            try { System.IO.File.Delete(tar); } catch (IOException) { }
        }
    }
}

/// <summary>
/// Downloads an image from a registry (`docker pull`), with Write-Progress per layer. The verb is Receive, PowerShell's
/// approved verb for accepting data sent from elsewhere (the Communications group's counterpart of Send); Save would
/// mean writing to a file, Install would suggest setting software up, and Get-ContainerImage lists what is local.
/// </summary>
/// <example><code>Receive-ContainerImage busybox:1.36</code>Like `docker pull busybox:1.36`.</example>
/// <example><code>Receive-ContainerImage 127.0.0.1:5000/app:1</code>Pulls from a registry on this machine (loopback registries may use plain HTTP, as with Docker).</example>
[Cmdlet(VerbsCommunications.Receive, "ContainerImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ImageSummary))]
public sealed class ReceiveContainerImageCommand : ImageTransferCmdlet
{
    /// <summary>The image reference: [registry/]repository[:tag|@digest].</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Reference", "Image")]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Allow plain HTTP or unverified TLS for this registry.</summary>
    [Parameter]
    public SwitchParameter Insecure { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var reference in Name)
        {
            if (!ShouldProcess(reference, "Pull image")) continue;
            TryStep(() =>
            {
                if (FindImage(PullWithProgress(reference, Insecure).ImageId!) is { } image) WriteObject(image);
            });
        }
    }
}

/// <summary>What a push sent.</summary>
public sealed class ImagePushResult
{
    public string Reference { get; set; } = "";
    public string Digest { get; set; } = "";
    public string ImageId { get; set; } = "";
}

/// <summary>
/// Uploads an image to a registry (`docker push`), with Write-Progress per layer. The verb is Publish, PowerShell's
/// approved verb for making a resource available to others (as Publish-Module puts a module in a gallery). With
/// -Registry the image goes to that registry under its repository and tag (app:1 → 127.0.0.1:5000/app:1).
/// </summary>
/// <example><code>Publish-ContainerImage 127.0.0.1:5000/app:1</code>Like `docker push 127.0.0.1:5000/app:1`.</example>
/// <example><code>Get-ContainerImage app:1 | Publish-ContainerImage -Registry registry.example.com</code>Pushes app:1 as registry.example.com/app:1 without tagging it first.</example>
[Cmdlet(VerbsData.Publish, "ContainerImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ImagePushResult))]
public sealed class PublishContainerImageCommand : ImageTransferCmdlet
{
    /// <summary>The local image reference(s); image objects bind by their RepoTags.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Reference", "RepoTags")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Push to this registry (host[:port]) instead of the one the name says.</summary>
    [Parameter]
    public string? Registry { get; set; }

    /// <summary>Allow plain HTTP or unverified TLS for this registry.</summary>
    [Parameter]
    public SwitchParameter Insecure { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var reference in Name)
        {
            var target = Registry is { Length: > 0 } r ? r.TrimEnd('/') + "/" + RepositoryPath(reference) : null;
            if (!ShouldProcess(target ?? reference, "Push image" + (target != null ? " " + reference : ""))) continue;
            var queue = new Queue();
            var progress = new LayerProgress(this, "Pushing " + (target ?? reference), "Preparing");
            TryStep(() =>
            {
                try
                {
                    var result = RunWithTicks(ct => Client.PushImageAsync(reference, target, Insecure, queue, ct), Tick, () => progress.Drain(queue));
                    progress.Drain(queue);
                    WriteObject(new ImagePushResult { Reference = target ?? reference, Digest = result.Digest ?? "", ImageId = result.ImageId ?? "" });
                }
                finally { progress.Complete(); }
            });
        }
    }

    /// <summary>"docker.io/library/app:1" → "app:1"; "old.host:5000/team/app:1" → "team/app:1".</summary>
    internal static string RepositoryPath(string reference)
    {
        var first = reference.IndexOf('/');
        if (first > 0)
        {
            var head = reference[..first];
            if (head.Contains('.') || head.Contains(':') || head == "localhost") reference = reference[(first + 1)..];
        }
        if (reference.StartsWith("library/", StringComparison.Ordinal)) reference = reference["library/".Length..];
        return reference;
    }
}

/// <summary>Writes images to an archive file (`docker save`): a docker-save archive, or with -Format Oci an OCI image
/// layout archive. Images from the pipeline go into one archive. Writes the file.</summary>
/// <example><code>Export-ContainerImage app:1, busybox -Path ./images.tar</code>Like `docker save -o images.tar app:1 busybox`.</example>
/// <example><code>Get-ContainerImage app* | Export-ContainerImage -Path ./app.oci.tar -Format Oci</code>An OCI archive that `skopeo copy oci-archive:app.oci.tar:1 …` reads.</example>
[Cmdlet(VerbsData.Export, "ContainerImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(FileInfo))]
public sealed class ExportContainerImageCommand : ContainerOpsCmdlet
{
    private readonly List<string> _names = new();

    /// <summary>Image references or ids; image objects bind by Id.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "Reference", "ImageId")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string[] Id { get; set; } = [];

    /// <summary>The archive file to write.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Alias("OutFile", "FilePath")]
    public string Path { get; set; } = "";

    /// <summary>Docker (default) or Oci.</summary>
    [Parameter]
    [ValidateSet("Docker", "Oci")]
    public string Format { get; set; } = "Docker";

    protected override void ProcessRecord() => _names.AddRange(Id);

    protected override void EndProcessing()
    {
        var file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(file, $"Save {string.Join(", ", _names)} as a {Format} archive")) return;
        var tmp = file + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var output = System.IO.File.Create(tmp))
                Run(ct => Client.SaveImagesAsync(_names, output, Format.ToLowerInvariant(), null, ct));
            System.IO.File.Move(tmp, file, overwrite: true);
            WriteObject(new FileInfo(file));
        }
        catch (ContainerOpsException ex) { WriteApiError(ex); }
        finally { if (System.IO.File.Exists(tmp)) System.IO.File.Delete(tmp); }
    }
}

/// <summary>Writes a container's root filesystem to a tar file (`docker export`). Writes the file.</summary>
/// <example><code>Export-Container web -Path ./web-rootfs.tar</code>Like `docker export -o web-rootfs.tar web`.</example>
[Cmdlet(VerbsData.Export, "Container", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(FileInfo))]
public sealed class ExportContainerCommand : ContainerOpsCmdlet
{
    /// <summary>The container: id, id prefix or name; container objects bind by Id.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "Container")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string Id { get; set; } = "";

    /// <summary>The tar file to write.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Alias("OutFile", "FilePath")]
    public string Path { get; set; } = "";

    protected override void ProcessRecord()
    {
        var file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(Id, $"Export root filesystem to {file}")) return;
        var tmp = file + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var output = System.IO.File.Create(tmp))
                Run(ct => Client.ExportContainerAsync(Id, output, null, ct));
            System.IO.File.Move(tmp, file, overwrite: true);
            WriteObject(new FileInfo(file));
        }
        catch (ContainerOpsException ex) { WriteApiError(ex); }
        finally { if (System.IO.File.Exists(tmp)) System.IO.File.Delete(tmp); }
    }
}

/// <summary>Makes a new image from a container's changes (`docker commit`). Writes the image.</summary>
/// <example><code>New-ContainerImage -FromContainer web -Reference web:snapshot -Message 'after setup'</code>Like `docker commit -m 'after setup' web web:snapshot`.</example>
/// <example><code>Get-Container web | New-ContainerImage -Reference web:2 -Change 'CMD ["httpd","-f"]'</code>Commits with a new default command.</example>
[Cmdlet(VerbsCommon.New, "ContainerImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ImageSummary))]
public sealed class NewContainerImageCommand : ContainerOpsCmdlet
{
    /// <summary>The container whose changes become the image; container objects bind by Id.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "Container")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string FromContainer { get; set; } = "";

    /// <summary>The new image's name (repository[:tag]); untagged when omitted.</summary>
    [Parameter(Position = 0)]
    [Alias("Tag")]
    public string? Reference { get; set; }

    /// <summary>Author, like `-a`.</summary>
    [Parameter]
    public string? Author { get; set; }

    /// <summary>Commit message, like `-m`.</summary>
    [Parameter]
    [Alias("Comment")]
    public string? Message { get; set; }

    /// <summary>Dockerfile instructions applied to the config (CMD, ENV, …), like `-c`.</summary>
    [Parameter]
    public string[]? Change { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(FromContainer, "Commit as " + (Reference ?? "an untagged image"))) return;
        TryStep(() =>
        {
            var image = Run(ct => Client.CommitContainerAsync(new CommitRequest
            {
                Container = FromContainer, Reference = Reference, Author = Author, Comment = Message, Changes = Change?.ToList() ?? new(),
            }, ct));
            WriteObject(image);
        });
    }
}

/// <summary>Lists what a container changed in its filesystem (`docker diff`): Kind A (added), C (changed), D (deleted).</summary>
/// <example><code>Get-ContainerChange web</code>Like `docker diff web`.</example>
/// <example><code>Get-Container | Get-ContainerChange | Where-Object Kind -eq 'D'</code>Files the containers deleted.</example>
[Cmdlet(VerbsCommon.Get, "ContainerChange")]
[OutputType(typeof(ContainerChange))]
public sealed class GetContainerChangeCommand : ContainerOpsCmdlet
{
    /// <summary>The container; container objects bind by Id.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "Container")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string Id { get; set; } = "";

    protected override void ProcessRecord() =>
        TryStep(() => WriteObject(Run(ct => Client.GetContainerChangesAsync(Id, ct)), enumerateCollection: true));
}

/// <summary>Lists the steps an image was made of, newest first (`docker history`).</summary>
/// <example><code>Get-ContainerImageHistory app:1</code>Like `docker history app:1`.</example>
[Cmdlet(VerbsCommon.Get, "ContainerImageHistory")]
[OutputType(typeof(ImageHistoryEntry))]
public sealed class GetContainerImageHistoryCommand : ContainerOpsCmdlet
{
    /// <summary>The image: reference or id; image objects bind by Id.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "Reference", "ImageId")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Id { get; set; } = "";

    protected override void ProcessRecord() =>
        TryStep(() => WriteObject(Run(ct => Client.GetImageHistoryAsync(Id, ct)), enumerateCollection: true));
}

/// <summary>Logs in to a registry (`docker login`): the daemon checks the credential against the registry and keeps it
/// in its host's ~/.docker/config.json. The password is sent once and never shown.</summary>
/// <example><code>Connect-ContainerRegistry -Registry 127.0.0.1:5000 -Credential (Get-Credential)</code>Like `docker login 127.0.0.1:5000`.</example>
[Cmdlet(VerbsCommunications.Connect, "ContainerRegistry", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(RegistryLoginResponse))]
public sealed class ConnectContainerRegistryCommand : ContainerOpsCmdlet
{
    /// <summary>The registry: host[:port] (default docker.io).</summary>
    [Parameter(Position = 0)]
    [Alias("Server", "ServerAddress")]
    public string Registry { get; set; } = "docker.io";

    /// <summary>User name and password or token.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Credential]
    public PSCredential Credential { get; set; } = PSCredential.Empty;

    /// <summary>Allow plain HTTP or unverified TLS for this registry.</summary>
    [Parameter]
    public SwitchParameter Insecure { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(Registry, $"Log in as {Credential.UserName}")) return;
        TryStep(() => WriteObject(Run(ct => Client.LoginAsync(new RegistryLoginRequest
        {
            ServerAddress = Registry, Username = Credential.UserName, Password = Credential.GetNetworkCredential().Password, Insecure = Insecure,
        }, ct))));
    }
}

/// <summary>Logs out of a registry (`docker logout`): forgets the stored credential.</summary>
/// <example><code>Disconnect-ContainerRegistry 127.0.0.1:5000</code>Like `docker logout 127.0.0.1:5000`.</example>
[Cmdlet(VerbsCommunications.Disconnect, "ContainerRegistry", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(RegistryLoginResponse))]
public sealed class DisconnectContainerRegistryCommand : ContainerOpsCmdlet
{
    /// <summary>The registry: host[:port] (default docker.io).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Server", "ServerAddress")]
    public string Registry { get; set; } = "docker.io";

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(Registry, "Log out")) return;
        TryStep(() => WriteObject(Run(ct => Client.LogoutAsync(Registry, ct))));
    }
}

/// <summary>Disk space used by images, containers and the build cache (`docker system df`).</summary>
/// <example><code>Get-ContainerDiskUsage</code>Like `docker system df`.</example>
[Cmdlet(VerbsCommon.Get, "ContainerDiskUsage")]
[OutputType(typeof(DiskUsageRow))]
public sealed class GetContainerDiskUsageCommand : ContainerOpsCmdlet
{
    protected override void ProcessRecord() =>
        TryStep(() => WriteObject(Run(ct => Client.GetDiskUsageAsync(ct)).Rows, enumerateCollection: true));
}
