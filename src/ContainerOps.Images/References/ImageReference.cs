using System.Text.RegularExpressions;
using ContainerOps.Core.Api;

namespace ContainerOps.Images.References;

/// <summary>
/// A parsed image reference <c>[registry[:port]/]repo[:tag][@sha256:…]</c>, normalised the way Docker does:
/// <c>busybox</c> → <c>docker.io/library/busybox:latest</c>.
/// </summary>
public sealed partial record ImageReference(string Domain, string Path, string? Tag, string? DigestValue)
{
    public const string DefaultDomain = "docker.io";
    public const string DefaultTag = "latest";

    /// <summary>registry/repo without tag or digest.</summary>
    public string Repository => Domain + "/" + Path;

    /// <summary>The canonical string: repository plus :tag and/or @digest.</summary>
    public override string ToString() =>
        Repository + (Tag != null ? ":" + Tag : "") + (DigestValue != null ? "@" + DigestValue : "");

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")]
    private static partial Regex PathComponent();

    [GeneratedRegex("^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$")]
    private static partial Regex DomainPattern();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    public static bool TryParse(string s, out ImageReference? reference)
    {
        try { reference = Parse(s); return true; }
        catch (ContainerOpsException) { reference = null; return false; }
    }

    /// <summary>Parses and normalises; adds the "latest" tag when neither tag nor digest is given.
    /// Throws InvalidArgument ("InvalidReference", field <paramref name="field"/>) naming what is wrong.</summary>
    public static ImageReference Parse(string s, string field = "reference", bool defaultTag = true)
    {
        ContainerOpsException Bad(string why) =>
            new(ErrorKind.InvalidArgument, "InvalidReference", $"invalid reference format '{s}': {why}", s, field);

        if (string.IsNullOrWhiteSpace(s)) throw Bad("empty");
        var rest = s;
        string? digest = null;
        var at = rest.IndexOf('@');
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!Content.Digest.IsValid(digest)) throw Bad("the digest must be sha256: followed by 64 lowercase hex digits");
        }
        string? tag = null;
        var lastSlash = rest.LastIndexOf('/');
        var colon = rest.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag)) throw Bad($"tag '{tag}' must be up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'");
        }
        if (rest.Length == 0) throw Bad("no repository name");
        string domain;
        string path;
        var slash = rest.IndexOf('/');
        var first = slash < 0 ? rest : rest[..slash];
        if (slash > 0 && (first.Contains('.') || first.Contains(':') || first == "localhost" || first.Any(char.IsUpper)))
        {
            domain = first;
            path = rest[(slash + 1)..];
            if (!DomainPattern().IsMatch(domain)) throw Bad($"registry '{domain}' is not a host name with an optional port");
        }
        else
        {
            domain = DefaultDomain;
            path = rest;
        }
        if (domain == "index.docker.io") domain = DefaultDomain;
        if (domain == DefaultDomain && !path.Contains('/')) path = "library/" + path;
        foreach (var comp in path.Split('/'))
        {
            if (comp.Any(char.IsUpper)) throw Bad("repository name must be lowercase");
            if (!PathComponent().IsMatch(comp))
                throw Bad($"repository component '{comp}' must be lowercase letters and digits separated by '.', '_', '__' or '-'");
        }
        if (domain.Length + 1 + path.Length > 255) throw Bad("repository name longer than 255 characters");
        if (tag == null && digest == null && defaultTag) tag = DefaultTag;
        return new ImageReference(domain, path, tag, digest);
    }
}
