using System.Management.Automation;
using ContainerOps.Core;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Lists images (`docker images`). -Name takes wildcards and matches a reference (busybox, busybox:latest) or an id.</summary>
/// <example><code>Get-ContainerImage</code>Every tagged image, like `docker images`.</example>
/// <example><code>Get-ContainerImage busy*</code>Images whose reference starts with busy.</example>
/// <example><code>Get-ContainerImage -Dangling | Remove-ContainerImage</code>Removes the untagged images, one by one (add -Confirm to be asked for each).</example>
[Cmdlet(VerbsCommon.Get, "ContainerImage")]
[OutputType(typeof(ImageSummary))]
public sealed class GetContainerImageCommand : ContainerOpsCmdlet
{
    /// <summary>Image references or ids; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true)]
    [Alias("Reference")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Include intermediate (untagged) images.</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    /// <summary>Only images without a tag (what `docker image prune` removes); pipe them to Remove-ContainerImage.</summary>
    [Parameter]
    public SwitchParameter Dangling { get; set; }

    protected override void ProcessRecord()
    {
        IReadOnlyList<ImageSummary> images;
        try
        {
            images = Run(ct => Client.ListImagesAsync(All, ct));
        }
        catch (ContainerOpsException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex));
            return;
        }
        if (Dangling) images = images.Where(i => i.RepoTags.Count == 0).ToList();
        if (Name is null)
        {
            WriteObject(images, enumerateCollection: true);
            return;
        }
        var patterns = Name.Select(n => (Text: n, Pattern: new WildcardPattern(n, WildcardOptions.IgnoreCase))).ToList();
        var found = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var image in images)
        {
            if (patterns.Any(p => Matches(image, p.Text, p.Pattern)))
                WriteObject(image);
        }
        foreach (var p in patterns.Where(p => !WildcardPattern.ContainsWildcardCharacters(p.Text)))
            if (!images.Any(i => Matches(i, p.Text, p.Pattern)))
                WriteError(ErrorRecords.NotFound("image", "ImageNotFound", p.Text));
    }

    internal static bool Matches(ImageSummary image, string text, WildcardPattern pattern)
    {
        foreach (var tag in image.RepoTags)
        {
            foreach (var form in Forms(tag))
                if (pattern.IsMatch(form)) return true;
        }
        var id = image.Id.StartsWith("sha256:", StringComparison.Ordinal) ? image.Id[7..] : image.Id;
        if (pattern.IsMatch(image.Id) || pattern.IsMatch(id)) return true;
        var bare = text.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? text[7..] : text;
        return !WildcardPattern.ContainsWildcardCharacters(text) && bare.Length >= 4 && id.StartsWith(bare, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A tag as written, its repository alone, and both without docker.io's default prefixes.</summary>
    private static IEnumerable<string> Forms(string tag)
    {
        foreach (var t in new[] { tag, Strip(tag) })
        {
            yield return t;
            var (repo, _) = ImageReferenceParts.Split(t);
            yield return repo;
        }
    }

    private static string Strip(string tag) => ImageNames.Familiar(tag);
}

/// <summary>Splits references for display and matching.</summary>
public static class ImageReferenceParts
{
    /// <summary>("repo", "tag") from "repo:tag" or "repo@sha256:…"; a colon before the last slash is a registry port.</summary>
    public static (string Repository, string Tag) Split(string reference)
    {
        var at = reference.IndexOf('@');
        if (at >= 0) return (reference[..at], reference[(at + 1)..]);
        var colon = reference.LastIndexOf(':');
        return colon > reference.LastIndexOf('/') ? (reference[..colon], reference[(colon + 1)..]) : (reference, "latest");
    }
}

/// <summary>Removes images or tags (`docker rmi`); -Force removes an image with several tags or one that stopped
/// containers use. Image objects from Get-ContainerImage bind by Id. With -Dangling it removes every untagged image,
/// with -Unused every image no container uses (`docker image prune`, `docker image prune -a`), and the layers no
/// image needs any more. Prune is a kind of removal, so it is a parameter set of Remove rather than a verb of its own
/// (Clear would mean emptying the images, not deleting them). ConfirmImpact is Medium: removing named images does not ask
/// under the default $ConfirmPreference, as `docker rmi` does not; -Dangling and -Unused ask, as `docker image prune`
/// does, unless -Force or -Confirm:$false is given.</summary>
/// <example><code>Remove-ContainerImage busybox:old</code>Removes a tag (and the image when it was the last one): `docker rmi busybox:old`.</example>
/// <example><code>Get-ContainerImage old* | Remove-ContainerImage -Force</code>Removes the matching images even when several tags point at them, without asking.</example>
/// <example><code>Remove-ContainerImage -Dangling -Force</code>Like `docker image prune -f`; -Unused is `docker image prune -a`.</example>
[Cmdlet(VerbsCommon.Remove, "ContainerImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "ById")]
[OutputType(typeof(ImageRemoveResponse), ParameterSetName = ["ById"])]
[OutputType(typeof(PruneResponse), ParameterSetName = ["Dangling", "Unused"])]
public sealed class RemoveContainerImageCommand : ContainerOpsCmdlet
{
    /// <summary>Image references or ids.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "ById")]
    [Alias("Name", "Reference", "ImageId")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string[] Id { get; set; } = [];

    /// <summary>Remove every untagged image no container uses (`docker image prune`).</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Dangling")]
    public SwitchParameter Dangling { get; set; }

    /// <summary>Remove every image no container uses (`docker image prune -a`).</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Unused")]
    public SwitchParameter Unused { get; set; }

    /// <summary>Remove the image even when several tags or stopped containers refer to it (`docker rmi -f`), without asking unless -Confirm is given.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write what was untagged and deleted.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (Dangling || Unused)
        {
            var what = Unused ? "every image no container uses" : "every untagged image";
            var ask2 = !(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf"));
            if (ask2 && !ShouldProcess(what, "Remove images")) return;
            // A prune asks whatever $ConfirmPreference says, as `docker image prune` asks without -f, unless ShouldProcess just did.
            var preference = LanguagePrimitives.ConvertTo<ConfirmImpact>(GetVariableValue("ConfirmPreference", ConfirmImpact.High));
            var asked = MyInvocation.BoundParameters.ContainsKey("Confirm") || (preference != ConfirmImpact.None && preference <= ConfirmImpact.Medium);
            if (!Force && !asked && !ShouldContinue($"Remove {what}?", "Remove images")) return;
            TryStep(() =>
            {
                var pruned = Run(ct => Client.PruneImagesAsync(Unused, ct));
                foreach (var d in pruned.Deleted) WriteVerbose($"Deleted: {d}");
                WriteObject(pruned);
            });
            return;
        }
        foreach (var image in Id)
        {
            var ask = !(Force && !MyInvocation.BoundParameters.ContainsKey("Confirm") && !MyInvocation.BoundParameters.ContainsKey("WhatIf"));
            if (ask && !ShouldProcess(image, "Remove image")) continue;
            TryStep(() =>
            {
                var result = Run(ct => Client.RemoveImageAsync(image, Force, ct));
                foreach (var t in result.Untagged) WriteVerbose($"Untagged: {t}");
                foreach (var d in result.Deleted) WriteVerbose($"Deleted: {d}");
                if (PassThru) WriteObject(result);
            });
        }
    }
}

/// <summary>Adds a reference to an image (`docker tag`).</summary>
/// <example><code>Add-ContainerImageTag busybox:latest registry.local/busybox:1.36</code>Like `docker tag busybox:latest registry.local/busybox:1.36`.</example>
[Cmdlet(VerbsCommon.Add, "ContainerImageTag", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ImageSummary))]
public sealed class AddContainerImageTagCommand : ContainerOpsCmdlet
{
    /// <summary>The image: a reference or id.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "Name", "Image")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Source { get; set; } = "";

    /// <summary>The new reference (repository[:tag]).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Alias("Tag", "NewTag")]
    [ValidateNotNullOrEmpty]
    public string Target { get; set; } = "";

    /// <summary>Write the image after tagging.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(Source, $"Tag as '{Target}'")) return;
        TryStep(() =>
        {
            Run(ct => Client.TagImageAsync(Source, Target, ct));
            if (!PassThru) return;
            var pattern = new WildcardPattern(WildcardPattern.Escape(Target), WildcardOptions.IgnoreCase);
            var image = Run(ct => Client.ListImagesAsync(true, ct)).FirstOrDefault(i => GetContainerImageCommand.Matches(i, Target, pattern));
            if (image is not null) WriteObject(image);
        });
    }
}

/// <summary>
/// Imports an image from a file: a root filesystem tarball becomes a one-layer image (`docker import`, with -Change
/// Dockerfile lines such as 'CMD ["sh"]'); with -Archive a `docker save` or OCI image layout archive is loaded
/// (`docker load`). Shows progress by bytes sent; writes the images that arrived.
/// </summary>
/// <example><code>Import-ContainerImage ./rootfs.tar -Reference busybox:latest -Change 'CMD ["sh"]'</code>Makes a one-layer image from a root filesystem tarball: `docker import -c 'CMD ["sh"]' rootfs.tar busybox:latest`.</example>
/// <example><code>Import-ContainerImage ./app.tar -Archive</code>Loads the images of a `docker save` or OCI archive: `docker load -i app.tar`.</example>
[Cmdlet(VerbsData.Import, "ContainerImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Rootfs")]
[OutputType(typeof(ImageSummary))]
public sealed class ImportContainerImageCommand : ContainerOpsCmdlet
{
    /// <summary>The tarball (optionally gzip-compressed).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The reference to give the imported root filesystem (repository[:tag]).</summary>
    [Parameter(Position = 1, ParameterSetName = "Rootfs")]
    [Alias("Tag")]
    public string? Reference { get; set; }

    /// <summary>Dockerfile instructions applied to the image config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME.</summary>
    [Parameter(ParameterSetName = "Rootfs")]
    public string[]? Change { get; set; }

    /// <summary>The file is a docker-save or OCI layout archive (`docker load`).</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Archive")]
    public SwitchParameter Archive { get; set; }

    protected override void ProcessRecord()
    {
        string file;
        try
        {
            file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        }
        catch (Exception ex) when (ex is ItemNotFoundException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or NotSupportedException)
        {
            WriteError(new ErrorRecord(ex, "PathNotFound", ErrorCategory.ObjectNotFound, Path));
            return;
        }
        if (!File.Exists(file))
        {
            WriteError(new ErrorRecord(new FileNotFoundException($"File '{file}' does not exist.", file), "PathNotFound", ErrorCategory.ObjectNotFound, Path));
            return;
        }
        if (!ShouldProcess(file, Archive ? "Load image archive" : $"Import root filesystem as {(Reference ?? "an untagged image")}")) return;

        using var stream = File.OpenRead(file);
        var total = stream.Length;
        long sent = 0;
        var progress = new CallbackProgress<long>(v => Interlocked.Exchange(ref sent, v));
        var record = new ProgressRecord(1, Archive ? "Loading image archive" : "Importing root filesystem", System.IO.Path.GetFileName(file));
        try
        {
            var response = RunWithTicks(
                ct => Archive ? Client.LoadImageAsync(stream, progress, ct) : Client.ImportImageAsync(stream, Reference, Change, progress, ct),
                TimeSpan.FromMilliseconds(200),
                () =>
                {
                    var now = Interlocked.Read(ref sent);
                    record.PercentComplete = total > 0 ? (int)Math.Min(100, now * 100 / total) : -1;
                    record.StatusDescription = $"{now / 1048576.0:N1} of {total / 1048576.0:N1} MiB";
                    WriteProgress(record);
                });
            record.RecordType = ProgressRecordType.Completed;
            WriteProgress(record);
            WriteObject(response.Images, enumerateCollection: true);
        }
        catch (ContainerOpsException ex)
        {
            WriteApiError(ex);
        }
    }
}
