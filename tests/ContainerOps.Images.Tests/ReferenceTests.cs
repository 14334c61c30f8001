using ContainerOps.Core.Api;
using ContainerOps.Images.References;

namespace ContainerOps.Images.Tests;

public class ReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest")]
    [InlineData("busybox:1.36", "docker.io/library/busybox:1.36")]
    [InlineData("library/busybox", "docker.io/library/busybox:latest")]
    [InlineData("index.docker.io/library/busybox", "docker.io/library/busybox:latest")]
    [InlineData("user/app:v1", "docker.io/user/app:v1")]
    [InlineData("localhost:5000/app", "localhost:5000/app:latest")]
    [InlineData("registry.example.com/team/app:1.0", "registry.example.com/team/app:1.0")]
    [InlineData("localhost/app", "localhost/app:latest")]
    [InlineData("app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "docker.io/library/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Normalises(string input, string expected) => Assert.Equal(expected, ImageReference.Parse(input).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("BusyBox")]
    [InlineData("busybox:")]
    [InlineData("busybox:-x")]
    [InlineData("a/../b")]
    [InlineData("app@sha256:abc")]
    [InlineData("bad host!/app")]
    public void RejectsWithField(string input)
    {
        var e = Assert.Throws<ContainerOpsException>(() => ImageReference.Parse(input, "target"));
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Kind);
        Assert.Equal("InvalidReference", e.Error.Id);
        Assert.Equal("target", e.Error.Field);
    }
}
