using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Config;

namespace ContainerOps.Images.Build;

/// <summary>
/// The evaluation state of one stage: the image config being built, the stage's ARGs, and the shell for shell-form
/// commands. Metadata instructions are applied here (no kernel involved), so every one of them is unit-testable;
/// the image builder adds the file-system steps (RUN, COPY, ADD).
/// </summary>
public sealed class BuildState
{
    public const string Platform = "linux/amd64";

    /// <summary>The "config" object of the OCI image config.</summary>
    public JsonObject Config { get; private set; } = new();
    public string? Author { get; set; }
    public char Escape { get; init; } = '\\';
    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();
    /// <summary>Global ARGs (declared before the first FROM) with their values after --build-arg.</summary>
    public Dictionary<string, string?> GlobalArgs { get; init; } = new(StringComparer.Ordinal);
    /// <summary>ARGs declared in this stage, in order.</summary>
    public Dictionary<string, string?> Args { get; } = new(StringComparer.Ordinal);
    public HashSet<string> UsedBuildArgs { get; } = new(StringComparer.Ordinal);
    public List<string> Shell { get; private set; } = ["/bin/sh", "-c"];
    private bool _cmdSet;

    /// <summary>Predefined ARGs every build knows without declaring them.</summary>
    public static readonly IReadOnlyDictionary<string, string> PlatformArgs = new Dictionary<string, string>
    {
        ["TARGETPLATFORM"] = Platform, ["TARGETOS"] = "linux", ["TARGETARCH"] = "amd64", ["TARGETVARIANT"] = "",
        ["BUILDPLATFORM"] = Platform, ["BUILDOS"] = "linux", ["BUILDARCH"] = "amd64", ["BUILDVARIANT"] = "",
    };

    /// <summary>Starts from the base image's config (deep copy). Triggers (OnBuild) are not inherited; a base that
    /// sets no PATH gets Docker's default one, as Docker's builders write it into the image.</summary>
    public void Inherit(JsonObject? baseConfig)
    {
        Config = baseConfig?.DeepClone() as JsonObject ?? new JsonObject();
        Config.Remove("OnBuild");
        if (!DefaultEnvironment.SetsPath(Env))
        {
            if (Config["Env"] is JsonArray env) env.Add((JsonNode)DefaultEnvironment.Path);
            else Config["Env"] = new JsonArray(DefaultEnvironment.Path);
        }
    }

    public List<string> Env => (Config["Env"] as JsonArray ?? []).Select(n => n?.GetValue<string>() ?? "").ToList();

    public string? EnvValue(string name)
    {
        foreach (var e in Env)
            if (e.StartsWith(name + "=", StringComparison.Ordinal)) return e[(name.Length + 1)..];
        return null;
    }

    /// <summary>ENV wins over ARG of the same name.</summary>
    public string? Lookup(string name) => EnvValue(name) ?? (Args.TryGetValue(name, out var v) ? v : null);

    public ShellWords Words => new(Lookup, Escape);

    /// <summary>The environment a RUN step sees: the config's Env plus the stage's ARGs that ENV does not override.</summary>
    public List<string> RunEnv()
    {
        var env = Env;
        foreach (var (k, v) in Args)
            if (v != null && EnvValue(k) == null) env.Add(k + "=" + v);
        return env;
    }

    public string? WorkingDir => Config["WorkingDir"]?.GetValue<string>() is { Length: > 0 } w ? w : null;
    public string? User => Config["User"]?.GetValue<string>() is { Length: > 0 } u ? u : null;

    /// <summary>Value of a global ARG for FROM lines.</summary>
    public static string ExpandFrom(string text, IReadOnlyDictionary<string, string?> globals, char escape, int line)
    {
        try { return new ShellWords(n => globals.TryGetValue(n, out var v) ? v : PlatformArgs.GetValueOrDefault(n), escape).Word(text); }
        catch (FormatException e) { throw DockerfileParser.Error(line, e.Message); }
    }

    /// <summary>Evaluates the global ARGs: defaults, overridden by --build-arg.</summary>
    public static Dictionary<string, string?> EvaluateGlobalArgs(IEnumerable<Instruction> args, IReadOnlyDictionary<string, string> buildArgs, char escape, HashSet<string>? used = null)
    {
        var globals = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var ins in args)
            foreach (var (name, def) in ParseArg(ins, n => globals.TryGetValue(n, out var v) ? v : PlatformArgs.GetValueOrDefault(n), escape))
            {
                if (buildArgs.TryGetValue(name, out var given)) { globals[name] = given; used?.Add(name); }
                else globals[name] = def;
            }
        return globals;
    }

    private static List<(string Name, string? Default)> ParseArg(Instruction ins, Func<string, string?> lookup, char escape)
    {
        var result = new List<(string, string?)>();
        List<string> words;
        try { words = new ShellWords(lookup, escape).Words(ins.Args); }
        catch (FormatException e) { throw DockerfileParser.Error(ins.Line, e.Message); }
        foreach (var w in words)
        {
            var eq = w.IndexOf('=');
            var name = eq < 0 ? w : w[..eq];
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                throw DockerfileParser.Error(ins.Line, $"invalid ARG name '{name}'");
            result.Add((name, eq < 0 ? null : w[(eq + 1)..]));
        }
        return result;
    }

    /// <summary>Applies a metadata instruction. Returns the history text (created_by) for the empty layer it makes.</summary>
    public string ApplyMetadata(Instruction ins)
    {
        try
        {
            switch (ins.Keyword)
            {
                case "ARG":
                    foreach (var (name, def) in ParseArg(ins, Lookup, Escape))
                    {
                        string? value;
                        if (BuildArgs.TryGetValue(name, out var given)) { value = given; UsedBuildArgs.Add(name); }
                        else if (def != null) value = def;
                        else if (GlobalArgs.TryGetValue(name, out var g)) value = g;
                        else value = PlatformArgs.GetValueOrDefault(name);
                        Args[name] = value;
                    }
                    return "ARG " + ins.Args;
                case "ENV":
                    {
                        var pairs = KeyValues(ins, legacySpaceForm: true);
                        Change(ins, "ENV " + string.Join(' ', pairs.Select(p => Quote(p.Key + "=" + p.Value))));
                        return "ENV " + string.Join(' ', pairs.Select(p => p.Key + "=" + p.Value));
                    }
                case "LABEL":
                    {
                        var pairs = KeyValues(ins, legacySpaceForm: true);
                        Change(ins, "LABEL " + string.Join(' ', pairs.Select(p => Quote(p.Key + "=" + p.Value))));
                        return "LABEL " + string.Join(' ', pairs.Select(p => p.Key + "=" + p.Value));
                    }
                case "MAINTAINER":
                    Author = Words.Word(ins.Args);
                    return "MAINTAINER " + Author;
                case "EXPOSE":
                    {
                        var ports = Words.Words(ins.Args);
                        Change(ins, "EXPOSE " + string.Join(' ', ports));
                        return "EXPOSE map[" + string.Join(' ', ports.Select(p => (p.Contains('/') ? p : p + "/tcp") + ":{}")) + "]";
                    }
                case "WORKDIR":
                    {
                        var wd = Words.Word(ins.Args);
                        Change(ins, "WORKDIR " + Quote(wd));
                        return "WORKDIR " + WorkingDir;
                    }
                case "USER":
                    {
                        var u = Words.Word(ins.Args);
                        Change(ins, "USER " + Quote(u));
                        return "USER " + u;
                    }
                case "STOPSIGNAL":
                    {
                        var s = Words.Word(ins.Args);
                        Change(ins, "STOPSIGNAL " + Quote(s));
                        return "STOPSIGNAL " + s;
                    }
                case "VOLUME":
                    {
                        var vols = ins.Json?.Select(v => Words.Word(v)).ToList() ?? Words.Words(ins.Args);
                        Change(ins, "VOLUME " + JsonSerializer.Serialize(vols, ImagesJsonContext.Default.ListString));
                        return "VOLUME " + JsonSerializer.Serialize(vols, ImagesJsonContext.Default.ListString);
                    }
                case "CMD":
                    {
                        var argv = Command(ins);
                        Change(ins, "CMD " + JsonSerializer.Serialize(argv, ImagesJsonContext.Default.ListString));
                        _cmdSet = true;
                        return "CMD " + JsonSerializer.Serialize(argv, ImagesJsonContext.Default.ListString);
                    }
                case "ENTRYPOINT":
                    {
                        var argv = Command(ins);
                        if (argv.Count == 0) Config.Remove("Entrypoint");
                        else Change(ins, "ENTRYPOINT " + JsonSerializer.Serialize(argv, ImagesJsonContext.Default.ListString));
                        // A CMD inherited from the base image makes no sense after a new ENTRYPOINT.
                        if (!_cmdSet) Config.Remove("Cmd");
                        return "ENTRYPOINT " + JsonSerializer.Serialize(argv, ImagesJsonContext.Default.ListString);
                    }
                case "SHELL":
                    if (ins.Json is not { Count: > 0 } shell) throw DockerfileParser.Error(ins.Line, "SHELL requires the JSON form, e.g. SHELL [\"/bin/bash\", \"-c\"]");
                    Shell = shell;
                    Config["Shell"] = new JsonArray(shell.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
                    return "SHELL " + JsonSerializer.Serialize(shell, ImagesJsonContext.Default.ListString);
                case "ONBUILD":
                    {
                        var inner = DockerfileParser.ParseInstruction(ins.Args, ins.Line, Escape);
                        if (inner.Keyword is "ONBUILD" or "FROM" or "MAINTAINER")
                            throw DockerfileParser.Error(ins.Line, $"{inner.Keyword} is not allowed as an ONBUILD trigger");
                        // A trigger keeps its here-documents: the lines after it up to each terminator.
                        var trigger = ins.Args + string.Concat(ins.Heredocs.Select(h => "\n" + h.Content + h.Name));
                        var triggers = Config["OnBuild"] as JsonArray ?? new JsonArray();
                        triggers.Add((JsonNode)trigger);
                        Config["OnBuild"] = triggers;
                        return "ONBUILD " + trigger;
                    }
                case "HEALTHCHECK":
                    Config["Healthcheck"] = Healthcheck(ins);
                    return "HEALTHCHECK " + ins.Args;
                default:
                    throw DockerfileParser.Error(ins.Line, $"{ins.Keyword} is not a metadata instruction");
            }
        }
        catch (FormatException e) { throw DockerfileParser.Error(ins.Line, e.Message); }
    }

    private void Change(Instruction ins, string change)
    {
        try { ConfigChanges.Apply(Config, [change]); }
        catch (ContainerOpsException e) { throw DockerfileParser.Error(ins.Line, e.Message); }
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>argv of a RUN/CMD/ENTRYPOINT: the JSON form as written, or the shell form through SHELL.</summary>
    public List<string> Command(Instruction ins)
    {
        if (ins.Json != null) return ins.Json;
        if (ins.Args.Length == 0) return [];
        return [.. Shell, ins.Args];
    }

    /// <summary>Where a RUN here-document that starts with <c>#!</c> is put to be run as a program.</summary>
    public const string ScriptDir = "/dev/pipes";

    /// <summary>
    /// argv of a RUN, here-documents included. A RUN that is one here-document alone (<c>RUN &lt;&lt;EOF</c>) runs its
    /// body as the script of the SHELL, or, when the body starts with <c>#!</c>, as a program of its own (returned as
    /// <paramref name="script"/>: name and text, to be put in <see cref="ScriptDir"/>). Otherwise the line and the
    /// bodies go to the SHELL together, so the shell feeds each body to its command (<c>RUN python3 &lt;&lt;EOF</c>)
    /// with its own rules for quoted delimiters, <c>&lt;&lt;-</c> and descriptors. The builder expands no variable in
    /// them: the shell does, with the ARGs and ENVs in its environment.
    /// </summary>
    public List<string> RunCommand(Instruction ins, out (string Name, string Text)? script)
    {
        script = null;
        if (ins.Heredocs.Count == 0 || ins.Json != null) return Command(ins);
        if (ins.Heredocs.Count == 1 && DockerfileParser.ParseHeredocWord(ins.Args.Trim(), Escape) is { } alone && alone.Name == ins.Heredocs[0].Name)
        {
            var body = ins.Heredocs[0].Body;
            if (!body.StartsWith("#!", StringComparison.Ordinal)) return [.. Shell, body];
            var name = ins.Heredocs[0].Name;
            if (name.Contains('/') || name is "." or "..")
                throw DockerfileParser.Error(ins.Line, $"here-document name '{name}' cannot name a script file");
            script = (name, body);
            return [.. Shell, ScriptDir + "/" + name];
        }
        return [.. Shell, ins.Args + string.Concat(ins.Heredocs.Select(h => "\n" + h.Content + h.Name))];
    }

    private List<KeyValuePair<string, string>> KeyValues(Instruction ins, bool legacySpaceForm)
    {
        var words = Words.Words(ins.Args);
        var firstRaw = ins.Args.Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries)[0];
        if (legacySpaceForm && !firstRaw.Contains('='))
        {
            // Legacy form: "ENV NAME value with spaces".
            var parts = ins.Args.Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2) throw DockerfileParser.Error(ins.Line, $"{ins.Keyword} needs KEY=VALUE or KEY VALUE");
            return [new(parts[0], Words.Word(parts[1].Trim()))];
        }
        var result = new List<KeyValuePair<string, string>>();
        foreach (var w in words)
        {
            var eq = w.IndexOf('=');
            if (eq <= 0) throw DockerfileParser.Error(ins.Line, $"'{w}' is not KEY=VALUE");
            result.Add(new(w[..eq], w[(eq + 1)..]));
        }
        // Values on one line see the variables as they were before the line (Docker semantics): already expanded.
        return result;
    }

    private JsonObject Healthcheck(Instruction ins)
    {
        if (ins.Args.Equals("NONE", StringComparison.OrdinalIgnoreCase)) return new JsonObject { ["Test"] = new JsonArray("NONE") };
        var sp = ins.Args.IndexOfAny([' ', '\t']);
        var kw = (sp < 0 ? ins.Args : ins.Args[..sp]).ToUpperInvariant();
        if (kw != "CMD" || sp < 0) throw DockerfileParser.Error(ins.Line, "HEALTHCHECK needs NONE or CMD <command>");
        var rest = ins.Args[(sp + 1)..].Trim();
        var json = rest.StartsWith('[') ? DockerfileParser.TryJsonArray(rest) : null;
        var test = new JsonArray();
        if (json != null) { test.Add((JsonNode)"CMD"); foreach (var j in json) test.Add((JsonNode)j); }
        else { test.Add((JsonNode)"CMD-SHELL"); test.Add((JsonNode)rest); }
        var hc = new JsonObject { ["Test"] = test };
        foreach (var (k, v) in ins.Flags)
        {
            switch (k)
            {
                case "interval": hc["Interval"] = Nanos(ins, v); break;
                case "timeout": hc["Timeout"] = Nanos(ins, v); break;
                case "start-period": hc["StartPeriod"] = Nanos(ins, v); break;
                case "start-interval": hc["StartInterval"] = Nanos(ins, v); break;
                case "retries":
                    if (!int.TryParse(v, out var r) || r < 0) throw DockerfileParser.Error(ins.Line, $"invalid --retries '{v}'");
                    hc["Retries"] = r;
                    break;
                default: throw DockerfileParser.Error(ins.Line, $"unknown flag for HEALTHCHECK: --{k}");
            }
        }
        return hc;
    }

    /// <summary>Go-style durations: 30s, 1m30s, 500ms, 1h.</summary>
    public static long Nanos(Instruction ins, string v) =>
        GoDuration.TryParseNanos(v, out var nanos) ? nanos : throw DockerfileParser.Error(ins.Line, $"invalid duration '{v}'");
}
