using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;
using ContainerOps.Compose.Output;

namespace ContainerOps.Compose.Tests;

/// <summary>Loads files of the corpus with a fixed environment, so that the machine's variables do not leak in.</summary>
internal static class Corpus
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Corpus");

    public static ComposeProject Load(string dir, IDictionary<string, string>? env = null, List<string>? files = null,
        List<string>? profiles = null, string? projectName = null, List<string>? services = null) =>
        ComposeLoader.Load(new ComposeLoadOptions
        {
            WorkingDirectory = Path.Combine(Root, dir),
            Environment = env ?? new Dictionary<string, string>(),
            Files = files ?? new(),
            Profiles = profiles ?? new(),
            ProjectName = projectName,
            Services = services ?? new(),
        });

    /// <summary>`config` output with the corpus folder written as /corpus, so expected files do not depend on where the tests run.</summary>
    public static string Config(ComposeProject project) => ConfigWriter.ToYaml(ConfigTree.FromProject(project)).Replace(Root, "/corpus");

    public static ComposeFileException LoadBad(string file, IDictionary<string, string>? env = null) =>
        Assert.Throws<ComposeFileException>(() => ComposeLoader.Load(new ComposeLoadOptions
        {
            WorkingDirectory = Path.Combine(Root, "bad"),
            Environment = env ?? new Dictionary<string, string>(),
            Files = new() { file },
            ProjectName = "bad",
        }));
}
