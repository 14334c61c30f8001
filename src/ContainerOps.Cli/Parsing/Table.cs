using System.Text;

namespace ContainerOps.Cli.Parsing;

/// <summary>Docker-style text tables: upper-case headers, columns separated by at least three spaces, the last column unpadded.</summary>
public static class Table
{
    public static string Render(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = new List<IReadOnlyList<string>> { headers };
        all.AddRange(rows);
        var widths = new int[headers.Count];
        foreach (var row in all)
            for (var i = 0; i < row.Count && i < widths.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        var sb = new StringBuilder();
        foreach (var row in all)
        {
            for (var i = 0; i < row.Count; i++)
            {
                sb.Append(row[i]);
                if (i < row.Count - 1) sb.Append(' ', widths[i] - row[i].Length + 3);
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>A small part of docker's Go templates: <c>{{.Field}}</c> placeholders and <c>\t</c>/<c>\n</c> escapes.
    /// Unknown fields are a usage error.</summary>
    public static string Template(string template, Func<string, string?> field)
    {
        var sb = new StringBuilder();
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0) { sb.Append(template, i, template.Length - i); break; }
            sb.Append(template, i, open - i);
            var close = template.IndexOf("}}", open, StringComparison.Ordinal);
            if (close < 0) throw new UsageException($"invalid format \"{template}\": unclosed {{{{");
            var expr = template[(open + 2)..close].Trim();
            var name = expr.StartsWith('.') ? expr[1..] : expr;
            sb.Append(field(name) ?? throw new UsageException($"invalid format \"{template}\": unknown field {expr}"));
            i = close + 2;
        }
        return sb.ToString().Replace("\\t", "\t").Replace("\\n", "\n");
    }
}
