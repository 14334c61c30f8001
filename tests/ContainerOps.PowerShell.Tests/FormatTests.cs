using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;
using System.Security;
using System.Text;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell.Tests;

/// <summary>The default views of Module/ContainerOps.Format.ps1xml, rendered by Out-Host into a host that records text.</summary>
public class FormatTests
{
    internal static string Render(params object[] objects)
    {
        var host = new TextHost();
        var iss = InitialSessionState.CreateDefault2();
        iss.Formats.Add(new SessionStateFormatEntry(Path.Combine(ModuleShapeTests.RepoRootForTests, "Module", "ContainerOps.Format.ps1xml")));
        iss.ImportPSModule([typeof(ContainerOpsCmdlet).Assembly.Location]);
        using var rs = RunspaceFactory.CreateRunspace(host, iss);
        rs.Open();
        using var ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = rs;
        ps.AddScript("$PSStyle.OutputRendering = 'PlainText'").Invoke();
        foreach (var o in objects)
        {
            ps.Commands.Clear();
            ps.AddCommand("Out-Host");
            ps.Invoke(new[] { o });
        }
        Assert.Empty(ps.Streams.Error.Select(e => e.ToString()));
        return host.Text;
    }

    [Fact]
    public void ContainersShowShortIdNameImageAndStatus()
    {
        var text = Render(new ContainerSummary
        {
            Id = "0123456789abcdef0123456789abcdef", Name = "web", Image = "busybox:latest", Command = "sh", State = "running",
            Status = "Exited (137) 2 hours ago", Created = DateTimeOffset.Now,
        });
        Assert.Contains("Id", text);
        Assert.Contains("Status", text);
        Assert.Contains("0123456789ab ", text);
        Assert.DoesNotContain("0123456789abc", text);
        Assert.Contains("web", text);
        Assert.Contains("Exited (137) 2 hours ago", text);
        Assert.Contains("busybox:latest", text);
    }

    [Fact]
    public void ImagesShowRepositoryTagShortIdAndSize()
    {
        var text = Render(new ImageSummary { Id = "sha256:" + new string('c', 64), RepoTags = ["localhost:5000/busybox:1.36"], Size = 5 * 1024 * 1024 });
        Assert.Contains("Repository", text);
        Assert.Contains("localhost:5000/busybox", text);
        Assert.Contains("1.36", text);
        Assert.Contains("cccccccccccc ", text);
        Assert.Contains("5.0 MB", text);
        Assert.DoesNotContain("sha256", text);
    }

    [Fact]
    public void OtherViewsRender()
    {
        var text = Render(
            new ContainerStats { Id = new string('d', 64), Name = "web", CpuPercent = 12.5, MemoryUsage = 2 * 1024 * 1024, Pids = 3 },
            new ContainerProcess { Pid = 42, ParentPid = 1, User = "root", Command = "sleep 100" },
            new ContainerDetails { Id = new string('e', 64), Name = "/db", ImageName = "busybox", State = new ContainerState { Status = "exited", ExitCode = 3 } },
            new LogEntry { Log = "hello\n", Time = DateTimeOffset.Now });
        Assert.Contains("12.50", text);
        Assert.Contains("sleep 100", text);
        Assert.Contains("db", text);
        Assert.DoesNotContain("/db", text);
        Assert.Contains("hello", text);
    }

    private sealed class TextHost : PSHost
    {
        private readonly TextUI _ui = new();
        public string Text => _ui.Text.ToString();
        public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
        public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
        public override Guid InstanceId { get; } = Guid.NewGuid();
        public override string Name => "TextHost";
        public override PSHostUserInterface UI => _ui;
        public override Version Version => new(1, 0);
        public override void EnterNestedPrompt() { }
        public override void ExitNestedPrompt() { }
        public override void NotifyBeginApplication() { }
        public override void NotifyEndApplication() { }
        public override void SetShouldExit(int exitCode) { }
    }

    private sealed class TextUI : PSHostUserInterface
    {
        public StringBuilder Text { get; } = new();
        public override PSHostRawUserInterface? RawUI => null;
        public override void Write(string value) => Text.Append(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Text.Append(value);
        public override void WriteLine(string value) => Text.AppendLine(value);
        public override void WriteErrorLine(string value) => Text.AppendLine(value);
        public override void WriteDebugLine(string message) { }
        public override void WriteProgress(long sourceId, ProgressRecord record) { }
        public override void WriteVerboseLine(string message) { }
        public override void WriteWarningLine(string message) { }
        public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) => throw new NotSupportedException();
        public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) => throw new NotSupportedException();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw new NotSupportedException();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException();
        public override string ReadLine() => "";
        public override SecureString ReadLineAsSecureString() => new();
    }
}
