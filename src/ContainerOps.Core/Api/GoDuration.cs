using System.Globalization;

namespace ContainerOps.Core.Api;

/// <summary>Durations as Go writes them (Docker's flags, Dockerfiles and messages use them): "30s", "1m30s", "500ms", "1.5h".</summary>
public static class GoDuration
{
    /// <summary>Nanoseconds of a Go duration; false when <paramref name="text"/> is not one. A bare "0" is zero, as in Go.</summary>
    public static bool TryParseNanos(string text, out long nanos)
    {
        nanos = 0;
        if (text == "0") return true;
        if (text.Length == 0) return false;
        var i = 0;
        double total = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
            if (start == i || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
                return false;
            var unitStart = i;
            while (i < text.Length && !char.IsAsciiDigit(text[i]) && text[i] != '.') i++;
            double unit = text[unitStart..i] switch
            {
                "ns" => 1, "us" or "µs" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, "h" => 3600e9,
                _ => 0,
            };
            if (unit == 0) return false;
            total += n * unit;
        }
        if (total > long.MaxValue) return false;
        nanos = (long)Math.Round(total);
        return true;
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

    private static string Trim(decimal value) => value.ToString("0.#########", CultureInfo.InvariantCulture);
}
