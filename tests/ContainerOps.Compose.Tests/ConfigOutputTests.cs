namespace ContainerOps.Compose.Tests;

/// <summary>`config` output of each corpus project compared with its expected normalised file (Corpus/*/expected.yaml).</summary>
public class ConfigOutputTests
{
    [Theory]
    [InlineData("webapp")]
    [InlineData("chain")]
    [InlineData("profiles")]
    [InlineData("include-extends")]
    [InlineData("override")]
    [InlineData("interpolation")]
    [InlineData("anchors")]
    public void Config_matches_expected_normalised_file(string dir)
    {
        var env = new Dictionary<string, string> { ["HOST_VALUE"] = "from-host", ["OVERRIDE_ME"] = "yes" };
        var project = Corpus.Load(dir, env);
        var actual = Corpus.Config(project);
        var expectedPath = Path.Combine(Corpus.Root, dir, "expected.yaml");
        if (Environment.GetEnvironmentVariable("COMPOSE_WRITE_EXPECTED") == "1")
        {
            // Regenerates the expected files in the source tree, to be read and checked by hand before committing.
            var source = Path.Combine(AppContext.BaseDirectory, "../../../Corpus", dir, "expected.yaml");
            File.WriteAllText(source, actual);
        }
        Assert.Equal(File.ReadAllText(expectedPath), actual);
    }
}
