using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ContainerOps.Cli.Parsing;

/// <summary>
/// The part of Go's text/template that docker's <c>--format</c> users write, over JSON data: text and
/// <c>{{pipeline}}</c> actions with <c>{{-</c>/<c>-}}</c> trimming and comments; field paths (<c>.State.Pid</c>,
/// <c>$.Name</c>, <c>$var.Field</c>), string and number literals, parentheses and <c>|</c> pipes;
/// <c>{{range}}</c> (with <c>$i, $v :=</c>), <c>{{if}}</c>/<c>{{with}}</c> with <c>{{else}}</c>; and the functions json,
/// join, split, lower, upper, title, index, len, printf, print, println, truncate, eq, ne, not, and, or.
/// A missing field prints "&lt;no value&gt;", as docker's fallback to raw JSON does. Errors are usage errors that name the template.
/// </summary>
public sealed class GoTemplate
{
    private readonly string _source;
    private readonly List<Node> _nodes;

    private GoTemplate(string source, List<Node> nodes)
    {
        _source = source;
        _nodes = nodes;
    }

    // ---------------------------------------------------------------- syntax tree

    private abstract record Node;
    private sealed record TextNode(string Text) : Node;
    private sealed record ActionNode(Pipeline Pipe) : Node;
    private sealed record BlockNode(string Kind, Pipeline Pipe, string? KeyVar, string? ValueVar, List<Node> Body, List<Node>? Else) : Node;

    private sealed record Pipeline(List<Command> Commands);
    private sealed record Command(List<Operand> Args);

    private abstract record Operand;
    private sealed record FieldOperand(string? Variable, string[] Path) : Operand;  // Variable null: the dot
    private sealed record LiteralOperand(JsonNode? Value) : Operand;
    private sealed record FunctionOperand(string Name) : Operand;
    private sealed record SubPipeline(Pipeline Pipe, string[] Path) : Operand;

    // ---------------------------------------------------------------- parsing

    public static GoTemplate Parse(string template)
    {
        var actions = Split(template);
        var pos = 0;
        var nodes = ParseList(template, actions, ref pos, out var end);
        if (end is not null) throw Error(template, $"unexpected {{{{{end}}}}}");
        return new GoTemplate(template, nodes);
    }

    private readonly record struct Piece(bool IsAction, string Text);

    /// <summary>Text and action pieces, with trim markers applied.</summary>
    private static List<Piece> Split(string t)
    {
        var pieces = new List<Piece>();
        var i = 0;
        var trimNext = false;
        while (i < t.Length)
        {
            var open = t.IndexOf("{{", i, StringComparison.Ordinal);
            var text = open < 0 ? t[i..] : t[i..open];
            if (trimNext) text = text.TrimStart();
            if (open < 0) { pieces.Add(new(false, text)); break; }
            var trimBefore = open + 2 < t.Length && t[open + 2] == '-' && open + 3 < t.Length && char.IsWhiteSpace(t[open + 3]);
            if (trimBefore) text = text.TrimEnd();
            pieces.Add(new(false, text));
            var start = open + (trimBefore ? 3 : 2);
            var close = FindClose(t, start);
            if (close < 0) throw Error(t, "unclosed action");
            var end = close;
            trimNext = close >= 1 && t[close - 1] == '-' && close >= 2 && char.IsWhiteSpace(t[close - 2]);
            if (trimNext) end--;
            var action = t[start..end].Trim();
            if (!(action.StartsWith("/*", StringComparison.Ordinal) && action.EndsWith("*/", StringComparison.Ordinal)))
                pieces.Add(new(true, action));
            i = close + 2;
        }
        return pieces;
    }

    /// <summary>The "}}" that closes an action, skipping quoted strings.</summary>
    private static int FindClose(string t, int from)
    {
        for (var i = from; i < t.Length - 1; i++)
        {
            if (t[i] is '"' or '`')
            {
                var q = t[i];
                for (i++; i < t.Length && t[i] != q; i++) if (q == '"' && t[i] == '\\') i++;
                continue;
            }
            if (t[i] == '}' && t[i + 1] == '}') return i;
        }
        return -1;
    }

    private static List<Node> ParseList(string source, List<Piece> pieces, ref int pos, out string? terminator)
    {
        var nodes = new List<Node>();
        terminator = null;
        while (pos < pieces.Count)
        {
            var p = pieces[pos++];
            if (!p.IsAction) { if (p.Text.Length > 0) nodes.Add(new TextNode(p.Text)); continue; }
            var tokens = Tokenize(source, p.Text);
            var keyword = tokens.Count > 0 && tokens[0].Kind == TokenKind.Identifier ? tokens[0].Text : null;
            switch (keyword)
            {
                case "end" or "else":
                    terminator = keyword;
                    return nodes;
                case "range" or "if" or "with":
                {
                    var at = 1;
                    string? keyVar = null, valueVar = null;
                    if (keyword == "range") (keyVar, valueVar) = RangeVariables(source, tokens, ref at);
                    var pipe = ParsePipeline(source, tokens, ref at);
                    if (at != tokens.Count) throw Error(source, $"unexpected '{tokens[at].Text}' in {keyword}");
                    var body = ParseList(source, pieces, ref pos, out var end);
                    List<Node>? otherwise = null;
                    if (end == "else")
                    {
                        otherwise = ParseList(source, pieces, ref pos, out end);
                    }
                    if (end != "end") throw Error(source, $"{keyword} has no {{{{end}}}}");
                    nodes.Add(new BlockNode(keyword, pipe, keyVar, valueVar, body, otherwise));
                    break;
                }
                default:
                {
                    var at = 0;
                    var pipe = ParsePipeline(source, tokens, ref at);
                    if (at != tokens.Count) throw Error(source, $"unexpected '{tokens[at].Text}'");
                    nodes.Add(new ActionNode(pipe));
                    break;
                }
            }
        }
        return nodes;
    }

    /// <summary>`range $v := …` or `range $i, $v := …`: (key, value) variable names, or none.</summary>
    private static (string?, string?) RangeVariables(string source, List<Token> tokens, ref int at)
    {
        var assign = tokens.FindIndex(t => t.Kind == TokenKind.Assign);
        if (assign < 0) return (null, null);
        var names = tokens.GetRange(at, assign - at).Where(t => t.Kind != TokenKind.Comma).ToList();
        if (names.Count is < 1 or > 2 || names.Any(n => n.Kind != TokenKind.Variable || n.Path.Length > 0))
            throw Error(source, "range variables must be $value or $key, $value");
        at = assign + 1;
        return names.Count == 2 ? (names[0].Text, names[1].Text) : (null, names[0].Text);
    }

    private static Pipeline ParsePipeline(string source, List<Token> tokens, ref int at)
    {
        var commands = new List<Command>();
        while (true)
        {
            var args = new List<Operand>();
            while (at < tokens.Count && tokens[at].Kind is not (TokenKind.Pipe or TokenKind.Close))
                args.Add(ParseOperand(source, tokens, ref at));
            if (args.Count == 0) throw Error(source, "missing value in a pipeline");
            commands.Add(new Command(args));
            if (at < tokens.Count && tokens[at].Kind == TokenKind.Pipe) { at++; continue; }
            return new Pipeline(commands);
        }
    }

    private static Operand ParseOperand(string source, List<Token> tokens, ref int at)
    {
        var t = tokens[at++];
        switch (t.Kind)
        {
            case TokenKind.Field: return new FieldOperand(null, t.Path);
            case TokenKind.Variable: return new FieldOperand(t.Text, t.Path);
            case TokenKind.String: return new LiteralOperand(JsonValue.Create(t.Text));
            case TokenKind.Number:
                return new LiteralOperand(long.TryParse(t.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)
                    ? JsonValue.Create(l) : JsonValue.Create(double.Parse(t.Text, CultureInfo.InvariantCulture)));
            case TokenKind.Open:
            {
                var inner = ParsePipeline(source, tokens, ref at);
                if (at >= tokens.Count || tokens[at].Kind != TokenKind.Close) throw Error(source, "unclosed (");
                at++;
                var path = Array.Empty<string>();
                if (at < tokens.Count && tokens[at].Kind == TokenKind.Field && tokens[at].Adjacent) path = tokens[at++].Path;
                return new SubPipeline(inner, path);
            }
            case TokenKind.Identifier:
                return t.Text switch
                {
                    "true" => new LiteralOperand(JsonValue.Create(true)),
                    "false" => new LiteralOperand(JsonValue.Create(false)),
                    "nil" => new LiteralOperand(null),
                    _ when Functions.Contains(t.Text) => new FunctionOperand(t.Text),
                    _ => throw Error(source, $"function \"{t.Text}\" not defined"),
                };
            default: throw Error(source, $"unexpected '{t.Text}'");
        }
    }

    private static readonly HashSet<string> Functions = new(StringComparer.Ordinal)
    {
        "json", "join", "split", "lower", "upper", "title", "index", "len", "printf", "print", "println", "truncate",
        "eq", "ne", "not", "and", "or",
    };

    // ---------------------------------------------------------------- tokens

    private enum TokenKind { Field, Variable, String, Number, Identifier, Pipe, Open, Close, Comma, Assign }

    /// <param name="Adjacent">Directly after the previous token (a field chain after a parenthesis).</param>
    private sealed record Token(TokenKind Kind, string Text, string[] Path, bool Adjacent = false);

    private static bool IsNameChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static List<Token> Tokenize(string source, string a)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < a.Length)
        {
            var c = a[i];
            var adjacent = i > 0 && !char.IsWhiteSpace(a[i - 1]);
            if (char.IsWhiteSpace(c)) { i++; continue; }
            switch (c)
            {
                case '|': tokens.Add(new(TokenKind.Pipe, "|", [])); i++; continue;
                case '(': tokens.Add(new(TokenKind.Open, "(", [])); i++; continue;
                case ')': tokens.Add(new(TokenKind.Close, ")", [])); i++; continue;
                case ',': tokens.Add(new(TokenKind.Comma, ",", [])); i++; continue;
                case ':' when i + 1 < a.Length && a[i + 1] == '=': tokens.Add(new(TokenKind.Assign, ":=", [])); i += 2; continue;
                case '"':
                {
                    var sb = new StringBuilder();
                    for (i++; i < a.Length && a[i] != '"'; i++)
                    {
                        if (a[i] != '\\' || i + 1 >= a.Length) { sb.Append(a[i]); continue; }
                        i++;
                        sb.Append(a[i] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', var e => e });
                    }
                    if (i >= a.Length) throw Error(source, "unterminated quoted string");
                    i++;
                    tokens.Add(new(TokenKind.String, sb.ToString(), []));
                    continue;
                }
                case '`':
                {
                    var close = a.IndexOf('`', i + 1);
                    if (close < 0) throw Error(source, "unterminated raw quoted string");
                    tokens.Add(new(TokenKind.String, a[(i + 1)..close], []));
                    i = close + 1;
                    continue;
                }
                case '.' or '$':
                {
                    var start = i;
                    string? variable = null;
                    if (c == '$')
                    {
                        i++;
                        while (i < a.Length && IsNameChar(a[i])) i++;
                        variable = a[start..i];
                    }
                    var path = new List<string>();
                    while (i < a.Length && a[i] == '.')
                    {
                        var nameStart = ++i;
                        while (i < a.Length && IsNameChar(a[i])) i++;
                        if (i > nameStart) path.Add(a[nameStart..i]);
                        else if (variable is not null || path.Count > 0) throw Error(source, $"bad field in '{a[start..i]}'");
                    }
                    tokens.Add(variable is null ? new(TokenKind.Field, a[start..i], path.ToArray(), adjacent) : new(TokenKind.Variable, variable, path.ToArray()));
                    continue;
                }
            }
            if (char.IsAsciiDigit(c) || (c is '-' or '+' && i + 1 < a.Length && char.IsAsciiDigit(a[i + 1])))
            {
                var start = i++;
                while (i < a.Length && (char.IsAsciiDigit(a[i]) || a[i] == '.')) i++;
                tokens.Add(new(TokenKind.Number, a[start..i], []));
                continue;
            }
            if (IsNameChar(c))
            {
                var start = i;
                while (i < a.Length && IsNameChar(a[i])) i++;
                tokens.Add(new(TokenKind.Identifier, a[start..i], []));
                continue;
            }
            throw Error(source, $"unexpected '{c}' in action");
        }
        return tokens;
    }

    // ---------------------------------------------------------------- execution

    public string Execute(JsonNode? data)
    {
        var sb = new StringBuilder();
        var variables = new Dictionary<string, JsonNode?>(StringComparer.Ordinal) { ["$"] = data };
        Run(_nodes, data, variables, sb);
        return sb.ToString();
    }

    private void Run(List<Node> nodes, JsonNode? dot, Dictionary<string, JsonNode?> vars, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case TextNode t: sb.Append(t.Text); break;
                case ActionNode a: sb.Append(Print(Eval(a.Pipe, dot, vars))); break;
                case BlockNode { Kind: "range" } r:
                {
                    var value = Eval(r.Pipe, dot, vars);
                    var items = value switch
                    {
                        JsonArray arr => arr.Select((v, i) => (Key: (JsonNode?)JsonValue.Create(i), Value: v)).ToList(),
                        JsonObject obj => obj.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (Key: (JsonNode?)JsonValue.Create(kv.Key), Value: kv.Value)).ToList(),
                        null => [],
                        _ => throw Error(_source, $"range can't iterate over {Print(value)}"),
                    };
                    if (items.Count == 0) { if (r.Else is not null) Run(r.Else, dot, vars, sb); break; }
                    foreach (var (key, item) in items)
                    {
                        var scope = new Dictionary<string, JsonNode?>(vars, StringComparer.Ordinal);
                        if (r.KeyVar is not null) scope[r.KeyVar] = key;
                        if (r.ValueVar is not null) scope[r.ValueVar] = item;
                        Run(r.Body, item, scope, sb);
                    }
                    break;
                }
                case BlockNode b:
                {
                    var value = Eval(b.Pipe, dot, vars);
                    if (Truthy(value)) Run(b.Body, b.Kind == "with" ? value : dot, vars, sb);
                    else if (b.Else is not null) Run(b.Else, dot, vars, sb);
                    break;
                }
            }
        }
    }

    private JsonNode? Eval(Pipeline pipe, JsonNode? dot, Dictionary<string, JsonNode?> vars)
    {
        JsonNode? result = null;
        for (var i = 0; i < pipe.Commands.Count; i++)
        {
            var args = pipe.Commands[i].Args;
            var piped = i > 0;
            if (args[0] is FunctionOperand f)
            {
                var values = args.Skip(1).Select(a => Value(a, dot, vars)).ToList();
                if (piped) values.Add(result);
                result = Call(f.Name, values);
            }
            else
            {
                if (args.Count > 1 || piped) throw Error(_source, "can't give arguments to a value that is not a function");
                result = Value(args[0], dot, vars);
            }
        }
        return result;
    }

    private JsonNode? Value(Operand op, JsonNode? dot, Dictionary<string, JsonNode?> vars) => op switch
    {
        LiteralOperand l => l.Value,
        FieldOperand { Variable: null } f => Walk(dot, f.Path),
        FieldOperand f => vars.TryGetValue(f.Variable!, out var v) ? Walk(v, f.Path) : throw Error(_source, $"undefined variable \"{f.Variable}\""),
        SubPipeline s => Walk(Eval(s.Pipe, dot, vars), s.Path),
        FunctionOperand f => Call(f.Name, []),
        _ => null,
    };

    private JsonNode? Walk(JsonNode? node, string[] path)
    {
        foreach (var name in path)
        {
            node = node switch
            {
                null => null,
                JsonObject o => o.TryGetPropertyValue(name, out var v) ? v : null,
                _ => throw Error(_source, $"can't evaluate field {name} in {Print(node)}"),
            };
        }
        return node;
    }

    private static bool Truthy(JsonNode? v) => v switch
    {
        null => false,
        JsonArray a => a.Count > 0,
        JsonObject o => o.Count > 0,
        JsonValue x when x.GetValueKind() == JsonValueKind.False => false,
        JsonValue x when x.GetValueKind() == JsonValueKind.True => true,
        JsonValue x when x.GetValueKind() == JsonValueKind.Number => x.ToJsonString() is not ("0" or "0.0"),
        JsonValue x => x.GetValue<string>().Length > 0,
        _ => true,
    };

    /// <summary>Go's %v of a JSON value: strings bare, arrays as [a b], objects as map[k:v].</summary>
    public static string Print(JsonNode? v) => v switch
    {
        null => "<no value>",
        JsonArray a => "[" + string.Join(' ', a.Select(Print)) + "]",
        JsonObject o => "map[" + string.Join(' ', o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + ":" + Print(kv.Value))) + "]",
        JsonValue x when x.GetValueKind() == JsonValueKind.String => x.GetValue<string>(),
        JsonValue x when x.GetValueKind() == JsonValueKind.Null => "<nil>",
        _ => v.ToJsonString(),
    };

    private static string Json(JsonNode? v)
    {
        if (v is null) return "null";
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            v.WriteTo(w);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static JsonNode Str(string s) => JsonValue.Create(s);

    private JsonNode? Call(string name, List<JsonNode?> a)
    {
        void Need(int n)
        {
            if (a.Count != n) throw Error(_source, $"wrong number of args for {name}: want {n} got {a.Count}");
        }
        switch (name)
        {
            case "json": Need(1); return Str(Json(a[0]));
            case "lower": Need(1); return Str(Print(a[0]).ToLowerInvariant());
            case "upper": Need(1); return Str(Print(a[0]).ToUpperInvariant());
            case "title": Need(1); return Str(string.Join(' ', Print(a[0]).Split(' ').Select(w => w.Length > 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w)));
            case "join":
                Need(2);
                return Str(a[0] is JsonArray items ? string.Join(Print(a[1]), items.Select(Print)) : Print(a[0]));
            case "split":
                Need(2);
                return new JsonArray(Print(a[0]).Split(Print(a[1])).Select(s => (JsonNode?)Str(s)).ToArray());
            case "len":
                Need(1);
                return JsonValue.Create(a[0] switch
                {
                    JsonArray arr => arr.Count, JsonObject o => o.Count, null => 0, var s => Print(s).Length,
                });
            case "index":
            {
                if (a.Count < 1) throw Error(_source, "index needs a value");
                var v = a[0];
                foreach (var key in a.Skip(1))
                {
                    v = v switch
                    {
                        null => null,
                        JsonArray arr when int.TryParse(Print(key), out var i) =>
                            i >= 0 && i < arr.Count ? arr[i] : throw Error(_source, $"index out of range: {i}"),
                        JsonObject o => o.TryGetPropertyValue(Print(key), out var x) ? x : null,
                        _ => throw Error(_source, $"can't index {Print(v)} with {Print(key)}"),
                    };
                }
                return v;
            }
            case "truncate":
            {
                Need(2);
                var s = Print(a[0]);
                var n = int.TryParse(Print(a[1]), out var len) ? len : throw Error(_source, "truncate needs a length");
                return Str(s.Length > n ? s[..n] : s);
            }
            case "printf":
                if (a.Count < 1) throw Error(_source, "printf needs a format");
                return Str(Printf(Print(a[0]), a.Skip(1).ToList()));
            case "print": return Str(string.Concat(a.Select(Print)));
            case "println": return Str(string.Join(' ', a.Select(Print)) + "\n");
            case "eq" or "ne":
            {
                if (a.Count < 2) throw Error(_source, $"{name} needs two values");
                var equal = a.Skip(1).Any(b => Json(a[0]) == Json(b));
                return JsonValue.Create(name == "eq" ? equal : !equal);
            }
            case "not": Need(1); return JsonValue.Create(!Truthy(a[0]));
            case "and": return a.FirstOrDefault(x => !Truthy(x), a.LastOrDefault());
            case "or": return a.FirstOrDefault(Truthy, a.LastOrDefault());
            default: throw Error(_source, $"function \"{name}\" not defined");
        }
    }

    /// <summary>Go's Sprintf for the verbs scripts use: %s %v %d %q %t %f %x %%, with '-' and a width.</summary>
    private string Printf(string format, List<JsonNode?> args)
    {
        var sb = new StringBuilder();
        var next = 0;
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%') { sb.Append(format[i]); continue; }
            if (++i >= format.Length) { sb.Append("%!(NOVERB)"); break; }
            if (format[i] == '%') { sb.Append('%'); continue; }
            var left = false;
            if (format[i] == '-') { left = true; i++; }
            var widthStart = i;
            while (i < format.Length && (char.IsAsciiDigit(format[i]) || format[i] == '.')) i++;
            var spec = format[widthStart..i];
            if (i >= format.Length) { sb.Append("%!(NOVERB)"); break; }
            var verb = format[i];
            if (next >= args.Count) { sb.Append("%!").Append(verb).Append("(MISSING)"); continue; }
            var arg = args[next++];
            var dot = spec.IndexOf('.');
            var width = int.TryParse(dot < 0 ? spec : spec[..dot], out var w) ? w : 0;
            int? precision = dot >= 0 && int.TryParse(spec[(dot + 1)..], out var p) ? p : null;
            var text = verb switch
            {
                's' or 'v' or 'd' or 't' => Print(arg),
                'q' => Json(Str(Print(arg))),
                'f' => double.TryParse(Print(arg), CultureInfo.InvariantCulture, out var f) ? f.ToString("F" + (precision ?? 6), CultureInfo.InvariantCulture) : "%!f(" + Print(arg) + ")",
                'x' => long.TryParse(Print(arg), out var x) ? x.ToString("x", CultureInfo.InvariantCulture) : Convert.ToHexString(Encoding.UTF8.GetBytes(Print(arg))).ToLowerInvariant(),
                _ => throw Error(_source, $"printf verb %{verb} is not supported"),
            };
            if (verb == 's' && precision is int cut && text.Length > cut) text = text[..cut];
            sb.Append(left ? text.PadRight(width) : text.PadLeft(width));
        }
        for (; next < args.Count; next++) sb.Append("%!(EXTRA ").Append(Print(args[next])).Append(')');
        return sb.ToString();
    }

    private static UsageException Error(string template, string why) => new($"template parsing error: template: {template}: {why}");

    // ---------------------------------------------------------------- docker's table formats

    /// <summary>docker's "table …" formats: the template without the prefix, and whether there was one.</summary>
    public static (string Template, bool Table) StripTable(string format) =>
        format.StartsWith("table", StringComparison.Ordinal) && (format.Length == 5 || char.IsWhiteSpace(format[5]))
            ? (format[5..].TrimStart(' '), true) : (format, false);

    /// <summary>Formats rows with a template, as `ps --format` and `images --format` do: one line per row; with a table
    /// prefix a header line (each field's header from <paramref name="headers"/>) first and the tab-separated cells aligned.</summary>
    public static string FormatRows(string format, IEnumerable<JsonObject> rows, IReadOnlyDictionary<string, string> headers)
    {
        var (text, table) = StripTable(format);
        text = text.Replace("\\t", "\t").Replace("\\n", "\n");
        var template = Parse(text);
        var lines = rows.Select(template.Execute).ToList();
        if (!table) return string.Concat(lines.Select(l => l + "\n"));
        var headerData = new JsonObject();
        foreach (var (field, header) in headers) headerData[field] = header;
        lines.Insert(0, template.Execute(headerData));
        return Table.Render(lines[0].Split('\t'), lines.Skip(1).Select(l => (IReadOnlyList<string>)l.Split('\t')));
    }
}
