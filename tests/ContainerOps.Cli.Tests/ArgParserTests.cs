using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Tests;

public class ArgParserTests
{
    private static ParsedArgs Run(params string[] args) => ArgParser.Parse(RunOptions.RunSpec, args);

    [Fact]
    public void LongOptionTakesTheNextArgumentOrAnInlineValue()
    {
        var a = Run("--name", "web", "--workdir=/srv", "img");
        Assert.Equal("web", a.Value("name"));
        Assert.Equal("/srv", a.Value("workdir"));
        Assert.Equal(new[] { "img" }, a.Positionals);
    }

    [Fact]
    public void InlineValueMayContainEqualsSigns()
    {
        var a = Run("--env=A=B=C", "img");
        Assert.Equal(new[] { "A=B=C" }, a.Values("env"));
    }

    [Theory]
    [InlineData("-it")]
    [InlineData("-ti")]
    public void CombinedShortFlags(string flags)
    {
        var a = Run(flags, "img");
        Assert.True(a.Flag("interactive"));
        Assert.True(a.Flag("tty"));
        Assert.False(a.Flag("detach"));
    }

    [Fact]
    public void CombinedFlagsEndingWithAValueOption()
    {
        var a = Run("-dite", "A=1", "img");
        Assert.True(a.Flag("detach"));
        Assert.True(a.Flag("interactive"));
        Assert.True(a.Flag("tty"));
        Assert.Equal(new[] { "A=1" }, a.Values("env"));
    }

    [Fact]
    public void ShortValueMayBeAttached()
    {
        var a = Run("-eA=1", "-w/tmp", "-m=64m", "img");
        Assert.Equal(new[] { "A=1" }, a.Values("env"));
        Assert.Equal("/tmp", a.Value("workdir"));
        Assert.Equal("64m", a.Value("memory"));
    }

    [Fact]
    public void RepeatedOptionsKeepEveryValueInOrder()
    {
        var a = Run("-e", "A=1", "--env", "B=2", "-e", "C=3", "-l", "x=y", "img");
        Assert.Equal(new[] { "A=1", "B=2", "C=3" }, a.Values("env"));
        Assert.Equal(new[] { "x=y" }, a.Values("label"));
    }

    [Fact]
    public void SingleValueOptionKeepsTheLast()
    {
        var a = Run("--name", "a", "--name", "b", "img");
        Assert.Equal("b", a.Value("name"));
    }

    [Fact]
    public void RunStopsAtTheImage()
    {
        var a = Run("--rm", "img", "sh", "-c", "echo hi", "--name", "x");
        Assert.True(a.Flag("rm"));
        Assert.Null(a.Value("name"));
        Assert.Equal(new[] { "img", "sh", "-c", "echo hi", "--name", "x" }, a.Positionals);
    }

    [Fact]
    public void DoubleDashEndsOptions()
    {
        var spec = new CommandSpec
        {
            Name = "rm", Usage = "rm", Summary = "",
            Options = new OptionSpec[] { new("force", 'f', OptionKind.Flag, "") },
        };
        var a = ArgParser.Parse(spec, new[] { "-f", "--", "-weird-name", "--force" });
        Assert.True(a.Flag("force"));
        Assert.Equal(new[] { "-weird-name", "--force" }, a.Positionals);
    }

    [Fact]
    public void DoubleDashBeforeTheImage()
    {
        var a = Run("-d", "--", "img", "-x");
        Assert.True(a.Flag("detach"));
        Assert.Equal(new[] { "img", "-x" }, a.Positionals);
    }

    [Fact]
    public void OptionsAfterPositionalsWhenTheVerbDoesNotStop()
    {
        var spec = new CommandSpec
        {
            Name = "logs", Usage = "logs", Summary = "",
            Options = new OptionSpec[] { new("follow", 'f', OptionKind.Flag, ""), new("tail", 'n', OptionKind.Value, "") },
        };
        var a = ArgParser.Parse(spec, new[] { "web", "-f", "--tail", "5" });
        Assert.True(a.Flag("follow"));
        Assert.Equal(5, a.IntValue("tail"));
        Assert.Equal(new[] { "web" }, a.Positionals);
    }

    [Fact]
    public void DashAloneIsAPositional()
    {
        var spec = new CommandSpec { Name = "import", Usage = "import", Summary = "" };
        Assert.Equal(new[] { "-" }, ArgParser.Parse(spec, new[] { "-" }).Positionals);
    }

    [Theory]
    [InlineData("--rm=false", false)]
    [InlineData("--rm=true", true)]
    [InlineData("--rm", true)]
    public void FlagsTakeAnOptionalBoolean(string arg, bool expected)
    {
        Assert.Equal(expected, Run(arg, "img").Flag("rm"));
    }

    [Fact]
    public void UnknownLongFlagIsAUsageError()
    {
        var e = Assert.Throws<UsageException>(() => Run("--bogus", "img"));
        Assert.Contains("unknown flag: --bogus", e.Message);
        Assert.Equal("run", e.Command);
    }

    [Fact]
    public void UnknownShortFlagIsAUsageError()
    {
        var e = Assert.Throws<UsageException>(() => Run("-iZ", "img"));
        Assert.Contains("'Z'", e.Message);
    }

    [Fact]
    public void MissingValueIsAUsageError()
    {
        var e = Assert.Throws<UsageException>(() => Run("--name"));
        Assert.Contains("needs an argument", e.Message);
    }

    [Fact]
    public void MissingImageIsAUsageError()
    {
        var e = Assert.Throws<UsageException>(() => Run("-d"));
        Assert.Contains("requires at least 1 argument", e.Message);
    }

    [Fact]
    public void HelpIsRecognisedAndSkipsArgumentCounts()
    {
        Assert.True(Run("--help").HelpRequested);
        // For run, -h is the host name, as in docker.
        Assert.Equal("box", Run("-h", "box", "img").Value("hostname"));
    }

    [Fact]
    public void HelpTextListsOptions()
    {
        var text = ArgParser.Help(RunOptions.RunSpec);
        Assert.Contains("-d, --detach", text);
        Assert.Contains("--memory-swap bytes", text);
        Assert.Contains("Usage:  containerops run", text);
    }
}
