using System.Text;
using System.Text.RegularExpressions;

namespace ContainerOps.Images.Build;

/// <summary>
/// <c>.dockerignore</c> rules: one pattern a line, <c>#</c> comments, paths relative to the context root
/// (a leading '/' is ignored), <c>*</c> and <c>?</c> within one path component, <c>[...]</c> classes, <c>**</c> for
/// any number of components, and <c>!</c> exceptions. The last matching pattern decides. A pattern that matches a
/// directory excludes everything below it.
/// </summary>
public sealed class DockerIgnore
{
    private readonly List<(Regex Pattern, bool Exclude, string Text)> _rules = new();

    public static DockerIgnore Empty { get; } = new([]);

    public DockerIgnore(IEnumerable<string> lines)
    {
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var exclude = true;
            if (line.StartsWith('!')) { exclude = false; line = line[1..].Trim(); }
            var clean = Clean(line);
            if (clean.Length == 0) continue;
            _rules.Add((new Regex(ToRegex(clean), RegexOptions.CultureInvariant), exclude, line));
        }
    }

    public static DockerIgnore Load(string contextDir)
    {
        var f = Path.Combine(contextDir, ".dockerignore");
        return File.Exists(f) ? new DockerIgnore(File.ReadAllLines(f)) : Empty;
    }

    public bool HasExceptions => _rules.Any(r => !r.Exclude);

    /// <summary>Whether no rule leaves anything out.</summary>
    public bool IsEmpty => _rules.Count == 0;

    /// <summary>Whether <paramref name="relPath"/> (relative to the context, '/' separated) is left out of the context.</summary>
    public bool IsExcluded(string relPath)
    {
        var path = Clean(relPath);
        if (path.Length == 0) return false;
        // Each rule matches the path itself or one of its parent directories; the last matching rule decides.
        var excluded = false;
        foreach (var (re, ex, _) in _rules)
            if (MatchesOrParent(re, path)) excluded = ex;
        return excluded;
    }

    private static bool MatchesOrParent(Regex re, string path)
    {
        if (re.IsMatch(path)) return true;
        for (var i = path.IndexOf('/'); i > 0; i = path.IndexOf('/', i + 1))
            if (re.IsMatch(path[..i])) return true;
        return false;
    }

    private static string Clean(string p)
    {
        var parts = new List<string>();
        foreach (var c in p.Replace('\\', '/').Split('/'))
        {
            if (c.Length == 0 || c == ".") continue;
            if (c == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(c);
        }
        return string.Join('/', parts);
    }

    private static string ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*')
            {
                if (i + 1 < pattern.Length && pattern[i + 1] == '*')
                {
                    i++;
                    // "**/" matches zero or more directories; a trailing "**" matches everything.
                    if (i + 1 < pattern.Length && pattern[i + 1] == '/') { i++; sb.Append("(.*/)?"); }
                    else sb.Append(".*");
                }
                else sb.Append("[^/]*");
            }
            else if (c == '?') sb.Append("[^/]");
            else if (c == '[')
            {
                var end = pattern.IndexOf(']', i + 1);
                if (end < 0) { sb.Append("\\["); continue; }
                var cls = pattern[(i + 1)..end];
                if (cls.StartsWith('!') || cls.StartsWith('^')) cls = "^" + cls[1..];
                sb.Append('[').Append(cls.Replace("\\", "\\\\")).Append(']');
                i = end;
            }
            else if (c == '\\' && i + 1 < pattern.Length) sb.Append(Regex.Escape(pattern[++i].ToString()));
            else sb.Append(Regex.Escape(c.ToString()));
        }
        sb.Append('$');
        return sb.ToString();
    }
}
