using System.Runtime.InteropServices;

namespace ContainerOps.Cli.Parsing;

/// <summary>
/// The options of <c>run</c>/<c>create</c> that shape how the CLI runs the container rather than the container itself:
/// --cidfile, --pull, --platform, -a/--attach, --sig-proxy and --detach-keys. Checked before anything is created.
/// </summary>
public sealed class RunModes
{
    /// <summary>Where to write the new container's id (docker's --cidfile); null: nowhere.</summary>
    public string? CidFile { get; init; }
    /// <summary>always, missing or never; null when not given, which is missing (docker's default).</summary>
    public string? Pull { get; init; }
    /// <summary>Streams an attached run shows: null when -a was not given (all of them).</summary>
    public IReadOnlySet<string>? Attach { get; init; }
    public bool SigProxy { get; init; } = true;
    /// <summary>The --detach-keys text (docker's default ctrl-p,ctrl-q when null).</summary>
    public string? DetachKeys { get; init; }

    public bool ShowsStdout => Attach is null || Attach.Contains("stdout");
    public bool ShowsStderr => Attach is null || Attach.Contains("stderr");
    public bool AttachesStdin => Attach?.Contains("stdin") == true;

    public static RunModes Parse(ParsedArgs a, bool detach)
    {
        var pull = a.Value("pull");
        if (pull is not null and not ("always" or "missing" or "never"))
            throw new UsageException($"invalid pull option: '{pull}': must be one of \"always\", \"missing\" or \"never\"");
        if (a.Value("platform") is { } platform) CheckPlatform(platform, HostArchitecture);

        HashSet<string>? attach = null;
        if (a.Values("attach") is { Count: > 0 } streams)
        {
            if (detach) throw new UsageException("conflicting options: cannot specify both --attach and --detach");
            attach = new HashSet<string>(StringComparer.Ordinal);
            foreach (var s in streams)
            {
                var stream = s.ToLowerInvariant();
                if (stream is not ("stdin" or "stdout" or "stderr"))
                    throw new UsageException($"invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR");
                attach.Add(stream);
            }
        }

        var cidFile = a.Value("cidfile");
        if (cidFile is { Length: > 0 } && (File.Exists(cidFile) || Directory.Exists(cidFile)))
            throw new UsageException($"container ID file found, make sure the other container isn't running or delete {cidFile}");

        var detachKeys = a.Value("detach-keys");
        if (detachKeys is not null)
        {
            try { ContainerOps.Core.Terminal.DetachKeys.Parse(detachKeys); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
        }
        return new RunModes
        {
            CidFile = cidFile is { Length: > 0 } ? cidFile : null, Pull = pull, Attach = attach,
            SigProxy = !a.Has("sig-proxy") || a.Flag("sig-proxy"), DetachKeys = detachKeys,
        };
    }

    public static string HostArchitecture => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>--platform: the host's own (os[/arch[/variant]], with the aliases docker knows) is accepted; others are
    /// refused by name, since ContainerOps runs images natively and does not emulate other architectures.</summary>
    public static void CheckPlatform(string platform, string hostArch)
    {
        var parts = platform.ToLowerInvariant().Split('/');
        var os = parts[0];
        var arch = parts.Length > 1 ? parts[1] : hostArch;
        arch = arch switch { "x86_64" or "x86-64" => "amd64", "aarch64" => "arm64", _ => arch };
        var variantOk = parts.Length < 3 || (arch == "amd64" && parts[2] is "v1" or "v2" or "v3") || (arch == "arm64" && parts[2] == "v8");
        if (parts.Length > 3 || os != "linux" || arch != hostArch || !variantOk)
            throw new UsageException($"platform \"{platform}\" is not supported: this host runs linux/{hostArch} images natively and ContainerOps does not emulate other platforms");
    }
}
