using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;

namespace ContainerOps.Images.Build;

/// <summary>One instruction after line continuations were joined: keyword, leading --flags, the rest, the exec
/// (JSON) form when the rest is a JSON array of strings, and the bodies of its here-documents.</summary>
public sealed class Instruction
{
    public required string Keyword { get; init; }
    /// <summary>The instruction as written (continuations joined, here-document bodies not included), for history
    /// and cache keys.</summary>
    public required string Original { get; init; }
    /// <summary>What follows the keyword and the flags.</summary>
    public required string Args { get; init; }
    public InstructionFlags Flags { get; init; } = new();
    public List<string>? Json { get; init; }
    public required int Line { get; init; }
    /// <summary>The here-documents of a RUN, COPY or ADD (<c>&lt;&lt;EOF</c>), in the order they appear.</summary>
    public IReadOnlyList<Heredoc> Heredocs { get; init; } = [];
}

/// <summary>A here-document: <c>&lt;&lt;[-]NAME</c> on the instruction's line, and the lines up to the one that is
/// NAME. A quoted NAME (<c>&lt;&lt;"EOF"</c>, <c>&lt;&lt;'EOF'</c>) turns variable expansion off; <c>&lt;&lt;-</c>
/// removes leading tabs from the body's lines (and the terminator's).</summary>
public sealed record Heredoc(string Name, string Content, bool Chomp, bool Expand, int FileDescriptor, string Token)
{
    /// <summary>The body as the instruction uses it: with <c>&lt;&lt;-</c>, without the lines' leading tabs.</summary>
    public string Body => Chomp ? StripLeadingTabs(Content) : Content;

    public static string StripLeadingTabs(string text)
    {
        var sb = new StringBuilder(text.Length);
        var lineStart = true;
        foreach (var c in text)
        {
            if (lineStart && c == '\t') continue;
            lineStart = c == '\n';
            sb.Append(c);
        }
        return sb.ToString();
    }
}

/// <summary>The <c>--name=value</c> flags of an instruction in the order written. Only <c>RUN --mount</c> may be
/// repeated; the parser refuses any other flag given twice.</summary>
public sealed class InstructionFlags : IEnumerable<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _items = new();

    public int Count => _items.Count;
    public IEnumerable<string> Keys => _items.Select(i => i.Key).Distinct(StringComparer.Ordinal);
    public void Add(string name, string value) => _items.Add(new(name, value));
    public bool ContainsKey(string name) => _items.Any(i => i.Key == name);

    /// <summary>Every value of a flag, in order.</summary>
    public IReadOnlyList<string> All(string name) => _items.Where(i => i.Key == name).Select(i => i.Value).ToList();

    public bool TryGetValue(string name, out string value)
    {
        for (var i = _items.Count - 1; i >= 0; i--)
            if (_items[i].Key == name) { value = _items[i].Value; return true; }
        value = "";
        return false;
    }

    public string this[string name] => TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"no flag --{name}");

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

public sealed class Stage
{
    public required int Index { get; init; }
    public required Instruction From { get; init; }
    /// <summary>The base as written (variables not yet expanded).</summary>
    public required string Base { get; init; }
    public string? Name { get; init; }
    public List<Instruction> Instructions { get; } = new();
}

public sealed class Dockerfile
{
    public char Escape { get; init; } = '\\';
    /// <summary>ARG instructions before the first FROM: usable in FROM lines, and imported into a stage by a bare ARG.</summary>
    public List<Instruction> GlobalArgs { get; } = new();
    public List<Stage> Stages { get; } = new();

    public Stage? FindStage(string nameOrIndex) =>
        Stages.FirstOrDefault(s => string.Equals(s.Name, nameOrIndex, StringComparison.OrdinalIgnoreCase))
        ?? (int.TryParse(nameOrIndex, out var i) && i >= 0 && i < Stages.Count ? Stages[i] : null);
}

/// <summary>
/// Dockerfile syntax: parser directives (<c># escape=`</c>), comments, line continuations with the escape character,
/// instruction keywords, leading <c>--flag=value</c>s, the JSON (exec) form, and here-documents (<c>&lt;&lt;EOF</c>)
/// in RUN, COPY and ADD, whose bodies follow the instruction's line. Meaning and variable substitution are left to the
/// evaluation, which knows the variables of each step. Every error names its line.
/// </summary>
public static class DockerfileParser
{
    public static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "FROM", "RUN", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "MAINTAINER", "EXPOSE", "WORKDIR", "USER", "VOLUME",
        "COPY", "ADD", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    };

    private static readonly HashSet<string> FlagKeywords = new(StringComparer.Ordinal) { "FROM", "RUN", "COPY", "ADD", "HEALTHCHECK" };

    /// <summary>Instructions whose line may open here-documents.</summary>
    private static readonly HashSet<string> HeredocKeywords = new(StringComparer.Ordinal) { "RUN", "COPY", "ADD" };

    public static Dockerfile Parse(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n');
        var escape = '\\';
        var i = 0;
        // Parser directives: only at the very top, before any other comment, blank line or instruction.
        for (; i < lines.Length; i++)
        {
            var t = lines[i].Trim();
            if (!t.StartsWith('#')) break;
            var body = t[1..].Trim();
            var eq = body.IndexOf('=');
            if (eq <= 0 || body[..eq].Trim().Contains(' ')) break;
            var key = body[..eq].Trim().ToLowerInvariant();
            var value = body[(eq + 1)..].Trim();
            if (key == "escape")
            {
                if (value is not ("\\" or "`")) throw Error(i + 1, $"invalid escape character '{value}': use \\ or `");
                escape = value[0];
            }
            else if (key != "syntax" && key != "check") break;
        }

        var df = new Dockerfile { Escape = escape };
        Stage? stage = null;
        foreach (var logical in Logical(lines, i, escape))
        {
            var ins = ParseInstruction(logical.Text, logical.Line, escape, logical.Heredocs);
            var line = logical.Line;
            if (ins.Keyword == "FROM")
            {
                stage = NewStage(df, ins);
                df.Stages.Add(stage);
            }
            else if (stage == null)
            {
                if (ins.Keyword != "ARG") throw Error(line, $"{ins.Keyword} before the first FROM: only ARG may come before FROM");
                df.GlobalArgs.Add(ins);
            }
            else stage.Instructions.Add(ins);
        }
        if (df.Stages.Count == 0) throw Error(Math.Max(1, lines.Length), "the Dockerfile has no FROM instruction");
        return df;
    }

    /// <summary>Parses one instruction that may span lines: an ONBUILD trigger kept with its here-documents.</summary>
    public static Instruction ParseTrigger(string text, int line, char escape = '\\')
    {
        var logical = Logical(text.Replace("\r\n", "\n").Split('\n'), 0, escape, line - 1);
        if (logical.Count != 1) throw Error(line, $"'{text}' is not one instruction");
        return ParseInstruction(logical[0].Text, line, escape, logical[0].Heredocs);
    }

    private sealed record LogicalLine(int Line, string Text, List<Heredoc> Heredocs);

    /// <summary>Joins continued lines; skips blank lines and comments (also inside a continuation). A RUN, COPY or ADD
    /// (also behind ONBUILD) that opens here-documents takes the lines after it as their bodies, comments and blank
    /// lines included. Each instruction carries the line number where it starts.</summary>
    private static List<LogicalLine> Logical(string[] lines, int start, char escape, int lineOffset = 0)
    {
        var result = new List<LogicalLine>();
        var sb = new StringBuilder();
        var startLine = 0;
        for (var i = start; i < lines.Length; i++)
        {
            var raw = lines[i];
            var trimmed = raw.TrimStart();
            if (trimmed.StartsWith('#')) continue;
            if (sb.Length == 0 && trimmed.Trim().Length == 0) continue;
            if (sb.Length == 0) startLine = i + 1 + lineOffset;
            var end = raw.TrimEnd();
            if (end.Length > 0 && end[^1] == escape && !EndsWithEscapedEscape(end, escape))
            {
                sb.Append(end, 0, end.Length - 1);
                if (i == lines.Length - 1 && sb.ToString().Trim().Length > 0) result.Add(Complete(sb.ToString().Trim(), ref i));
                continue;
            }
            if (trimmed.Trim().Length == 0 && sb.Length > 0) continue; // blank line inside a continuation
            sb.Append(raw);
            result.Add(Complete(sb.ToString().Trim(), ref i));
            sb.Clear();
        }
        return result;

        // The instruction ends on line i: read the bodies of its here-documents from the lines after it.
        LogicalLine Complete(string text, ref int i)
        {
            var docs = new List<Heredoc>();
            foreach (var doc in HeredocsIn(text, escape, startLine))
            {
                var body = new StringBuilder();
                var terminated = false;
                while (++i < lines.Length)
                {
                    var l = lines[i];
                    if ((doc.Chomp ? l.TrimStart('\t') : l) == doc.Name) { terminated = true; break; }
                    body.Append(l).Append('\n');
                }
                if (!terminated)
                    throw Error(startLine, $"unterminated here-document <<{doc.Name}: no line '{doc.Name}' before the end of the file");
                docs.Add(doc with { Content = body.ToString() });
            }
            return new LogicalLine(startLine, text, docs);
        }
    }

    /// <summary>The here-documents an instruction's line opens (none unless it is a RUN, COPY or ADD, also behind
    /// ONBUILD), bodies still empty.</summary>
    private static List<Heredoc> HeredocsIn(string text, char escape, int line)
    {
        var words = RawWords(text, escape);
        if (words.Count < 2) return [];
        var first = 0;
        if (words[0].Word.Equals("ONBUILD", StringComparison.OrdinalIgnoreCase)) first = 1;
        if (!HeredocKeywords.Contains(words[first].Word.ToUpperInvariant())) return [];
        var docs = new List<Heredoc>();
        foreach (var (word, _, _) in words.Skip(first + 1))
        {
            try { if (ParseHeredocWord(word, escape) is { } doc) docs.Add(doc); }
            catch (FormatException e) { throw Error(line, e.Message); }
        }
        return docs;
    }

    /// <summary>Splits a line into words as a shell would, quotes and escapes kept as written: a quoted space does not
    /// split. <c>&lt;&lt;</c> (after optional digits) and an optional <c>-</c> may be followed by blanks that stay in the
    /// word, as in <c>&lt;&lt; EOF</c>.</summary>
    public static List<(string Word, int Start, int End)> RawWords(string text, char escape)
    {
        var words = new List<(string, int, int)>();
        var i = 0;
        var n = text.Length;
        while (i < n)
        {
            while (i < n && text[i] is ' ' or '\t') i++;
            if (i >= n) break;
            var start = i;
            var j = i;
            while (j < n && char.IsAsciiDigit(text[j])) j++;
            if (j + 1 < n && text[j] == '<' && text[j + 1] == '<' && (j + 2 >= n || text[j + 2] != '<'))
            {
                j += 2;
                if (j < n && text[j] == '-') j++;
                while (j < n && text[j] is ' ' or '\t') j++;
                i = j;
            }
            while (i < n && text[i] is not (' ' or '\t'))
            {
                var c = text[i];
                if (c == escape && i + 1 < n) { i += 2; continue; }
                if (c == '\'')
                {
                    var close = text.IndexOf('\'', i + 1);
                    i = close < 0 ? n : close + 1;
                    continue;
                }
                if (c == '"')
                {
                    i++;
                    while (i < n && text[i] != '"') i += text[i] == escape && i + 1 < n ? 2 : 1;
                    i = Math.Min(n, i + 1);
                    continue;
                }
                i++;
            }
            words.Add((text[start..i], start, i));
        }
        return words;
    }

    /// <summary>A here-document opener (<c>[n]&lt;&lt;[-]NAME</c>, NAME possibly quoted), or null when the word is
    /// none. Throws FormatException for a delimiter with an unterminated quote.</summary>
    public static Heredoc? ParseHeredocWord(string word, char escape = '\\')
    {
        var i = 0;
        while (i < word.Length && char.IsAsciiDigit(word[i])) i++;
        var fd = i > 0 && int.TryParse(word[..i], out var f) ? f : 0;
        if (i + 1 >= word.Length || word[i] != '<' || word[i + 1] != '<') return null;
        i += 2;
        var chomp = i < word.Length && word[i] == '-';
        if (chomp) i++;
        while (i < word.Length && word[i] is ' ' or '\t') i++;
        var rest = word[i..];
        if (rest.Length == 0 || rest.Contains('<')) return null;
        var name = new StringBuilder();
        var quoted = false;
        for (var k = 0; k < rest.Length; k++)
        {
            var c = rest[k];
            if (c == escape && k + 1 < rest.Length) { name.Append(rest[++k]); continue; }
            if (c == '\'')
            {
                var close = rest.IndexOf('\'', k + 1);
                if (close < 0) throw new FormatException($"unterminated quote in the here-document delimiter '{word}'");
                name.Append(rest, k + 1, close - k - 1);
                quoted = true;
                k = close;
                continue;
            }
            if (c == '"')
            {
                var k2 = k + 1;
                for (; k2 < rest.Length && rest[k2] != '"'; k2++)
                {
                    if (rest[k2] == escape && k2 + 1 < rest.Length && rest[k2 + 1] is '"' or '\\') k2++;
                    name.Append(rest[k2]);
                }
                if (k2 >= rest.Length) throw new FormatException($"unterminated quote in the here-document delimiter '{word}'");
                quoted = true;
                k = k2;
                continue;
            }
            if (c is ' ' or '\t') return null; // two words: not a delimiter
            name.Append(c);
        }
        if (name.Length == 0) return null;
        return new Heredoc(name.ToString(), "", chomp, !quoted, fd, word);
    }

    private static bool EndsWithEscapedEscape(string s, char escape)
    {
        // "\\" at the end of a line is an escaped escape character, not a continuation.
        var n = 0;
        for (var j = s.Length - 1; j >= 0 && s[j] == escape; j--) n++;
        return n % 2 == 0;
    }

    /// <summary>The flags each instruction knows besides those checked where they are used (FROM, COPY, ADD and
    /// HEALTHCHECK check theirs when evaluated).</summary>
    private static readonly Dictionary<string, string[]> ParsedFlags = new(StringComparer.Ordinal)
    {
        ["RUN"] = ["mount", "network", "security"],
    };

    /// <summary>Flags that may be given more than once.</summary>
    private static readonly HashSet<string> RepeatableFlags = new(StringComparer.Ordinal) { "mount" };

    public static Instruction ParseInstruction(string text, int line, char escape = '\\', IReadOnlyList<Heredoc>? heredocs = null)
    {
        var sp = text.IndexOfAny([' ', '\t']);
        var keyword = (sp < 0 ? text : text[..sp]).ToUpperInvariant();
        var rest = sp < 0 ? "" : text[(sp + 1)..].Trim();
        if (!Keywords.Contains(keyword)) throw Error(line, $"unknown instruction: {keyword}");
        var flags = new InstructionFlags();
        if (FlagKeywords.Contains(keyword))
        {
            while (rest.StartsWith("--", StringComparison.Ordinal))
            {
                var words = RawWords(rest, escape);
                var flag = words[0].Word;
                rest = rest[words[0].End..].TrimStart();
                var eq = flag.IndexOf('=');
                var name = eq < 0 ? flag[2..] : flag[2..eq];
                var value = eq < 0 ? "true" : Unquote(flag[(eq + 1)..]);
                if (name.Length == 0) throw Error(line, $"invalid flag '{flag}'");
                if (flags.ContainsKey(name) && !RepeatableFlags.Contains(name)) throw Error(line, $"duplicate flag --{name}");
                flags.Add(name, value);
            }
        }
        if (ParsedFlags.TryGetValue(keyword, out var known))
            foreach (var (name, value) in flags)
            {
                if (!known.Contains(name))
                    throw Error(line, $"unknown flag for {keyword}: --{name} (known: {string.Join(", ", known.Select(k => "--" + k))})");
                CheckFlag(keyword, name, value, line);
            }
        List<string>? json = null;
        if (rest.StartsWith('[') && keyword is "RUN" or "CMD" or "ENTRYPOINT" or "SHELL" or "COPY" or "ADD" or "VOLUME" or "HEALTHCHECK")
            json = TryJsonArray(rest);
        if (rest.Length == 0 && keyword is not ("CMD" or "ENTRYPOINT" or "RUN"))
            throw Error(line, $"{keyword} requires at least one argument");
        return new Instruction
        {
            Keyword = keyword, Original = text, Args = rest, Flags = flags, Json = json, Line = line,
            Heredocs = json == null && heredocs != null && (HeredocKeywords.Contains(keyword) || keyword == "ONBUILD") ? heredocs : [],
        };
    }

    /// <summary>What a flag value can be checked for before variables are known.</summary>
    private static void CheckFlag(string keyword, string name, string value, int line)
    {
        switch (keyword, name)
        {
            case ("RUN", "mount"):
                RunMount.Parse(value, line, expand: null);
                break;
            case ("RUN", "network"):
                if (value is not ("default" or "none" or "host"))
                    throw Error(line, $"invalid --network={value}: use default, none or host");
                break;
            case ("RUN", "security"):
                if (value is not ("sandbox" or "insecure"))
                    throw Error(line, $"invalid --security={value}: use sandbox or insecure");
                break;
        }
    }

    /// <summary>A flag value without the quotes around it (<c>--chown="a b"</c>).</summary>
    private static string Unquote(string v) =>
        v.Length >= 2 && (v[0] == '"' && v[^1] == '"' || v[0] == '\'' && v[^1] == '\'') ? v[1..^1] : v;

    public static List<string>? TryJsonArray(string s)
    {
        try
        {
            if (JsonNode.Parse(s) is not JsonArray a) return null;
            var list = new List<string>();
            foreach (var n in a)
            {
                if (n is JsonValue v && v.TryGetValue<string>(out var str)) list.Add(str);
                else return null;
            }
            return list;
        }
        catch (JsonException) { return null; }
    }

    private static Stage NewStage(Dockerfile df, Instruction from)
    {
        var words = from.Args.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        string? name = null;
        if (words.Length == 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase))
        {
            name = words[2].ToLowerInvariant();
            if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || !char.IsAsciiLetter(name[0]))
                throw Error(from.Line, $"invalid stage name '{words[2]}'");
            if (df.Stages.Any(s => s.Name == name)) throw Error(from.Line, $"duplicate stage name '{words[2]}'");
        }
        else if (words.Length != 1) throw Error(from.Line, "FROM takes an image and an optional 'AS name'");
        foreach (var f in from.Flags.Keys)
            if (f != "platform") throw Error(from.Line, $"unknown flag for FROM: --{f}");
        return new Stage { Index = df.Stages.Count, From = from, Base = words[0], Name = name };
    }

    public static ContainerOpsException Error(int line, string message) =>
        new(ErrorKind.InvalidArgument, "DockerfileParseError", $"Dockerfile line {line}: {message}", line.ToString(), "dockerfile");
}
