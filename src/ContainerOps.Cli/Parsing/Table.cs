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
}
