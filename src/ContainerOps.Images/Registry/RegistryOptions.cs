using System.Runtime.InteropServices;
using ContainerOps.Images.Credentials;

namespace ContainerOps.Images.Registry;

/// <summary>How to reach registries: TLS trust, plain-HTTP opt-ins, credentials, transfer tuning.</summary>
public sealed class RegistryOptions
{
    /// <summary>Registries (host or host:port) that may be reached without verified TLS: HTTPS is tried first without
    /// certificate checks, then plain HTTP (Docker's <c>insecure-registries</c>).</summary>
    public IReadOnlyCollection<string> Insecure { get; init; } = [];

    /// <summary>Treats loopback registries (localhost, 127.0.0.0/8, ::1) as insecure. Off unless asked for.</summary>
    public bool AllowInsecureLoopback { get; init; }

    /// <summary>A <c>certs.d</c>-style folder: <c>&lt;dir&gt;/&lt;host:port&gt;/ca.crt</c> (any <c>*.crt</c>) adds trusted CAs for that
    /// registry, <c>client.cert</c> + <c>client.key</c> give a client certificate. Null: <c>/etc/containerops/certs.d</c>
    /// when it exists.</summary>
    public string? CertsDirectory { get; init; }

    /// <summary>Where credentials come from (null: none, anonymous access only).</summary>
    public ICredentialStore? Credentials { get; init; }

    /// <summary>Layers transferred at the same time.</summary>
    public int MaxConcurrentTransfers { get; init; } = 3;

    /// <summary>Blobs larger than this are pushed in chunks (PATCH with Content-Range) instead of one PUT.</summary>
    public long ChunkedUploadThreshold { get; init; } = 32L << 20;

    /// <summary>Size of one PATCH when uploading in chunks.</summary>
    public int ChunkSize { get; init; } = 8 << 20;

    /// <summary>How many times a broken download is resumed (Range) before giving up.</summary>
    public int MaxResumes { get; init; } = 5;

    /// <summary>Platform picked from an image index; defaults to this machine's.</summary>
    public string Os { get; init; } = "linux";
    public string Architecture { get; init; } = DefaultArchitecture().Arch;
    public string? Variant { get; init; } = DefaultArchitecture().Variant;

    /// <summary>Lets tests put a handler between the client and the network (fault injection, tracing).</summary>
    public Func<HttpMessageHandler, HttpMessageHandler>? WrapHandler { get; init; }

    public string UserAgent { get; init; } = "containerops/0.1";

    public static (string Arch, string? Variant) DefaultArchitecture() => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => ("amd64", null),
        System.Runtime.InteropServices.Architecture.Arm64 => ("arm64", "v8"),
        System.Runtime.InteropServices.Architecture.Arm => ("arm", "v7"),
        System.Runtime.InteropServices.Architecture.X86 => ("386", null),
        System.Runtime.InteropServices.Architecture.S390x => ("s390x", null),
        System.Runtime.InteropServices.Architecture.Ppc64le => ("ppc64le", null),
        System.Runtime.InteropServices.Architecture.RiscV64 => ("riscv64", null),
        System.Runtime.InteropServices.Architecture.LoongArch64 => ("loong64", null),
        var a => (a.ToString().ToLowerInvariant(), null),
    };

    internal bool IsInsecure(string hostPort)
    {
        if (AllowInsecureLoopback && RegistryHosts.IsLoopback(hostPort)) return true;
        var host = RegistryHosts.HostOnly(hostPort);
        return Insecure.Any(i =>
        {
            var n = RegistryHosts.Normalize(i);
            return n.Equals(hostPort, StringComparison.OrdinalIgnoreCase) || n.Equals(host, StringComparison.OrdinalIgnoreCase);
        });
    }

    internal string? CertsDirFor(string hostPort)
    {
        var root = CertsDirectory ?? "/etc/containerops/certs.d";
        var dir = Path.Combine(root, hostPort);
        return Directory.Exists(dir) ? dir : null;
    }
}

public enum TransferState
{
    Waiting,
    Downloading,
    Uploading,
    /// <summary>Already in the destination: nothing to transfer.</summary>
    Exists,
    /// <summary>Mounted from another repository of the same registry.</summary>
    Mounted,
    Resuming,
    Done,
}

/// <summary>Progress of one blob: its digest, bytes done so far and its size.</summary>
public sealed record TransferProgress(string Digest, long Current, long Total, TransferState State)
{
    /// <summary>A pushed layer's diff ID (null for the config), which Docker names a pushed layer by.</summary>
    public string? DiffId { get; init; }
    /// <summary>Mounted: the repository (path in the same registry) the blob was mounted from.</summary>
    public string? Source { get; init; }
}
