using System.Text;

namespace ContainerOps.Images.Build;

/// <summary>
/// Variable substitution and word splitting of Dockerfile arguments: <c>$VAR</c>, <c>${VAR}</c>,
/// <c>${VAR:-default}</c>, <c>${VAR-default}</c>, <c>${VAR:+alt}</c>, <c>${VAR+alt}</c>; single quotes are literal,
/// double quotes group and still substitute, the escape character makes the next character literal.
/// </summary>
public sealed class ShellWords(Func<string, string?> lookup, char escape = '\\')
{
    /// <summary>The whole input as one word (quotes removed, whitespace kept): WORKDIR, USER, the legacy ENV value.</summary>
    public string Word(string input) => Process(input, split: false) is { Count: > 0 } w ? w[0] : "";

    /// <summary>The body of a COPY or ADD here-document with an unquoted delimiter: variables are expanded, quotes are
    /// plain characters, and the escape character makes the next character literal (<c>\$</c> is a dollar sign, a
    /// lone one at the end of a line is dropped).</summary>
    public string Heredoc(string body)
    {
        var sb = new StringBuilder(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c == escape) { if (i + 1 < body.Length) sb.Append(body[++i]); }
            else if (c == '$') sb.Append(Variable(body, ref i));
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Words split on unquoted whitespace.</summary>
    public List<string> Words(string input) => Process(input, split: true);

    private List<string> Process(string input, bool split)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < input.Length; i++)
        {
            var c = input[i];
            if (c == escape)
            {
                if (i + 1 < input.Length) cur.Append(input[++i]);
                inWord = true;
                continue;
            }
            if (c == '\'')
            {
                var end = input.IndexOf('\'', i + 1);
                if (end < 0) throw new FormatException("unterminated single quote");
                cur.Append(input, i + 1, end - i - 1);
                i = end;
                inWord = true;
                continue;
            }
            if (c == '"')
            {
                i++;
                for (; i < input.Length && input[i] != '"'; i++)
                {
                    var d = input[i];
                    if (d == escape && i + 1 < input.Length && (input[i + 1] is '"' or '$' || input[i + 1] == escape)) cur.Append(input[++i]);
                    else if (d == '$') cur.Append(Variable(input, ref i));
                    else cur.Append(d);
                }
                if (i >= input.Length) throw new FormatException("unterminated double quote");
                inWord = true;
                continue;
            }
            if (c == '$')
            {
                cur.Append(Variable(input, ref i));
                inWord = true;
                continue;
            }
            if (split && char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(cur.ToString()); cur.Clear(); inWord = false; }
                continue;
            }
            cur.Append(c);
            inWord = true;
        }
        if (inWord || (!split && cur.Length >= 0)) words.Add(cur.ToString());
        return words;
    }

    /// <summary>Reads a reference starting at <paramref name="i"/> (the '$') and leaves <paramref name="i"/> on its last character.</summary>
    private string Variable(string s, ref int i)
    {
        if (i + 1 >= s.Length) return "$";
        var c = s[i + 1];
        if (c == '{')
        {
            var depth = 1;
            var j = i + 2;
            for (; j < s.Length && depth > 0; j++)
            {
                if (s[j] == '{') depth++;
                else if (s[j] == '}') depth--;
            }
            if (depth != 0) throw new FormatException($"missing '}}' in '{s[i..]}'");
            var body = s[(i + 2)..(j - 1)];
            i = j - 1;
            var n = 0;
            while (n < body.Length && (char.IsAsciiLetterOrDigit(body[n]) || body[n] == '_')) n++;
            var name = body[..n];
            if (name.Length == 0) throw new FormatException($"bad substitution '${{{body}}}'");
            var value = lookup(name);
            if (n == body.Length) return value ?? "";
            var op = body[n..];
            string Nested(string w) => new ShellWords(lookup, escape).Word(w);
            if (op.StartsWith(":-", StringComparison.Ordinal)) return string.IsNullOrEmpty(value) ? Nested(op[2..]) : value;
            if (op.StartsWith(":+", StringComparison.Ordinal)) return string.IsNullOrEmpty(value) ? "" : Nested(op[2..]);
            if (op.StartsWith('-')) return value ?? Nested(op[1..]);
            if (op.StartsWith('+')) return value == null ? "" : Nested(op[1..]);
            if (op.StartsWith(":?", StringComparison.Ordinal) || op.StartsWith('?'))
            {
                if (!string.IsNullOrEmpty(value)) return value;
                var msg = op.StartsWith(":?") ? op[2..] : op[1..];
                throw new FormatException($"{name}: {(msg.Length > 0 ? msg : "is not set")}");
            }
            throw new FormatException($"unsupported substitution '${{{body}}}'");
        }
        if (char.IsAsciiLetter(c) || c == '_')
        {
            var j = i + 1;
            while (j < s.Length && (char.IsAsciiLetterOrDigit(s[j]) || s[j] == '_')) j++;
            var name = s[(i + 1)..j];
            i = j - 1;
            return lookup(name) ?? "";
        }
        return "$";
    }
}
