using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Parsing;

/// <summary>How `images` turns an image into rows.</summary>
public static class ImageRows
{
    /// <summary>An image's rows as docker lists them: one per tag (per tag and digest of its repository, with
    /// <paramref name="digests"/>), one per repository known only by digest, or a single &lt;none&gt; row.</summary>
    public static IEnumerable<(string Repository, string Tag, string Digest)> Of(ImageSummary image, bool digests)
    {
        var byRepo = image.RepoDigests.Select(ImageNames.Familiar).Select(r => r.Split('@', 2)).Where(p => p.Length == 2)
            .GroupBy(p => p[0], p => p[1]).ToDictionary(g => g.Key, g => g.ToList());
        var tagged = image.RepoTags.Select(t => SplitTag(ImageNames.Familiar(t))).ToList();
        foreach (var (repo, tag) in tagged)
        {
            var ofRepo = digests ? byRepo.GetValueOrDefault(repo) ?? [] : [];
            if (ofRepo.Count == 0) yield return (repo, tag, "<none>");
            foreach (var d in ofRepo) yield return (repo, tag, d);
        }
        foreach (var (repo, ds) in byRepo.Where(kv => !tagged.Any(t => t.Repository == kv.Key)))
        {
            if (!digests) yield return (repo, "<none>", "<none>");
            else foreach (var d in ds) yield return (repo, "<none>", d);
        }
        if (tagged.Count == 0 && byRepo.Count == 0) yield return ("<none>", "<none>", "<none>");
    }

    /// <summary>"registry:5000/app:1.0" → ("registry:5000/app", "1.0"): the tag follows the last colon after the last slash.</summary>
    public static (string Repository, string Tag) SplitTag(string reference)
    {
        var at = reference.IndexOf('@');
        if (at >= 0) return (reference[..at], "<none>");
        var slash = reference.LastIndexOf('/');
        var colon = reference.LastIndexOf(':');
        return colon > slash ? (reference[..colon], reference[(colon + 1)..]) : (reference, "latest");
    }
}
