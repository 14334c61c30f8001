using ContainerOps.Cli.Parsing;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Tests;

/// <summary>`images` lists an image as docker does: per tag, per repository known only by digest, or one &lt;none&gt; row.</summary>
public class ImageRowsTests
{
    private const string D1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string D2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    private static ImageSummary Image(string[] tags, string[] digests) => new() { Id = D1, RepoTags = [.. tags], RepoDigests = [.. digests] };

    [Fact]
    public void ATagShowsItsRepositoryDigestOnlyWhenAsked()
    {
        var image = Image(["docker.io/library/busybox:latest", "localhost:5000/x:1"], ["docker.io/library/busybox@" + D2]);
        Assert.Equal([("busybox", "latest", "<none>"), ("localhost:5000/x", "1", "<none>")], ImageRows.Of(image, digests: false));
        Assert.Equal([("busybox", "latest", D2), ("localhost:5000/x", "1", "<none>")], ImageRows.Of(image, digests: true));
    }

    [Fact]
    public void ARepositoryKnownOnlyByDigestHasARowWithoutATag()
    {
        var image = Image([], ["localhost:5000/x@" + D1, "localhost:5000/x@" + D2]);
        Assert.Equal([("localhost:5000/x", "<none>", "<none>")], ImageRows.Of(image, digests: false));
        Assert.Equal([("localhost:5000/x", "<none>", D1), ("localhost:5000/x", "<none>", D2)], ImageRows.Of(image, digests: true));
    }

    [Fact]
    public void AnImageWithNoNameIsOneNoneRow() =>
        Assert.Equal([("<none>", "<none>", "<none>")], ImageRows.Of(Image([], []), digests: true));
}
