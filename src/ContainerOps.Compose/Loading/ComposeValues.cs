using System.Globalization;
using System.Text;
using ContainerOps.Core.Api;

namespace ContainerOps.Compose.Loading;

/// <summary>The value notations of compose files: durations, byte sizes, shell-style command strings.
/// Each throws <see cref="FormatException"/> with the reason; the reader adds where it was.</summary>
public static class ComposeValues
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A duration as the spec writes them: <c>1m30s</c>, <c>10s</c>, <c>1h</c>, <c>500ms</c>, <c>2us</c>, <c>1.5s</c>.</summary>
    public static TimeSpan ParseDuration(string text) => GoDuration.Parse(text);

    /// <summary>Go duration text as docker compose config prints it: 1m30s, 10s, 500ms.</summary>
    public static string FormatDuration(TimeSpan d) => GoDuration.Format(d);

    /// <summary>A byte size: a plain number of bytes, or with b, k/kb, m/mb, g/gb (binary multiples, any case).</summary>
    public static long ParseBytes(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        var end = s.Length;
        while (end > 0 && char.IsAsciiLetter(s[end - 1])) end--;
        var multiplier = s[end..] switch
        {
            "" or "b" => 1L,
            "k" or "kb" => 1L << 10,
            "m" or "mb" => 1L << 20,
            "g" or "gb" => 1L << 30,
            "t" or "tb" => 1L << 40,
            var u => throw new FormatException($"invalid size \"{text}\": unknown unit \"{u}\" (b, k, m, g)"),
        };
        if (!decimal.TryParse(s[..end], NumberStyles.AllowDecimalPoint, Inv, out var n) || n < 0)
            throw new FormatException($"invalid size \"{text}\"");
        return (long)(n * multiplier);
    }

    /// <summary>Splits a command string into words as a POSIX shell would (quotes and backslashes), without expanding
    /// anything: what docker compose does with <c>command: echo "a b"</c>.</summary>
    public static List<string> SplitShellWords(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\'')
            {
                var close = text.IndexOf('\'', i + 1);
                if (close < 0) throw new FormatException($"invalid command \"{text}\": a single quote is not closed");
                word.Append(text, i + 1, close - i - 1);
                i = close;
                inWord = true;
            }
            else if (c == '"')
            {
                i++;
                for (; i < text.Length && text[i] != '"'; i++)
                {
                    if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\' or '$' or '`') i++;
                    word.Append(text[i]);
                }
                if (i >= text.Length) throw new FormatException($"invalid command \"{text}\": a double quote is not closed");
                inWord = true;
            }
            else if (c == '\\' && i + 1 < text.Length) { word.Append(text[++i]); inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(word.ToString()); word.Clear(); inWord = false; }
            }
            else { word.Append(c); inWord = true; }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }
}
