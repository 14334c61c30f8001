using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Tests;

/// <summary>A compose file (and the files beside it) in a temporary folder, loaded with a fixed environment and
/// removed at the end of the test.</summary>
internal sealed class ProjectDir : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("compose-project-");

    public ProjectDir(string composeYaml) => Write("compose.yaml", composeYaml);

    public string Path => _dir.FullName;

    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(_dir.FullName, name);
        File.WriteAllText(file, text);
        return file;
    }

    public ComposeProject Load(string projectName = "p") =>
        ComposeLoader.Load(new ComposeLoadOptions { WorkingDirectory = _dir.FullName, Environment = new Dictionary<string, string>(), ProjectName = projectName });

    public void Dispose() => _dir.Delete(recursive: true);
}
