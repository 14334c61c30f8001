using System.Globalization;

namespace ContainerOps.Images.Config;

/// <summary>Timestamps in image configs and history: RFC 3339 in UTC with a 'Z' (never "+00:00", which the JSON writer
/// escapes as \u002B and Go-based tools then fail to parse).</summary>
public static class ImageTime
{
    public static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
    public static string Now() => Format(DateTimeOffset.UtcNow);
}
