using ContainerOps.Images.Build;

namespace ContainerOps.Build.Tests;

public class DockerIgnoreTests
{
    [Fact]
    public void Patterns_WithExceptions_LastMatchWins()
    {
        var ig = new DockerIgnore([
            "# comment", "", "*.md", "!README.md", "node_modules", "**/*.tmp", "build/**", "!build/keep/**", "/secret?.txt", "docs/[ab]*",
        ]);
        Assert.True(ig.IsExcluded("CHANGES.md"));
        Assert.False(ig.IsExcluded("README.md"));
        Assert.False(ig.IsExcluded("sub/CHANGES.md")); // '*' does not cross '/'
        Assert.True(ig.IsExcluded("node_modules"));
        Assert.True(ig.IsExcluded("node_modules/x/y.js")); // below an excluded directory
        Assert.True(ig.IsExcluded("a.tmp"));
        Assert.True(ig.IsExcluded("deep/er/b.tmp"));
        Assert.True(ig.IsExcluded("build/out/x.o"));
        Assert.False(ig.IsExcluded("build/keep/x.o"));
        Assert.True(ig.IsExcluded("secret1.txt"));
        Assert.False(ig.IsExcluded("secret12.txt"));
        Assert.True(ig.IsExcluded("docs/api.txt"));
        Assert.False(ig.IsExcluded("docs/c.txt"));
        Assert.False(ig.IsExcluded("src/main.c"));
        Assert.True(ig.HasExceptions);
    }

    [Fact]
    public void ExceptionInsideExcludedDirectory_Reincludes()
    {
        var ig = new DockerIgnore(["logs", "!logs/important.log", "./tmp/"]);
        Assert.True(ig.IsExcluded("logs/a.log"));
        Assert.False(ig.IsExcluded("logs/important.log"));
        Assert.True(ig.IsExcluded("tmp/x"));
        Assert.False(new DockerIgnore([]).IsExcluded("anything"));
    }
}
