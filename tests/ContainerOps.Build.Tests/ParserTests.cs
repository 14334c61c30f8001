using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Build;

namespace ContainerOps.Build.Tests;

public class ParserTests
{
    private static string Corpus(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpus", name));

    /// <summary>Evaluates the metadata instructions of the last stage over an empty base config.</summary>
    private static BuildState Evaluate(string dockerfile, Dictionary<string, string>? buildArgs = null, JsonObject? baseConfig = null)
    {
        var df = DockerfileParser.Parse(dockerfile);
        buildArgs ??= new();
        var globals = BuildState.EvaluateGlobalArgs(df.GlobalArgs, buildArgs, df.Escape);
        var state = new BuildState { Escape = df.Escape, BuildArgs = buildArgs, GlobalArgs = globals };
        state.Inherit(baseConfig);
        foreach (var ins in df.Stages[^1].Instructions)
            if (ins.Keyword is not ("RUN" or "COPY" or "ADD")) state.ApplyMetadata(ins);
        return state;
    }

    private static List<string>? Arr(JsonNode? n) => (n as JsonArray)?.Select(x => x!.GetValue<string>()).ToList();

    [Fact]
    public void Continuations_Comments_AndEscapeDirective()
    {
        var df = DockerfileParser.Parse(Corpus("continuation-escape.Dockerfile"));
        Assert.Equal('`', df.Escape);
        var run = df.Stages[0].Instructions[0];
        Assert.Equal("RUN", run.Keyword);
        Assert.Equal(4, run.Line);
        Assert.Equal("echo one     two     three", System.Text.RegularExpressions.Regex.Replace(run.Args, "\\s+", m => m.Value));
        Assert.Contains("three", run.Args);
        Assert.DoesNotContain("comment", run.Args);
        var copy = df.Stages[0].Instructions[1];
        Assert.Equal("COPY", copy.Keyword);
        Assert.Equal(@"C:\src C:\dst", copy.Args); // backslashes are plain characters with escape=`
    }

    [Fact]
    public void BackslashContinuation_AndEscapedBackslashAtEnd()
    {
        var df = DockerfileParser.Parse("FROM a\nRUN echo a \\\n  b\nRUN echo c\\\\\nRUN echo d\n");
        var ins = df.Stages[0].Instructions;
        Assert.Equal(3, ins.Count);
        Assert.Equal("echo a   b", ins[0].Args);
        Assert.Equal("echo c\\\\", ins[1].Args);
        Assert.Equal(5, ins[2].Line);
    }

    [Fact]
    public void UnknownInstruction_NamesTheLine()
    {
        var e = Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse(Corpus("bad-instruction.Dockerfile")));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("FROBNICATE", e.Message);
    }

    [Fact]
    public void InstructionBeforeFrom_IsRejected_ButArgIsAllowed()
    {
        var e = Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("ARG X=1\nRUN true\nFROM a"));
        Assert.Contains("line 2", e.Message);
        var df = DockerfileParser.Parse("ARG X=1\nFROM a");
        Assert.Single(df.GlobalArgs);
        Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("# just a comment\n"));
    }

    [Fact]
    public void From_AsName_Platform_AndStageLookup()
    {
        var df = DockerfileParser.Parse(Corpus("multistage.Dockerfile"));
        Assert.Equal(2, df.GlobalArgs.Count);
        Assert.Equal(2, df.Stages.Count);
        Assert.Equal("builder", df.Stages[0].Name);
        Assert.Equal("${BASE}", df.Stages[0].Base);
        Assert.Equal("linux/amd64", df.Stages[1].From.Flags["platform"]);
        Assert.Same(df.Stages[1], df.FindStage("final"));
        Assert.Same(df.Stages[0], df.FindStage("0"));
        var copy = df.Stages[1].Instructions[0];
        Assert.Equal("builder", copy.Flags["from"]);
        Assert.Equal("/version /version", copy.Args);
        Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("FROM a AS x\nFROM b AS x"));
        Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("FROM a AS"));
    }

    [Fact]
    public void GlobalArgs_OnlyInFrom_UnlessRedeclared()
    {
        var df = DockerfileParser.Parse(Corpus("multistage.Dockerfile"));
        var globals = BuildState.EvaluateGlobalArgs(df.GlobalArgs, new Dictionary<string, string>(), df.Escape);
        Assert.Equal("busybox", BuildState.ExpandFrom(df.Stages[0].Base, globals, '\\', 3));
        var over = BuildState.EvaluateGlobalArgs(df.GlobalArgs, new Dictionary<string, string> { ["BASE"] = "alpine" }, df.Escape);
        Assert.Equal("alpine", BuildState.ExpandFrom(df.Stages[0].Base, over, '\\', 3));

        // Not visible inside a stage without ARG; a bare ARG imports the global default; a stage default wins over it.
        var s = Evaluate("ARG G=global\nFROM a\nENV X=${G:-unset}\nARG G\nENV Y=$G\nARG L=local\nENV Z=$L");
        Assert.Contains("X=unset", s.Env);
        Assert.Contains("Y=global", s.Env);
        Assert.Contains("Z=local", s.Env);
        var t = Evaluate("ARG G=global\nFROM a\nARG G=stage\nENV Y=$G");
        Assert.Contains("Y=stage", t.Env);
    }

    [Fact]
    public void BuildArgs_Override_Defaults_AndAreTracked()
    {
        var s = Evaluate("FROM a\nARG V=1\nARG W\nENV X=$V Y=${W:-none}", new() { ["V"] = "2" });
        Assert.Contains("X=2", s.Env);
        Assert.Contains("Y=none", s.Env);
        Assert.Contains("V", s.UsedBuildArgs);
        Assert.Contains("V=2", s.RunEnv());
        // ARGs are not in the image config.
        Assert.DoesNotContain(s.Env, e => e.StartsWith("V="));
    }

    [Fact]
    public void Env_BothForms_UsedByLaterSteps_AndWinsOverArg()
    {
        var s = Evaluate("FROM a\nENV A=1 B=\"two words\"\nENV LEGACY value with spaces\nENV C=${A}x D=$B\nARG A=fromarg\nWORKDIR /w/$A");
        Assert.Contains("A=1", s.Env);
        Assert.Contains("B=two words", s.Env);
        Assert.Contains("LEGACY=value with spaces", s.Env);
        Assert.Contains("C=1x", s.Env);
        Assert.Contains("D=two words", s.Env);
        Assert.Equal("/w/1", s.WorkingDir);
        Assert.Contains("A=1", s.RunEnv());
        Assert.DoesNotContain("A=fromarg", s.RunEnv());
    }

    [Fact]
    public void Substitutions()
    {
        var vars = new Dictionary<string, string> { ["SET"] = "v", ["EMPTY"] = "" };
        var w = new ShellWords(n => vars.TryGetValue(n, out var v) ? v : null);
        Assert.Equal("v", w.Word("$SET"));
        Assert.Equal("v-x", w.Word("${SET}-x"));
        Assert.Equal("dflt", w.Word("${UNSET:-dflt}"));
        Assert.Equal("dflt", w.Word("${EMPTY:-dflt}"));
        Assert.Equal("", w.Word("${EMPTY-dflt}"));
        Assert.Equal("alt", w.Word("${SET:+alt}"));
        Assert.Equal("", w.Word("${UNSET:+alt}"));
        Assert.Equal("", w.Word("${EMPTY:+alt}"));
        Assert.Equal("v/v", w.Word("${UNSET:-$SET/${SET}}"));
        Assert.Equal("$SET", w.Word("'$SET'"));
        Assert.Equal("$SET", w.Word("\\$SET"));
        Assert.Equal("a v", w.Word("\"a $SET\""));
        Assert.Equal(["a b", "v", "c"], w.Words("\"a b\" $SET c"));
        Assert.Equal("$", w.Word("$"));
        Assert.Throws<FormatException>(() => w.Word("${SET"));
        Assert.Throws<FormatException>(() => w.Word("${UNSET:?must be set}"));
        var bt = new ShellWords(n => vars.GetValueOrDefault(n), '`');
        Assert.Equal("$SET", bt.Word("`$SET"));
        Assert.Equal(@"C:\v", bt.Word(@"C:\$SET"));
    }

    [Fact]
    public void AllInstructions_ProduceTheConfig()
    {
        var s = Evaluate(Corpus("all-instructions.Dockerfile"));
        var c = s.Config;
        Assert.Equal("Jane Admin <jane@example.com>", s.Author);
        Assert.Equal("web server", c["Labels"]!["org.example.name"]!.GetValue<string>());
        Assert.Equal("2", c["Labels"]!["version"]!.GetValue<string>());
        Assert.Equal("value with spaces", c["Labels"]!["legacy"]!.GetValue<string>());
        Assert.Contains("LEGACY=value with spaces", s.Env);
        Assert.NotNull(c["ExposedPorts"]!["80/tcp"]);
        Assert.NotNull(c["ExposedPorts"]!["443/udp"]);
        Assert.Equal("/srv/app", s.WorkingDir);
        Assert.Equal("app:app", s.User);
        Assert.NotNull(c["Volumes"]!["/data"]);
        Assert.NotNull(c["Volumes"]!["/logs"]);
        Assert.Equal("SIGTERM", c["StopSignal"]!.GetValue<string>());
        var hc = c["Healthcheck"]!;
        Assert.Equal(["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"], Arr(hc["Test"]));
        Assert.Equal(30_000_000_000L, hc["Interval"]!.GetValue<long>());
        Assert.Equal(5_000_000_000L, hc["Timeout"]!.GetValue<long>());
        Assert.Equal(3, hc["Retries"]!.GetValue<int>());
        Assert.Equal(["/bin/sh", "-ec"], s.Shell);
        Assert.Equal(["RUN echo triggered"], Arr(c["OnBuild"]));
        Assert.Equal(["/bin/app"], Arr(c["Entrypoint"]));
        // Shell-form CMD goes through the SHELL in force.
        Assert.Equal(["/bin/sh", "-ec", "--help"], Arr(c["Cmd"]));
    }

    [Fact]
    public void Entrypoint_ResetsInheritedCmd_ButNotOneSetInTheStage()
    {
        var baseCfg = new JsonObject { ["Cmd"] = new JsonArray("sh"), ["OnBuild"] = new JsonArray("RUN x") };
        var s = Evaluate("FROM a\nENTRYPOINT [\"/app\"]", baseConfig: baseCfg);
        Assert.Null(s.Config["Cmd"]);
        Assert.Null(s.Config["OnBuild"]); // triggers are not inherited
        var t = Evaluate("FROM a\nCMD [\"--serve\"]\nENTRYPOINT [\"/app\"]", baseConfig: baseCfg);
        Assert.Equal(["--serve"], Arr(t.Config["Cmd"]));
        Assert.Equal(["/app"], Arr(t.Config["Entrypoint"]));
        var u = Evaluate("FROM a\nENTRYPOINT exec /app\nCMD [\"-v\"]", baseConfig: baseCfg);
        Assert.Equal(["/bin/sh", "-c", "exec /app"], Arr(u.Config["Entrypoint"]));
        Assert.Equal(["-v"], Arr(u.Config["Cmd"]));
        var v = Evaluate("FROM a\nCMD [\"only\"]", baseConfig: baseCfg);
        Assert.Equal(["only"], Arr(v.Config["Cmd"]));
    }

    [Fact]
    public void ABaseWithoutPath_GetsDockersDefaultPath_AfterItsOwnEnv()
    {
        Assert.Equal([DefaultEnvironment.Path, "A=1"], Evaluate("FROM scratch\nENV A=1").Env);
        var withEnv = new JsonObject { ["Env"] = new JsonArray("LANG=C") };
        Assert.Equal(["LANG=C", DefaultEnvironment.Path], Evaluate("FROM a", baseConfig: withEnv).Env);
        var withPath = new JsonObject { ["Env"] = new JsonArray("PATH=/opt/bin") };
        Assert.Equal(["PATH=/opt/bin"], Evaluate("FROM a", baseConfig: withPath).Env);
    }

    [Fact]
    public void Run_ExecAndShellForms()
    {
        var df = DockerfileParser.Parse("FROM a\nRUN [\"/bin/echo\", \"$HOME\"]\nRUN echo $HOME\nSHELL [\"/bin/bash\",\"-c\"]\nRUN echo x\nRUN [not json");
        var s = new BuildState();
        var ins = df.Stages[0].Instructions;
        Assert.Equal(["/bin/echo", "$HOME"], s.Command(ins[0]));
        Assert.Equal(["/bin/sh", "-c", "echo $HOME"], s.Command(ins[1]));
        s.ApplyMetadata(ins[2]);
        Assert.Equal(["/bin/bash", "-c", "echo x"], s.Command(ins[3]));
        Assert.Equal(["/bin/bash", "-c", "[not json"], s.Command(ins[4]));
    }

    [Fact]
    public void Workdir_RelativeToPrevious_AndExpandsEnv()
    {
        var s = Evaluate("FROM a\nENV D=/opt\nWORKDIR $D\nWORKDIR sub/dir\nWORKDIR ../up");
        Assert.Equal("/opt/sub/up", Path.GetFullPath(s.WorkingDir!));
    }

    [Fact]
    public void BadArguments_NameTheLine()
    {
        var e = Assert.Throws<ContainerOpsException>(() => Evaluate("FROM a\n\nEXPOSE notaport"));
        Assert.Contains("line 3", e.Message);
        e = Assert.Throws<ContainerOpsException>(() => Evaluate("FROM a\nSHELL /bin/bash"));
        Assert.Contains("line 2", e.Message);
        e = Assert.Throws<ContainerOpsException>(() => Evaluate("FROM a\nENV X=${Y"));
        Assert.Contains("line 2", e.Message);
        e = Assert.Throws<ContainerOpsException>(() => Evaluate("FROM a\nONBUILD FROM b"));
        Assert.Contains("line 2", e.Message);
        e = Assert.Throws<ContainerOpsException>(() => Evaluate("FROM a\nHEALTHCHECK --interval=xyz CMD true"));
        Assert.Contains("line 2", e.Message);
        e = Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("FROM a\nLABEL"));
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void Healthcheck_None_AndExecForm()
    {
        Assert.Equal(["NONE"], Arr(Evaluate("FROM a\nHEALTHCHECK NONE").Config["Healthcheck"]!["Test"]));
        Assert.Equal(["CMD", "/bin/check", "-q"], Arr(Evaluate("FROM a\nHEALTHCHECK CMD [\"/bin/check\", \"-q\"]").Config["Healthcheck"]!["Test"]));
    }

    // ---------------- here-documents ----------------

    private sealed record Doc(string Name, string Content, bool Chomp = false, bool Expand = true);

    /// <summary>Keyword, line, arguments and here-documents of every instruction of the last stage.</summary>
    private static void AssertInstructions(IReadOnlyList<Instruction> actual, params (string Keyword, int Line, string Args, Doc[] Docs)[] expected)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            var (kw, line, args, docs) = expected[i];
            var ins = actual[i];
            Assert.Equal((kw, line, args), (ins.Keyword, ins.Line, ins.Args));
            Assert.Equal(docs, ins.Heredocs.Select(h => new Doc(h.Name, h.Content, h.Chomp, h.Expand)).ToArray());
        }
    }

    [Fact]
    public void Heredocs_AllForms_AndTheLinesAfterThem()
    {
        var df = DockerfileParser.Parse(Corpus("heredocs.Dockerfile"));
        AssertInstructions(df.Stages[0].Instructions,
            ("ARG", 3, "name=world", []),
            ("RUN", 4, "<<EOF", [new("EOF", "# a comment in the script\necho \"hello $name\" > /hello\n\necho done\n")]),
            ("RUN", 10, "<<-EOT", [new("EOT", "\techo tabbed > /tabbed\n", Chomp: true)]),
            ("RUN", 13, "<<\"EOF\"", [new("EOF", "echo \"$name stays for the shell\"\n", Expand: false)]),
            ("RUN", 16, "<<'EOF'", [new("EOF", "echo '$name' > /single\n", Expand: false)]),
            ("RUN", 19, "python3 <<EOF", [new("EOF", "print(\"fed to stdin\")\n")]),
            ("RUN", 22, "cat <<A > /a && cat <<B > /b", [new("A", "first\n"), new("B", "second\n")]),
            ("RUN", 27, "<<EOF", [new("EOF", "#!/bin/sh\necho from a script file > /script\n")]),
            ("COPY", 31, "<<EOF /etc/greeting", [new("EOF", "Hello ${name}!\n")]),
            ("COPY", 34, "<<a.txt <<b.txt /dir/", [new("a.txt", "file a\n"), new("b.txt", "file b\n")]),
            ("RUN", 39, "<<EOF", [new("EOF", "ls /var/cache/apk\n")]),
            ("RUN", 42, "[\"<<EOF\"]", []),
            ("RUN", 43, "\"<<NOHEREDOC\"", []),
            ("ONBUILD", 44, "RUN <<EOF", [new("EOF", "echo triggered\n")]),
            ("CMD", 47, "[\"cat\", \"/hello\"]", []));
        var ins = df.Stages[0].Instructions;
        Assert.Equal("\techo tabbed > /tabbed\n", ins[2].Heredocs[0].Content);
        Assert.Equal("echo tabbed > /tabbed\n", ins[2].Heredocs[0].Body);
        Assert.Equal(["type=cache,target=/var/cache/apk"], ins[10].Flags.All("mount"));
        Assert.Equal(["<<EOF"], ins[11].Json);
    }

    [Fact]
    public void Heredocs_WithEscapeDirective_KeepTheirBodiesAsWritten()
    {
        var df = DockerfileParser.Parse(Corpus("heredoc-escape.Dockerfile"));
        Assert.Equal('`', df.Escape);
        AssertInstructions(df.Stages[0].Instructions,
            ("RUN", 4, "<<EOF     && echo after", [new("EOF", "echo line ending in a backtick `\nC:\\path\\kept\n")]),
            ("COPY", 9, "<<EOF C:\\dest\\file.txt", [new("EOF", "value with `$HOME and \\n kept\n")]),
            ("WORKDIR", 12, "/w", []));
        var words = new ShellWords(n => n == "HOME" ? "/root" : null, '`');
        Assert.Equal("value with $HOME and \\n kept\n", words.Heredoc(df.Stages[0].Instructions[1].Heredocs[0].Body));
    }

    [Fact]
    public void UnterminatedHeredoc_NamesTheLineItStarts()
    {
        var e = Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("FROM a\n\nRUN <<EOF\necho x\nEOFX\n"));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("<<EOF", e.Message);
        e = Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("FROM a\nRUN <<'EOF\necho\nEOF\n"));
        Assert.Contains("line 2", e.Message);
        // Without here-documents the lines after a RUN are instructions: the error the issue reported.
        e = Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("FROM a\nUSER <<EOF\napt-get update\nEOF\n"));
        Assert.Contains("line 3: unknown instruction: APT-GET", e.Message);
    }

    [Theory]
    [InlineData("<<EOF", "EOF", true, false, 0)]
    [InlineData("<<-EOF", "EOF", true, true, 0)]
    [InlineData("<<'EOF'", "EOF", false, false, 0)]
    [InlineData("<<\"EOF\"", "EOF", false, false, 0)]
    [InlineData("<<-\"EOF\"", "EOF", false, true, 0)]
    [InlineData("<<EO\"F\"", "EOF", false, false, 0)]
    [InlineData("<<eo\\'f", "eo'f", true, false, 0)]
    [InlineData("<< EOF", "EOF", true, false, 0)]
    [InlineData("<< -EOF", "-EOF", true, false, 0)]
    [InlineData("<<'one two'", "one two", false, false, 0)]
    [InlineData("<<$EOF", "$EOF", true, false, 0)]
    [InlineData("3<<IN", "IN", true, false, 3)]
    public void HeredocDelimiters(string word, string name, bool expand, bool chomp, int fd)
    {
        var h = DockerfileParser.ParseHeredocWord(word)!;
        Assert.Equal((name, expand, chomp, fd), (h.Name, h.Expand, h.Chomp, h.FileDescriptor));
    }

    [Fact]
    public void NotHeredocs_AndBadDelimiters()
    {
        foreach (var w in new[] { "", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh", "\"<<EOF\"" })
            Assert.Null(DockerfileParser.ParseHeredocWord(w));
        foreach (var w in new[] { "<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\"" })
            Assert.Throws<FormatException>(() => DockerfileParser.ParseHeredocWord(w));
        Assert.Equal(["RUN", "<<EOF", "'<<X'", "\"a b\"", "<<  EOF"],
            DockerfileParser.RawWords("RUN <<EOF '<<X' \"a b\" <<  EOF", '\\').Select(w => w.Word));
    }

    [Fact]
    public void RunHeredoc_Script_Stdin_AndShebang()
    {
        var df = DockerfileParser.Parse(Corpus("heredocs.Dockerfile"));
        var ins = df.Stages[0].Instructions;
        var s = new BuildState();
        // Alone: the body is the shell's script (tabs of <<- removed).
        Assert.Equal(["/bin/sh", "-c", "# a comment in the script\necho \"hello $name\" > /hello\n\necho done\n"], s.RunCommand(ins[1], out var script));
        Assert.Null(script);
        Assert.Equal(["/bin/sh", "-c", "echo tabbed > /tabbed\n"], s.RunCommand(ins[2], out _));
        // With a command: line and bodies go to the shell, which feeds each body to its command.
        Assert.Equal(["/bin/sh", "-c", "python3 <<EOF\nprint(\"fed to stdin\")\nEOF"], s.RunCommand(ins[5], out _));
        Assert.Equal(["/bin/sh", "-c", "cat <<A > /a && cat <<B > /b\nfirst\nA\nsecond\nB"], s.RunCommand(ins[6], out _));
        // #!: a program of its own, run from /dev/pipes.
        Assert.Equal(["/bin/sh", "-c", "/dev/pipes/EOF"], s.RunCommand(ins[7], out script));
        Assert.Equal(("EOF", "#!/bin/sh\necho from a script file > /script\n"), script!.Value);
        // The SHELL in force runs the body.
        s.ApplyMetadata(DockerfileParser.ParseInstruction("SHELL [\"/bin/awk\"]", 1));
        Assert.Equal(["/bin/awk", "# a comment in the script\necho \"hello $name\" > /hello\n\necho done\n"], s.RunCommand(ins[1], out _));
        // ONBUILD keeps the body with the trigger, and the trigger parses back.
        var t = new BuildState();
        t.ApplyMetadata(ins[13]);
        var trigger = Arr(t.Config["OnBuild"])![0];
        Assert.Equal("RUN <<EOF\necho triggered\nEOF", trigger);
        var back = DockerfileParser.ParseTrigger(trigger, 5);
        Assert.Equal(("RUN", "<<EOF", "echo triggered\n"), (back.Keyword, back.Args, back.Heredocs[0].Content));
    }

    [Fact]
    public void CopyHeredoc_Expansion_KeepsQuotes_AndTakesEscapes()
    {
        var vars = new Dictionary<string, string> { ["name"] = "world" };
        var w = new ShellWords(n => vars.GetValueOrDefault(n));
        Assert.Equal("Hello world!\n", w.Heredoc("Hello ${name}!\n"));
        Assert.Equal("Hello 'world'!\n", w.Heredoc("Hello '${name}'!\n"));
        Assert.Equal("Hello \"world\"!\n", w.Heredoc("Hello \"$name\"!\n"));
        Assert.Equal("\n", w.Heredoc("\\\n"));
        Assert.Equal("\\\n", w.Heredoc("\\\\\n"));
        Assert.Equal("$\n", w.Heredoc("\\$\n"));
        Assert.Equal("x=\n", w.Heredoc("x=${unset}\n"));
    }

    // ---------------- flags ----------------

    [Fact]
    public void RunFlags_RepeatedMountsKeptInOrder_AndEveryMountTypeParses()
    {
        var df = DockerfileParser.Parse(Corpus("run-mounts.Dockerfile"));
        var run = df.Stages[1].Instructions[1];
        Assert.Equal(5, run.Line);
        Assert.Equal("make all", run.Args);
        Assert.Equal(
            [
                "type=cache,target=/root/.cache,id=${CACHE_ID},sharing=locked,mode=0700,uid=1000,gid=1000",
                "type=bind,from=tools,source=/tools,target=/mnt/tools",
                "type=tmpfs,target=/scratch,size=64m",
                "type=secret,id=token,required=true",
                "type=secret,id=npmrc,target=/root/.npmrc,mode=0440,env=NPMRC",
                "target=/ctx,rw",
            ], run.Flags.All("mount"));
        Assert.Equal(["mount", "mount", "mount", "mount", "mount", "mount", "network"], run.Flags.Select(f => f.Key));
        Assert.Equal("none", run.Flags["network"]);

        var vars = new Dictionary<string, string> { ["CACHE_ID"] = "pkgs" };
        var words = new ShellWords(n => vars.GetValueOrDefault(n));
        var m = run.Flags.All("mount").Select(v => RunMount.Parse(v, run.Line, x => words.Word(x))).ToList();
        Assert.Equal((RunMountType.Cache, "/root/.cache", "pkgs", CacheSharing.Locked, 448, 1000, 1000, false),
            (m[0].Type, m[0].Target, m[0].Id, m[0].Sharing, m[0].Mode ?? -1, m[0].Uid, m[0].Gid, m[0].ReadOnly));
        Assert.Equal((RunMountType.Bind, "tools", "/tools", "/mnt/tools", true), (m[1].Type, m[1].From, m[1].Source, m[1].Target, m[1].ReadOnly));
        Assert.Equal((RunMountType.Tmpfs, 64L << 20), (m[2].Type, m[2].Size));
        Assert.Equal((RunMountType.Secret, "token", "/run/secrets/token", true), (m[3].Type, m[3].Id, m[3].Target, m[3].Required));
        Assert.Equal(("npmrc", "/root/.npmrc", 288, "NPMRC"), (m[4].Id, m[4].Target, m[4].Mode ?? -1, m[4].Env));
        Assert.Equal((RunMountType.Bind, "/ctx", false, (string?)null), (m[5].Type, m[5].Target, m[5].ReadOnly, m[5].From));
        // The default cache id is the target; a secret's id defaults to the target's name.
        Assert.Equal("/var/cache/apt", RunMount.Parse("type=cache,target=/var/cache/apt", 1, x => x).Id);
        Assert.Equal("key", RunMount.Parse("type=secret,target=/etc/key", 1, x => x).Id);
        Assert.Null(RunMount.Parse("type=secret,id=t,env=T", 1, x => x).Target);
        Assert.Equal("a,b", RunMount.Parse("type=bind,\"source=a,b\",target=/x", 1, x => x).Source);

        Assert.Equal(RunMountType.Ssh, RunMount.Parse(df.Stages[1].Instructions[2].Flags["mount"], 1, x => x).Type);
        Assert.Equal(["security", "network"], df.Stages[1].Instructions[3].Flags.Select(f => f.Key));
    }

    [Theory]
    [InlineData("RUN --bogus=1 true", "unknown flag for RUN: --bogus")]
    [InlineData("RUN --mount=type=cache,target=/x,foo=1 true", "unknown option 'foo'")]
    [InlineData("RUN --mount=type=tmpfs,target=/x,id=a true", "type=tmpfs does not take 'id'")]
    [InlineData("RUN --mount=type=bind,target=/x,size=1 true", "type=bind does not take 'size'")]
    [InlineData("RUN --mount=type=volume,target=/x true", "unknown type 'volume'")]
    [InlineData("RUN --mount=type=cache,target=/x,target=/y true", "'target' given twice")]
    [InlineData("RUN --mount=type=cache,target true", "'target' needs a value")]
    [InlineData("RUN --network=bridge true", "invalid --network=bridge")]
    [InlineData("RUN --security=none true", "invalid --security=none")]
    [InlineData("RUN --network=none --network=host true", "duplicate flag --network")]
    [InlineData("COPY --from=a --from=b x /", "duplicate flag --from")]
    public void BadRunFlags_NameTheLine(string instruction, string message)
    {
        var e = Assert.Throws<ContainerOpsException>(() => DockerfileParser.Parse("FROM a\n\n" + instruction + "\n"));
        Assert.Contains("line 3", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("type=cache,target=/x,sharing=maybe", "sharing=maybe")]
    [InlineData("type=cache,target=/x,mode=999", "mode=999")]
    [InlineData("type=cache,target=/x,uid=root", "uid=root")]
    [InlineData("type=tmpfs,target=/x,size=lots", "size=lots")]
    [InlineData("type=cache,id=x", "needs a target")]
    [InlineData("type=secret,required", "needs an id or a target")]
    [InlineData("type=bind,target=/x,ro=maybe", "ro")]
    public void BadMountValues_AreRefusedWhenExpanded(string value, string message)
    {
        RunMount.Parse(value, 7, expand: null); // the keys are fine
        var e = Assert.Throws<ContainerOpsException>(() => RunMount.Parse(value, 7, x => x));
        Assert.Contains("line 7", e.Message);
        Assert.Contains(message, e.Message);
    }
}
