using System.Globalization;

namespace ContainerOps.Core.Api;

/// <summary>Durations as Go writes them (Docker's flags, Dockerfiles, compose files and messages use them): "30s", "1m30s",
/// "500ms", "1.5h", "2us", "0".</summary>
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

    /// <summary>Nanoseconds of a Go duration (to the 100 ns of a tick); false when <paramref name="text"/> is not one. A
    /// bare "0" is zero, as in Go.</summary>
    public static bool TryParseNanos(string text, out long nanos)
    {
        try { nanos = checked(Parse(text).Ticks * 100); return true; }
        catch (Exception e) when (e is FormatException or OverflowException) { nanos = 0; return false; }
    }

    /// <summary>Go's Duration.String(): "0s", "500ms", "1.5s", "1m30s", "2h0m0s".</summary>
    public static string Format(long nanos)
    {
        if (nanos == 0) return "0s";
        var sign = nanos < 0 ? "-" : "";
        var n = Math.Abs((decimal)nanos);
        if (n < 1_000) return sign + n.ToString(CultureInfo.InvariantCulture) + "ns";
        if (n < 1_000_000) return sign + Trim(n / 1_000m) + "µs";
        if (n < 1_000_000_000) return sign + Trim(n / 1_000_000m) + "ms";
        var hours = (long)(n / 3_600_000_000_000m);
        n -= hours * 3_600_000_000_000m;
        var minutes = (long)(n / 60_000_000_000m);
        n -= minutes * 60_000_000_000m;
        var seconds = Trim(n / 1_000_000_000m) + "s";
        return sign + (hours > 0 ? $"{hours}h{minutes}m{seconds}" : minutes > 0 ? $"{minutes}m{seconds}" : seconds);
    }

    /// <summary>Go's Duration.String() of a TimeSpan.</summary>
    public static string Format(TimeSpan d) => Format(d.Ticks * 100);

    private static string Trim(decimal value) => value.ToString("0.#########", CultureInfo.InvariantCulture);
}
