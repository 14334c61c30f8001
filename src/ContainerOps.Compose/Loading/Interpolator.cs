using System.Text;

namespace ContainerOps.Compose.Loading;

/// <summary>The Compose Specification's interpolation: <c>$VAR</c>, <c>${VAR}</c>, <c>${VAR:-default}</c>,
/// <c>${VAR-default}</c>, <c>${VAR:?error}</c>, <c>${VAR?error}</c>, <c>${VAR:+alternative}</c>,
/// <c>${VAR+alternative}</c>, nested defaults, and <c>$$</c> for a literal dollar.</summary>
public sealed class Interpolator
{
    private readonly Func<string, string?> _lookup;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);

    public Interpolator(Func<string, string?> lookup) => _lookup = lookup;

    /// <summary>Variables used but not set (each once), for the "defaulting to a blank string" warnings.</summary>
    public List<string> UnsetVariables { get; } = new();

    /// <summary>Throws <see cref="FormatException"/> with the reason on a bad expression or a `?` error.</summary>
    public string Interpolate(string text)
    {
        if (text.IndexOf('$') < 0) return text;
        var sb = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c != '$' || i + 1 >= text.Length) { sb.Append(c); i++; continue; }
            var next = text[i + 1];
            if (next == '$') { sb.Append('$'); i += 2; continue; }
            if (next == '{')
            {
                var end = MatchingBrace(text, i + 2);
                if (end < 0) throw new FormatException($"invalid interpolation format for \"{text}\": a \"${{\" is not closed");
                sb.Append(Expand(text[(i + 2)..end], text));
                i = end + 1;
                continue;
            }
            if (IsNameStart(next))
            {
                var j = i + 1;
                while (j < text.Length && IsNamePart(text[j])) j++;
                sb.Append(Lookup(text[(i + 1)..j]) ?? "");
                i = j;
                continue;
            }
            sb.Append(c);
            i++;
        }
        return sb.ToString();
    }

    private string Expand(string body, string whole)
    {
        var j = 0;
        if (body.Length == 0 || !IsNameStart(body[0]))
            throw new FormatException($"invalid interpolation format for \"{whole}\": \"${{{body}}}\" does not start with a variable name");
        while (j < body.Length && IsNamePart(body[j])) j++;
        var name = body[..j];
        var value = _lookup(name);
        if (j == body.Length)
        {
            if (value is null) Warn(name);
            return value ?? "";
        }
        var colon = body[j] == ':';
        var opIndex = colon ? j + 1 : j;
        if (opIndex >= body.Length) throw BadOperator(body, whole);
        var op = body[opIndex];
        var arg = body[(opIndex + 1)..];
        // With a colon, an empty value counts as unset.
        var isSet = colon ? !string.IsNullOrEmpty(value) : value is not null;
        switch (op)
        {
            case '-': return isSet ? value! : Interpolate(arg);
            case '+': return isSet ? Interpolate(arg) : "";
            case '?':
                if (isSet) return value!;
                var reason = Interpolate(arg);
                throw new FormatException(reason.Length > 0 ? $"required variable {name} is missing a value: {reason}"
                                                            : $"required variable {name} is missing a value");
            default: throw BadOperator(body, whole);
        }
    }

    private string? Lookup(string name)
    {
        var value = _lookup(name);
        if (value is null) Warn(name);
        return value;
    }

    private void Warn(string name)
    {
        if (_warned.Add(name)) UnsetVariables.Add(name);
    }

    private static FormatException BadOperator(string body, string whole) =>
        new($"invalid interpolation format for \"{whole}\": \"${{{body}}}\" (expected ${{VAR}}, ${{VAR:-default}}, ${{VAR-default}}, ${{VAR:?error}}, ${{VAR?error}} or ${{VAR:+alternative}})");

    private static int MatchingBrace(string text, int from)
    {
        var depth = 1;
        for (var k = from; k < text.Length; k++)
        {
            if (text[k] == '$' && k + 1 < text.Length && text[k + 1] == '$') { k++; continue; }
            if (text[k] == '{') depth++;
            else if (text[k] == '}' && --depth == 0) return k;
        }
        return -1;
    }

    private static bool IsNameStart(char c) => c == '_' || char.IsAsciiLetter(c);
    private static bool IsNamePart(char c) => c == '_' || char.IsAsciiLetterOrDigit(c);
}
