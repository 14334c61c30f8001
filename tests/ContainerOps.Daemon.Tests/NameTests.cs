using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;

namespace ContainerOps.Daemon.Tests;

public class NameTests
{
    [Theory]
    [InlineData("web")]
    [InlineData("Web-1")]
    [InlineData("a")]
    [InlineData("9lives")]
    [InlineData("db_primary.v2")]
    public void ValidNamesPass(string name) => NameGenerator.Validate(name);

    [Theory]
    [InlineData("")]
    [InlineData("-web")]
    [InlineData("_web")]
    [InlineData(".web")]
    [InlineData("web/1")]
    [InlineData("web 1")]
    [InlineData("wéb")]
    [InlineData("web:1")]
    public void InvalidNamesAreRejectedWithTheField(string name)
    {
        var e = Assert.Throws<ContainerOpsException>(() => NameGenerator.Validate(name));
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Kind);
        Assert.Equal("InvalidName", e.Error.Id);
        Assert.Equal("Name", e.Error.Field);
    }

    [Fact]
    public void OverlongNameIsRejected() =>
        Assert.Throws<ContainerOpsException>(() => NameGenerator.Validate(new string('a', 129)));

    [Fact]
    public void LeadingSlashIsDropped()
    {
        Assert.Equal("web", NameGenerator.Normalize("/web"));
        Assert.Equal("web", NameGenerator.Normalize("web"));
    }

    [Fact]
    public void GeneratedNamesAreAdjectiveNounAndValid()
    {
        for (var i = 0; i < 200; i++)
        {
            var name = NameGenerator.Generate(_ => false);
            NameGenerator.Validate(name);
            Assert.Matches("^[a-z]+_[a-z]+$", name);
        }
    }

    [Fact]
    public void GeneratedNamesAvoidTakenOnes()
    {
        var taken = new HashSet<string>();
        for (var i = 0; i < 300; i++)
        {
            var name = NameGenerator.Generate(taken.Contains);
            Assert.DoesNotContain(name, taken);
            NameGenerator.Validate(name);
            taken.Add(name);
        }
    }
}
