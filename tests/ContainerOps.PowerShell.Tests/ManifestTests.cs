using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ContainerOps.PowerShell.Tests;

/// <summary>The module as users import it: ContainerOps.psd1 beside Module/ and bin/module/ (laid out in a temp dir
/// from the repo's files and this build's assemblies, as ./build.sh lays it out).</summary>
public sealed class ManifestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("containerops-psd1-").FullName;

    public ManifestTests()
    {
        var root = ModuleShapeTests.RepoRootForTests;
        File.Copy(Path.Combine(root, "ContainerOps.psd1"), Path.Combine(_dir, "ContainerOps.psd1"));
        CopyTree(Path.Combine(root, "Module"), Path.Combine(_dir, "Module"));
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin", "module")).FullName;
        foreach (var dll in new[] { "ContainerOps.PowerShell.dll", "ContainerOps.Client.dll", "ContainerOps.Core.dll" })
            File.Copy(Path.Combine(AppContext.BaseDirectory, dll), Path.Combine(bin, dll));
        var help = Path.Combine(AppContext.BaseDirectory, "en-US");
        if (Directory.Exists(help)) CopyTree(help, Path.Combine(bin, "en-US"));
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private (List<PSObject> Output, List<ErrorRecord> Errors) Run(string script)
    {
        using var rs = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        rs.Open();
        using var ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = rs;
        ps.AddScript(script);
        var output = ps.Invoke().ToList();
        return (output, ps.Streams.Error.ToList());
    }

    [Fact]
    public void TestModuleManifestPasses()
    {
        var (output, errors) = Run($"Test-ModuleManifest -Path '{_dir}/ContainerOps.psd1'");
        Assert.Empty(errors);
        var info = Assert.IsType<PSModuleInfo>(Assert.Single(output).BaseObject);
        Assert.Equal(new Version(0, 1, 0), info.Version);
    }

    [Fact]
    public void ImportExportsEveryCmdletAndLoadsTheFormats()
    {
        var (output, errors) = Run($"$m = Import-Module '{_dir}/ContainerOps.psd1' -PassThru; $m.ExportedCmdlets.Keys; (Get-Command New-Container).ModuleName");
        Assert.Empty(errors);
        var names = output.Select(o => o.ToString()).ToList();
        Assert.Contains("Get-Container", names);
        Assert.Contains("Add-ContainerImageTag", names);
        Assert.Equal("ContainerOps", names[^1]);
        Assert.Equal(105, names.Count); // 104 cmdlets and the module name
    }

    [Fact]
    public void GetHelpFindsTheHelpBesideTheAssembly()
    {
        var (output, errors) = Run($"Import-Module '{_dir}/ContainerOps.psd1'; $h = Get-Help New-Container -Full; $h.Synopsis; " +
                                   "$h.examples.example[0].code; ($h.parameters.parameter | Where-Object name -eq Memory).description.Text");
        Assert.Empty(errors.Select(e => e.ToString()));
        var lines = output.Select(o => o.ToString()).ToList();
        Assert.StartsWith("Creates a container", lines[0]);
        Assert.Equal("New-Container busybox echo hello -Wait -Rm", lines[1]);
        Assert.Contains("256MB", lines[2]);
        var (names, more) = Run($"Import-Module '{_dir}/ContainerOps.psd1'; (Get-Command New-Container).ModuleName; @(Get-Command -Module ContainerOps).Count");
        Assert.Empty(more);
        Assert.Equal(["ContainerOps", "104"], names.Select(o => o.ToString()));
    }

    [Fact]
    public void NoCmdletShadowsOneThatShipsWithPwsh()
    {
        var (output, errors) = Run($"Import-Module '{_dir}/ContainerOps.psd1'; (Get-Module ContainerOps).ExportedCmdlets.Keys | " +
                                   "Where-Object { @(Get-Command $_ -All -ErrorAction Ignore).Count -gt 1 }");
        Assert.Empty(errors);
        Assert.Empty(output);
    }
}

/// <summary>The Pester suites need pwsh and Pester to run; here at least they must parse.</summary>
public class PesterScriptTests
{
    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(ModuleShapeTests.RepoRootForTests, "tests", "Pester"), "*.ps1")) data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Parses(string script)
    {
        System.Management.Automation.Language.Parser.ParseFile(
            Path.Combine(ModuleShapeTests.RepoRootForTests, "tests", "Pester", script), out _, out var errors);
        Assert.Empty(errors.Select(e => $"{e.Extent.StartLineNumber}: {e.Message}"));
    }
}
