using ContainerOps.Compose.Loading;

namespace ContainerOps.Compose.Tests;

public class ValueTests
{
    private static readonly Dictionary<string, string> Env = new() { ["SET"] = "value", ["EMPTY"] = "" };
    private static string Interpolate(string text) => new Interpolator(n => Env.TryGetValue(n, out var v) ? v : null).Interpolate(text);

    [Theory]
    [InlineData("$SET", "value")]
    [InlineData("${SET}", "value")]
    [InlineData("$SET.txt", "value.txt")]
    [InlineData("${SET}x", "valuex")]
    [InlineData("${UNSET:-d}", "d")]
    [InlineData("${EMPTY:-d}", "d")]
    [InlineData("${EMPTY-d}", "")]
    [InlineData("${UNSET-d}", "d")]
    [InlineData("${SET:+alt}", "alt")]
    [InlineData("${EMPTY:+alt}", "")]
    [InlineData("${EMPTY+alt}", "alt")]
    [InlineData("${UNSET+alt}", "")]
    [InlineData("${UNSET:-${SET}}", "value")]
    [InlineData("${UNSET:-${ALSO_UNSET:-deep}}", "deep")]
    [InlineData("$$SET", "$SET")]
    [InlineData("$${SET}", "${SET}")]
    [InlineData("cost: 5$", "cost: 5$")]
    [InlineData("a $ b", "a $ b")]
    [InlineData("${EMPTY?never}", "")]
    public void Interpolation_follows_the_spec(string text, string expected) => Assert.Equal(expected, Interpolate(text));

    [Theory]
    [InlineData("${UNSET:?needed}", "required variable UNSET is missing a value: needed")]
    [InlineData("${EMPTY:?needed}", "required variable EMPTY is missing a value: needed")]
    [InlineData("${UNSET?}", "required variable UNSET is missing a value")]
    [InlineData("${SET", "invalid interpolation format for \"${SET\": a \"${\" is not closed")]
    public void Interpolation_errors_say_why(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => Interpolate(text)).Message);

    [Fact]
    public void Unset_variables_are_recorded_once()
    {
        var i = new Interpolator(_ => null);
        i.Interpolate("$A ${A} ${B:-x}");
        Assert.Equal(new[] { "A" }, i.UnsetVariables);
    }

    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("500ms", 500)]
    [InlineData("1.5s", 1500)]
    [InlineData("0", 0)]
    public void Durations_parse(string text, long ms) => Assert.Equal(TimeSpan.FromMilliseconds(ms), ComposeValues.ParseDuration(text));

    [Theory]
    [InlineData(90_000, "1m30s")]
    [InlineData(500, "500ms")]
    [InlineData(3_600_000, "1h0m0s")]
    [InlineData(1500, "1.5s")]
    public void Durations_print_as_go_does(long ms, string text) => Assert.Equal(text, ComposeValues.FormatDuration(TimeSpan.FromMilliseconds(ms)));

    [Theory]
    [InlineData("64M", 64L << 20)]
    [InlineData("1gb", 1L << 30)]
    [InlineData("512k", 512L << 10)]
    [InlineData("1024", 1024)]
    public void Sizes_parse(string text, long bytes) => Assert.Equal(bytes, ComposeValues.ParseBytes(text));

    [Theory]
    [InlineData("echo hello", new[] { "echo", "hello" })]
    [InlineData("sh -c 'echo $HOME; ls'", new[] { "sh", "-c", "echo $HOME; ls" })]
    [InlineData("echo \"a \\\"b\\\" c\"  d", new[] { "echo", "a \"b\" c", "d" })]
    [InlineData("a\\ b c", new[] { "a b", "c" })]
    [InlineData("''", new[] { "" })]
    public void Command_strings_split_as_a_shell_would(string text, string[] words) => Assert.Equal(words, ComposeValues.SplitShellWords(text));

    [Fact]
    public void Dot_env_files_take_quotes_comments_export_and_interpolation()
    {
        var text = "# comment\nexport A=1\nB='$A literal'\nC=\"$A and \\n\"\nD=plain # trailing\nE=\"multi\nline\"\nF\n";
        var values = DotEnvFile.Parse(text, ".env", n => n == "F" ? "inherited" : null).ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("1", values["A"]);
        Assert.Equal("$A literal", values["B"]);
        Assert.Equal("1 and \n", values["C"]);
        Assert.Equal("plain", values["D"]);
        Assert.Equal("multi\nline", values["E"]);
        Assert.Equal("inherited", values["F"]);
    }
}
