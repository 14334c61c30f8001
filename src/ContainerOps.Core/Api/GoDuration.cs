using System.Globalization;
using System.Text;

namespace ContainerOps.Core.Api;

/// <summary>Durations as Docker's tools write them (Go's time.Duration text): <c>10s</c>, <c>1m30s</c>, <c>1.5h</c>,
/// <c>500ms</c>, <c>2us</c>, <c>0</c>. Used by the CLI's flags and by compose files.</summary>
public static class GoDuration
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Throws <see cref="FormatException"/> naming the text and what is wrong with it.</summary>
    public static TimeSpan Parse(string text)
    {
        var s = text.Trim();
        if (s.Length == 0) throw new FormatException($"invalid duration \"{text}\"");
        if (s == "0") return TimeSpan.Zero;
        var total = 0m; // in ticks
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start || !decimal.TryParse(s[start..i], NumberStyles.AllowDecimalPoint, Inv, out var n))
                throw new FormatException($"invalid duration \"{text}\"");
            var ustart = i;
            while (i < s.Length && (char.IsLetter(s[i]) || s[i] == 'µ')) i++;
            var ticksPerUnit = s[ustart..i] switch
            {
                "ns" => 0.01m,
                "us" or "µs" => 10m,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "" => throw new FormatException($"missing unit in duration \"{text}\" (h, m, s, ms, us, ns)"),
                var u => throw new FormatException($"unknown unit \"{u}\" in duration \"{text}\" (h, m, s, ms, us, ns)"),
            };
            total += n * ticksPerUnit;
        }
        return TimeSpan.FromTicks((long)total);
    }

    /// <summary>The text Go prints for a duration: 1h0m0s is written 1h, 90 s as 1m30s, half a second as 500ms.</summary>
    public static string Format(TimeSpan d)
    {
        if (d == TimeSpan.Zero) return "0s";
        var subSecond = d.Ticks % TimeSpan.TicksPerSecond;
        if (d.Ticks < TimeSpan.TicksPerSecond)
            return subSecond % TimeSpan.TicksPerMillisecond == 0 ? $"{subSecond / TimeSpan.TicksPerMillisecond}ms" : $"{subSecond / 10}µs";
        var sb = new StringBuilder();
        if (d.TotalHours >= 1) sb.Append((long)d.TotalHours).Append('h');
        if (d.Minutes > 0) sb.Append(d.Minutes).Append('m');
        if (d.Seconds > 0 || subSecond > 0)
        {
            sb.Append(d.Seconds);
            if (subSecond > 0) sb.Append((subSecond / (decimal)TimeSpan.TicksPerSecond).ToString(".#######", Inv));
            sb.Append('s');
        }
        return sb.ToString();
    }
}
