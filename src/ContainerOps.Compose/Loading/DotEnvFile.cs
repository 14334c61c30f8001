using System.Text;

namespace ContainerOps.Compose.Loading;

/// <summary>`.env` and `env_file` files: KEY=VALUE lines, `#` comments, an optional `export `, single quotes (literal),
/// double quotes (escapes \n \t \\ \"), and `${VAR}` interpolation in unquoted and double-quoted values from the
/// keys above and the given lookup. A line with only KEY takes KEY from the lookup (left out when unset).</summary>
public static class DotEnvFile
{
    public static List<KeyValuePair<string, string>> Read(string path, Func<string, string?> lookup)
    {
        var text = File.ReadAllText(path);
        return Parse(text, path, lookup);
    }

    public static List<KeyValuePair<string, string>> Parse(string text, string path, Func<string, string?> lookup)
    {
        var result = new List<KeyValuePair<string, string>>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        var interpolator = new Interpolator(name => seen.TryGetValue(name, out var v) ? v : lookup(name));
        var lines = text.Replace("\r\n", "\n").Split('\n');
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line.StartsWith("export ", StringComparison.Ordinal)) line = line[7..].TrimStart();
            var eq = line.IndexOf('=');
            var key = (eq < 0 ? line : line[..eq]).Trim();
            if (key.Length == 0 || key.Any(char.IsWhiteSpace))
                throw new ComposeFileException($"invalid line \"{lines[n].Trim()}\": expected KEY=VALUE", path, n + 1, 1);
            if (eq < 0)
            {
                if (lookup(key) is string inherited) Add(key, inherited);
                continue;
            }
            var raw = line[(eq + 1)..].TrimStart();
            string value;
            if (raw.StartsWith('\''))
            {
                var close = raw.IndexOf('\'', 1);
                if (close < 0) throw new ComposeFileException($"{key}: a single quote is not closed", path, n + 1, eq + 2);
                value = raw[1..close];
            }
            else if (raw.StartsWith('"'))
            {
                // A double-quoted value may run over several lines.
                var sb = new StringBuilder();
                var rest = raw[1..];
                while (true)
                {
                    var close = ClosingQuote(rest);
                    if (close >= 0) { sb.Append(rest[..close]); break; }
                    sb.Append(rest).Append('\n');
                    if (++n >= lines.Length) throw new ComposeFileException($"{key}: a double quote is not closed", path, n, 1);
                    rest = lines[n];
                }
                value = Interpolate(Unescape(sb.ToString()), interpolator, path, n + 1, key);
            }
            else
            {
                var hash = raw.IndexOf(" #", StringComparison.Ordinal);
                if (hash >= 0) raw = raw[..hash];
                value = Interpolate(raw.TrimEnd(), interpolator, path, n + 1, key);
            }
            Add(key, value);
        }
        return result;

        void Add(string key, string value)
        {
            seen[key] = value;
            result.RemoveAll(p => p.Key == key);
            result.Add(new(key, value));
        }
    }

    private static string Interpolate(string value, Interpolator interpolator, string path, int line, string key)
    {
        try { return interpolator.Interpolate(value); }
        catch (FormatException e) { throw new ComposeFileException(e.Message, path, line, 1, key); }
    }

    private static int ClosingQuote(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\') { i++; continue; }
            if (s[i] == '"') return i;
        }
        return -1;
    }

    private static string Unescape(string s)
    {
        if (s.IndexOf('\\') < 0) return s;
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\' || i + 1 == s.Length) { sb.Append(s[i]); continue; }
            var c = s[++i];
            sb.Append(c switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => c });
        }
        return sb.ToString();
    }
}
