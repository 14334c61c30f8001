namespace ContainerOps.Cli.Parsing;

/// <summary>How an option consumes arguments.</summary>
public enum OptionKind
{
    /// <summary>A boolean switch: <c>-d</c>, <c>--rm</c>, <c>--rm=false</c>.</summary>
    Flag,
    /// <summary>Takes one value; the last occurrence wins: <c>--name x</c>, <c>--name=x</c>, <c>-wDIR</c>.</summary>
    Value,
    /// <summary>Takes one value per occurrence, all kept in order: <c>-e A=1 -e B=2</c>.</summary>
    List,
}

/// <summary>One option a verb accepts.</summary>
public sealed record OptionSpec(string Long, char? Short, OptionKind Kind, string Help, string? ValueName = null);

/// <summary>What a verb accepts: its options, how many positionals, and whether options stop at the first positional
/// (for verbs that pass the rest of the line to a process: <c>run IMAGE CMD ARGS…</c>).</summary>
public sealed class CommandSpec
{
    public required string Name { get; init; }
    public required string Usage { get; init; }
    public required string Summary { get; init; }
    public IReadOnlyList<OptionSpec> Options { get; init; } = Array.Empty<OptionSpec>();
    public bool StopAtFirstPositional { get; init; }
    public int MinArgs { get; init; }
    public int MaxArgs { get; init; } = int.MaxValue;

    public OptionSpec? FindLong(string name)
    {
        foreach (var o in Options) if (o.Long == name) return o;
        return null;
    }

    public OptionSpec? FindShort(char c)
    {
        foreach (var o in Options) if (o.Short == c) return o;
        return null;
    }
}

/// <summary>A command line the user got wrong: reported with a hint and exit status 125, as docker does.</summary>
public sealed class UsageException : Exception
{
    public string? Command { get; }
    public UsageException(string message, string? command = null) : base(message) => Command = command;
}

/// <summary>The options and positionals of one parsed verb. Options are keyed by their long name.</summary>
public sealed class ParsedArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _flags = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = new();
    public bool HelpRequested { get; internal set; }

    internal void SetFlag(string name, bool value) => _flags[name] = value;

    internal void AddValue(OptionSpec spec, string value)
    {
        if (!_values.TryGetValue(spec.Long, out var list)) _values[spec.Long] = list = new List<string>();
        if (spec.Kind == OptionKind.Value) list.Clear();
        list.Add(value);
    }

    public bool Flag(string name) => _flags.TryGetValue(name, out var v) && v;

    /// <summary>Whether the option was given at all (flag or value).</summary>
    public bool Has(string name) => _flags.ContainsKey(name) || _values.ContainsKey(name);

    public string? Value(string name) => _values.TryGetValue(name, out var l) && l.Count > 0 ? l[^1] : null;

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var l) ? l : Array.Empty<string>();

    public int? IntValue(string name)
    {
        var v = Value(name);
        if (v is null) return null;
        return int.TryParse(v, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new UsageException($"invalid argument \"{v}\" for \"--{name}\" flag: not an integer");
    }
}

/// <summary>
/// Docker-style command line parsing: short flags that combine (<c>-it</c>, <c>-dit</c>), short options with a value attached
/// or following (<c>-eA=1</c>, <c>-e A=1</c>), long options with <c>=</c> or a following value, repeated options,
/// <c>--</c> ending the options, and <c>-</c> as a positional (stdin).
/// </summary>
public static class ArgParser
{
    public static ParsedArgs Parse(CommandSpec spec, IReadOnlyList<string> args)
    {
        var result = new ParsedArgs();
        var i = 0;
        var optionsEnded = false;
        while (i < args.Count)
        {
            var arg = args[i++];
            if (optionsEnded || arg.Length < 2 || arg[0] != '-')
            {
                result.Positionals.Add(arg);
                if (spec.StopAtFirstPositional) optionsEnded = true;
                continue;
            }
            if (arg == "--")
            {
                optionsEnded = true;
                continue;
            }
            if (arg[1] == '-')
            {
                var body = arg[2..];
                string name = body;
                string? inline = null;
                var eq = body.IndexOf('=');
                if (eq >= 0) { name = body[..eq]; inline = body[(eq + 1)..]; }
                var opt = spec.FindLong(name);
                if (opt is null)
                {
                    if (name == "help") { result.HelpRequested = true; continue; }
                    throw new UsageException($"unknown flag: --{name}", spec.Name);
                }
                if (opt.Kind == OptionKind.Flag)
                {
                    result.SetFlag(opt.Long, inline is null || ParseBool(inline, opt.Long));
                    continue;
                }
                if (inline is null)
                {
                    if (i >= args.Count) throw new UsageException($"flag needs an argument: --{name}", spec.Name);
                    inline = args[i++];
                }
                result.AddValue(opt, inline);
                continue;
            }
            // One or more short options: every letter but a value-taking one is a switch; a value-taking letter
            // takes the rest of the word, or the next argument.
            for (var j = 1; j < arg.Length; j++)
            {
                var c = arg[j];
                var opt = spec.FindShort(c);
                if (opt is null)
                {
                    if (c == 'h' && j == 1 && arg.Length == 2) { result.HelpRequested = true; break; }
                    throw new UsageException($"unknown shorthand flag: '{c}' in {arg}", spec.Name);
                }
                if (opt.Kind == OptionKind.Flag)
                {
                    if (j + 1 < arg.Length && arg[j + 1] == '=')
                    {
                        result.SetFlag(opt.Long, ParseBool(arg[(j + 2)..], opt.Long));
                        break;
                    }
                    result.SetFlag(opt.Long, true);
                    continue;
                }
                string value;
                if (j + 1 < arg.Length)
                    value = arg[j + 1] == '=' ? arg[(j + 2)..] : arg[(j + 1)..];
                else if (i < args.Count)
                    value = args[i++];
                else
                    throw new UsageException($"flag needs an argument: '{c}' in -{c}", spec.Name);
                result.AddValue(opt, value);
                break;
            }
        }
        if (!result.HelpRequested)
        {
            if (result.Positionals.Count < spec.MinArgs)
                throw new UsageException(spec.MinArgs == 1
                    ? $"\"{spec.Name}\" requires at least 1 argument"
                    : $"\"{spec.Name}\" requires at least {spec.MinArgs} arguments", spec.Name);
            if (result.Positionals.Count > spec.MaxArgs)
                throw new UsageException(spec.MaxArgs == 0
                    ? $"\"{spec.Name}\" accepts no arguments"
                    : $"\"{spec.Name}\" accepts at most {spec.MaxArgs} argument{(spec.MaxArgs == 1 ? "" : "s")}", spec.Name);
        }
        return result;
    }

    private static bool ParseBool(string text, string name) => text.ToLowerInvariant() switch
    {
        "true" or "1" or "t" => true,
        "false" or "0" or "f" => false,
        _ => throw new UsageException($"invalid argument \"{text}\" for \"--{name}\" flag: not a boolean"),
    };

    /// <summary>The usage text of a verb: its line, summary and options aligned.</summary>
    public static string Help(CommandSpec spec)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("\nUsage:  containerops ").Append(spec.Usage).Append("\n\n").Append(spec.Summary).Append('\n');
        if (spec.Options.Count > 0)
        {
            sb.Append("\nOptions:\n");
            var left = new List<string>();
            foreach (var o in spec.Options)
            {
                var s = o.Short is char c ? $"  -{c}, --{o.Long}" : $"      --{o.Long}";
                if (o.Kind != OptionKind.Flag) s += " " + (o.ValueName ?? (o.Kind == OptionKind.List ? "list" : "string"));
                left.Add(s);
            }
            var width = left.Max(s => s.Length) + 3;
            for (var k = 0; k < left.Count; k++)
                sb.Append(left[k].PadRight(width)).Append(spec.Options[k].Help).Append('\n');
        }
        return sb.ToString();
    }
}
