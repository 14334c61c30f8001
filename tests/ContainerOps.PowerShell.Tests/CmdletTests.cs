using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell.Tests;

public class ModuleShapeTests
{
    private static readonly Type[] CmdletTypes = typeof(ContainerOpsCmdlet).Assembly.GetTypes()
        .Where(t => !t.IsAbstract && t.GetCustomAttributes(typeof(CmdletAttribute), false).Length > 0).ToArray();

    private static CmdletAttribute Attr(Type t) => (CmdletAttribute)t.GetCustomAttributes(typeof(CmdletAttribute), false)[0];
    private static string NameOf(Type t) => $"{Attr(t).VerbName}-{Attr(t).NounName}";

    private static readonly string RepoRoot = FindRoot();
    internal static string RepoRootForTests => RepoRoot;

    private static string FindRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "ContainerOps.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("repo root not found");
    }

    private static Hashtable Manifest()
    {
        var ast = Parser.ParseFile(Path.Combine(RepoRoot, "ContainerOps.psd1"), out _, out var errors);
        Assert.Empty(errors);
        return (Hashtable)((HashtableAst)ast.Find(a => a is HashtableAst, false)!).SafeGetValue();
    }

    [Fact]
    public void ManifestExportsExactlyTheCmdletsOfTheAssembly()
    {
        var exported = ((object[])Manifest()["CmdletsToExport"]!).Cast<string>().OrderBy(s => s).ToArray();
        var defined = CmdletTypes.Select(NameOf).OrderBy(s => s).ToArray();
        Assert.Equal(defined, exported);
        Assert.DoesNotContain(exported, e => e.Contains('*'));
    }

    [Fact]
    public void ManifestPointsAtThePublishedAssemblyAndFormatFile()
    {
        var m = Manifest();
        Assert.Equal(["bin/module/ContainerOps.PowerShell.dll"], ((object[])m["NestedModules"]!).Cast<string>());
        Assert.Equal("0.1.0", m["ModuleVersion"]);
        Assert.Equal("7.6", m["PowerShellVersion"]);
        Assert.Equal(["Module/ContainerOps.Format.ps1xml"], ((object[])m["FormatsToProcess"]!).Cast<string>());
        Assert.True(File.Exists(Path.Combine(RepoRoot, "Module", "ContainerOps.Format.ps1xml")));
        Assert.True(Guid.TryParse((string)m["GUID"]!, out _));
    }

    [Fact]
    public void VerbsAreApproved()
    {
        var approved = new[] { typeof(VerbsCommon), typeof(VerbsData), typeof(VerbsLifecycle), typeof(VerbsDiagnostic), typeof(VerbsCommunications), typeof(VerbsSecurity), typeof(VerbsOther) }
            .SelectMany(t => t.GetFields()).Select(f => (string)f.GetValue(null)!).ToHashSet();
        foreach (var t in CmdletTypes) Assert.Contains(Attr(t).VerbName, approved);
    }

    [Fact]
    public void EveryCmdletDeclaresOutputType()
    {
        foreach (var t in CmdletTypes)
            Assert.True(t.GetCustomAttributes(typeof(OutputTypeAttribute), false).Length > 0, NameOf(t));
    }

    [Fact]
    public void ChangesSupportShouldProcessAndRemovalsAreMediumImpact()
    {
        // Medium, as Remove-Item: asked with -Confirm or $ConfirmPreference = 'Medium', not by default (docker rm asks nothing).
        var changing = new[] { "New", "Start", "Stop", "Restart", "Suspend", "Resume", "Remove", "Rename", "Import", "Add" };
        foreach (var t in CmdletTypes.Where(t => changing.Contains(Attr(t).VerbName)))
        {
            Assert.True(Attr(t).SupportsShouldProcess, NameOf(t));
            if (Attr(t).VerbName == "Remove") Assert.Equal(ConfirmImpact.Medium, Attr(t).ConfirmImpact);
        }
    }
}

public class ContainerCmdletTests : IDisposable
{
    private readonly Shell _sh = new();
    public void Dispose() => _sh.Dispose();

    [Fact]
    public void GetContainerPipesIntoStopContainerByProperty()
    {
        _sh.Client.Add("web");
        _sh.Client.Add("db");
        _sh.Client.Add("old", "exited");
        _sh.Run("Get-Container | Stop-Container -Timeout 3");
        Assert.Empty(_sh.Errors);
        Assert.Equal(2, _sh.Client.Calls.Count(c => c.StartsWith("stop t=3 ")));
        Assert.All(_sh.Client.Containers, c => Assert.Equal("exited", c.State));
    }

    [Fact]
    public void StopContainerPassThruWritesTheContainer()
    {
        _sh.Client.Add("web");
        var output = _sh.Run("Stop-Container web -PassThru");
        var c = Assert.IsType<ContainerSummary>(Assert.Single(output).BaseObject);
        Assert.Equal("web", c.Name);
    }

    [Fact]
    public void RemoveWhatIfLeavesTheContainer()
    {
        _sh.Client.Add("web", "exited");
        _sh.Run("Get-Container -All | Remove-Container -WhatIf");
        Assert.Single(_sh.Client.Containers);
        _sh.Run("Get-Container -All | Remove-Container -Force -WhatIf");
        Assert.Single(_sh.Client.Containers);
    }

    [Fact]
    public void RemoveExitedContainersAsksNothingUnderTheDefaultConfirmPreference()
    {
        // A runspace without a host cannot ask: a prompt would be an error here, as in a non-interactive runbook.
        _sh.Client.Add("web");
        _sh.Client.Add("old", "exited");
        _sh.Client.Add("older", "exited");
        _sh.Run("Get-Container -All | Where-Object State -eq 'exited' | Remove-Container");
        Assert.Empty(_sh.Errors);
        Assert.Equal(["web"], _sh.Client.Containers.Select(c => c.Name));
    }

    [Fact]
    public void RemoveRunningContainerIsAnInvalidOperationUnlessForced()
    {
        _sh.Client.Add("web");
        _sh.Run("Remove-Container web -Confirm:$false");
        var e = Assert.Single(_sh.Errors);
        Assert.Equal("ContainerRunning", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidOperation, e.CategoryInfo.Category);
        Assert.Equal("web", e.TargetObject);
        _sh.Run("Get-Container web | Remove-Container -Force");
        Assert.Empty(_sh.Client.Containers);
        Assert.Contains(_sh.Client.Calls, c => c.StartsWith("remove force=True"));
    }

    [Fact]
    public void MissingContainerIsObjectNotFoundAndThePipelineGoesOn()
    {
        _sh.Client.Add("web");
        _sh.Run("'nope', 'web' | Start-Container");
        var e = Assert.Single(_sh.Errors);
        Assert.Equal(ErrorCategory.ObjectNotFound, e.CategoryInfo.Category);
        Assert.StartsWith("ContainerNotFound", e.FullyQualifiedErrorId);
        Assert.Contains("start web", _sh.Client.Calls);
    }

    [Fact]
    public void GetContainerNameTakesWildcardsAndReportsPlainNamesNotFound()
    {
        _sh.Client.Add("web1");
        _sh.Client.Add("web2", "exited");
        _sh.Client.Add("db");
        var names = _sh.Run("Get-Container -Name web*").Select(o => ((ContainerSummary)o.BaseObject).Name).ToArray();
        Assert.Equal(["web1", "web2"], names);
        Assert.Empty(_sh.Errors);
        Assert.Empty(_sh.Run("Get-Container -Name nothing*"));
        Assert.Empty(_sh.Errors);
        _sh.Run("Get-Container missing");
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(_sh.Errors).CategoryInfo.Category);
    }

    [Fact]
    public void GetContainerDefaultsToRunningAndStatusFilters()
    {
        _sh.Client.Add("a");
        _sh.Client.Add("b", "exited");
        Assert.Single(_sh.Run("Get-Container"));
        Assert.Equal(2, _sh.Run("Get-Container -All").Count);
        var exited = Assert.Single(_sh.Run("Get-Container -Status exited"));
        Assert.Equal("b", ((ContainerSummary)exited.BaseObject).Name);
        _sh.Run("Get-Container -Filter @{ label = 'app=web' }");
        Assert.Contains("list all=False filters=label=app=web", _sh.Client.Calls);
        var details = Assert.Single(_sh.Run("Get-Container a -Detailed"));
        Assert.IsType<ContainerDetails>(details.BaseObject);
    }

    [Fact]
    public void NewContainerPullsAMissingImageAsDockerRunDoesUnlessToldNotTo()
    {
        _sh.Client.MissingImages.Add("app:2");
        _sh.Run("New-Container app:2 -Name never -Pull Never");
        Assert.StartsWith("ImageNotFound", Assert.Single(_sh.Errors).FullyQualifiedErrorId);
        Assert.DoesNotContain(_sh.Client.Calls, c => c.StartsWith("pull", StringComparison.Ordinal));
        _sh.Errors.Clear();

        var made = Assert.Single(_sh.Run("New-Container app:2 -Name fresh"));
        Assert.Empty(_sh.Errors);
        Assert.Equal("fresh", Assert.IsType<ContainerSummary>(made.BaseObject).Name.TrimStart('/'));
        Assert.Equal(["pull app:2", "create fresh"], _sh.Client.Calls.Where(c => c.StartsWith("pull", StringComparison.Ordinal) || c.StartsWith("create", StringComparison.Ordinal)));

        // Present: no pull (and no question asked first); Always: a pull before every create.
        _sh.Client.Calls.Clear();
        _sh.Run("New-Container busybox -Name here");
        Assert.DoesNotContain(_sh.Client.Calls, c => c.StartsWith("pull", StringComparison.Ordinal));
        _sh.Run("New-Container busybox -Name again -Pull Always");
        Assert.Contains("pull busybox", _sh.Client.Calls);

        // A pull that fails is the error, and nothing is made.
        _sh.Client.MissingImages.Add("gone:1");
        _sh.Run("New-Container gone:1 -Name nothing");
        Assert.Contains("gone:1", Assert.Single(_sh.Errors).Exception.Message);
        Assert.DoesNotContain(_sh.Client.Containers, c => c.Name.TrimStart('/') == "nothing");
    }

    [Fact]
    public void NewContainerBuildsTheCreateRequest()
    {
        var output = _sh.Run("New-Container busybox echo hello world -Name web -Memory 256MB -Cpus 1.5 -Environment @{ A = 1 }, 'B=2' " +
                             "-Label app=web -RestartPolicy on-failure -MaximumRetryCount 3 -Network host -Volume /tmp:/data:ro -ReadOnly -CapabilityDrop ALL -Init");
        Assert.Empty(_sh.Errors);
        var r = _sh.Client.LastCreate!;
        Assert.Equal("busybox", r.Image);
        Assert.Equal(["echo", "hello", "world"], r.Cmd);
        Assert.Equal("web", r.Name);
        Assert.Equal(256L * 1024 * 1024, r.HostConfig.Memory);
        Assert.Equal(1_500_000_000L, r.HostConfig.NanoCpus);
        Assert.Equal(["A=1", "B=2"], r.Env);
        Assert.Equal("web", r.Labels["app"]);
        Assert.True(r.HostConfig.Init);
        Assert.Equal("on-failure", r.HostConfig.RestartPolicy.Name);
        Assert.Equal(3, r.HostConfig.RestartPolicy.MaximumRetryCount);
        Assert.Equal("host", r.HostConfig.NetworkMode);
        Assert.Equal(["/tmp:/data:ro"], r.HostConfig.Binds);
        Assert.True(r.HostConfig.ReadonlyRootfs);
        Assert.Equal(["ALL"], r.HostConfig.CapDrop);
        Assert.False(r.HostConfig.AutoRemove);
        var c = Assert.IsType<ContainerSummary>(Assert.Single(output).BaseObject);
        Assert.Equal("created", c.State);
    }

    [Fact]
    public void NewContainerReadsASeccompProfileFileFromTheCurrentLocation()
    {
        var dir = Directory.CreateTempSubdirectory("co-ps-seccomp-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "deny-mkdir.json"), "{ \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [ { \"names\": [ \"mkdir\" ], \"action\": \"SCMP_ACT_ERRNO\" } ] }\n");
            File.WriteAllText(Path.Combine(dir, "bad.json"), "{ \"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [ { \"names\": [ \"mkdir\" ], \"action\": \"DENY\" } ] }");
            _sh.Run($"$ExecutionContext.SessionState.Path.SetLocation('{dir}') | Out-Null; New-Container busybox -SecurityOption seccomp=deny-mkdir.json, no-new-privileges");
            Assert.Empty(_sh.Errors);
            Assert.Equal(["""seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}""", "no-new-privileges"],
                _sh.Client.LastCreate!.HostConfig.SecurityOpt);

            _sh.Run("New-Container busybox -Name never -SecurityOption seccomp=./bad.json");
            var e = Assert.Single(_sh.Errors);
            Assert.StartsWith("InvalidSeccompProfile", e.FullyQualifiedErrorId);
            Assert.Contains("bad.json: syscalls[0].action: unknown action 'DENY'", e.Exception.Message);
            Assert.DoesNotContain(_sh.Client.Containers, c => c.Name == "never");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void NewContainerWaitRmIsDockerRunRm()
    {
        _sh.Client.Logs.Add(new LogEntry { Stream = "stdout", Log = "hello\n" });
        _sh.Client.Logs.Add(new LogEntry { Stream = "stderr", Log = "oops\n" });
        _sh.Client.ExitCode = 3;
        var output = _sh.Run("New-Container busybox sh -Wait -Rm; $LASTEXITCODE");
        Assert.Equal(["hello", "3"], output.Select(o => o.ToString()));
        var e = Assert.Single(_sh.Errors);
        Assert.Equal("oops", e.Exception.Message);
        Assert.Empty(_sh.Client.Containers);
        Assert.Contains(_sh.Client.Calls, c => c.StartsWith("start "));
    }

    [Fact]
    public void NewContainerTakesShDashCAsAnArray()
    {
        _sh.Run("New-Container busybox -Command sh, -c, 'echo $HOME; exit 3' -Entrypoint @()");
        Assert.Empty(_sh.Errors);
        Assert.Equal(["sh", "-c", "echo $HOME; exit 3"], _sh.Client.LastCreate!.Cmd);
        Assert.Equal([], _sh.Client.LastCreate.Entrypoint!);
    }

    [Fact]
    public void NewContainerWaitThatCannotStartSetsDockersExitCodeAndStillRemoves()
    {
        var output = _sh.Run("New-Container broken nope -Wait -Rm; $LASTEXITCODE");
        Assert.Equal("127", Assert.Single(output).ToString());
        Assert.StartsWith("CommandNotFound", Assert.Single(_sh.Errors).FullyQualifiedErrorId);
        Assert.Empty(_sh.Client.Containers);
    }

    [Fact]
    public void NewContainerRmWithoutWaitAsksTheDaemonToRemove()
    {
        _sh.Run("New-Container busybox -Rm -Start");
        Assert.True(_sh.Client.LastCreate!.HostConfig.AutoRemove);
        Assert.Equal("running", Assert.Single(_sh.Client.Containers).State);
    }

    [Fact]
    public void NewContainerNameInUseIsResourceExists()
    {
        _sh.Client.Add("web");
        _sh.Run("New-Container busybox -Name web");
        var e = Assert.Single(_sh.Errors);
        Assert.Equal(ErrorCategory.ResourceExists, e.CategoryInfo.Category);
        Assert.StartsWith("NameInUse", e.FullyQualifiedErrorId);
        Assert.Equal("web", e.TargetObject);
    }

    [Fact]
    public void NewContainerWhatIfCreatesNothing()
    {
        _sh.Run("New-Container busybox -Name web -WhatIf");
        Assert.Null(_sh.Client.LastCreate);
    }

    [Fact]
    public void InvokeContainerCommandWritesLinesErrorsAndExitCode()
    {
        _sh.Client.Add("web");
        _sh.Client.ExecFrames.AddRange([
            new StreamFrame { Stream = "stdout", Data = "one\ntw" },
            new StreamFrame { Stream = "stdout", Data = "o\nthree" },
            new StreamFrame { Stream = "stderr", Data = "bad\n" },
            new StreamFrame { Stream = "exit", ExitCode = 2 }]);
        var output = _sh.Run("Get-Container web | Invoke-ContainerCommand -Command cat, /etc/passwd -Environment X=1 -PassThru");
        Assert.Equal(["one", "two", "three"], output.Take(3).Select(o => o.ToString()));
        var result = Assert.IsType<ContainerCommandResult>(output[3].BaseObject);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("bad", Assert.Single(_sh.Errors).Exception.Message);
        Assert.Equal(["cat", "/etc/passwd"], _sh.Client.LastExec!.Cmd);
        Assert.Equal(["X=1"], _sh.Client.LastExec.Env);
        Assert.Equal(2, _sh.Run("$LASTEXITCODE")[0].BaseObject);
    }

    [Fact]
    public void InvokeContainerCommandSendsInput()
    {
        _sh.Client.Add("web");
        _sh.Client.ExecFrames.Add(new StreamFrame { Stream = "exit", ExitCode = 0 });
        _sh.Run("Invoke-ContainerCommand web cat -InputObject a, b");
        Assert.Equal("a\nb\n", _sh.Client.LastExecStdin);
    }

    [Fact]
    public void GetContainerLogWritesTextOrEntries()
    {
        _sh.Client.Add("web");
        var t = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
        _sh.Client.Logs.AddRange([new LogEntry { Log = "a\n", Time = t }, new LogEntry { Log = "b\n", Time = t }, new LogEntry { Log = "c\r\n", Time = t, Stream = "stderr" }]);
        Assert.Equal(["b", "c"], _sh.Run("Get-ContainerLog web -Tail 2").Select(o => o.ToString()));
        Assert.Equal("2026-11-22T10:00:00.0000000Z a", _sh.Run("Get-ContainerLog web -Timestamps")[0].ToString());
        Assert.IsType<LogEntry>(_sh.Run("Get-ContainerLog web -AsObject")[0].BaseObject);
        Assert.Equal(["c"], _sh.Run("Get-ContainerLog web -Stream Stderr").Select(o => o.ToString()));
    }

    [Fact]
    public void GetContainerEventWritesTheKeptEventsAndPassesFilters()
    {
        _sh.Client.Add("web");
        var id = _sh.Client.InspectContainerAsync("web").Result.Id;
        _sh.Client.Events.AddRange([
            new EventMessage { Type = "container", Action = "die", TimeNano = 1764928800_500000000, Actor = new EventActor { ID = id, Attributes = new() { ["name"] = "web", ["exitCode"] = "3" } } },
            new EventMessage { Type = "image", Action = "tag", TimeNano = 1764928801_000000000, Actor = new EventActor { ID = "sha256:1", Attributes = new() { ["name"] = "app:1" } } },
        ]);
        var all = _sh.Run("Get-ContainerEvent").Select(o => Assert.IsType<ContainerEvent>(o.BaseObject)).ToList();
        Assert.Equal(["die", "tag"], all.Select(e => e.Action));
        Assert.Equal(("web", "3"), (all[0].Name, all[0].Attributes["exitCode"]));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1764928800_500), all[0].Time);
        Assert.Equal("events since=0 until=set filters=", _sh.Client.Calls.Last());

        Assert.Equal(["tag"], _sh.Run("Get-ContainerEvent -Type image").Select(o => ((ContainerEvent)o.BaseObject).Action));
        _sh.Run("Get-Container web | Get-ContainerEvent -Filter @{ event = 'die', 'oom'; label = 'tier=web' }");
        Assert.Equal($"events since=0 until=set filters=container={id};event=die,oom;label=tier=web", _sh.Client.Calls.Last());
    }

    [Fact]
    public void GetContainerProcessMapsColumns()
    {
        _sh.Client.Add("web");
        var p = Assert.IsType<ContainerProcess>(Assert.Single(_sh.Run("Get-Container web | Get-ContainerProcess")).BaseObject);
        Assert.Equal(4242, p.Pid);
        Assert.Equal(4200, p.ParentPid);
        Assert.Equal("sh -c sleep 100", p.Command);
        Assert.Equal("root", p.User);
    }

    [Fact]
    public void StatisticsDefaultToRunningContainers()
    {
        _sh.Client.Add("a");
        _sh.Client.Add("b", "exited");
        var s = Assert.IsType<ContainerStats>(Assert.Single(_sh.Run("Get-ContainerStatistic")).BaseObject);
        Assert.Equal("a", s.Name);
    }

    [Fact]
    public void RenameAndWait()
    {
        _sh.Client.Add("web", "exited");
        _sh.Run("Rename-Container web -NewName site");
        Assert.Equal("site", _sh.Client.Containers[0].Name);
        var w = Assert.Single(_sh.Run("Wait-Container site"));
        Assert.Equal(0, ((ContainerWaitResponse)w.BaseObject).StatusCode);
        Assert.Equal("site", w.Properties["Container"].Value);
    }

    [Fact]
    public void NamesAndImagesComplete()
    {
        _sh.Client.Add("web1");
        _sh.Client.Add("web two", "exited");
        _sh.Client.Add("db");
        _sh.Client.Images.Add(new ImageSummary { Id = "sha256:1", RepoTags = ["busybox:latest", "alpine:3"] });
        string[] Complete(string line) => _sh.Run($"(TabExpansion2 -inputScript '{line.Replace("'", "''")}' -cursorColumn {line.Length}).CompletionMatches.CompletionText")
            .Select(o => o.ToString()).ToArray();
        Assert.Equal(["'web two'", "web1"], Complete("Stop-Container we"));
        Assert.Equal(["busybox:latest"], Complete("New-Container bu"));
        Assert.Equal(["db"], Complete("Get-Container -Name d"));
    }

    [Theory]
    [InlineData("Wait-Container forever", "wait forever")]
    [InlineData("Get-ContainerLog forever -Follow", "logs follow=True tail= stdout=True stderr=True forever")]
    [InlineData("Get-ContainerEvent -Wait -Container forever", "events since= until= filters=container=forever")]
    public void StoppingThePipelineCancelsTheCall(string script, string call)
    {
        _sh.Client.Add("forever");
        _sh.Client.Logs.Add(new LogEntry { Log = "first\n" });
        using var ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = _sh.Runspace;
        ps.AddScript(script);
        var output = new PSDataCollection<PSObject>();
        var pending = ps.BeginInvoke<PSObject, PSObject>(null, output);
        Assert.True(SpinWait.SpinUntil(() => _sh.Client.Calls.Contains(call), TimeSpan.FromSeconds(10)), string.Join("; ", _sh.Client.Calls));
        var stopped = Task.Run(ps.Stop);
        Assert.True(stopped.Wait(TimeSpan.FromSeconds(10)), "Stop did not return");
        Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
    }

    [Theory]
    [InlineData("-Rm", "remove force=True")]
    [InlineData("", "kill INT")]
    public void StoppingADockerRunPassesTheInterruptOnOrRemoves(string rm, string expected)
    {
        using var ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = _sh.Runspace;
        ps.AddScript($"New-Container busybox -Name forever1 -Wait {rm}");
        var pending = ps.BeginInvoke();
        Assert.True(SpinWait.SpinUntil(() => _sh.Client.Calls.Any(c => c.StartsWith("logs follow=True")), TimeSpan.FromSeconds(10)));
        Assert.True(Task.Run(ps.Stop).Wait(TimeSpan.FromSeconds(15)), "Stop did not return");
        Assert.Contains(_sh.Client.Calls, c => c.StartsWith(expected));
    }

    [Fact]
    public void ProcessParametersBecomeTheHostConfigTheCliMakes()
    {
        _sh.Run("New-Container busybox -Name tuned -Ulimit nofile=512:1024, nproc=64 -GroupAdd audio, 55 -Pid host -CgroupParent mine " +
            "-CpuQuota 50000 -CpuPeriod 100000 -MemoryReservation 32MB -OomScoreAdj -500 -OomKillDisable -Device /dev/fuse, /dev/null:/dev/n2:r " +
            "-DeviceCgroupRule 'c 1:3 rwm' -Domainname example.org -LogDriver json-file -LogOption @{ 'max-size' = '1m'; 'max-file' = '2' }");
        Assert.Empty(_sh.Errors);
        var r = _sh.Client.LastCreate!;
        var h = r.HostConfig;
        Assert.Equal(["nofile 512 1024", "nproc 64 64"], h.Ulimits.Select(u => $"{u.Name} {u.Soft} {u.Hard}"));
        Assert.Equal(["audio", "55"], h.GroupAdd);
        Assert.Equal(("host", "mine"), (h.PidMode, h.CgroupParent));
        Assert.Equal((50000L, 100000L, 32L << 20), (h.CpuQuota, h.CpuPeriod, h.MemoryReservation));
        Assert.Equal((-500, true), (h.OomScoreAdj, h.OomKillDisable));
        Assert.Equal(["/dev/fuse /dev/fuse rwm", "/dev/null /dev/n2 r"], h.Devices.Select(d => $"{d.PathOnHost} {d.PathInContainer} {d.CgroupPermissions}"));
        Assert.Equal(["c 1:3 rwm"], h.DeviceCgroupRules);
        Assert.Equal("example.org", r.Domainname);
        Assert.Equal("json-file", h.LogConfig!.Type);
        Assert.Equal(("1m", "2"), (h.LogConfig.Config["max-size"], h.LogConfig.Config["max-file"]));
    }

    [Theory]
    [InlineData("-Ulimit nofile", "ulimit")]
    [InlineData("-Device /a:/b:rw:x", "device")]
    public void BadProcessParametersAreRefusedBeforeCreating(string args, string named)
    {
        _sh.Run("New-Container busybox -Name never " + args);
        Assert.Contains(_sh.Errors, e => e.Exception.Message.Contains($"invalid {named}"));
        Assert.Null(_sh.Client.LastCreate);
    }

    [Fact]
    public void HealthParametersBecomeTheHealthcheck()
    {
        _sh.Run("New-Container busybox -Name web -HealthCommand 'wget -q localhost' -HealthInterval 1m30s -HealthTimeout ([TimeSpan]::FromSeconds(2)) " +
            "-HealthRetries 4 -HealthStartPeriod 00:00:05 -HealthStartInterval 500ms");
        Assert.Empty(_sh.Errors);
        var h = _sh.Client.LastCreate!.Healthcheck!;
        Assert.Equal(["CMD-SHELL", "wget -q localhost"], h.Test);
        Assert.Equal(90_000_000_000, h.Interval);
        Assert.Equal(2_000_000_000, h.Timeout);
        Assert.Equal(4, h.Retries);
        Assert.Equal(5_000_000_000, h.StartPeriod);
        Assert.Equal(500_000_000, h.StartInterval);

        _sh.Run("New-Container busybox -Name plain");
        Assert.Null(_sh.Client.LastCreate!.Healthcheck);
        _sh.Run("New-Container busybox -Name off -NoHealthcheck");
        Assert.Equal(["NONE"], _sh.Client.LastCreate!.Healthcheck!.Test);
    }

    [Theory]
    [InlineData("-NoHealthcheck -HealthRetries 2")]
    [InlineData("-HealthInterval 5")]
    public void BadHealthParametersCreateNothing(string parameters)
    {
        _sh.Run($"New-Container busybox -Name bad {parameters}");
        Assert.NotEmpty(_sh.Errors);
        Assert.DoesNotContain(_sh.Client.Containers, c => c.Name == "bad");
    }

    [Fact]
    public void WaitForHealthyWritesTheHealth()
    {
        _sh.Client.Add("db");
        _sh.Client.Health["db"] = new ContainerHealth { Status = HealthStatus.Healthy, Log = [new HealthcheckResult { Output = "ok" }] };
        var w = Assert.Single(_sh.Run("Wait-Container db -Condition Healthy"));
        Assert.Equal(HealthStatus.Healthy, ((ContainerHealth)w.BaseObject).Status);
        Assert.Equal("db", w.Properties["Container"].Value);
    }

    [Fact]
    public void WaitForHealthyFollowsTheStatusAndFailsOnUnhealthy()
    {
        _sh.Client.Add("db");
        _sh.Client.Health["db"] = new ContainerHealth { Status = HealthStatus.Starting };
        var waiting = Task.Run(() => _sh.Run("Wait-Container db -Condition Healthy -Timeout 10"));
        Thread.Sleep(500);
        Assert.False(waiting.IsCompleted, "returned while starting");
        _sh.Client.Health["db"] = new ContainerHealth { Status = HealthStatus.Unhealthy, FailingStreak = 3, Log = [new HealthcheckResult { ExitCode = 1, Output = "refused\n" }] };
        Assert.Empty(waiting.Result);
        var e = Assert.Single(_sh.Errors);
        Assert.Equal("ContainerUnhealthy", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("refused", e.Exception.Message);
    }

    [Fact]
    public void WaitForHealthyNeedsAHealthCheckAndTimesOut()
    {
        _sh.Client.Add("plain");
        _sh.Run("Wait-Container plain -Condition Healthy");
        Assert.Equal("NoHealthcheck", Assert.Single(_sh.Errors).FullyQualifiedErrorId.Split(',')[0]);
        _sh.Errors.Clear();
        _sh.Client.Add("slow");
        _sh.Client.Health["slow"] = new ContainerHealth();
        _sh.Run("Wait-Container slow -Condition Healthy -Timeout 1");
        Assert.Equal(ErrorCategory.OperationTimeout, Assert.Single(_sh.Errors).CategoryInfo.Category);
    }

    [Fact]
    public void WaitTimeoutIsOperationTimeout()
    {
        _sh.Client.Add("forever");
        _sh.Run("Wait-Container forever -Timeout 1");
        Assert.Equal(ErrorCategory.OperationTimeout, Assert.Single(_sh.Errors).CategoryInfo.Category);
    }
}

public class ImageCmdletTests : IDisposable
{
    private readonly Shell _sh = new();
    public void Dispose() => _sh.Dispose();

    [Fact]
    public void ImportTagListRemove()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, new byte[100_000]);
            var imported = _sh.Run($"Import-ContainerImage -Path '{file}' -Reference busybox:1 -Change 'CMD [\"sh\"]'");
            Assert.Empty(_sh.Errors);
            Assert.IsType<ImageSummary>(Assert.Single(imported).BaseObject);
            Assert.Contains("import busybox:1 changes=CMD [\"sh\"] bytes=100000", _sh.Client.Calls);
            Assert.Contains(_sh.Progress, p => p.RecordType == ProgressRecordType.Completed && p.Activity.Contains("Importing"));

            _sh.Run("Add-ContainerImageTag busybox:1 busybox:latest");
            Assert.Equal(["busybox:1", "busybox:latest"], _sh.Client.Images[0].RepoTags);
            Assert.Single(_sh.Run("Get-ContainerImage busybox"));
            Assert.Single(_sh.Run("Get-ContainerImage bus*"));
            Assert.Single(_sh.Run("Get-ContainerImage bbbbbbbb"));
            Assert.Empty(_sh.Errors);
            _sh.Run("Get-ContainerImage nothing");
            Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(_sh.Errors).CategoryInfo.Category);

            _sh.Run("Get-ContainerImage | Remove-ContainerImage -WhatIf");
            Assert.Single(_sh.Client.Images);
            _sh.Errors.Clear();
            _sh.Run("Get-ContainerImage | Remove-ContainerImage");
            Assert.Empty(_sh.Errors);
            Assert.Empty(_sh.Client.Images);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void PruneAsksUnlessForcedOrConfirmIsFalse()
    {
        // A runspace without a host cannot ask: the prune that would ask is refused, as `docker image prune` without -f is
        // in a script.
        _sh.Run("Remove-ContainerImage -Dangling");
        Assert.Single(_sh.Errors);
        Assert.DoesNotContain(_sh.Client.Calls, c => c.StartsWith("prune", StringComparison.Ordinal));
        _sh.Errors.Clear();
        _sh.Run("Remove-ContainerImage -Dangling -Force; Remove-ContainerImage -Unused -Confirm:$false");
        Assert.Empty(_sh.Errors);
        Assert.Equal(["prune images all=False", "prune images all=True"], _sh.Client.Calls.Where(c => c.StartsWith("prune", StringComparison.Ordinal)));
    }

    [Fact]
    public void ImportOfAMissingFileIsObjectNotFound()
    {
        _sh.Run("Import-ContainerImage -Path /nonexistent/rootfs.tar -Reference x");
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(_sh.Errors).CategoryInfo.Category);
    }

    [Fact]
    public void BuildSendsSecretsAndEntitlements()
    {
        var dir = Directory.CreateTempSubdirectory("co-ps-build").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM busybox\nRUN --mount=type=secret,id=tok true\n");
            File.WriteAllText(Path.Combine(dir, "key.txt"), "from a file");
            _sh.Runspace.SessionStateProxy.Path.SetLocation(dir);
            Environment.SetEnvironmentVariable("CO_TEST_TOKEN", "from the environment");
            var built = _sh.Run("Build-ContainerImage -Tag app:1 -Secret 'id=tok,env=CO_TEST_TOKEN', 'id=rel,src=key.txt', @{ key = './key.txt' } -Allow security.insecure");
            Assert.Empty(_sh.Errors);
            Assert.Equal(["app:1"], ((ImageSummary)Assert.Single(built).BaseObject).RepoTags);
            var request = _sh.Client.LastBuild!;
            Assert.Equal("from the environment", System.Text.Encoding.UTF8.GetString(request.Secrets["tok"]));
            Assert.Equal("from a file", System.Text.Encoding.UTF8.GetString(request.Secrets["rel"]));
            Assert.Equal("from a file", System.Text.Encoding.UTF8.GetString(request.Secrets["key"]));
            Assert.Equal(["security.insecure"], request.Allow);

            _sh.Run("Build-ContainerImage -Tag app:2 -Secret 'id=missing,src=nothing-here.txt'");
            var error = Assert.Single(_sh.Errors);
            Assert.Equal("InvalidSecret", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Contains("nothing-here.txt", error.Exception.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable("CO_TEST_TOKEN", null);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SecretSpecifications_AndTheHeaderThatCarriesThem()
    {
        var env = new Dictionary<string, string> { ["TOKEN"] = "t0k", ["bare"] = "from env" };
        string? Env(string n) => env.GetValueOrDefault(n);
        static (string, string) Text((string Id, byte[] Value) s) => (s.Id, System.Text.Encoding.UTF8.GetString(s.Value));
        Assert.Equal(("a", "t0k"), Text(BuildSecrets.Read("id=a,env=TOKEN", Env)));
        Assert.Equal(("a", "t0k"), Text(BuildSecrets.Read("type=env,id=a,src=TOKEN", Env)));
        Assert.Equal(("bare", "from env"), Text(BuildSecrets.Read("id=bare", Env)));
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "in a file");
            Assert.Equal(("f", "in a file"), Text(BuildSecrets.Read($"id=f,src={file}", Env)));
            Assert.Equal(("f", "in a file"), Text(BuildSecrets.Read($"id=f,source={file},type=file", Env)));
        }
        finally { File.Delete(file); }
        Assert.Throws<ArgumentException>(() => BuildSecrets.Read("src=/x", Env));
        Assert.Throws<ArgumentException>(() => BuildSecrets.Read("id=a,env=UNSET", Env));
        Assert.Throws<ArgumentException>(() => BuildSecrets.Read("id=a,colour=red", Env));
        Assert.Throws<ArgumentException>(() => BuildSecrets.Read("id=nothing", Env));

        var secrets = new Dictionary<string, byte[]> { ["a"] = [0, 1, 255], ["b"] = "text"u8.ToArray() };
        var back = BuildSecretsHeader.Decode(BuildSecretsHeader.Encode(secrets));
        Assert.Equal(secrets.Keys, back.Keys);
        Assert.Equal(secrets["a"], back["a"]);
        Assert.Throws<ContainerOpsException>(() => BuildSecretsHeader.Encode(new Dictionary<string, byte[]> { ["big"] = new byte[BuildSecretsHeader.MaxLength] }));
    }

    [Fact]
    public void ReferencesSplitForDisplay()
    {
        Assert.Equal(("busybox", "1.36"), ImageReferenceParts.Split("busybox:1.36"));
        Assert.Equal(("localhost:5000/app", "latest"), ImageReferenceParts.Split("localhost:5000/app"));
        Assert.Equal(("app", "sha256:abc"), ImageReferenceParts.Split("app@sha256:abc"));
    }
}

public class ErrorMappingTests
{
    [Theory]
    [InlineData(ErrorKind.InvalidArgument, "InvalidMemoryLimit", ErrorCategory.InvalidArgument)]
    [InlineData(ErrorKind.NotFound, "ImageNotFound", ErrorCategory.ObjectNotFound)]
    [InlineData(ErrorKind.Conflict, "NameInUse", ErrorCategory.ResourceExists)]
    [InlineData(ErrorKind.Conflict, "TagExists", ErrorCategory.ResourceExists)]
    [InlineData(ErrorKind.Conflict, "ContainerRunning", ErrorCategory.InvalidOperation)]
    [InlineData(ErrorKind.ResourceUnavailable, "RuntimeMissing", ErrorCategory.ResourceUnavailable)]
    [InlineData(ErrorKind.Internal, "Internal", ErrorCategory.NotSpecified)]
    public void CategoriesFollowKinds(ErrorKind kind, string id, ErrorCategory expected)
    {
        var record = ErrorRecords.From(new ContainerOpsException(kind, id, "m", "target"));
        Assert.Equal(expected, record.CategoryInfo.Category);
        Assert.Equal(id, record.FullyQualifiedErrorId);
        Assert.Equal("target", record.TargetObject);
    }
}
