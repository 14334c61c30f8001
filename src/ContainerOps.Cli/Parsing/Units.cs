using System.Globalization;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli.Parsing;

/// <summary>Values docker's flags take: memory sizes, CPU counts, durations, times, restart policies.</summary>
public static class Units
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A memory size like docker's <c>-m</c>: a number with an optional b/k/m/g/t suffix (binary multiples,
    /// an optional trailing "b": 512m, 512MB, 1.5g). A plain number is bytes.</summary>
    public static long ParseMemory(string text, string flag)
    {
        var s = text.Trim().ToLowerInvariant();
        if (s.Length == 0) throw Invalid(text, flag, "empty size");
        long multiplier = 1;
        if (s.EndsWith('b')) s = s[..^1];
        if (s.Length > 0 && char.IsLetter(s[^1]))
        {
            multiplier = s[^1] switch
            {
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                _ => throw Invalid(text, flag, "unknown size suffix"),
            };
            s = s[..^1];
        }
        if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, Inv, out var n) || n < 0)
            throw Invalid(text, flag, "invalid size");
        var bytes = n * multiplier;
        if (bytes > long.MaxValue) throw Invalid(text, flag, "size too large");
        return (long)bytes;
    }

    /// <summary><c>--memory-swap</c>: a size, or -1 for unlimited swap.</summary>
    public static long ParseMemorySwap(string text) => text.Trim() == "-1" ? -1 : ParseMemory(text, "memory-swap");

    /// <summary><c>--cpus 1.5</c> as NanoCpus.</summary>
    public static long ParseCpus(string text)
    {
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, Inv, out var n) || n < 0)
            throw Invalid(text, "cpus", "not a number of CPUs");
        return (long)(n * 1_000_000_000m);
    }

    public static long ParseLong(string text, string flag) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, Inv, out var n) ? n : throw Invalid(text, flag, "not an integer");

    /// <summary>A Go-style duration: a sequence of numbers with units ns, us, ms, s, m, h (10s, 5m, 1h30m, 1.5h).</summary>
    public static TimeSpan ParseDuration(string text) => GoDuration.Parse(text);

    /// <summary><c>logs --since</c>, <c>events --since/--until</c>: an RFC 3339 time (or a date), Unix seconds, or a
    /// duration before <paramref name="now"/>.</summary>
    public static DateTimeOffset ParseSince(string text, DateTimeOffset now, string flag = "--since")
    {
        var s = text.Trim();
        if (s.Length > 0 && char.IsDigit(s[^1]) && decimal.TryParse(s, NumberStyles.AllowDecimalPoint, Inv, out var unix))
            return DateTimeOffset.FromUnixTimeMilliseconds((long)(unix * 1000m));
        if (s.Length > 0 && (s.Contains('-') || s.Contains('T')) &&
            DateTimeOffset.TryParse(s, Inv, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            return t;
        try { return now - ParseDuration(s); }
        catch (FormatException)
        {
            throw new UsageException($"invalid argument \"{text}\" for \"{flag}\" flag: expected an RFC 3339 time or a duration like 10s or 5m");
        }
    }

    /// <summary><c>--restart no|on-failure[:N]|always|unless-stopped</c>.</summary>
    public static RestartPolicy ParseRestart(string text)
    {
        var s = text.Trim();
        var colon = s.IndexOf(':');
        var name = colon < 0 ? s : s[..colon];
        var count = colon < 0 ? null : s[(colon + 1)..];
        switch (name)
        {
            case "no" or "always" or "unless-stopped":
                if (count is not null) throw new UsageException($"invalid restart policy \"{text}\": maximum retry count can only be used with 'on-failure'");
                return new RestartPolicy { Name = name };
            case "on-failure":
                var max = 0;
                if (count is not null && (!int.TryParse(count, NumberStyles.None, Inv, out max)))
                    throw new UsageException($"invalid restart policy \"{text}\": maximum retry count must be a non-negative integer");
                return new RestartPolicy { Name = name, MaximumRetryCount = max };
            default:
                throw new UsageException($"invalid restart policy \"{text}\": expected no, on-failure[:N], always or unless-stopped");
        }
    }

    private static UsageException Invalid(string text, string flag, string why) =>
        new($"invalid argument \"{text}\" for \"--{flag}\" flag: {why}");
}
