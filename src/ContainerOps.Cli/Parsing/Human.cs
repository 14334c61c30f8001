using System.Globalization;

namespace ContainerOps.Cli.Parsing;

/// <summary>Human-readable sizes and ages, formatted as docker formats them.</summary>
public static class Human
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly string[] DecimalUnits = { "B", "kB", "MB", "GB", "TB", "PB" };
    private static readonly string[] BinaryUnits = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };

    /// <summary>Decimal units with 3 significant digits: 0B, 999B, 1.23kB, 72.8MB, 1.5GB (docker images).</summary>
    public static string Size(long bytes) => Format(bytes, 1000, DecimalUnits, 3);

    /// <summary>Binary units (docker stats): 1.5MiB, 1.944GiB.</summary>
    public static string BinarySize(long bytes) => Format(bytes, 1024, BinaryUnits, 4);

    private static string Format(long bytes, double step, string[] units, int digits)
    {
        double v = bytes;
        var u = 0;
        while (Math.Abs(v) >= step && u < units.Length - 1) { v /= step; u++; }
        // "%.Ng": N significant digits, trailing zeros dropped.
        var text = v.ToString("G" + digits, Inv);
        if (text.Contains('E')) text = Math.Round(v).ToString(Inv);
        return text + units[u];
    }

    /// <summary>Docker's human duration: "Less than a second", "5 seconds", "About a minute", "3 hours", "2 weeks".</summary>
    public static string Duration(TimeSpan d)
    {
        var seconds = (long)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        var minutes = (long)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        var hours = (long)Math.Round(d.TotalHours);
        if (hours == 1) return "About an hour";
        if (hours < 48) return $"{hours} hours";
        if (hours < 24 * 7 * 2) return $"{hours / 24} days";
        if (hours < 24 * 30 * 2) return $"{hours / 24 / 7} weeks";
        if (hours < 24 * 365 * 2) return $"{hours / 24 / 30} months";
        return $"{hours / 24 / 365} years";
    }

    /// <summary>"3 minutes ago".</summary>
    public static string Ago(DateTimeOffset time, DateTimeOffset now)
    {
        if (time == default) return "";
        var d = now - time;
        if (d < TimeSpan.Zero) d = TimeSpan.Zero;
        return Duration(d) + " ago";
    }

    /// <summary>Shortens a "sha256:…" or hex id to docker's 12 characters.</summary>
    public static string ShortId(string id)
    {
        var colon = id.IndexOf(':');
        var hex = colon >= 0 ? id[(colon + 1)..] : id;
        return hex.Length > 12 ? hex[..12] : hex;
    }

    /// <summary>Cuts <paramref name="text"/> to <paramref name="max"/> characters, ending with "…" when cut.</summary>
    public static string Truncate(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
